//! The environment domain: current air quality and weather for a point, the rounding of
//! coordinates to the cache grid, the freshness policy (fresh, served stale, expired) and the
//! conditions lookup use case; the ports it needs (`ConditionsProvider`, `ConditionsCache`).
//!
//! Concurrent lookups of one grid point are collapsed into one by the server (single flight),
//! because that needs a runtime primitive and this crate stays runtime-agnostic.

pub mod model;
pub mod policy;
pub mod ports;
pub mod service;

pub use model::*;
pub use policy::*;
pub use ports::*;
pub use service::*;

#[cfg(test)]
mod service_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
