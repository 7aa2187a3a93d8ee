//! Waiting for a write to show in this process's copies.

use std::{sync::Arc, time::Duration};

use tokio::sync::{Notify, watch};

use crate::store::FeedPosition;

/// Past this a write answers anyway: its change shows later, within the feed's bound.
const PATIENCE: Duration = Duration::from_secs(1);

/// How far the feed has been applied in this process. Cheap to clone.
#[derive(Clone)]
pub struct Freshness {
    applied: watch::Receiver<FeedPosition>,
    writer: Option<(Arc<watch::Sender<FeedPosition>>, Arc<Notify>)>,
}

impl Freshness {
    /// For a process that keeps copies: a projector will apply the feed.
    pub fn new() -> Self {
        let (sender, applied) = watch::channel(FeedPosition::default());
        Self {
            applied,
            writer: Some((Arc::new(sender), Arc::new(Notify::new()))),
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
    pub(super) fn writer(&self) -> (Arc<watch::Sender<FeedPosition>>, Arc<Notify>) {
        match &self.writer {
            Some((sender, nudge)) => (sender.clone(), nudge.clone()),
            None => (
                Arc::new(watch::channel(FeedPosition(i64::MAX)).0),
                Arc::new(Notify::new()),
            ),
        }
    }

    /// Waits until the change at `position` shows in this process's copies (the search index,
    /// the key cache), waking the projector so it need not wait for its next poll.
    pub async fn caught_up(&self, position: FeedPosition) {
        if *self.applied.borrow() > position {
            return;
        }
        let Some((_, nudge)) = &self.writer else {
            return;
        };
        nudge.notify_one();
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
