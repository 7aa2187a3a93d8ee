//! The parking service: a vehicle registry with real-time owner search and a retention
//! policy that deletes personal data on time.
//!
//! Layers, outermost first: [`http`] (routes, extractors, auth) → [`service`] (use-cases) →
//! [`domain`] (types that parse input) → [`store`] (SQL per backend). [`app`] wires them from
//! [`config::Settings`]; [`commands`] are the subcommands of the `parking` binary.

pub mod app;
pub mod commands;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod projection;
pub mod ratelimit;
pub mod search;

pub mod service;
pub mod store;
pub mod telemetry;
