//! Writing audit events inside the transaction of the change they record.

use crate::conn::PgConn;
use diesel::sql_types::{Array, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use medico24_identity::{Actor, AuditRecord};
use medico24_kernel::AuditStamp;

/// Inserts one `audit_events` row on `conn` (call it inside the change's transaction).
///
/// # Errors
/// The database error.
pub async fn insert_audit(
    conn: &mut PgConn,
    record: &AuditRecord,
) -> Result<(), diesel::result::Error> {
    let context = &record.context;
    let stamp = match context.actor {
        Actor::User(id) => AuditStamp::user(id, context.request_id.clone(), context.ip),
        Actor::AdminSecret => AuditStamp::admin_secret(context.request_id.clone(), context.ip),
        Actor::System => AuditStamp::system(&context.request_id),
    };
    let subjects: Vec<uuid::Uuid> = record.subject_ids.iter().map(|id| id.as_uuid()).collect();
    insert_audit_row(
        conn,
        &stamp,
        AuditRow {
            action: record.action,
            resource_type: record.resource_type,
            resource_id: record.resource_id.as_deref(),
            details: record.details.as_ref(),
            subject_ids: &subjects,
        },
    )
    .await
}

/// The recorded facts of one audit event besides its stamp.
pub struct AuditRow<'a> {
    /// `pharmacy.create`, `user.list.read`, …
    pub action: &'a str,
    /// `pharmacy`, `user`, …
    pub resource_type: &'a str,
    /// The affected id as text.
    pub resource_id: Option<&'a str>,
    /// Changed fields (never personal data).
    pub details: Option<&'a serde_json::Value>,
    /// The users whose data the action read or changed.
    pub subject_ids: &'a [uuid::Uuid],
}

/// Inserts one `audit_events` row stamped with `stamp` (call it inside the change's transaction).
///
/// # Errors
/// The database error.
pub async fn insert_audit_stamp(
    conn: &mut PgConn,
    stamp: &AuditStamp,
    action: &str,
    resource_type: &str,
    resource_id: Option<&str>,
    details: Option<&serde_json::Value>,
) -> Result<(), diesel::result::Error> {
    insert_audit_row(
        conn,
        stamp,
        AuditRow {
            action,
            resource_type,
            resource_id,
            details,
            subject_ids: &[],
        },
    )
    .await
}

/// Inserts one `audit_events` row stamped with `stamp`, naming its subjects.
///
/// # Errors
/// The database error.
pub async fn insert_audit_row(
    conn: &mut PgConn,
    stamp: &AuditStamp,
    row: AuditRow<'_>,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "INSERT INTO audit_events (actor_user_id, actor_type, action, resource_type, resource_id, request_id, ip, details, subject_ids) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8, $9)",
    )
    .bind::<Nullable<SqlUuid>, _>(stamp.actor_user_id.map(|id| id.as_uuid()))
    .bind::<Text, _>(stamp.actor_type)
    .bind::<Text, _>(row.action)
    .bind::<Text, _>(row.resource_type)
    .bind::<Nullable<Text>, _>(row.resource_id)
    .bind::<Text, _>(&stamp.request_id)
    .bind::<Nullable<Text>, _>(stamp.ip.map(|ip| ip.to_string()))
    .bind::<Nullable<Jsonb>, _>(row.details)
    .bind::<Array<SqlUuid>, _>(row.subject_ids)
    .execute(conn)
    .await?;
    Ok(())
}
