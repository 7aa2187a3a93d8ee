//! Background work: the retention purge and scheduled backups. Each job's `run_once` is what
//! the loop calls, so tests call it directly instead of waiting.
//!
//! Several servers may share a database; the jobs run on one of them at a time, the holder of
//! the jobs' lease. When it stops, another takes the lease at its next tick. The jobs are
//! idempotent, so a lease changing hands in the middle of a run does no harm.

pub mod backup;
pub mod purge;

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{sync::Mutex, task::JoinHandle, time::MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::{
    app::AppState,
    config::Settings,
    store::{Lease, Store},
};

/// The jobs' lease as this server holds it, or not.
struct Leadership {
    store: Arc<dyn Store>,
    lease: Mutex<Option<Box<dyn Lease>>>,
}

impl Leadership {
    /// Whether this server runs the jobs now: it holds the lease, or takes it if it is free.
    async fn leading(&self) -> bool {
        let mut lease = self.lease.lock().await;
        if let Some(held) = lease.as_mut() {
            if held.held().await {
                return true;
            }
            tracing::warn!("lost the scheduled jobs' lease");
            *lease = None;
        }
        match self.store.try_lead().await {
            Ok(Some(taken)) => {
                if self.store.shared() {
                    tracing::info!("this instance now runs the scheduled jobs");
                }
                *lease = Some(taken);
                true
            }
            Ok(None) => false,
            Err(error) => {
                tracing::debug!(%error, "cannot ask for the scheduled jobs' lease");
                false
            }
        }
    }
}

/// Starts every job; each stops when `shutdown` is cancelled.
pub fn spawn(
    state: &AppState,
    settings: &Settings,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut jobs = Vec::new();
    let leadership = Arc::new(Leadership {
        store: state.store.clone(),
        lease: Mutex::new(None),
    });
    let purge_state = state.clone();
    let leads = leadership.clone();
    jobs.push(every(
        settings.purge_interval,
        true,
        shutdown.clone(),
        move || {
            let (state, leads) = (purge_state.clone(), leads.clone());
            async move {
                if leads.leading().await {
                    purge::run_once(&state).await;
                }
            }
        },
    ));
    if let Some(interval) = settings.backup_interval {
        let backup_state = state.clone();
        // The first scheduled backup comes one interval after start, not at every restart.
        jobs.push(every(interval, false, shutdown.clone(), move || {
            let (state, leads) = (backup_state.clone(), leadership.clone());
            async move {
                if leads.leading().await {
                    backup::run_once(&state).await;
                }
            }
        }));
    }
    jobs
}

fn every<F, Fut>(
    period: Duration,
    at_start: bool,
    shutdown: CancellationToken,
    mut job: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let start = if at_start {
            tokio::time::Instant::now()
        } else {
            tokio::time::Instant::now() + period
        };
        let mut ticks = tokio::time::interval_at(start, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            // A run in progress finishes before shutdown completes: its batches are short.
            job().await;
        }
    })
}
