//! Push tokens: registration with one active owner per device token (serialised per token by
//! an advisory lock), and deactivation of one token or all of a user's.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::{PortError, PushTokenId, UserId};
use medico24_notifications::{Platform, PushToken};

use super::port;
use crate::conn::PgConn;
use crate::database::Database;
use crate::schema::push_tokens;

/// The partial unique index that keeps a token active for one user.
const ACTIVE_TOKEN_INDEX: &str = "uq_push_tokens_active_fcm_token";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = push_tokens, check_for_backend(diesel::pg::Pg))]
struct PushTokenRow {
    id: uuid::Uuid,
    user_id: uuid::Uuid,
    fcm_token: String,
    platform: String,
    is_active: bool,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl PushTokenRow {
    fn into_token(self) -> PushToken {
        PushToken {
            id: PushTokenId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            fcm_token: self.fcm_token,
            // `push_tokens_platform_check` guarantees one of the three values.
            platform: self.platform.parse().unwrap_or(Platform::Android),
            is_active: self.is_active,
            last_used_at: self.last_used_at,
            created_at: self.created_at,
        }
    }
}

/// The advisory-lock class of a device token (the key is a hash of the token).
const TOKEN_LOCK_CLASS: i32 = 0x5054_4f4b; // "PTOK"

/// Token registration on `conn` (inside a transaction).
async fn register_in(
    conn: &mut PgConn,
    user: uuid::Uuid,
    token: &str,
    platform: Platform,
    now: DateTime<Utc>,
) -> QueryResult<PushTokenRow> {
    // Registrations of one device token run one after the other: several accounts signing in
    // on one device at once would otherwise each deactivate the others' rows and insert their
    // own, and meet in the unique index of active tokens or in a deadlock (500s).
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind::<diesel::sql_types::Integer, _>(TOKEN_LOCK_CLASS)
        .bind::<diesel::sql_types::Text, _>(token)
        .execute(conn)
        .await?;
    diesel::update(
        push_tokens::table.filter(
            push_tokens::fcm_token
                .eq(token)
                .and(push_tokens::user_id.ne(user))
                .and(push_tokens::is_active),
        ),
    )
    .set(push_tokens::is_active.eq(false))
    .execute(conn)
    .await?;
    diesel::update(
        push_tokens::table.filter(
            push_tokens::user_id
                .eq(user)
                .and(push_tokens::platform.eq(platform.as_str()))
                .and(push_tokens::fcm_token.ne(token))
                .and(push_tokens::is_active),
        ),
    )
    .set(push_tokens::is_active.eq(false))
    .execute(conn)
    .await?;
    diesel::insert_into(push_tokens::table)
        .values((
            push_tokens::user_id.eq(user),
            push_tokens::fcm_token.eq(token),
            push_tokens::platform.eq(platform.as_str()),
            push_tokens::is_active.eq(true),
            push_tokens::last_used_at.eq(now),
            push_tokens::created_at.eq(now),
        ))
        .on_conflict((push_tokens::user_id, push_tokens::fcm_token))
        .do_update()
        .set((
            push_tokens::is_active.eq(true),
            push_tokens::platform.eq(excluded(push_tokens::platform)),
            push_tokens::last_used_at.eq(now),
        ))
        .returning(PushTokenRow::as_returning())
        .get_result(conn)
        .await
}

fn is_active_token_race(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(ACTIVE_TOKEN_INDEX)
    )
}

pub(super) async fn register_token(
    db: &Database,
    user: UserId,
    fcm_token: &str,
    platform: Platform,
    now: DateTime<Utc>,
) -> Result<PushToken, PortError> {
    let mut conn = db.conn().await?;
    let mut retried = false;
    loop {
        let token = fcm_token.to_owned();
        let result = conn
            .transaction::<_, DieselError, _>(async move |conn| {
                register_in(conn, user.as_uuid(), &token, platform, now).await
            })
            .await;
        match result {
            Ok(row) => return Ok(row.into_token()),
            // Another user registered the same token concurrently: their row is committed
            // now, and the retry deactivates it.
            Err(error) if !retried && is_active_token_race(&error) => retried = true,
            Err(error) => return Err(port(error)),
        }
    }
}

pub(super) async fn deactivate_token(
    db: &Database,
    user: UserId,
    fcm_token: &str,
) -> Result<(), PortError> {
    let mut conn = db.conn().await?;
    diesel::update(
        push_tokens::table.filter(
            push_tokens::user_id
                .eq(user.as_uuid())
                .and(push_tokens::fcm_token.eq(fcm_token)),
        ),
    )
    .set(push_tokens::is_active.eq(false))
    .execute(&mut conn)
    .await
    .map_err(port)?;
    Ok(())
}

pub(super) async fn deactivate_all_tokens(db: &Database, user: UserId) -> Result<(), PortError> {
    let mut conn = db.conn().await?;
    diesel::update(
        push_tokens::table.filter(
            push_tokens::user_id
                .eq(user.as_uuid())
                .and(push_tokens::is_active),
        ),
    )
    .set(push_tokens::is_active.eq(false))
    .execute(&mut conn)
    .await
    .map_err(port)?;
    Ok(())
}
