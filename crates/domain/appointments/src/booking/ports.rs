//! The repository port of appointments. Every method is one atomic business operation.

use std::future::Future;

use chrono::{DateTime, Utc};
use medico24_kernel::{AppointmentId, AuditStamp, Page, PageRequest, PortError, UserId};
use serde_json::Value;

use crate::booking::messages::OutboxMessage;
use crate::booking::model::{Appointment, AppointmentFilter};
use crate::booking::reminders::{ReminderChange, ReminderPlan};

/// Which rows a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Only this user's non-deleted rows.
    Owner(UserId),
    /// Any non-deleted row (admins).
    Any,
}

/// An `Idempotency-Key` with the hash of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRequest {
    /// The header value.
    pub key: String,
    /// SHA-256 (hex) of the canonical JSON body.
    pub request_hash: String,
}

/// Result of a create.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// Inserted with its outbox event.
    Created(Appointment),
    /// A live key with the same body: the stored appointment, nothing created.
    Replayed(Appointment),
}

/// An audit entry written with a change (admins acting on someone else's appointment).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Who and from where.
    pub stamp: AuditStamp,
    /// `appointment.update`, `appointment.status_change`, `appointment.delete`, `appointment.hard_delete`.
    pub action: &'static str,
    /// Changed fields.
    pub details: Option<Value>,
}

/// What a decision under the row lock wants written.
#[derive(Debug, Clone, PartialEq)]
pub struct LockedChange {
    /// The new row (its `updated_at` already set).
    pub updated: Appointment,
    /// The event announcing the change, if any.
    pub event: Option<OutboxMessage>,
    /// The audit entry, if any.
    pub audit: Option<AuditEntry>,
    /// What happens to the pending reminders.
    pub reminders: ReminderChange,
}

/// Why a create failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoCreateError {
    /// The doctor is already booked in an overlapping slot (exclusion constraint).
    #[error("overlapping booking")]
    Overlap,
    /// The idempotency key is live with another request body.
    #[error("idempotency key reused with another body")]
    IdempotencyMismatch,
    /// `doctor_id` names no doctor.
    #[error("unknown doctor")]
    UnknownDoctor,
    /// `clinic_id` names no live clinic.
    #[error("unknown clinic")]
    UnknownClinic,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a change under lock failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoUpdateError<E> {
    /// Not visible to the caller (or missing).
    #[error("not found")]
    NotFound,
    /// The decision refused the change.
    #[error("rejected")]
    Rejected(E),
    /// The new slot overlaps another booking of the doctor.
    #[error("overlapping booking")]
    Overlap,
    /// `doctor_id` names no doctor.
    #[error("unknown doctor")]
    UnknownDoctor,
    /// `clinic_id` names no live clinic.
    #[error("unknown clinic")]
    UnknownClinic,
    /// Infrastructure failure.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Persistence of appointments, their outbox events and idempotency records.
pub trait AppointmentRepository: Send + Sync + 'static {
    /// In one transaction: the idempotency record (when given; a live record with the same hash
    /// → `Replayed`, another hash → `IdempotencyMismatch`, expired records are replaced), the
    /// reference checks, the row, its outbox event, one reminder event per slot of `reminders`
    /// (unique per appointment and offset) and the stored response.
    ///
    /// # Errors
    /// [`RepoCreateError`]; nothing is written on error.
    fn create(
        &self,
        appointment: &Appointment,
        event: &OutboxMessage,
        reminders: &ReminderPlan,
        idempotency: Option<&IdempotencyRequest>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<CreateOutcome, RepoCreateError>> + Send;

    /// The row with `id` when visible.
    ///
    /// # Errors
    /// [`PortError`].
    fn find(
        &self,
        id: AppointmentId,
        visibility: Visibility,
    ) -> impl Future<Output = Result<Option<Appointment>, PortError>> + Send;

    /// The row with `id`, soft-deleted or not (admin hard delete).
    ///
    /// # Errors
    /// [`PortError`].
    fn find_any(
        &self,
        id: AppointmentId,
    ) -> impl Future<Output = Result<Option<Appointment>, PortError>> + Send;

    /// Locks the visible row (`SELECT … FOR UPDATE`), lets `decide` compute the change, and
    /// writes it with its event, its audit entry and its reminder change in the same
    /// transaction; returns the row before
    /// and after. `Ok(None)` from `decide` writes nothing (after == before).
    ///
    /// # Errors
    /// [`RepoUpdateError`]; nothing is written on error.
    fn update_locked<F, E>(
        &self,
        id: AppointmentId,
        visibility: Visibility,
        decide: F,
    ) -> impl Future<Output = Result<(Appointment, Appointment), RepoUpdateError<E>>> + Send
    where
        F: FnOnce(Appointment) -> Result<Option<LockedChange>, E> + Send + 'static,
        E: Send + 'static;

    /// Soft-deletes a visible row (`deleted_at = updated_at = now`) and removes its pending
    /// reminders in the same transaction; `false` when not visible.
    ///
    /// # Errors
    /// [`PortError`].
    fn soft_delete(
        &self,
        id: AppointmentId,
        visibility: Visibility,
        audit: Option<AuditEntry>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// Removes the row, soft-deleted or not (admins only), with its reminders; `false` when
    /// missing.
    ///
    /// # Errors
    /// [`PortError`].
    fn hard_delete(
        &self,
        id: AppointmentId,
        audit: Option<AuditEntry>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// One page ordered `appointment_at DESC, id DESC` with the total: by number, or right
    /// after the request's key (`appointment_at`, `id`) when it has one. [`Page::next`] names
    /// the last row's key when more rows follow.
    ///
    /// # Errors
    /// [`PortError`].
    fn list(
        &self,
        filter: &AppointmentFilter,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Appointment>, PortError>> + Send;
}
