//! The read replica: which reads may go there, and when it is not used (down, or further
//! behind the primary than the configured bound).
//!
//! The rule: a read that tolerates a little lag and whose result is not cached (nearby
//! searches, directory listings, admin statistics) asks [`crate::Database::read_conn`]; every
//! other read, and every read of a caller's own data right after a write, uses
//! [`crate::Database::conn`] (the primary). A cached read stays on the primary because a stale
//! result would be kept for the cache's whole lifetime.
//!
//! The replica's state is checked at most once per [`CHECK_INTERVAL`] by one caller; the others
//! use the last verdict. A replica that cannot be reached, or that answers a connection
//! checkout with an error, is skipped until the next check.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::sql_types::{Double, Text};
use diesel_async::RunQueryDsl;

use crate::database::{Database, DatabaseError};

/// How often the replica's lag is measured.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Why a read that could have used the replica went to the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaFallback {
    /// The replica could not be reached (or its lag could not be measured).
    Unavailable,
    /// The replica is further behind than the bound.
    Lagging,
}

impl ReplicaFallback {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Lagging => "lagging",
        }
    }
}

/// Called with the reason each time a read falls back to the primary.
pub type FallbackObserver = Arc<dyn Fn(ReplicaFallback) + Send + Sync>;

/// A replica pool with its lag bound and last verdict.
pub(crate) struct Replica {
    pub(crate) db: Database,
    max_lag: Duration,
    verdict: Mutex<Verdict>,
    checking: AtomicBool,
    pub(crate) on_fallback: Option<FallbackObserver>,
}

#[derive(Debug, Clone, Copy)]
struct Verdict {
    checked_at: Option<Instant>,
    usable: Result<(), ReplicaFallback>,
}

struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[derive(diesel::QueryableByName)]
struct PrimaryPosition {
    #[diesel(sql_type = Text)]
    lsn: String,
}

#[derive(diesel::QueryableByName)]
struct ReplicaLag {
    #[diesel(sql_type = Double)]
    lag_ms: f64,
}

impl Replica {
    pub(crate) fn new(
        db: Database,
        max_lag: Duration,
        on_fallback: Option<FallbackObserver>,
    ) -> Self {
        Self {
            db,
            max_lag,
            verdict: Mutex::new(Verdict {
                checked_at: None,
                // Until the first check has answered, reads use the primary.
                usable: Err(ReplicaFallback::Unavailable),
            }),
            checking: AtomicBool::new(false),
            on_fallback,
        }
    }

    /// Whether reads may use the replica now, measuring its lag when the last check is older
    /// than [`CHECK_INTERVAL`] (one caller measures; the others use the last verdict).
    pub(crate) async fn usable(&self, primary: &Database) -> Result<(), ReplicaFallback> {
        let last = *self.verdict.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = last
            .checked_at
            .is_some_and(|at| at.elapsed() < CHECK_INTERVAL);
        if fresh
            || self
                .checking
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return last.usable;
        }
        // Cleared however the check ends, also when the caller's future is dropped half-way.
        let _checking = ClearOnDrop(&self.checking);
        let usable = self.measure(primary).await;
        self.record(usable);
        usable
    }

    /// Marks the replica unusable until the next check (a checkout from it failed).
    pub(crate) fn mark_unavailable(&self) {
        self.record(Err(ReplicaFallback::Unavailable));
    }

    fn record(&self, usable: Result<(), ReplicaFallback>) {
        *self.verdict.lock().unwrap_or_else(PoisonError::into_inner) = Verdict {
            checked_at: Some(Instant::now()),
            usable,
        };
    }

    /// The replica is current when it has replayed everything the primary had written just
    /// before; otherwise its lag is the time since the last transaction it replayed (which
    /// keeps growing while it is cut off from the primary).
    async fn measure(&self, primary: &Database) -> Result<(), ReplicaFallback> {
        let bound = self.max_lag.max(CHECK_INTERVAL);
        let measured = tokio::time::timeout(bound, async {
            let position: PrimaryPosition = {
                let mut conn = primary.conn().await?;
                diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn")
                    .get_result(&mut conn)
                    .await?
            };
            let mut conn = self.db.conn().await?;
            let lag: ReplicaLag = diesel::sql_query(
                "SELECT CASE \
                   WHEN NOT pg_is_in_recovery() THEN 0 \
                   WHEN pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 0 \
                   ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000, 1e12) \
                 END::float8 AS lag_ms",
            )
            .bind::<Text, _>(position.lsn)
            .get_result(&mut conn)
            .await?;
            Ok::<_, DatabaseError>(lag.lag_ms)
        })
        .await;
        match measured {
            Ok(Ok(lag_ms)) if lag_ms <= self.max_lag.as_secs_f64() * 1000.0 => Ok(()),
            Ok(Ok(_)) => Err(ReplicaFallback::Lagging),
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "read replica check failed; reading from the primary");
                Err(ReplicaFallback::Unavailable)
            }
            Err(_) => Err(ReplicaFallback::Unavailable),
        }
    }
}
