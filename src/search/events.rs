//! Changes to parked vehicles, broadcast to every live search.
//!
//! The bus is an enum of backends chosen once at start-up. In-process is the only one today;
//! a Redis-backed variant would publish the same events to a channel and feed what it
//! receives from other instances into the local index and broadcast.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::Vehicle;

/// How many events a slow subscriber may fall behind before it is told it lagged (and
/// resynchronises with a fresh search).
const CAPACITY: usize = 8192;

#[derive(Debug, Clone)]
pub enum VehicleEvent {
    /// Registered or changed; `previous` is the version it replaced, if any.
    Upserted {
        vehicle: Arc<Vehicle>,
        previous: Option<Arc<Vehicle>>,
    },
    /// Left, expired, purged or cleared.
    Removed { vehicle: Arc<Vehicle> },
    /// The whole index was rebuilt: every search must be answered again.
    Reset,
    /// The number of vehicles parked, or the capacity, changed.
    Occupancy { parked: i64, capacity: Option<i64> },
    /// A vehicle matching a watched plate (look-alikes included) was registered.
    Alert {
        vehicle: Arc<Vehicle>,
        note: Arc<str>,
    },
}

#[derive(Clone)]
pub enum EventBus {
    InProcess(broadcast::Sender<VehicleEvent>),
}

impl EventBus {
    pub fn in_process() -> Self {
        EventBus::InProcess(broadcast::channel(CAPACITY).0)
    }

    pub fn publish(&self, event: VehicleEvent) {
        match self {
            // No subscriber is not an error: nobody is searching.
            EventBus::InProcess(sender) => {
                let _ = sender.send(event);
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<VehicleEvent> {
        match self {
            EventBus::InProcess(sender) => sender.subscribe(),
        }
    }
}
