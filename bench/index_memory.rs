//! What the search index asks of the allocator, per vehicle, when the service loads it from a
//! database: a count, not a reading of resident memory, so that it is the same in every run
//! and tells a change of a few bytes a vehicle apart (the settled resident figure of
//! `bench/run.py` moves by several MiB between starts of one build).
//!
//!   cargo run --release --example index_memory -- DATABASE_FILE
//!
//! Loads the index as `serve` does (`LiveSearch::load`: pages read from the store, one index
//! built and shrunk on one thread) with mimalloc, the service's allocator, under a counter of
//! the bytes every allocation asked for; prints the bytes held after the load less those held
//! before it (the store open), divided by the vehicles loaded. mimalloc rounds each block up
//! to its size class, which this does not count.

use std::{path::PathBuf, sync::Arc};

use cap::Cap;
use parking::{
    search::{EventBus, LiveSearch},
    store::{self, DatabaseUrl, OpenOptions},
};

#[global_allocator]
static ALLOCATOR: Cap<mimalloc::MiMalloc> = Cap::new(mimalloc::MiMalloc, usize::MAX);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path: PathBuf = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: index_memory DATABASE_FILE"))?
        .into();
    let store = store::open(&DatabaseUrl::Sqlite(path), OpenOptions::default()).await?;
    let before = ALLOCATOR.allocated();
    let live = LiveSearch::load(Arc::clone(&store), EventBus::in_process()).await?;
    let held = ALLOCATOR.allocated().saturating_sub(before);
    let vehicles = live.len();
    println!(
        "{vehicles} vehicles, {held} bytes asked for by the index: {:.1} bytes a vehicle",
        held as f64 / vehicles.max(1) as f64
    );
    Ok(())
}
