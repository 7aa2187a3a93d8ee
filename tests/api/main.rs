//! Integration tests: the real service on a loopback port, a fresh SQLite file per test,
//! real HTTP. Built as one binary so the crate is linked once.

mod auth;
mod docs_and_health;
mod errors;
mod expiry;
mod helpers;
mod listing;
mod process;
mod register;
mod vehicle_lifecycle;
