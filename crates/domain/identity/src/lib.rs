//! The identity domain: users and roles, Firebase login, sessions with rotating refresh tokens,
//! the token policy, rate-limit policies, the audit trail of admin writes and reads, and the
//! data-subject rights (export, erasure); the ports these need (`UserRepository`, `UserCache`,
//! `SessionStore`, `IdTokenVerifier`, `TokenSigner`, `RateLimiter`, `PersonalDataStore`,
//! `PersonalTraces`).

pub mod model;
pub mod ports;
pub mod privacy;

pub use model::*;
pub use ports::*;
pub use privacy::*;
pub mod service;

pub use service::*;
#[cfg(test)]
mod privacy_tests;
#[cfg(test)]
mod service_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
