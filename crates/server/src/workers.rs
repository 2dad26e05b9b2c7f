//! Background work inside the server process: the outbox worker (every
//! `OUTBOX_POLL_INTERVAL_MS`), the broadcast runner (same interval), the recovery sweep of
//! deliveries left pending (every minute), the purge of expired idempotency keys (hourly) and
//! the fold of the admin statistics' pending deltas (every second), and the erasure of accounts
//! whose erasure is due (every `OUTBOX_POLL_INTERVAL_MS`).
//! Every job coordinates with other processes through row locks, so several processes are safe.
//! On shutdown each loop finishes its current item (an outbox pass, a broadcast batch) and exits;
//! a broadcast interrupted between batches goes back to the queue.

use std::future::Future;
use std::time::Duration;

use actix_web::web;
use medico24_notifications::{BroadcastStep, OUTBOX_CLAIM, OutboxReport};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// Interval of the recovery sweep.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(60);
/// Interval of the idempotency-key purge.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// Interval of the admin statistics fold: pending deltas stay about this many seconds of writes.
const STATS_FOLD_INTERVAL: Duration = Duration::from_secs(1);

/// What one pass of every job did (see [`run_once`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// The outbox pass.
    pub outbox: OutboxReport,
    /// Notifications whose pending deliveries were sent again.
    pub recovered: usize,
    /// Broadcasts run to completion.
    pub broadcasts: usize,
    /// Expired idempotency keys deleted.
    pub purged: u64,
    /// Admin statistics deltas folded.
    pub stats_folded: i64,
    /// Accounts erased.
    pub erased: usize,
}

/// The running background loops and their stop signal.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts every loop on the current Tokio runtime.
    pub fn start(state: web::Data<AppState>) -> Self {
        let (stop, _) = watch::channel(false);
        let poll = state.settings.outbox_poll_interval;
        let mut tasks = Vec::new();
        let mut spawn =
            |name: &'static str,
             every: Duration,
             job: fn(web::Data<AppState>, watch::Receiver<bool>) -> JobFuture| {
                let state = state.clone();
                let receiver = stop.subscribe();
                tasks.push(tokio::spawn(run_loop(name, every, state, receiver, job)));
            };
        spawn("outbox", poll, |state, stop| {
            Box::pin(outbox_job(state, stop))
        });
        spawn("broadcasts", poll, |state, stop| {
            Box::pin(broadcast_job(state, stop))
        });
        spawn("recovery", RECOVERY_INTERVAL, |state, _| {
            Box::pin(recovery_job(state))
        });
        spawn("idempotency_purge", PURGE_INTERVAL, |state, _| {
            Box::pin(purge_job(state))
        });
        spawn("admin_stats_fold", STATS_FOLD_INTERVAL, |state, _| {
            Box::pin(stats_fold_job(state))
        });
        spawn("erasures", poll, |state, _| Box::pin(erasure_job(state)));
        tracing::info!(
            poll_interval_ms = poll.as_millis() as u64,
            "background workers started"
        );
        Self { stop, tasks }
    }

    /// Signals every loop to stop after its current item and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a background worker ended abnormally");
            }
        }
        tracing::info!("background workers stopped");
    }
}

type JobFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `job` now and then every `every` until the stop signal.
async fn run_loop(
    name: &'static str,
    every: Duration,
    state: web::Data<AppState>,
    mut stop: watch::Receiver<bool>,
    job: fn(web::Data<AppState>, watch::Receiver<bool>) -> JobFuture,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        job(state.clone(), stop.clone()).await;
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            () = tokio::time::sleep(every) => {}
        }
    }
    tracing::debug!(worker = name, "background worker stopped");
}

/// Outbox passes until the backlog is drained (or a stop is requested), then the pending gauge.
async fn outbox_job(state: web::Data<AppState>, stop: watch::Receiver<bool>) {
    loop {
        match state.notifications.process_outbox().await {
            Ok(report) => {
                if report.claimed > 0 {
                    tracing::debug!(
                        claimed = report.claimed,
                        processed = report.processed,
                        retried = report.retried,
                        abandoned = report.abandoned,
                        "outbox pass"
                    );
                }
                let full = report.claimed >= OUTBOX_CLAIM.limit as usize;
                if !full || *stop.borrow() {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "outbox pass failed");
                break;
            }
        }
    }
    update_pending_gauge(&state).await;
}

async fn update_pending_gauge(state: &AppState) {
    match state.notifications.outbox_pending().await {
        Ok(pending) => state
            .metrics
            .outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX)),
        Err(error) => tracing::debug!(%error, "outbox backlog could not be counted"),
    }
}

/// Claims broadcasts and runs them batch by batch; between batches a stop request puts the
/// broadcast back in the queue.
async fn broadcast_job(state: web::Data<AppState>, stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let mut broadcast = match state.notifications.claim_broadcast().await {
            Ok(Some(broadcast)) => broadcast,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "broadcast claim failed");
                return;
            }
        };
        loop {
            if *stop.borrow() {
                if let Err(error) = state.notifications.requeue_broadcast(&broadcast).await {
                    tracing::warn!(broadcast.id = %broadcast.id, %error, "could not requeue a broadcast; it resumes once stale");
                }
                return;
            }
            match state.notifications.advance_broadcast(&mut broadcast).await {
                Ok(BroadcastStep::Progressed(_)) => {}
                Ok(BroadcastStep::Completed) => break,
                Err(error) => {
                    state
                        .notifications
                        .abort_broadcast(&broadcast, &error)
                        .await;
                    return;
                }
            }
        }
    }
}

async fn recovery_job(state: web::Data<AppState>) {
    if let Err(error) = state.notifications.recover_stalled().await {
        tracing::warn!(%error, "delivery recovery sweep failed");
    }
}

async fn purge_job(state: web::Data<AppState>) {
    match state
        .notifications
        .repository()
        .purge_expired_idempotency_keys(chrono::Utc::now())
        .await
    {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "expired idempotency keys purged"),
        Err(error) => tracing::warn!(%error, "idempotency key purge failed"),
    }
}

/// Erases every account whose erasure is due; one that fails stays claimable and is retried
/// once its lease ends.
async fn erasure_job(state: web::Data<AppState>) {
    match state.privacy.run_due().await {
        Ok(0) => {}
        Ok(erased) => {
            state.metrics.accounts_erased.inc_by(erased as u64);
            tracing::info!(erased, "accounts erased");
        }
        Err(error) => tracing::warn!(%error, "erasure pass failed; it resumes after its lease"),
    }
}

async fn stats_fold_job(state: web::Data<AppState>) {
    if let Err(error) = state.admin_stats.compact().await {
        tracing::warn!(%error, "admin statistics fold failed");
    }
}

/// One pass of every job, in order, without waiting: an outbox pass, every claimable broadcast
/// run to completion, the recovery sweep, the purge, the statistics fold, the due erasures, and
/// the pending gauge. For tests (with
/// `WORKERS_ENABLED=false`) and operators' tooling.
///
/// # Errors
/// The first infrastructure failure.
pub async fn run_once(state: &AppState) -> Result<Tick, medico24_kernel::PortError> {
    let outbox = state.notifications.process_outbox().await?;
    let mut broadcasts = 0;
    while let Some(broadcast) = state.notifications.claim_broadcast().await? {
        state.notifications.run_broadcast(broadcast).await?;
        broadcasts += 1;
    }
    let recovered = state.notifications.recover_stalled().await?;
    let purged = state
        .notifications
        .repository()
        .purge_expired_idempotency_keys(chrono::Utc::now())
        .await?;
    let stats_folded = state.admin_stats.compact().await?;
    let erased = state.privacy.run_due().await?;
    state.metrics.accounts_erased.inc_by(erased as u64);
    update_pending_gauge(state).await;
    Ok(Tick {
        erased,
        outbox,
        recovered,
        broadcasts,
        purged,
        stats_folded,
    })
}
