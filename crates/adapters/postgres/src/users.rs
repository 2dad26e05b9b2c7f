//! `UserRepository` on PostgreSQL: the atomic login upsert, profile updates, deactivation with
//! push tokens, admin listing and changes with their audit events.

use crate::conn::PgConn;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_identity::{
    AdminUpdateOutcome, AdminUserChange, AuditContext, AuditEvent, AuditFilter, AuditRecord,
    LoginProfile, LoginUpsert, PortError, ProfilePatch, User, UserFilter, UserRepository,
};
use medico24_kernel::paging::SeekKey;
use medico24_kernel::{Page, PageRequest, Role, UserId};
use serde_json::json;

use crate::audit::insert_audit;
use crate::database::{Database, DatabaseError};
use crate::errors::contains_pattern;
use crate::keyset::{after_key, fetch_limit, split_page};
use crate::maintained::maintained_total;
use crate::schema::{admins, audit_events, patients, push_tokens, users};

/// A `users` row as selected.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct UserRow {
    id: uuid::Uuid,
    firebase_uid: String,
    email: String,
    email_verified: bool,
    auth_provider: String,
    full_name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    photo_url: Option<String>,
    phone: Option<String>,
    role: String,
    is_active: bool,
    is_onboarded: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
}

impl UserRow {
    fn into_user(self) -> User {
        User {
            id: UserId::from_uuid(self.id),
            firebase_uid: self.firebase_uid,
            email: self.email,
            email_verified: self.email_verified,
            auth_provider: self.auth_provider,
            full_name: self.full_name,
            given_name: self.given_name,
            family_name: self.family_name,
            photo_url: self.photo_url,
            phone: self.phone,
            // `users_role_check` guarantees one of the four values.
            role: self.role.parse().unwrap_or(Role::Patient),
            is_active: self.is_active,
            is_onboarded: self.is_onboarded,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_login_at: self.last_login_at,
        }
    }
}

/// PostgreSQL implementation of [`UserRepository`].
#[derive(Debug, Clone)]
pub struct PgUserRepository {
    db: Database,
}

impl PgUserRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn port(error: diesel::result::Error) -> PortError {
    DatabaseError::Query(error).into()
}

/// Creates the role's side row (`patients`/`admins`) when missing; doctors and pharmacies have
/// none tied to the user alone.
async fn ensure_role_row(conn: &mut PgConn, user: uuid::Uuid, role: Role) -> QueryResult<()> {
    match role {
        Role::Patient => {
            diesel::insert_into(patients::table)
                .values(patients::user_id.eq(user))
                .on_conflict(patients::user_id)
                .do_nothing()
                .execute(conn)
                .await?;
        }
        Role::Admin => {
            diesel::insert_into(admins::table)
                .values(admins::user_id.eq(user))
                .on_conflict(admins::user_id)
                .do_nothing()
                .execute(conn)
                .await?;
        }
        Role::Doctor | Role::Pharmacy => {}
    }
    Ok(())
}

/// The maintained counts (`users.<role>.<active|inactive>`) whose sum is the number of users
/// `filter` selects, when it selects whole keys (no text search).
fn maintained_user_metrics(filter: &UserFilter) -> Option<Vec<String>> {
    if filter.search.is_some() {
        return None;
    }
    let roles = filter.role.map_or(Role::ALL.to_vec(), |role| vec![role]);
    let states: &[&str] = match filter.is_active {
        Some(true) => &["active"],
        Some(false) => &["inactive"],
        None => &["active", "inactive"],
    };
    Some(
        roles
            .iter()
            .flat_map(|role| {
                states
                    .iter()
                    .map(move |state| format!("users.{}.{state}", role.as_str()))
            })
            .collect(),
    )
}

#[derive(QueryableByName)]
struct UpsertedRow {
    #[diesel(embed)]
    user: UserRow,
    #[diesel(sql_type = Bool)]
    inserted: bool,
}

impl UserRepository for PgUserRepository {
    async fn upsert_login(
        &self,
        profile: &LoginProfile,
        now: DateTime<Utc>,
    ) -> Result<LoginUpsert, PortError> {
        let mut conn = self.db.conn().await?;
        let profile = profile.clone();
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
                // One statement: concurrent first logins of one uid cannot create two rows, and
                // a deactivated row is left untouched (no row returned).
                let upserted: Option<UpsertedRow> = diesel::sql_query(
                    "INSERT INTO users (firebase_uid, email, email_verified, full_name, given_name, family_name, \
                         photo_url, role, auth_provider, is_active, is_onboarded, last_login_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, COALESCE($4, $2), $5, $6, $7, 'patient', 'google', true, false, $8, $8, $8) \
                     ON CONFLICT (firebase_uid) DO UPDATE SET \
                         email = EXCLUDED.email, email_verified = EXCLUDED.email_verified, \
                         full_name = COALESCE($4, users.full_name), given_name = COALESCE($5, users.given_name), \
                         family_name = COALESCE($6, users.family_name), photo_url = COALESCE($7, users.photo_url), \
                         last_login_at = $8, updated_at = $8 \
                     WHERE users.is_active \
                     RETURNING users.*, (xmax = 0) AS inserted",
                )
                .bind::<Text, _>(&profile.firebase_uid)
                .bind::<Text, _>(&profile.email)
                .bind::<Bool, _>(profile.email_verified)
                .bind::<Nullable<Text>, _>(profile.full_name.as_deref())
                .bind::<Nullable<Text>, _>(profile.given_name.as_deref())
                .bind::<Nullable<Text>, _>(profile.family_name.as_deref())
                .bind::<Nullable<Text>, _>(profile.photo_url.as_deref())
                .bind::<Timestamptz, _>(now)
                .get_result(conn)
                .await
                .optional()?;
                match upserted {
                    Some(row) => {
                        if row.inserted {
                            ensure_role_row(conn, row.user.id, Role::Patient).await?;
                        }
                        Ok(LoginUpsert::Active(row.user.into_user()))
                    }
                    None => Ok(LoginUpsert::Deactivated),
                }
        })
        .await
        .map_err(port)
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, PortError> {
        let mut conn = self.db.conn().await?;
        users::table
            .find(id.as_uuid())
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(UserRow::into_user))
            .map_err(port)
    }

    async fn update_profile(
        &self,
        id: UserId,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, PortError> {
        #[derive(AsChangeset)]
        #[diesel(table_name = users)]
        struct ProfileChanges<'a> {
            full_name: Option<Option<&'a str>>,
            given_name: Option<Option<&'a str>>,
            family_name: Option<Option<&'a str>>,
            photo_url: Option<Option<&'a str>>,
            phone: Option<Option<&'a str>>,
            updated_at: DateTime<Utc>,
        }
        fn as_ref(field: &Option<Option<String>>) -> Option<Option<&str>> {
            field.as_ref().map(|inner| inner.as_deref())
        }
        let changes = ProfileChanges {
            full_name: as_ref(&patch.full_name),
            given_name: as_ref(&patch.given_name),
            family_name: as_ref(&patch.family_name),
            photo_url: as_ref(&patch.photo_url),
            phone: as_ref(&patch.phone),
            updated_at: now,
        };
        let mut conn = self.db.conn().await?;
        diesel::update(users::table.find(id.as_uuid()))
            .set(changes)
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await
            .optional()
            .map(|row| row.map(UserRow::into_user))
            .map_err(port)
    }

    async fn mark_onboarded(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, PortError> {
        let mut conn = self.db.conn().await?;
        diesel::update(users::table.find(id.as_uuid()))
            .set((users::is_onboarded.eq(true), users::updated_at.eq(now)))
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await
            .optional()
            .map(|row| row.map(UserRow::into_user))
            .map_err(port)
    }

    async fn deactivate(&self, id: UserId, now: DateTime<Utc>) -> Result<(), PortError> {
        let mut conn = self.db.conn().await?;
        let user = id.as_uuid();
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            diesel::update(users::table.find(user))
                .set((users::is_active.eq(false), users::updated_at.eq(now)))
                .execute(conn)
                .await?;
            diesel::update(push_tokens::table.filter(push_tokens::user_id.eq(user)))
                .set(push_tokens::is_active.eq(false))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
        .map_err(port)
    }

    async fn list(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>, PortError> {
        let build = || {
            let mut query = users::table.into_boxed();
            if let Some(role) = filter.role {
                query = query.filter(users::role.eq(role.as_str()));
            }
            if let Some(active) = filter.is_active {
                query = query.filter(users::is_active.eq(active));
            }
            if let Some(search) = &filter.search {
                // Written as raw SQL on purpose: Diesel keeps statements holding raw SQL out of
                // its prepared-statement cache, so PostgreSQL plans every search with its own
                // pattern. A cached statement gets a generic plan after a few runs, which cannot
                // tell a rare text (use the trigram index) from a common one (walk the order):
                // at 1M users a rare text took 0.8 s that way instead of 16 ms.
                let pattern = contains_pattern(search);
                query = query.filter(
                    sql::<Bool>("(users.full_name ILIKE ")
                        .bind::<Text, _>(pattern.clone())
                        .sql(" OR users.email ILIKE ")
                        .bind::<Text, _>(pattern)
                        .sql(")"),
                );
            }
            query
        };
        let mut conn = self.db.conn().await?;
        let total: i64 = match maintained_user_metrics(filter) {
            Some(metrics) => maintained_total(&mut conn, &metrics).await,
            None => build().count().get_result(&mut conn).await,
        }
        .map_err(port)?;
        let mut rows_query = build()
            .select(UserRow::as_select())
            .order((users::created_at.desc(), users::id.desc()))
            .limit(fetch_limit(page.page_size()));
        rows_query = match page.seek() {
            Some(key) => rows_query.filter(after_key("users.created_at", "users.id", key)),
            None => rows_query.offset(i64::try_from(page.offset()).unwrap_or(i64::MAX)),
        };
        let mut rows: Vec<UserRow> = rows_query.load(&mut conn).await.map_err(port)?;
        let next = split_page(&mut rows, page.page_size(), |row| SeekKey {
            at: row.created_at,
            id: row.id,
        });
        Ok(Page {
            items: rows.into_iter().map(UserRow::into_user).collect(),
            total: total.unsigned_abs(),
            request: page,
            next,
        })
    }

    async fn admin_update(
        &self,
        target: UserId,
        change: AdminUserChange,
        audit: &AuditContext,
        now: DateTime<Utc>,
    ) -> Result<AdminUpdateOutcome, PortError> {
        let mut conn = self.db.conn().await?;
        let audit = audit.clone();
        let id = target.as_uuid();
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            let Some(before) = users::table
                .find(id)
                .select(UserRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
            else {
                return Ok(AdminUpdateOutcome::NotFound);
            };
            let before = before.into_user();
            let role = change.role.unwrap_or(before.role);
            let is_active = change.is_active.unwrap_or(before.is_active);
            if role == before.role && is_active == before.is_active {
                return Ok(AdminUpdateOutcome::Unchanged(before));
            }
            let after = diesel::update(users::table.find(id))
                .set((
                    users::role.eq(role.as_str()),
                    users::is_active.eq(is_active),
                    users::updated_at.eq(now),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)
                .await?
                .into_user();
            if role != before.role {
                ensure_role_row(conn, id, role).await?;
            }
            if before.is_active && !is_active {
                diesel::update(push_tokens::table.filter(push_tokens::user_id.eq(id)))
                    .set(push_tokens::is_active.eq(false))
                    .execute(conn)
                    .await?;
            }
            insert_audit(
                conn,
                &AuditRecord {
                    context: audit,
                    action: "user.update",
                    resource_type: "user",
                    resource_id: Some(id.to_string()),
                    details: Some(json!({
                        "before": {"role": before.role.as_str(), "is_active": before.is_active},
                        "after": {"role": after.role.as_str(), "is_active": after.is_active},
                    })),
                    subject_ids: vec![target],
                },
            )
            .await?;
            Ok(AdminUpdateOutcome::Updated {
                before: Box::new(before),
                after: Box::new(after),
            })
        })
        .await
        .map_err(port)
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, PortError> {
        #[derive(Queryable)]
        struct AuditRow {
            id: uuid::Uuid,
            actor_user_id: Option<uuid::Uuid>,
            actor_type: String,
            action: String,
            resource_type: String,
            resource_id: Option<String>,
            request_id: String,
            ip: Option<String>,
            at: DateTime<Utc>,
            details: Option<String>,
            subject_ids: Vec<uuid::Uuid>,
        }
        let build = || {
            let mut query = audit_events::table.into_boxed();
            if let Some(actor) = filter.actor_user_id {
                query = query.filter(audit_events::actor_user_id.eq(actor.as_uuid()));
            }
            if let Some(action) = &filter.action {
                query = query.filter(audit_events::action.eq(action.clone()));
            }
            if let Some(kind) = &filter.resource_type {
                query = query.filter(audit_events::resource_type.eq(kind.clone()));
            }
            if let Some(resource) = &filter.resource_id {
                query = query.filter(audit_events::resource_id.eq(resource.clone()));
            }
            if let Some(subject) = filter.subject_id {
                query = query.filter(audit_events::subject_ids.contains(vec![subject.as_uuid()]));
            }
            if let Some(from) = filter.from {
                query = query.filter(audit_events::at.ge(from));
            }
            if let Some(to) = filter.to {
                query = query.filter(audit_events::at.le(to));
            }
            query
        };
        let mut conn = self.db.conn().await?;
        let total: i64 = build().count().get_result(&mut conn).await.map_err(port)?;
        let rows: Vec<AuditRow> = build()
            .select((
                audit_events::id,
                audit_events::actor_user_id,
                audit_events::actor_type,
                audit_events::action,
                audit_events::resource_type,
                audit_events::resource_id,
                audit_events::request_id,
                diesel::dsl::sql::<Nullable<Text>>("host(ip)"),
                audit_events::at,
                // As text: jsonb holds values serde_json cannot read back (numbers beyond f64,
                // nesting beyond 128 levels); one such row must not fail the whole listing.
                diesel::dsl::sql::<Nullable<Text>>("details::text"),
                audit_events::subject_ids,
            ))
            .order((audit_events::at.desc(), audit_events::id.desc()))
            .offset(i64::try_from(page.offset()).unwrap_or(i64::MAX))
            .limit(i64::from(page.page_size()))
            .load(&mut conn)
            .await
            .map_err(port)?;
        let items = rows
            .into_iter()
            .map(|r| AuditEvent {
                id: r.id,
                actor_user_id: r.actor_user_id.map(UserId::from_uuid),
                actor_type: r.actor_type,
                action: r.action,
                resource_type: r.resource_type,
                resource_id: r.resource_id,
                request_id: r.request_id,
                ip: r.ip,
                at: r.at,
                details: r.details.map(|text| readable_details(&text)),
                subject_ids: r.subject_ids.into_iter().map(UserId::from_uuid).collect(),
            })
            .collect();
        Ok(Page {
            items,
            total: total.unsigned_abs(),
            request: page,
            next: None,
        })
    }
}

/// An account found by its email for the operator command `medico24 make-admin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMatch {
    /// The account.
    pub id: UserId,
    /// Whether Firebase verified the email.
    pub email_verified: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// The last login, if any.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl PgUserRepository {
    /// The accounts whose email is `email` (case-insensitive, literally: no wildcards), oldest
    /// first. Emails are neither unique nor always verified, so the operator command promotes
    /// by id and uses this only to resolve an email that names exactly one account.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn accounts_with_email(&self, email: &str) -> Result<Vec<EmailMatch>, PortError> {
        let mut conn = self.db.conn().await?;
        let pattern = email
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        /// id, email verified, created, last login.
        type Row = (uuid::Uuid, bool, DateTime<Utc>, Option<DateTime<Utc>>);
        let rows: Vec<Row> = users::table
            .filter(users::email.ilike(pattern))
            .select((
                users::id,
                users::email_verified,
                users::created_at,
                users::last_login_at,
            ))
            .order((users::created_at.asc(), users::id.asc()))
            .load(&mut conn)
            .await
            .map_err(port)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, email_verified, created_at, last_login_at)| EmailMatch {
                    id: UserId::from_uuid(id),
                    email_verified,
                    created_at,
                    last_login_at,
                },
            )
            .collect())
    }

    /// Gives the admin role to the user `id` and ensures their `admins` row; `false` when there
    /// is no such user. For the operator command `medico24 make-admin`.
    ///
    /// # Errors
    /// [`PortError`] on infrastructure failure.
    pub async fn make_admin(&self, id: UserId, now: DateTime<Utc>) -> Result<bool, PortError> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            let updated = diesel::update(users::table.find(id.as_uuid()))
                .set((
                    users::role.eq(Role::Admin.as_str()),
                    users::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            if updated == 1 {
                ensure_role_row(conn, id.as_uuid(), Role::Admin).await?;
            }
            Ok(updated == 1)
        })
        .await
        .map_err(port)
    }
}

/// Stored audit details as JSON, or a marker string when serde_json cannot read them (logged
/// without the value).
fn readable_details(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| {
        tracing::warn!(error.category = ?error.classify(), "audit details unreadable as JSON");
        serde_json::Value::String("unreadable".to_owned())
    })
}

#[cfg(test)]
mod audit_details_tests {
    #[test]
    fn details_serde_json_cannot_read_become_a_marker() {
        assert_eq!(
            super::readable_details(r#"{"a": 1}"#),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            super::readable_details(r#"{"n": 1e400}"#),
            serde_json::json!("unreadable")
        );
        // jsonb writes every number positionally: the largest double becomes 309 digits and the
        // smallest subnormal 324 decimals, which only a correctly rounding reader takes back.
        let largest = format!("[{}{}]", "17976931348623157", "0".repeat(292));
        assert_eq!(
            super::readable_details(&largest),
            serde_json::json!([f64::MAX])
        );
        let smallest = format!("[0.{}5]", "0".repeat(323));
        assert_eq!(
            super::readable_details(&smallest),
            serde_json::json!([5e-324])
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            super::readable_details(&deep),
            serde_json::json!("unreadable")
        );
    }
}
