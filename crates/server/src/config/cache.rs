//! Cache lifetimes: users, pharmacies and their list pages, clinics, doctors, and the
//! environment entries' fresh and stale windows.

use std::time::Duration;

use super::Reader;

/// Cache lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtls {
    /// `v2:user:{id}`.
    pub user: Duration,
    /// `v2:pharmacy:{id}`.
    pub pharmacy: Duration,
    /// Pharmacy list pages.
    pub pharmacy_list: Duration,
    /// `v2:clinic:{id}`.
    pub clinic: Duration,
    /// `v2:doctor:{id}`.
    pub doctor: Duration,
    /// Environment entries are fresh this long…
    pub env_fresh: Duration,
    /// …and served stale (and kept in Redis) this long.
    pub env_stale: Duration,
}

/// Reads the `*_CACHE_TTL_SECONDS` and `ENV_CACHE_*_SECONDS` variables, recording every problem
/// in `r`.
pub(super) fn read(r: &mut Reader<'_>) -> CacheTtls {
    CacheTtls {
        user: Duration::from_secs(r.number("USER_CACHE_TTL_SECONDS", 1800, 1, u64::MAX)),
        pharmacy: Duration::from_secs(r.number("PHARMACY_CACHE_TTL_SECONDS", 3600, 1, u64::MAX)),
        pharmacy_list: Duration::from_secs(r.number(
            "PHARMACY_LIST_CACHE_TTL_SECONDS",
            300,
            1,
            u64::MAX,
        )),
        clinic: Duration::from_secs(r.number("CLINIC_CACHE_TTL_SECONDS", 900, 1, u64::MAX)),
        doctor: Duration::from_secs(r.number("DOCTOR_CACHE_TTL_SECONDS", 900, 1, u64::MAX)),
        env_fresh: Duration::from_secs(r.number("ENV_CACHE_FRESH_SECONDS", 1200, 1, u64::MAX)),
        env_stale: Duration::from_secs(r.number("ENV_CACHE_STALE_SECONDS", 7200, 1, u64::MAX)),
    }
}
