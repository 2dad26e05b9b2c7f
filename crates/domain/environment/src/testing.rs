//! In-memory fakes of the environment ports, for unit tests here and handler tests in the
//! server. Each behaves like its real adapter: the provider answers what it was told (or the
//! same error variants the Google adapter uses), the cache fails open like the Redis one.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, TimeZone, Utc};

use crate::model::{CachedConditions, Conditions, GridPoint};
use crate::ports::{ConditionsCache, ConditionsProvider, ProviderError};

/// Locks a fake's state; a test that panicked while holding it must not hide the state from the
/// assertions of the next one.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Typical conditions (Mumbai on a February morning); a fixture.
pub fn sample_conditions() -> Conditions {
    Conditions {
        aqi: 61,
        aqi_category: "Moderate air quality".to_owned(),
        temperature: 29.4,
        condition: "Partly cloudy".to_owned(),
        humidity: Some(74.0),
        dominant_pollutant: Some("pm25".to_owned()),
        observed_at: Utc.with_ymd_and_hms(2026, 2, 15, 9, 0, 0).single(),
    }
}

/// A provider that answers from a script: queued answers first (in order), then the default
/// answer. Counts every call and remembers the points asked for.
#[derive(Clone)]
pub struct FakeProvider {
    state: Arc<Mutex<ProviderState>>,
    calls: Arc<AtomicUsize>,
}

struct ProviderState {
    queued: VecDeque<Result<Conditions, ProviderError>>,
    default: Result<Conditions, ProviderError>,
    points: Vec<GridPoint>,
}

impl FakeProvider {
    /// A provider answering `conditions` every time.
    pub fn answering(conditions: Conditions) -> Self {
        Self::with_default(Ok(conditions))
    }

    /// A provider failing with `error` every time.
    pub fn failing(error: ProviderError) -> Self {
        Self::with_default(Err(error))
    }

    fn with_default(default: Result<Conditions, ProviderError>) -> Self {
        Self {
            state: Arc::new(Mutex::new(ProviderState {
                queued: VecDeque::new(),
                default,
                points: Vec::new(),
            })),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Answers `answer` to the next call not already scripted.
    pub fn then(&self, answer: Result<Conditions, ProviderError>) -> &Self {
        lock(&self.state).queued.push_back(answer);
        self
    }

    /// Answers `answer` from now on (after any queued answers).
    pub fn set_default(&self, answer: Result<Conditions, ProviderError>) {
        lock(&self.state).default = answer;
    }

    /// How many lookups were made.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The points asked for, in order.
    pub fn points(&self) -> Vec<GridPoint> {
        lock(&self.state).points.clone()
    }
}

impl ConditionsProvider for FakeProvider {
    async fn current(&self, point: GridPoint) -> Result<Conditions, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut state = lock(&self.state);
        state.points.push(point);
        match state.queued.pop_front() {
            Some(answer) => answer,
            None => state.default.clone(),
        }
    }
}

/// A cache in a map. While "down" it behaves like the Redis adapter with Redis unreachable:
/// reads miss and writes are skipped.
#[derive(Clone, Default)]
pub struct InMemoryConditionsCache {
    entries: Arc<Mutex<HashMap<GridPoint, CachedConditions>>>,
    down: Arc<Mutex<bool>>,
}

impl InMemoryConditionsCache {
    /// An empty, working cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores an entry directly (as another process would have).
    pub fn insert(&self, point: GridPoint, data: Conditions, fetched_at: DateTime<Utc>) {
        lock(&self.entries).insert(point, CachedConditions { data, fetched_at });
    }

    /// The stored entry, bypassing the "down" switch.
    pub fn entry(&self, point: GridPoint) -> Option<CachedConditions> {
        lock(&self.entries).get(&point).cloned()
    }

    /// Makes every later call fail open (`true`) or work again (`false`).
    pub fn set_down(&self, down: bool) {
        *lock(&self.down) = down;
    }

    fn is_down(&self) -> bool {
        *lock(&self.down)
    }
}

impl ConditionsCache for InMemoryConditionsCache {
    async fn get(&self, point: GridPoint) -> Option<CachedConditions> {
        if self.is_down() {
            return None;
        }
        self.entry(point)
    }

    async fn put(&self, point: GridPoint, entry: &CachedConditions) {
        if self.is_down() {
            return;
        }
        lock(&self.entries).insert(point, entry.clone());
    }
}
