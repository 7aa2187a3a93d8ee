//! The set of keys active now, published to every open connection.

use std::{collections::HashMap, sync::Arc};

use tokio::{sync::watch, time::Instant};

use crate::{domain::Role, store::ApiKeyRecord};

/// Keys neither revoked nor expired, by id, as read at `taken_at`.
#[derive(Debug, Clone)]
pub struct ActiveKeys {
    roles: HashMap<i64, Role>,
    /// When the read began. A connection authenticated after this may use a key the read
    /// could not see yet, so it judges its key only by later reads.
    pub taken_at: Instant,
}

impl ActiveKeys {
    pub fn new(keys: &[ApiKeyRecord], taken_at: Instant) -> Self {
        Self {
            roles: keys.iter().map(|k| (k.id, k.role)).collect(),
            taken_at,
        }
    }

    /// Whether key `id` is active with a role that allows `required`.
    pub fn allows(&self, id: i64, required: Role) -> bool {
        self.roles
            .get(&id)
            .is_some_and(|role| role.allows(required))
    }

    /// Whether key `id` is active with exactly `role`: what an open connection, shaped for
    /// the role it was opened with, keeps checking.
    pub fn holds(&self, id: i64, role: Role) -> bool {
        self.roles.get(&id) == Some(&role)
    }
}

/// Publishes `ActiveKeys`; subscribers wake only when the set itself changes.
#[derive(Clone)]
pub struct KeyWatch(Arc<watch::Sender<Arc<ActiveKeys>>>);

impl Default for KeyWatch {
    fn default() -> Self {
        let empty = ActiveKeys {
            roles: HashMap::new(),
            taken_at: Instant::now(),
        };
        Self(Arc::new(watch::Sender::new(Arc::new(empty))))
    }
}

impl KeyWatch {
    pub fn subscribe(&self) -> watch::Receiver<Arc<ActiveKeys>> {
        self.0.subscribe()
    }

    pub fn publish(&self, keys: ActiveKeys) {
        self.0.send_if_modified(|current| {
            // A read that began before the one published is older news.
            if keys.taken_at < current.taken_at || keys.roles == current.roles {
                return false;
            }
            *current = Arc::new(keys);
            true
        });
    }
}
