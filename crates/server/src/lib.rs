//! Medico24 HTTP server: configuration, telemetry, startup, HTTP handlers and DTOs per
//! resource, error mapping, OpenAPI, metrics, middleware, background workers and the CLI of the
//! `medico24` binary.

pub mod auth;
pub mod cli;
pub mod coalesce;
pub mod config;
pub mod events;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod security;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod workers;

pub use config::Settings;
pub use startup::Application;
