//! Data-subject rights: erasure of an account after a grace period, the export of everything
//! stored about a user, and the audit of reads of another user's personal or medical data.

use std::time::Duration;

use chrono::{DateTime, Utc};
use medico24_kernel::{Clock, PortError, UserId};

use crate::model::{Actor, AuditContext, AuditRecord, Session};
use crate::ports::{PersonalDataStore, PersonalTraces};

/// Where an erasure request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasureStatus {
    /// Waiting for its due time (or for a worker to pick it up).
    Pending,
    /// Every table is erased; the caches are still to be purged.
    RecordsErased,
    /// Done: only the pseudonymous tombstone of the account remains.
    Erased,
}

impl ErasureStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErasureStatus::Pending => "pending",
            ErasureStatus::RecordsErased => "records_erased",
            ErasureStatus::Erased => "erased",
        }
    }

    /// The status stored as `text`, when it is one.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::RecordsErased, Self::Erased]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// One erasure request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The account to erase.
    pub user_id: UserId,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// The admin who asked for it; `None` when the user asked.
    pub requested_by: Option<UserId>,
    /// When the worker erases the account.
    pub due_at: DateTime<Utc>,
    /// Progress.
    pub status: ErasureStatus,
}

/// What a request for erasure found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestErasureOutcome {
    /// No such user.
    NotFound,
    /// Scheduled now, or already scheduled (the existing schedule stands: asking twice does not
    /// postpone it).
    Scheduled(Erasure),
    /// The account is already erased (or being erased).
    AlreadyErased(Erasure),
}

/// What a cancellation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelErasureOutcome {
    /// No such user.
    NotFound,
    /// Nothing pending to cancel: never asked for, or the worker has started.
    NotPending,
    /// The request is withdrawn; the account stays deactivated.
    Cancelled(Erasure),
}

/// The parts of the export document, in document order (sessions, kept outside the database,
/// come right after the profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportSection {
    /// The account, its patient or admin details, notification preferences and any erasure
    /// request: one object.
    Profile,
    /// Every appointment of the patient, deleted ones included.
    Appointments,
    /// Every notification sent to the user, each with its push deliveries.
    Notifications,
    /// Push tokens, masked to their last characters.
    PushTokens,
    /// Messages still scheduled or already handled for the user (reminders, status changes).
    OutboxMessages,
    /// Audit events by the user or about the user.
    AuditEvents,
}

impl ExportSection {
    /// Every list section, in document order.
    pub const LISTS: [ExportSection; 5] = [
        ExportSection::Appointments,
        ExportSection::Notifications,
        ExportSection::PushTokens,
        ExportSection::OutboxMessages,
        ExportSection::AuditEvents,
    ];

    /// The member name in the export document.
    pub const fn key(self) -> &'static str {
        match self {
            ExportSection::Profile => "profile",
            ExportSection::Appointments => "appointments",
            ExportSection::Notifications => "notifications",
            ExportSection::PushTokens => "push_tokens",
            ExportSection::OutboxMessages => "scheduled_messages",
            ExportSection::AuditEvents => "audit_events",
        }
    }
}

/// One page of an export section: rows as stored (JSON objects) and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPage {
    /// Rows of this page.
    pub rows: Vec<serde_json::Value>,
    /// The key to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Rows per export page: bounds the memory an export holds at once, whatever the user's history.
pub const EXPORT_PAGE_ROWS: u32 = 500;

/// A session as the export shows it: times only, never token material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSummary {
    /// Session creation (Unix seconds).
    pub created_at: i64,
    /// Last refresh (Unix seconds).
    pub last_used_at: i64,
}

impl From<&Session> for SessionSummary {
    fn from(session: &Session) -> Self {
        Self {
            created_at: session.created_at,
            last_used_at: session.refreshed_at,
        }
    }
}

/// Why an erasure request or cancellation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The account is already erased or being erased.
    #[error("already erased")]
    AlreadyErased,
    /// No pending erasure to cancel.
    #[error("no pending erasure")]
    NotPending,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A read of other users' personal or medical data, recorded in the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRead {
    /// `user.list.read`, `appointment.list.read`, …; every read action ends in `.read`.
    pub action: &'static str,
    /// `user`, `appointment`, `notification`.
    pub resource_type: &'static str,
    /// The one resource read, for a detail read.
    pub resource_id: Option<String>,
    /// Whose data was read (for a list: every owner on the page, once each).
    pub subjects: Vec<UserId>,
}

/// Erasure schedule and run, export pages, and the read audit.
pub struct PrivacyService<P, T, K> {
    store: P,
    traces: T,
    clock: K,
    grace: Duration,
    lease: Duration,
}

/// How long a worker holds an erasure it claimed before another may take it over.
pub const ERASURE_LEASE: Duration = Duration::from_secs(300);

impl<P: PersonalDataStore, T: PersonalTraces, K: Clock> PrivacyService<P, T, K> {
    /// A service erasing accounts `grace` after their request.
    pub fn new(store: P, traces: T, clock: K, grace: Duration) -> Self {
        Self {
            store,
            traces,
            clock,
            grace,
            lease: ERASURE_LEASE,
        }
    }

    /// The grace period between a request and the erasure.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The personal data store (for the export's pages).
    pub fn store(&self) -> &P {
        &self.store
    }

    /// Schedules the erasure of `target` `grace` from now: deactivates the account and its push
    /// tokens at once (one transaction with the audit event) and drops its sessions, cached row
    /// and live event log. Asking again returns the existing schedule.
    ///
    /// # Errors
    /// [`ErasureError::NotFound`], [`ErasureError::AlreadyErased`], or
    /// [`ErasureError::Port`] (also when the caches could not be purged: the schedule is
    /// stored, and asking again finishes the purge).
    pub async fn request_erasure(
        &self,
        target: UserId,
        audit: &AuditContext,
    ) -> Result<Erasure, ErasureError> {
        let now = self.clock.now();
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        let due_at = now.checked_add_signed(grace).unwrap_or(now);
        let requested_by = match audit.actor {
            Actor::User(actor) if actor != target => Some(actor),
            _ => None,
        };
        let erasure = match self
            .store
            .request_erasure(target, requested_by, due_at, audit, now)
            .await?
        {
            RequestErasureOutcome::NotFound => return Err(ErasureError::NotFound),
            RequestErasureOutcome::AlreadyErased(_) => return Err(ErasureError::AlreadyErased),
            RequestErasureOutcome::Scheduled(erasure) => erasure,
        };
        self.traces.purge(target).await?;
        Ok(erasure)
    }

    /// Withdraws a pending erasure of `target`. The account stays deactivated (an admin
    /// reactivates it separately).
    ///
    /// # Errors
    /// [`ErasureError::NotFound`], [`ErasureError::NotPending`], [`ErasureError::Port`].
    pub async fn cancel_erasure(
        &self,
        target: UserId,
        audit: &AuditContext,
    ) -> Result<Erasure, ErasureError> {
        match self
            .store
            .cancel_erasure(target, audit, self.clock.now())
            .await?
        {
            CancelErasureOutcome::NotFound => Err(ErasureError::NotFound),
            CancelErasureOutcome::NotPending => Err(ErasureError::NotPending),
            CancelErasureOutcome::Cancelled(erasure) => Ok(erasure),
        }
    }

    /// Erases every account whose erasure is due, one at a time: claim (with a lease), erase the
    /// records in one transaction, purge the caches, mark it done. A worker that stops mid-way
    /// leaves the request claimable once its lease ends; every step can run again.
    /// Returns how many accounts were erased.
    ///
    /// # Errors
    /// The first infrastructure failure (the request being run stays claimable).
    pub async fn run_due(&self) -> Result<usize, PortError> {
        let mut erased = 0;
        while let Some(erasure) = self
            .store
            .claim_erasure(self.clock.now(), self.lease)
            .await?
        {
            if erasure.status == ErasureStatus::Pending {
                self.store
                    .erase_records(erasure.user_id, self.clock.now())
                    .await?;
            }
            self.traces.purge(erasure.user_id).await?;
            self.store
                .finish_erasure(erasure.user_id, self.clock.now())
                .await?;
            erased += 1;
        }
        Ok(erased)
    }

    /// The user's live sessions, as the export shows them.
    ///
    /// # Errors
    /// [`PortError`] when the session store fails.
    pub async fn sessions(&self, user: UserId) -> Result<Vec<SessionSummary>, PortError> {
        let mut sessions: Vec<SessionSummary> = self
            .traces
            .sessions(user)
            .await?
            .iter()
            .map(SessionSummary::from)
            .collect();
        sessions.sort_by_key(|s| (s.created_at, s.last_used_at));
        Ok(sessions)
    }

    /// Records that `reader` read other users' data. Subjects are deduplicated, and `reader`
    /// is left out of them; a read of nobody else's data records nothing.
    ///
    /// # Errors
    /// [`PortError`] when the event cannot be written (callers then refuse to answer: a read
    /// that cannot be audited does not happen).
    pub async fn record_read(
        &self,
        reader: UserId,
        context: AuditContext,
        read: AccessRead,
    ) -> Result<(), PortError> {
        let mut subjects: Vec<UserId> = Vec::with_capacity(read.subjects.len());
        for subject in read.subjects {
            if subject != reader && !subjects.contains(&subject) {
                subjects.push(subject);
            }
        }
        if subjects.is_empty() {
            return Ok(());
        }
        self.store
            .record_access(&AuditRecord {
                context,
                action: read.action,
                resource_type: read.resource_type,
                resource_id: read.resource_id,
                details: None,
                subject_ids: subjects,
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        for status in [
            ErasureStatus::Pending,
            ErasureStatus::RecordsErased,
            ErasureStatus::Erased,
        ] {
            assert_eq!(ErasureStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ErasureStatus::parse("cancelled"), None);
    }

    #[test]
    fn export_sections_have_distinct_keys() {
        let mut keys: Vec<&str> = ExportSection::LISTS.iter().map(|s| s.key()).collect();
        keys.push(ExportSection::Profile.key());
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count);
    }
}
