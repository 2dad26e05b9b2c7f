//! Authentication plumbing of the server: JWT signing, the identity service wiring, and the
//! extractors for bearer (B), admin (A) and admin-secret (S) routes.

pub mod dev_token;
pub mod extract;
pub mod tokens;

pub use extract::{AdminSecret, AdminUser, AuthUser};
pub use tokens::JwtTokens;
