//! Unit tests of `EnvironmentService` over the in-memory fakes of its ports and a fixed clock:
//! fresh hits, refetches, stale serving, expiry and the 502/503 split.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use medico24_kernel::FixedClock;

use crate::model::{Conditions, GridPoint};
use crate::policy::FreshnessPolicy;
use crate::ports::ProviderError;
use crate::service::{ConditionsError, EnvironmentService};
use crate::testing::{FakeProvider, InMemoryConditionsCache, sample_conditions};

/// Drives a future to completion; the fakes never wait, so one poll suffices.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the fakes never wait"),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 15, 9, 30, 0)
        .single()
        .unwrap()
}

fn point() -> GridPoint {
    GridPoint::round(19.07601, 72.87765).unwrap()
}

fn newer() -> Conditions {
    Conditions {
        aqi: 140,
        aqi_category: "Poor air quality".to_owned(),
        temperature: 31.0,
        condition: "Sunny".to_owned(),
        humidity: None,
        dominant_pollutant: None,
        observed_at: Utc.with_ymd_and_hms(2026, 2, 15, 9, 25, 0).single(),
    }
}

struct World {
    service: EnvironmentService<FakeProvider, InMemoryConditionsCache, FixedClock>,
    provider: FakeProvider,
    cache: InMemoryConditionsCache,
    clock: FixedClock,
}

fn world(provider: FakeProvider) -> World {
    let cache = InMemoryConditionsCache::new();
    let clock = FixedClock::at(t0());
    let policy = FreshnessPolicy::new(Duration::from_secs(1200), Duration::from_secs(7200));
    World {
        service: EnvironmentService::new(provider.clone(), cache.clone(), clock.clone(), policy),
        provider,
        cache,
        clock,
    }
}

fn ago(secs: i64) -> DateTime<Utc> {
    t0() - TimeDelta::seconds(secs)
}

#[test]
fn a_miss_fetches_stores_and_answers_fresh() {
    let w = world(FakeProvider::answering(newer()));
    let report = run(w.service.conditions(point())).unwrap();
    assert_eq!(report.conditions, newer());
    assert!(!report.stale);
    assert_eq!(w.provider.calls(), 1);
    assert_eq!(w.provider.points(), vec![point()]);
    let stored = w.cache.entry(point()).unwrap();
    assert_eq!(stored.data, newer());
    assert_eq!(stored.fetched_at, t0());
}

#[test]
fn a_fresh_entry_is_served_without_asking_the_provider() {
    let w = world(FakeProvider::answering(newer()));
    w.cache.insert(point(), sample_conditions(), ago(1199));
    let report = run(w.service.conditions(point())).unwrap();
    assert_eq!(report.conditions, sample_conditions());
    assert!(!report.stale);
    assert_eq!(w.provider.calls(), 0);
}

#[test]
fn an_entry_past_the_fresh_period_is_refetched_and_replaced() {
    let w = world(FakeProvider::answering(newer()));
    w.cache.insert(point(), sample_conditions(), ago(1200));
    let report = run(w.service.conditions(point())).unwrap();
    assert_eq!(report.conditions, newer());
    assert!(!report.stale);
    assert_eq!(w.provider.calls(), 1);
    assert_eq!(w.cache.entry(point()).unwrap().fetched_at, t0());
}

#[test]
fn a_stale_entry_is_served_marked_stale_when_the_provider_fails() {
    for error in [
        ProviderError::Timeout,
        ProviderError::Network,
        ProviderError::UpstreamStatus(500),
        ProviderError::BadBody("aqi missing"),
    ] {
        let w = world(FakeProvider::failing(error));
        w.cache.insert(point(), sample_conditions(), ago(7200));
        let report = run(w.service.conditions(point())).unwrap();
        assert_eq!(report.conditions, sample_conditions(), "{error}");
        assert!(report.stale, "{error}");
        // The stale entry is left as it was.
        assert_eq!(w.cache.entry(point()).unwrap().fetched_at, ago(7200));
    }
}

#[test]
fn an_expired_entry_is_not_served_when_the_provider_fails() {
    let w = world(FakeProvider::failing(ProviderError::UpstreamStatus(503)));
    w.cache.insert(point(), sample_conditions(), ago(7201));
    let error = run(w.service.conditions(point())).unwrap_err();
    assert_eq!(
        error,
        ConditionsError::ProviderFailed(ProviderError::UpstreamStatus(503))
    );
}

#[test]
fn failures_without_an_entry_split_into_unreachable_and_failed() {
    let cases = [
        (
            ProviderError::Timeout,
            ConditionsError::ProviderUnreachable(ProviderError::Timeout),
        ),
        (
            ProviderError::Network,
            ConditionsError::ProviderUnreachable(ProviderError::Network),
        ),
        (
            ProviderError::UpstreamStatus(500),
            ConditionsError::ProviderFailed(ProviderError::UpstreamStatus(500)),
        ),
        (
            ProviderError::BadBody("temperature missing"),
            ConditionsError::ProviderFailed(ProviderError::BadBody("temperature missing")),
        ),
    ];
    for (provider_error, expected) in cases {
        let w = world(FakeProvider::failing(provider_error));
        assert_eq!(run(w.service.conditions(point())).unwrap_err(), expected);
        assert!(w.cache.entry(point()).is_none());
    }
}

#[test]
fn a_missing_observation_time_becomes_the_fetch_time() {
    let mut untimed = newer();
    untimed.observed_at = None;
    let w = world(FakeProvider::answering(untimed));
    w.clock.advance(TimeDelta::seconds(5));
    let report = run(w.service.conditions(point())).unwrap();
    assert_eq!(
        report.conditions.observed_at,
        Some(t0() + TimeDelta::seconds(5))
    );
    assert_eq!(
        w.cache.entry(point()).unwrap().data.observed_at,
        Some(t0() + TimeDelta::seconds(5))
    );
}

#[test]
fn a_cache_that_is_down_costs_a_fetch_but_the_answer_still_comes() {
    let w = world(FakeProvider::answering(newer()));
    w.cache.insert(point(), sample_conditions(), ago(10));
    w.cache.set_down(true);
    let report = run(w.service.conditions(point())).unwrap();
    assert_eq!(report.conditions, newer());
    assert!(!report.stale);
    assert_eq!(w.provider.calls(), 1);
    // The write was skipped: the old entry is untouched.
    assert_eq!(w.cache.entry(point()).unwrap().data, sample_conditions());
}

#[test]
fn the_second_lookup_within_the_fresh_period_is_a_hit_and_after_it_a_refetch() {
    let w = world(FakeProvider::answering(sample_conditions()));
    w.provider.then(Ok(sample_conditions())).then(Ok(newer()));
    run(w.service.conditions(point())).unwrap();
    w.clock.advance(TimeDelta::seconds(1199));
    let second = run(w.service.conditions(point())).unwrap();
    assert_eq!(second.conditions, sample_conditions());
    assert_eq!(w.provider.calls(), 1);
    w.clock.advance(TimeDelta::seconds(1));
    let third = run(w.service.conditions(point())).unwrap();
    assert_eq!(third.conditions, newer());
    assert_eq!(w.provider.calls(), 2);
}
