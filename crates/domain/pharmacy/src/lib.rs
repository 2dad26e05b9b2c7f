//! The pharmacy domain: pharmacies with one location and weekly opening hours, the "open now"
//! rule, nearby search, and the use cases over the ports they need (`PharmacyRepository`,
//! `PharmacyCache`).

pub mod model;
pub mod open_now;
pub mod ports;
pub mod service;

pub use model::*;
pub use open_now::{is_open_at, is_open_now, parse_timezone};
pub use ports::*;
pub use service::*;

#[cfg(test)]
mod service_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
