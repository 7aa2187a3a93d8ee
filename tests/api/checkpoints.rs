//! SQLite's WAL is copied back into the database file by a checkpoint on a connection of its
//! own after every thousand or so registrations, not by the writer once the WAL has grown to its
//! bound (10,000 pages). (SQLite only: the database file's own bytes.)

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use crate::helpers::{spawn_app, vehicle};

/// Registrations between two background checkpoints at most.
const EVERY: usize = 1024;

#[tokio::test]
async fn registrations_reach_the_database_file_while_the_wal_is_still_small() {
    let app = spawn_app().await;
    let plates: Vec<String> = (0..EVERY).map(|i| format!("CK{i:04}X")).collect();
    stream::iter(&plates)
        .map(|plate| {
            let app = &app;
            async move { app.register_ok(&vehicle(plate)).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;

    // All of them were committed before the checkpoint their count started.
    let start = Instant::now();
    loop {
        let file = std::fs::read(&app.db_path).unwrap();
        let text = String::from_utf8_lossy(&file);
        let missing: Vec<&String> = plates.iter().filter(|p| !text.contains(*p)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{} of {EVERY} registrations not in the database file, e.g. {}",
            missing.len(),
            missing[0]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
