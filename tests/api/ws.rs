//! A live-search client for the tests: real WebSocket connections to the app.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

use crate::helpers::TestApp;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects with the operator key.
pub async fn connect(app: &TestApp) -> Socket {
    connect_as(app, &app.operator_key).await
}

/// Connects with `key` in `X-API-Key`.
pub async fn connect_as(app: &TestApp, key: &str) -> Socket {
    connect_to(&app.ws_url(), key).await
}

/// Connects to the live search at `url` (a `ws://` address) with `key`.
pub async fn connect_to(url: &str, key: &str) -> Socket {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("X-API-Key", key.parse().unwrap());
    connect_async(request).await.unwrap().0
}

pub async fn send(ws: &mut Socket, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON frame other than an `occupancy` update (pushed to every connection whenever
/// the number parked changes, and checked by tests of its own); pings are answered by the
/// client library and skipped.
pub async fn next(ws: &mut Socket) -> Value {
    loop {
        let frame = next_any(ws).await;
        if frame["type"] != "occupancy" {
            return frame;
        }
    }
}

/// The next JSON frame, whatever its type.
pub async fn next_any(ws: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("the connection ended")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Proves that nothing else was pushed: the next frame after a ping is its pong.
pub async fn assert_nothing_pushed(ws: &mut Socket) {
    send(ws, json!({"type": "ping"})).await;
    assert_eq!(next(ws).await, json!({"type": "pong"}));
}

pub async fn search(ws: &mut Socket, id: &str, query: &str, limit: u64) -> Value {
    send(
        ws,
        json!({"type": "search", "id": id, "query": query, "limit": limit}),
    )
    .await;
    let results = next(ws).await;
    assert_eq!(results["type"], "results");
    assert_eq!(results["id"], id);
    results
}

/// Waits (at most `within`) for the server's close frame, asserts its code, and returns the
/// text frames that came before it.
pub async fn expect_close_within(ws: &mut Socket, code: CloseCode, within: Duration) -> Vec<Value> {
    let mut before = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no close frame within {within:?}"))
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, code);
                return before;
            }
            other @ (Some(Ok(Message::Close(None))) | None | Some(Err(_))) => {
                panic!("closed without a code: {other:?}")
            }
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] != "occupancy" {
                    before.push(frame);
                }
            }
            Some(Ok(_)) => {}
        }
    }
}

pub async fn expect_close(ws: &mut Socket, code: CloseCode) {
    expect_close_within(ws, code, Duration::from_secs(10)).await;
}
