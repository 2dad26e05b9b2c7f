//! The identity domain: users and roles, Firebase login, sessions with rotating refresh tokens,
//! the token policy, rate-limit policies and the audit trail of admin writes; the ports these
//! need (`UserRepository`, `UserCache`, `SessionStore`, `IdTokenVerifier`, `TokenSigner`,
//! `RateLimiter`).

pub mod model;
pub mod ports;

pub use model::*;
pub use ports::*;
pub mod service;

pub use service::*;
#[cfg(test)]
mod service_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
