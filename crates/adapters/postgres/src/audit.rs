//! Writing audit events inside the transaction of the change they record.

use crate::conn::PgConn;
use diesel::sql_types::{Jsonb, Nullable, Text, Uuid as SqlUuid};
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
    };
    insert_audit_stamp(
        conn,
        &stamp,
        record.action,
        record.resource_type,
        record.resource_id.as_deref(),
        record.details.as_ref(),
    )
    .await
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
    diesel::sql_query(
        "INSERT INTO audit_events (actor_user_id, actor_type, action, resource_type, resource_id, request_id, ip, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8)",
    )
    .bind::<Nullable<SqlUuid>, _>(stamp.actor_user_id.map(|id| id.as_uuid()))
    .bind::<Text, _>(stamp.actor_type)
    .bind::<Text, _>(action)
    .bind::<Text, _>(resource_type)
    .bind::<Nullable<Text>, _>(resource_id)
    .bind::<Text, _>(&stamp.request_id)
    .bind::<Nullable<Text>, _>(stamp.ip.map(|ip| ip.to_string()))
    .bind::<Nullable<Jsonb>, _>(details)
    .execute(conn)
    .await?;
    Ok(())
}
