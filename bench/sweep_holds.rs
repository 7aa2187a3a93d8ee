//! How long sweeping expired vehicles out of the search index holds readers up: the longest
//! stretches during which nothing else could run, measured where they happen rather than
//! through HTTP, so that they are not lost in a load generator's queueing.
//!
//!   cargo run --release --example sweep_holds -- DATABASE_FILE
//!
//! Loads the index from DATABASE_FILE as `serve` does (a copy `bench/run.py` seeds: every
//! vehicle entered 2–14 hours ago), starts the sweep as `serve` does, then cuts the retention
//! period to one hour, which expires all but the 1,000 live vehicles at once. Meanwhile a task
//! on the same one-thread runtime reads a plate and yields, again and again, and records the
//! time between its turns: each gap is one slice of the sweep (the write lock held, then a
//! yield). Prints the gaps' percentiles and those over 50 ms. Run it pinned to one core
//! (`taskset -c 0`), as the service is benchmarked, on a copy of the database.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use parking::{
    domain::RetentionPeriod,
    search::{EventBus, LiveSearch},
    store::{self, DatabaseUrl, OpenOptions},
};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The vehicles `bench/run.py` seeds as live (`L1`…`L1000`), which the cut leaves in place.
const LIVE: usize = 1_000;
const GIVE_UP_AFTER: Duration = Duration::from_secs(300);

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path: PathBuf = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: sweep_holds DATABASE_FILE"))?
        .into();
    let store = store::open(&DatabaseUrl::Sqlite(path), OpenOptions::default()).await?;
    let live = Arc::new(LiveSearch::load(Arc::clone(&store), EventBus::in_process()).await?);
    let loaded = live.len();
    let stop = CancellationToken::new();
    let sweeper = tokio::spawn({
        let (live, stop) = (Arc::clone(&live), stop.clone());
        async move { live.sweep_expired(stop).await }
    });
    // The sweep's first pass finds nothing expired yet, then waits for a change.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let one_hour = RetentionPeriod::from_hours(1).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    live.set_retention(one_hour);
    let mut gaps = Vec::new();
    let mut last = Instant::now();
    while live.len() > LIVE && started.elapsed() < GIVE_UP_AFTER {
        tokio::task::yield_now().await;
        let now = Instant::now();
        gaps.push(now - last);
        last = now;
        let _ = live.find_plate("L1");
    }
    let swept = started.elapsed();
    stop.cancel();
    sweeper.await?;
    gaps.sort_unstable();
    let at = |fraction: f64| {
        let last = gaps.len().saturating_sub(1);
        gaps.get(((last as f64) * fraction) as usize)
            .copied()
            .unwrap_or_default()
    };
    let long: Vec<_> = gaps
        .iter()
        .filter(|g| **g > Duration::from_millis(50))
        .collect();
    println!(
        "{loaded} vehicles loaded, {} left after {swept:.2?}; {} turns of the reader, gaps p50 \
         {:.2?}, p99 {:.2?}, max {:.2?}; {} over 50 ms, {:.2?} in all",
        live.len(),
        gaps.len(),
        at(0.5),
        at(0.99),
        at(1.0),
        long.len(),
        long.into_iter().sum::<Duration>()
    );
    Ok(())
}
