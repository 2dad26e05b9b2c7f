//! Request coalescing: concurrent callers of one expensive read share the computation in flight
//! instead of each running it.
//!
//! Nothing is cached: a caller that arrives when no computation is running starts a new one, so
//! an answer is never older than the computation its caller joined, which began at most that
//! computation's duration (a few milliseconds) before the caller arrived.

use std::future::Future;
use std::sync::{Mutex, PoisonError};

use futures_util::future::{BoxFuture, FutureExt, Shared};

/// One coalesced read of `T` (cloned to every caller that shared it).
pub struct Coalesced<T: Clone + Send + Sync + 'static> {
    in_flight: Mutex<Option<Shared<BoxFuture<'static, T>>>>,
}

impl<T: Clone + Send + Sync + 'static> Default for Coalesced<T> {
    fn default() -> Self {
        Self {
            in_flight: Mutex::new(None),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Coalesced<T> {
    /// The result of the computation in flight, or of a new one `compute` starts when none is
    /// running. A computation whose callers all went away is resumed by the next caller.
    pub async fn get<F>(&self, compute: impl FnOnce() -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
    {
        let shared = {
            // The guarded value is replaced whole, so a poisoned lock still holds a usable one.
            let mut slot = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match slot.as_ref() {
                Some(running) if running.peek().is_none() => running.clone(),
                _ => {
                    let started = compute().boxed().shared();
                    *slot = Some(started.clone());
                    started
                }
            }
        };
        shared.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_computation_and_later_ones_start_anew() {
        let coalesced = Arc::new(Coalesced::<usize>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let compute = {
            let runs = runs.clone();
            move || {
                let runs = runs.clone();
                let mut gate = gate.clone();
                async move {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    let _ = gate.wait_for(|open| *open).await;
                    run
                }
            }
        };
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let coalesced = coalesced.clone();
                let compute = compute.clone();
                tokio::spawn(async move { coalesced.get(compute).await })
            })
            .collect();
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let _ = release.send(true);
        for caller in callers {
            assert_eq!(caller.await.unwrap(), 1, "all eight shared the first run");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Finished: the next caller computes afresh.
        assert_eq!(coalesced.get(compute).await, 2);
    }
}
