//! The freshness policy of cached conditions: an entry is fresh for `ENV_CACHE_FRESH_SECONDS`;
//! after that it is refetched, but still served (marked stale) while the provider fails, up to
//! `ENV_CACHE_STALE_SECONDS` after its fetch; older entries are useless.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// How usable a cached entry is at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Younger than the fresh period: served without asking the provider.
    Fresh,
    /// Past the fresh period but within the stale period: served only when the provider fails.
    Stale,
    /// Older than the stale period: never served.
    Expired,
}

/// The fresh and stale periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshnessPolicy {
    fresh: TimeDelta,
    stale: TimeDelta,
}

impl FreshnessPolicy {
    /// Entries are fresh for `fresh` and servable as stale until `stale` after their fetch
    /// (`stale` is raised to `fresh` when shorter).
    pub fn new(fresh: Duration, stale: Duration) -> Self {
        let fresh = TimeDelta::from_std(fresh).unwrap_or(TimeDelta::MAX);
        let stale = TimeDelta::from_std(stale)
            .unwrap_or(TimeDelta::MAX)
            .max(fresh);
        Self { fresh, stale }
    }

    /// How usable an entry fetched at `fetched_at` is at `now`. An entry from the future (a
    /// clock ahead of ours wrote it) counts as just fetched.
    pub fn classify(&self, fetched_at: DateTime<Utc>, now: DateTime<Utc>) -> Freshness {
        let age = now.signed_duration_since(fetched_at);
        if age < self.fresh {
            Freshness::Fresh
        } else if age <= self.stale {
            Freshness::Stale
        } else {
            Freshness::Expired
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn entries_are_fresh_then_stale_then_expired() {
        let policy = FreshnessPolicy::new(Duration::from_secs(1200), Duration::from_secs(7200));
        let fetched = Utc.with_ymd_and_hms(2026, 2, 15, 9, 0, 0).unwrap();
        let at = |secs: i64| fetched + TimeDelta::seconds(secs);
        assert_eq!(policy.classify(fetched, at(-30)), Freshness::Fresh);
        assert_eq!(policy.classify(fetched, at(0)), Freshness::Fresh);
        assert_eq!(policy.classify(fetched, at(1199)), Freshness::Fresh);
        assert_eq!(policy.classify(fetched, at(1200)), Freshness::Stale);
        assert_eq!(policy.classify(fetched, at(7200)), Freshness::Stale);
        assert_eq!(policy.classify(fetched, at(7201)), Freshness::Expired);
    }

    #[test]
    fn a_stale_period_shorter_than_the_fresh_one_is_raised() {
        let policy = FreshnessPolicy::new(Duration::from_secs(60), Duration::from_secs(10));
        let fetched = Utc.with_ymd_and_hms(2026, 2, 15, 9, 0, 0).unwrap();
        assert_eq!(
            policy.classify(fetched, fetched + TimeDelta::seconds(60)),
            Freshness::Stale
        );
        assert_eq!(
            policy.classify(fetched, fetched + TimeDelta::seconds(61)),
            Freshness::Expired
        );
    }
}
