//! One live-search connection: answers searches, pushes changes to the current search, keeps
//! the connection alive, and protects the server from clients that stop reading.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use serde_json::Value;
use tokio::{
    sync::{broadcast::error::RecvError, mpsc},
    time::Instant,
};

use super::protocol::{self, ClientFrame, MAX_FRAME_BYTES, ServerFrame};
use crate::{
    app::AppState,
    domain::{Role, Vehicle},
    http::vehicles::dto::VehicleBody,
    search::{Query, Searchable, VehicleEvent, Window},
};

/// Frames waiting for a client before it counts as not reading and is disconnected.
const SEND_QUEUE: usize = 256;
/// How long a closing handshake may take before the connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Close codes (RFC 6455 §7.4.1).
const GOING_AWAY: u16 = 1001;
const PROTOCOL_ERROR: u16 = 1002;
const POLICY_VIOLATION: u16 = 1008;
const TOO_BIG: u16 = 1009;

/// The search a connection is subscribed to.
struct Subscription {
    id: Value,
    query: Option<Query>,
    limit: usize,
}

impl Subscription {
    fn matches(&self, vehicle: &Vehicle) -> bool {
        let fields = Searchable {
            plate: &vehicle.number_plate,
            name: &vehicle.contact_name,
            phone: &vehicle.phone_number,
        };
        self.query
            .as_ref()
            .is_none_or(|q| q.rank(&fields).is_some())
    }
}

/// Why the loop ended.
enum End {
    /// The client left or the transport failed: nothing more to send.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The client stopped reading: drop the connection without waiting for it.
    Overloaded,
}

/// The key that opened the connection. Its permission is checked for the connection's whole
/// life, not only at the upgrade.
pub struct Owner {
    pub key_id: i64,
    /// What the connection's frames are shaped for (phone numbers masked for viewers).
    pub role: Role,
    /// When the key stops working; the connection closes then.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub authenticated_at: Instant,
    /// The caller's rate-limit bucket: every search and ping frame takes from the same budget
    /// as the caller's HTTP requests.
    pub bucket: Option<String>,
}

struct Session {
    state: AppState,
    role: Role,
    queue: mpsc::Sender<Message>,
    subscription: Option<Subscription>,
    bucket: Option<String>,
}

pub async fn run(socket: WebSocket, state: AppState, owner: Owner) {
    let (sink, mut incoming) = socket.split();
    let (queue, outgoing) = mpsc::channel(SEND_QUEUE);
    let mut writer = tokio::spawn(write_all(sink, outgoing));
    let settings = state.websocket;
    let shutdown = state.shutdown.clone();
    let mut events = state.live.subscribe();
    let mut keys = state.keys.active_keys();
    let mut session = Session {
        state,
        role: owner.role,
        queue,
        subscription: None,
        bucket: owner.bucket,
    };
    let mut ping = tokio::time::interval_at(
        Instant::now() + settings.ping_interval,
        settings.ping_interval,
    );
    let mut last_heard = Instant::now();
    // The key's expiry, as a deadline on this connection's clock.
    let expiry = owner.expires_at.map(|at| {
        let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
        Instant::now() + left
    });
    let expired = async {
        match expiry {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);

    let end = loop {
        let flow = tokio::select! {
            () = shutdown.cancelled() => Err(End::Close(GOING_AWAY, "the server is shutting down")),
            message = incoming.next() => match message {
                None | Some(Ok(Message::Close(_))) => Err(End::Gone),
                Some(Err(error)) => Err(read_failure(&error)),
                                Some(Ok(message)) => {
                    last_heard = Instant::now();
                    session.on_message(message).await
                }
            },
            event = events.recv() => session.on_event(event),
            () = &mut expired => Err(End::Close(POLICY_VIOLATION, "the API key has expired")),
            Ok(()) = keys.changed() => {
                let active = keys.borrow_and_update().clone();
                // A read that began before this connection authenticated may not know its key.
                if active.taken_at > owner.authenticated_at
                    && !active.holds(owner.key_id, owner.role)
                {
                    Err(End::Close(
                        POLICY_VIOLATION,
                        "the API key was revoked, has expired or changed role",
                    ))
                } else {
                    Ok(())
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= settings.idle_timeout {
                    Err(End::Close(GOING_AWAY, "idle for too long"))
                } else {
                    session.send(Message::Ping(Default::default()))
                }
            }
        };
        if let Err(end) = flow {
            break end;
        }
    };

    match end {
        End::Overloaded => writer.abort(),
        End::Gone => {
            drop(session);
            let _ = writer.await;
        }
        End::Close(code, reason) => {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            // If even the close frame does not fit, the client is not reading: drop it.
            let _ = session.queue.try_send(Message::Close(Some(frame)));
            drop(session);
            // The closing handshake: keep reading until the client answers with its own close
            // frame, so the connection is not torn down under a client still reading ours.
            let answered = async {
                while let Some(Ok(message)) = incoming.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(
                CLOSE_GRACE,
                futures_util::future::join(answered, &mut writer),
            )
            .await;
            writer.abort();
        }
    }
}

/// Sends queued frames in order; stops after a close frame or when the client is gone.
async fn write_all(mut sink: SplitSink<WebSocket, Message>, mut outgoing: mpsc::Receiver<Message>) {
    while let Some(message) = outgoing.recv().await {
        let closing = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closing {
            break;
        }
    }
    let _ = sink.close().await;
}

/// A read error is most often a frame over the transport's size limit; anything else is a
/// protocol violation.
fn read_failure(error: &axum::Error) -> End {
    if error.to_string().contains("too long") {
        End::Close(TOO_BIG, "frames are limited to 4 KiB")
    } else {
        End::Close(PROTOCOL_ERROR, "protocol error")
    }
}

impl Session {
    /// Queues a frame; a full queue means the client has stopped reading.
    fn send(&self, message: Message) -> Result<(), End> {
        self.queue.try_send(message).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => End::Overloaded,
            mpsc::error::TrySendError::Closed(_) => End::Gone,
        })
    }

    fn send_frame(&self, frame: &ServerFrame<'_>) -> Result<(), End> {
        self.send(Message::Text(frame.to_text().into()))
    }

    async fn on_message(&mut self, message: Message) -> Result<(), End> {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(bytes) if bytes.len() > MAX_FRAME_BYTES => {
                return Err(End::Close(TOO_BIG, "frames are limited to 4 KiB"));
            }
            Message::Binary(_) => {
                let frame = ServerFrame::Error {
                    id: &Value::Null,
                    code: "invalid_message",
                    message: "frames must be JSON text",
                };
                return self.send_frame(&frame);
            }
            // The transport answers pings itself; a pong only proves the client is there.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => return Ok(()),
        };
        if text.len() > MAX_FRAME_BYTES {
            return Err(End::Close(TOO_BIG, "frames are limited to 4 KiB"));
        }
        match protocol::parse(&text) {
            Ok(ClientFrame::Ping) => match self.over_budget().await {
                Some(retry_after) => {
                    let message = format!("too many frames: retry in {retry_after} s");
                    self.send_frame(&ServerFrame::Error {
                        id: &Value::Null,
                        code: "rate_limited",
                        message: &message,
                    })
                }
                None => self.send_frame(&ServerFrame::Pong),
            },
            Ok(ClientFrame::Search { id, query, limit }) => {
                if let Some(retry_after) = self.over_budget().await {
                    let message = format!("too many frames: retry in {retry_after} s");
                    return self.send_frame(&ServerFrame::Error {
                        id: &id,
                        code: "rate_limited",
                        message: &message,
                    });
                }
                let mut query = Query::parse(&query);
                if let Some(query) = query.as_mut().filter(|_| self.role.sees_masked_phones()) {
                    // Matching digits a viewer cannot see would reveal them, a search at a time.
                    query.digits = None;
                }
                self.subscription = Some(Subscription { id, query, limit });
                self.send_results()
            }
            Err(error) => self.send_frame(&ServerFrame::Error {
                id: &error.id,
                code: error.code,
                message: error.message,
            }),
        }
    }

    /// Takes one search from the caller's budget; the seconds to wait when it is spent.
    async fn over_budget(&self) -> Option<u64> {
        let decision = self
            .state
            .rate_limiter
            .check(self.bucket.as_deref()?)
            .await?;
        if decision.allowed {
            return None;
        }
        self.state.metrics.rate_limited();
        Some(decision.retry_after_secs)
    }

    /// Answers the current search. Also used to resynchronise a connection that fell behind
    /// the event stream, so a client is never left with stale results.
    fn send_results(&self) -> Result<(), End> {
        let Some(sub) = &self.subscription else {
            return Ok(());
        };
        let found = self
            .state
            .live
            .search(sub.query.as_ref(), Window::default(), 0, sub.limit);
        let query = sub.query.as_ref().map_or("", Query::display);
        let items: Vec<VehicleBody> = found
            .hits
            .items
            .into_iter()
            .map(|v| VehicleBody::shown_to(v, self.role))
            .collect();
        let text = protocol::results_text(&sub.id, query, &items, found.hits.total, found.took_us);
        self.send(Message::Text(text.into()))
    }

    fn on_event(&mut self, event: Result<VehicleEvent, RecvError>) -> Result<(), End> {
        // Occupancy and alerts concern every open connection, searching or not.
        match &event {
            Ok(VehicleEvent::Occupancy { parked, capacity }) => {
                return self.send_frame(&ServerFrame::Occupancy {
                    parked: *parked,
                    capacity: *capacity,
                });
            }
            Ok(VehicleEvent::Alert { vehicle, note }) => {
                return self.send_frame(&ServerFrame::Alert {
                    vehicle: VehicleBody::shown_to(Vehicle::clone(vehicle), self.role),
                    note,
                });
            }
            _ => {}
        }
        let Some(sub) = &self.subscription else {
            return Ok(());
        };
        match event {
            Ok(VehicleEvent::Occupancy { .. } | VehicleEvent::Alert { .. }) => Ok(()),
            Ok(VehicleEvent::Upserted { vehicle, previous }) => {
                if sub.matches(&vehicle) {
                    let body = VehicleBody::shown_to(Vehicle::clone(&vehicle), self.role);
                    self.send_frame(&ServerFrame::Added {
                        id: &sub.id,
                        vehicle: body,
                    })
                } else if previous.as_deref().is_some_and(|p| sub.matches(p)) {
                    // Changed so that it no longer matches: gone from these results.
                    self.send_frame(&ServerFrame::Removed {
                        id: &sub.id,
                        number_plate: &vehicle.number_plate,
                    })
                } else {
                    Ok(())
                }
            }
            Ok(VehicleEvent::Removed { vehicle }) if sub.matches(&vehicle) => {
                self.send_frame(&ServerFrame::Removed {
                    id: &sub.id,
                    number_plate: &vehicle.number_plate,
                })
            }
            Ok(VehicleEvent::Removed { .. }) => Ok(()),
            Ok(VehicleEvent::Reset) => self.send_results(),
            Err(RecvError::Lagged(_)) => self.send_results(),
            Err(RecvError::Closed) => Err(End::Gone),
        }
    }
}
