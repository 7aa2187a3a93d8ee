//! Waiting for a write to show in this process's copies.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, watch};

use crate::store::FeedPosition;

/// Past this a write answers anyway: its change shows later, within the feed's bound.
const PATIENCE: Duration = Duration::from_secs(1);

/// How far the feed has been applied in this process. Cheap to clone.
#[derive(Clone)]
pub struct Freshness {
    applied: watch::Receiver<FeedPosition>,
    writer: Option<(Arc<watch::Sender<FeedPosition>>, Arc<Asked>)>,
}

/// What the writes of this process wait for: the projector is woken with the furthest change
/// they wait on. Every caller of a committed batch asks, and most ask after the projector has
/// read the batch; knowing how far they wait spares it a read of the feed that finds nothing.
#[derive(Default)]
pub(super) struct Asked {
    wake: Notify,
    /// Only grows, as positions do.
    furthest: AtomicI64,
}

impl Asked {
    fn ask(&self, position: FeedPosition) {
        self.furthest.fetch_max(position.0, Ordering::AcqRel);
        self.wake.notify_one();
    }

    /// Whether a write waits on a change at or past `next`, the first one not applied.
    pub(super) fn waiting(&self, next: FeedPosition) -> bool {
        self.furthest.load(Ordering::Acquire) >= next.0
    }

    /// Waits to be asked; true when a change at or past `next` is waited on.
    pub(super) async fn asked_for(&self, next: FeedPosition) -> bool {
        self.wake.notified().await;
        self.waiting(next)
    }
}

impl Freshness {
    /// For a process that keeps copies: a projector will apply the feed.
    pub fn new() -> Self {
        let (sender, applied) = watch::channel(FeedPosition::default());
        Self {
            applied,
            writer: Some((Arc::new(sender), Arc::new(Asked::default()))),
        }
    }

    /// For a process that keeps no copies (a subcommand): there is nothing to wait for.
    pub fn none() -> Self {
        let (_, applied) = watch::channel(FeedPosition(i64::MAX));
        Self {
            applied,
            writer: None,
        }
    }

    /// The projector's end: what it publishes, and what wakes it.
    pub(super) fn writer(&self) -> (Arc<watch::Sender<FeedPosition>>, Arc<Asked>) {
        match &self.writer {
            Some((sender, asked)) => (sender.clone(), asked.clone()),
            None => (
                Arc::new(watch::channel(FeedPosition(i64::MAX)).0),
                Arc::new(Asked::default()),
            ),
        }
    }

    /// Waits until the change at `position` shows in this process's copies (the search index,
    /// the key cache), waking the projector so it need not wait for its next poll.
    pub async fn caught_up(&self, position: FeedPosition) {
        if *self.applied.borrow() > position {
            return;
        }
        let Some((_, asked)) = &self.writer else {
            return;
        };
        asked.ask(position);
        let mut applied = self.applied.clone();
        if tokio::time::timeout(PATIENCE, applied.wait_for(|at| *at > position))
            .await
            .is_err()
        {
            tracing::warn!("a write did not show in this process's copies within a second");
        }
    }
}

impl Default for Freshness {
    fn default() -> Self {
        Self::new()
    }
}
