//! Integration tests: the real service on a loopback port, a fresh SQLite file per test,
//! real HTTP. Built as one binary so the crate is linked once.
#![expect(
    clippy::unwrap_used,
    reason = "in a test, an unexpected None or Err should fail loudly where it happens"
)]

mod audit;
mod auth;
mod backups;
mod browser;
mod checkpoints;
mod clear;
mod cluster;
mod connections;
mod contract;
mod crash;
mod database;
mod docs_and_health;
mod errors;
mod expiry;
mod export;
mod faults;
mod feed;
mod helpers;
mod holds;
mod keys;
mod listing;
mod live_search;
mod log_scan;
mod metrics;
mod occupancy;
mod operations;
mod outage;
mod overload;
mod page;
mod process;
mod purge;
mod purge_preview;
mod rate_limits;
mod register;
mod restore;
mod retention;
mod retention_report;
mod scrubbing;
mod subjects;
mod traces;
mod vehicle_lifecycle;
mod viewer;
mod watchlist;
mod ws;
