//! Google lookups collapsed per grid point: the domain's `EnvironmentService` over the Google
//! provider and a conditions cache, behind a per-grid-point single flight, so concurrent
//! requests for one point cause at most one upstream fetch in this process.
//!
//! Design: the single flight wraps the whole lookup (cache read, fetch, store), not only the
//! provider call. The first request for a point spawns the lookup as a task; requests for the
//! same point arriving while it runs await its result instead of starting their own. The task
//! leaves the in-flight map only after it has stored its answer, so a request arriving after
//! that point reads the fresh entry from the cache — there is no window in which a late miss
//! could start a second upstream fetch. Spawning (rather than letting the first request drive
//! the lookup) means a client that disconnects does not cancel the fetch the others wait for,
//! and the answer is cached regardless. The domain crate stays runtime-agnostic; this module
//! owns the `tokio` part.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use medico24_environment::{
    ConditionsCache, ConditionsError, ConditionsReport, EnvironmentService, GridPoint,
};
use medico24_kernel::Clock;

use crate::conditions::GoogleConditions;

/// The environment service over Google, with cache `C` and clock `K`.
pub type Environment<C, K> = EnvironmentService<GoogleConditions, C, K>;

/// The answer of one lookup, shared by every request that waited for it.
pub type Lookup = Result<ConditionsReport, ConditionsError>;

/// The in-flight task of a key ended without an answer (it panicked or its runtime shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the shared lookup ended without an answer")]
pub struct FlightAborted;

type Flight<V> = Shared<BoxFuture<'static, Option<V>>>;
type Flights<K, V> = Arc<Mutex<HashMap<K, (u64, Flight<V>)>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Collapses concurrent runs of the same keyed work into one: while a run for a key is in
/// flight, later callers with that key get its result instead of running the work again.
pub struct SingleFlight<K, V> {
    flights: Flights<K, V>,
    next_id: AtomicU64,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            flights: Arc::default(),
            next_id: AtomicU64::new(0),
        }
    }
}

/// Removes its flight from the map when the spawned task ends (normally or by panic).
struct Landing<K: Eq + Hash, V> {
    flights: Flights<K, V>,
    key: K,
    id: u64,
}

impl<K: Eq + Hash, V> Drop for Landing<K, V> {
    fn drop(&mut self) {
        let mut flights = lock(&self.flights);
        if flights.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            flights.remove(&self.key);
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// An empty set of flights.
    pub fn new() -> Self {
        Self::default()
    }

    /// The result of `work()` for `key`: run in a spawned task when no run for `key` is in
    /// flight, else the in-flight run's result (`work` is then not called).
    ///
    /// # Errors
    /// [`FlightAborted`] when the task ended without a result (it panicked).
    pub async fn run<F, Fut>(&self, key: K, work: F) -> Result<V, FlightAborted>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let flight = {
            let mut flights = lock(&self.flights);
            match flights.get(&key) {
                Some((_, flight)) => flight.clone(),
                None => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let landing = Landing {
                        flights: Arc::clone(&self.flights),
                        key: key.clone(),
                        id,
                    };
                    let work = work();
                    // The landing guard drops (removing the flight) after `work` completed and
                    // before the task's result is published; it waits for this lock, so it
                    // cannot run before the insert below.
                    let task = tokio::spawn(async move {
                        let _landing = landing;
                        work.await
                    });
                    let flight: Flight<V> = task.map(Result::ok).boxed().shared();
                    flights.insert(key, (id, flight.clone()));
                    flight
                }
            }
        };
        flight.await.ok_or(FlightAborted)
    }

    /// How many keys have a run in flight.
    pub fn in_flight(&self) -> usize {
        lock(&self.flights).len()
    }

    /// How many callers hold the in-flight run of `key` (the map's own handle excluded).
    #[cfg(test)]
    fn waiters(&self, key: &K) -> usize {
        lock(&self.flights)
            .get(key)
            .and_then(|(_, flight)| flight.strong_count())
            .map_or(0, |count| count.saturating_sub(1))
    }
}

/// Environment lookups with at most one in flight per grid point in this process.
pub struct EnvironmentConditions<C, K> {
    service: Arc<Environment<C, K>>,
    flights: SingleFlight<GridPoint, Lookup>,
}

impl<C, K> EnvironmentConditions<C, K>
where
    C: ConditionsCache,
    K: Clock,
{
    /// Wraps `service`.
    pub fn new(service: Environment<C, K>) -> Self {
        Self {
            service: Arc::new(service),
            flights: SingleFlight::new(),
        }
    }

    /// Current conditions at `point` (cache read, fetch on a miss or a stale entry, store),
    /// shared with concurrent lookups of it.
    ///
    /// # Errors
    /// [`FlightAborted`] when the shared lookup panicked.
    pub async fn conditions(&self, point: GridPoint) -> Result<Lookup, FlightAborted> {
        let service = Arc::clone(&self.service);
        self.flights
            .run(
                point,
                move || async move { service.conditions(point).await },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn concurrent_runs_of_one_key_share_a_single_execution() {
        let flights: Arc<SingleFlight<&'static str, usize>> = Arc::new(SingleFlight::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let mut waiters = Vec::new();
        for _ in 0..20 {
            let flights = Arc::clone(&flights);
            let runs = Arc::clone(&runs);
            let mut released = released.clone();
            waiters.push(tokio::spawn(async move {
                flights
                    .run("19.076:72.878", move || async move {
                        let _ = released.wait_for(|go| *go).await;
                        runs.fetch_add(1, Ordering::SeqCst) + 1
                    })
                    .await
            }));
        }
        // Release the work only once every caller waits on the one flight.
        while flights.waiters(&"19.076:72.878") < 20 {
            tokio::task::yield_now().await;
        }
        release.send_replace(true);
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), Ok(1));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_run_after_the_previous_one_landed_executes_again_and_keys_are_independent() {
        let flights: SingleFlight<u8, u8> = SingleFlight::new();
        assert_eq!(flights.run(1, || async { 10 }).await, Ok(10));
        assert_eq!(flights.run(1, || async { 11 }).await, Ok(11));
        assert_eq!(flights.run(2, || async { 20 }).await, Ok(20));
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_panicking_run_is_reported_and_does_not_block_the_key() {
        let flights: SingleFlight<u8, u8> = SingleFlight::new();
        let result = flights.run(1, || async { panic!("lookup exploded") }).await;
        assert_eq!(result, Err(FlightAborted));
        assert_eq!(flights.in_flight(), 0);
        assert_eq!(flights.run(1, || async { 7 }).await, Ok(7));
    }
}
