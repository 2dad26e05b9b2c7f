//! Authentication plumbing of the server: the development token, and the
//! extractors for bearer (B), admin (A) and admin-secret (S) routes.

pub mod dev_token;
pub mod extract;

pub use extract::{AdminSecret, AdminUser, AuthUser};
