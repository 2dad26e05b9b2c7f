//! Rate-limit settings: requests per client IP per minute for each policy.

use super::Reader;

/// Requests per client IP per minute for each rate-limit policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Policy `default`.
    pub default: u32,
    /// Policy `auth`.
    pub auth: u32,
    /// Policy `admin_send`.
    pub admin_send: u32,
    /// Policy `environment`.
    pub environment: u32,
    /// Policy `export`.
    pub export: u32,
}

/// Reads the `RATE_LIMIT_*` variables, recording every problem in `r`.
pub(super) fn read(r: &mut Reader<'_>) -> RateLimits {
    RateLimits {
        default: r.number("RATE_LIMIT_PER_MINUTE", 60, 1, u32::MAX),
        auth: r.number("RATE_LIMIT_AUTH_PER_MINUTE", 20, 1, u32::MAX),
        admin_send: r.number("RATE_LIMIT_ADMIN_SEND_PER_MINUTE", 10, 1, u32::MAX),
        environment: r.number("RATE_LIMIT_ENVIRONMENT_PER_MINUTE", 30, 1, u32::MAX),
        export: r.number("RATE_LIMIT_EXPORT_PER_MINUTE", 2, 1, u32::MAX),
    }
}
