//! The environment conditions cache (`v2:env:{lat3}:{lng3}`): the seven
//! provider fields in their JSON form with the fetch time, kept for the stale period.
//! Fails open, so a Redis outage only costs provider calls.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use medico24_environment::{CachedConditions, Conditions, ConditionsCache, GridPoint};
use serde::{Deserialize, Serialize};

use crate::client::{Redis, RedisError};
use crate::exec::{bounded, ttl_secs};
use crate::metrics::{CacheObserver, RESULT_ERROR, RESULT_HIT, RESULT_MISS, report};

/// The `cache` label of this cache.
const CACHE: &str = "environment";
/// `result` label of a read that found an entry past its fresh period.
const RESULT_STALE: &str = "stale";

/// The stored value: `{"data": {…7 fields…}, "fetched_at": "<datetime>"}`.
#[derive(Serialize, Deserialize)]
struct Entry {
    data: Data,
    fetched_at: String,
}

/// The provider fields exactly as the API writes them (datetimes in the wire format).
#[derive(Serialize, Deserialize)]
struct Data {
    aqi: i64,
    aqi_category: String,
    temperature: f64,
    condition: String,
    humidity: Option<f64>,
    dominant_pollutant: Option<String>,
    observed_at: Option<String>,
}

impl Entry {
    fn from_domain(entry: &CachedConditions) -> Self {
        let data = &entry.data;
        Self {
            data: Data {
                aqi: data.aqi,
                aqi_category: data.aqi_category.clone(),
                temperature: data.temperature,
                condition: data.condition.clone(),
                humidity: data.humidity,
                dominant_pollutant: data.dominant_pollutant.clone(),
                observed_at: data.observed_at.as_ref().map(format_datetime),
            },
            fetched_at: format_datetime(&entry.fetched_at),
        }
    }

    /// The domain value; `None` when a datetime does not parse.
    fn into_domain(self) -> Option<CachedConditions> {
        let observed_at = match self.data.observed_at {
            Some(text) => Some(parse_datetime(&text)?),
            None => None,
        };
        Some(CachedConditions {
            data: Conditions {
                aqi: self.data.aqi,
                aqi_category: self.data.aqi_category,
                temperature: self.data.temperature,
                condition: self.data.condition,
                humidity: self.data.humidity,
                dominant_pollutant: self.data.dominant_pollutant,
                observed_at,
            },
            fetched_at: parse_datetime(&self.fetched_at)?,
        })
    }
}

/// `2030-01-01T04:30:00Z`, or six fraction digits when the sub-second part is non-zero.
fn format_datetime(value: &DateTime<Utc>) -> String {
    if value.nanosecond() / 1000 == 0 {
        value.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        value.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// [`ConditionsCache`] over Redis strings.
///
/// Errors never reach the caller: a failed or unreadable read is a miss, a failed write is
/// skipped. Each is logged at `warn` with the grid point only and reported as `error` to the
/// observer, which also hears `hit` (an entry younger than the fresh period), `stale` (an older
/// one) and `miss`.
#[derive(Clone)]
pub struct RedisConditionsCache {
    redis: Redis,
    fresh: chrono::TimeDelta,
    ttl: Duration,
    observer: Option<CacheObserver>,
}

impl std::fmt::Debug for RedisConditionsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConditionsCache")
            .field("redis", &self.redis)
            .field("fresh", &self.fresh)
            .field("ttl", &self.ttl)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl RedisConditionsCache {
    /// A cache in `redis` keeping entries for `ttl` (`ENV_CACHE_STALE_SECONDS`; at least one
    /// second). `fresh` (`ENV_CACHE_FRESH_SECONDS`) only decides whether a read is reported as
    /// `hit` or `stale`; the service applies the policy itself.
    pub fn new(
        redis: Redis,
        fresh: Duration,
        ttl: Duration,
        observer: Option<CacheObserver>,
    ) -> Self {
        Self {
            redis,
            fresh: chrono::TimeDelta::from_std(fresh).unwrap_or(chrono::TimeDelta::MAX),
            ttl,
            observer,
        }
    }

    fn key(&self, point: GridPoint) -> String {
        self.redis
            .key(&format!("v2:env:{}:{}", point.lat3(), point.lng3()))
    }

    fn report(&self, result: &'static str) {
        report(self.observer.as_ref(), CACHE, result);
    }
}

impl ConditionsCache for RedisConditionsCache {
    async fn get(&self, point: GridPoint) -> Option<CachedConditions> {
        let key = self.key(point);
        let cached = bounded(&self.redis, async move |conn| {
            let value: Option<String> = redis::cmd("GET").arg(&key).query_async(conn).await?;
            Ok::<_, RedisError>(value)
        })
        .await;
        let json = match cached {
            Ok(Some(json)) => json,
            Ok(None) => {
                self.report(RESULT_MISS);
                return None;
            }
            Err(error) => {
                tracing::warn!(point = %point, error = %error, "environment cache read failed");
                self.report(RESULT_ERROR);
                return None;
            }
        };
        let entry = serde_json::from_str::<Entry>(&json)
            .ok()
            .and_then(Entry::into_domain);
        match entry {
            Some(entry) => {
                let age = Utc::now().signed_duration_since(entry.fetched_at);
                self.report(if age < self.fresh {
                    RESULT_HIT
                } else {
                    RESULT_STALE
                });
                Some(entry)
            }
            None => {
                tracing::warn!(point = %point, "environment cache holds an unreadable value");
                self.report(RESULT_ERROR);
                None
            }
        }
    }

    async fn put(&self, point: GridPoint, entry: &CachedConditions) {
        let json = match serde_json::to_string(&Entry::from_domain(entry)) {
            Ok(json) => json,
            Err(error) => {
                // Only a non-finite number can fail here; nothing personal is in the value.
                tracing::warn!(point = %point, error = %error, "environment cache could not encode an entry");
                self.report(RESULT_ERROR);
                return;
            }
        };
        let key = self.key(point);
        let ttl = ttl_secs(self.ttl);
        let written = bounded(&self.redis, async move |conn| {
            let () = redis::cmd("SET")
                .arg(&key)
                .arg(json)
                .arg("EX")
                .arg(ttl)
                .query_async(conn)
                .await?;
            Ok::<_, RedisError>(())
        })
        .await;
        if let Err(error) = written {
            tracing::warn!(point = %point, error = %error, "environment cache write skipped");
            self.report(RESULT_ERROR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry() -> CachedConditions {
        CachedConditions {
            data: Conditions {
                aqi: 61,
                aqi_category: "Moderate air quality".to_owned(),
                temperature: 29.0,
                condition: "Partly cloudy".to_owned(),
                humidity: Some(74.0),
                dominant_pollutant: None,
                observed_at: Utc.with_ymd_and_hms(2026, 2, 15, 9, 0, 0).single(),
            },
            fetched_at: Utc.with_ymd_and_hms(2026, 2, 15, 9, 1, 2).unwrap()
                + chrono::TimeDelta::microseconds(421_354),
        }
    }

    #[test]
    fn entries_are_stored_in_the_wire_form_of_the_spec() {
        let json = serde_json::to_string(&Entry::from_domain(&entry())).unwrap();
        assert_eq!(
            json,
            r#"{"data":{"aqi":61,"aqi_category":"Moderate air quality","temperature":29.0,"condition":"Partly cloudy","humidity":74.0,"dominant_pollutant":null,"observed_at":"2026-02-15T09:00:00Z"},"fetched_at":"2026-02-15T09:01:02.421354Z"}"#
        );
        let back: Entry = serde_json::from_str(&json).unwrap();
        assert_eq!(back.into_domain(), Some(entry()));
    }

    #[test]
    fn absent_optional_fields_and_offsets_are_read_and_bad_times_are_refused() {
        let json = r#"{"data":{"aqi":5,"aqi_category":"Good","temperature":1,"condition":"Fog"},"fetched_at":"2026-02-15T14:30:00+05:30"}"#;
        let entry = serde_json::from_str::<Entry>(json)
            .unwrap()
            .into_domain()
            .unwrap();
        assert_eq!(entry.data.humidity, None);
        assert_eq!(entry.data.observed_at, None);
        assert_eq!(entry.data.temperature, 1.0);
        assert_eq!(
            entry.fetched_at,
            Utc.with_ymd_and_hms(2026, 2, 15, 9, 0, 0).unwrap()
        );
        let bad = r#"{"data":{"aqi":5,"aqi_category":"Good","temperature":1,"condition":"Fog"},"fetched_at":"soon"}"#;
        assert!(
            serde_json::from_str::<Entry>(bad)
                .unwrap()
                .into_domain()
                .is_none()
        );
    }
}
