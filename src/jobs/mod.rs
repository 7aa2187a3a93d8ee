//! Background work: the retention purge and scheduled backups. Each job's `run_once` is what
//! the loop calls, so tests call it directly instead of waiting.

pub mod backup;
pub mod purge;

use std::{future::Future, time::Duration};

use tokio::{task::JoinHandle, time::MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::{app::AppState, config::Settings};

/// Starts every job; each stops when `shutdown` is cancelled.
pub fn spawn(
    state: &AppState,
    settings: &Settings,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut jobs = Vec::new();
    let purge_state = state.clone();
    jobs.push(every(
        settings.purge_interval,
        true,
        shutdown.clone(),
        move || {
            let state = purge_state.clone();
            async move { purge::run_once(&state).await }
        },
    ));
    if let Some(interval) = settings.backup_interval {
        let backup_state = state.clone();
        // The first scheduled backup comes one interval after start, not at every restart.
        jobs.push(every(interval, false, shutdown.clone(), move || {
            let state = backup_state.clone();
            async move { backup::run_once(&state).await }
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
