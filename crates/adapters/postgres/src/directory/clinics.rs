//! Clinics: the row type, lookups by id and slug, the listing and the nearby search, and the
//! writes (create, update, soft delete).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Float8, Int8, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_directory::{
    Clinic, ClinicFilter, ClinicInsert, ClinicListItem, ClinicPatch, ClinicStatus, GeoQuery,
    NearbyClinicFilter, RepoWriteError, Window, is_suffixed_form_of,
};
use medico24_kernel::{AuditStamp, ClinicId, PortError};
use serde_json::{Value, json};

use super::{POINT_SQL, PgDirectoryRepository, TxError, offset, port};
use crate::audit::insert_audit_stamp;
use crate::errors::contains_pattern;
use crate::schema::clinics;

/// Clinic columns of the raw nearby statement, `numeric` ones read as `float8`.
const CLINIC_COLUMNS: &str = "c.id, c.name, c.slug, c.description, c.logo_url, c.contacts, \
     c.address, c.latitude::float8 AS latitude, c.longitude::float8 AS longitude, \
     c.opening_hours, c.rating::float8 AS rating, c.rating_count, c.status, c.is_active, \
     c.created_at, c.updated_at, c.deleted_at";

/// A `clinics` row without `geo`, `numeric` columns as f64.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = clinics, check_for_backend(Pg))]
struct ClinicRow {
    id: uuid::Uuid,
    name: String,
    slug: Option<String>,
    description: Option<String>,
    logo_url: Option<String>,
    contacts: Option<Value>,
    address: String,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("clinics.latitude::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>,
        sql_type = Nullable<Float8>
    )]
    latitude: Option<f64>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("clinics.longitude::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>,
        sql_type = Nullable<Float8>
    )]
    longitude: Option<f64>,
    opening_hours: Option<Value>,
    #[diesel(
        select_expression = sql::<Nullable<Float8>>("clinics.rating::float8"),
        select_expression_type = SqlLiteral<Nullable<Float8>>,
        sql_type = Nullable<Float8>
    )]
    rating: Option<f64>,
    rating_count: i32,
    status: String,
    is_active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl ClinicRow {
    fn into_clinic(self) -> Clinic {
        Clinic {
            name: self.name,
            slug: self.slug,
            description: self.description,
            logo_url: self.logo_url,
            contacts: self.contacts,
            address: self.address,
            latitude: self.latitude,
            longitude: self.longitude,
            opening_hours: self.opening_hours,
            id: ClinicId::from_uuid(self.id),
            rating: self.rating,
            rating_count: self.rating_count,
            // `clinics_status_check` guarantees a known value.
            status: self.status.parse().unwrap_or(ClinicStatus::Active),
            is_active: self.is_active,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        }
    }
}

/// A nearby clinic: the row and its distance.
#[derive(QueryableByName)]
struct NearbyClinicRow {
    #[diesel(embed)]
    clinic: ClinicRow,
    #[diesel(sql_type = Float8)]
    distance_km: f64,
}

pub(super) async fn find_clinic(
    repo: &PgDirectoryRepository,
    id: ClinicId,
) -> Result<Option<Clinic>, PortError> {
    let mut conn = repo.conn().await?;
    clinics::table
        .filter(clinics::id.eq(id.as_uuid()))
        .filter(clinics::deleted_at.is_null())
        .select(ClinicRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map(|row| row.map(ClinicRow::into_clinic))
        .map_err(port)
}

pub(super) async fn find_clinic_by_slug(
    repo: &PgDirectoryRepository,
    slug: &str,
) -> Result<Option<Clinic>, PortError> {
    let mut conn = repo.conn().await?;
    clinics::table
        .filter(clinics::slug.eq(slug))
        .filter(clinics::deleted_at.is_null())
        .select(ClinicRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map(|row| row.map(ClinicRow::into_clinic))
        .map_err(port)
}

pub(super) async fn list_clinics(
    repo: &PgDirectoryRepository,
    filter: &ClinicFilter,
    window: Window,
) -> Result<Vec<ClinicListItem>, PortError> {
    let mut query = clinics::table
        .filter(clinics::deleted_at.is_null())
        .select(ClinicRow::as_select())
        .order((clinics::name.asc(), clinics::id.asc()))
        .into_boxed();
    if let Some(active) = filter.is_active {
        query = query.filter(clinics::is_active.eq(active));
    }
    if let Some(status) = filter.status {
        query = query.filter(clinics::status.eq(status.as_str()));
    }
    if let Some(search) = &filter.name_search {
        query = query.filter(clinics::name.ilike(contains_pattern(search)));
    }
    if let Some(min) = filter.min_rating {
        query = query.filter(sql::<Bool>("clinics.rating >= ").bind::<Float8, _>(min));
    }
    let mut conn = repo.read_conn().await?;
    let rows: Vec<ClinicRow> = query
        .offset(offset(window))
        .limit(i64::from(window.limit))
        .load(&mut conn)
        .await
        .map_err(port)?;
    Ok(rows
        .into_iter()
        .map(|row| ClinicListItem::of(&row.into_clinic(), None))
        .collect())
}

pub(super) async fn nearby_clinics(
    repo: &PgDirectoryRepository,
    geo: GeoQuery,
    filter: &NearbyClinicFilter,
    window: Window,
) -> Result<Vec<ClinicListItem>, PortError> {
    // KNN order on the GiST index (`<->` is the sphere distance on geography), so the cost
    // does not grow with the number of clinics in the radius.
    let statement = format!(
        "SELECT {CLINIC_COLUMNS}, ST_Distance(c.geo, {POINT_SQL}, false) / 1000 AS distance_km \
           FROM clinics c \
          WHERE c.deleted_at IS NULL AND c.geo IS NOT NULL \
            AND ST_DWithin(c.geo, {POINT_SQL}, $3, false) \
            AND ($4::boolean IS NULL OR c.is_active = $4) \
            AND ($5::float8 IS NULL OR c.rating >= $5) \
          ORDER BY c.geo <-> {POINT_SQL}, c.name, c.id \
         OFFSET $6 LIMIT $7"
    );
    let mut conn = repo.read_conn().await?;
    let rows: Vec<NearbyClinicRow> = diesel::sql_query(statement)
        .bind::<Float8, _>(geo.longitude)
        .bind::<Float8, _>(geo.latitude)
        .bind::<Float8, _>(geo.radius_km * 1000.0)
        .bind::<Nullable<Bool>, _>(filter.is_active)
        .bind::<Nullable<Float8>, _>(filter.min_rating)
        .bind::<Int8, _>(offset(window))
        .bind::<Int8, _>(i64::from(window.limit))
        .load(&mut conn)
        .await
        .map_err(port)?;
    Ok(rows
        .into_iter()
        .map(|row| ClinicListItem::of(&row.clinic.into_clinic(), Some(row.distance_km)))
        .collect())
}

pub(super) async fn slugs_like(
    repo: &PgDirectoryRepository,
    base: &str,
) -> Result<Vec<String>, PortError> {
    let mut pattern = contains_pattern(base);
    // `%base%` → `base-%`: the base itself or the base with any suffix.
    pattern.remove(0);
    pattern.pop();
    pattern.push_str("-%");
    let mut conn = repo.conn().await?;
    let slugs: Vec<Option<String>> = clinics::table
        .filter(clinics::slug.eq(base).or(clinics::slug.like(pattern)))
        .select(clinics::slug)
        .load(&mut conn)
        .await
        .map_err(port)?;
    // `base-%` also matches `base-x…`; only numeric suffixes compete with the base.
    Ok(slugs
        .into_iter()
        .flatten()
        .filter(|slug| is_suffixed_form_of(slug, base))
        .collect())
}

pub(super) async fn insert_clinic(
    repo: &PgDirectoryRepository,
    insert: &ClinicInsert,
    stamp: &AuditStamp,
) -> Result<Clinic, RepoWriteError> {
    let insert = insert.clone();
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            let c = &insert.clinic;
            let row = diesel::insert_into(clinics::table)
                .values((
                    clinics::name.eq(&c.name),
                    clinics::slug.eq(&insert.slug),
                    clinics::description.eq(&c.description),
                    clinics::logo_url.eq(&c.logo_url),
                    clinics::contacts.eq(c.contacts.clone().map(Value::Object)),
                    clinics::address.eq(&c.address),
                    clinics::latitude.eq(numeric!(c.latitude, 8)),
                    clinics::longitude.eq(numeric!(c.longitude, 8)),
                    clinics::opening_hours.eq(c.opening_hours.clone().map(Value::Object)),
                ))
                .returning(ClinicRow::as_returning())
                .get_result(conn)
                .await?;
            insert_audit_stamp(
                conn,
                &stamp,
                "clinic.create",
                "clinic",
                Some(&row.id.to_string()),
                Some(&insert.audit_details()),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_clinic())
}

pub(super) async fn update_clinic(
    repo: &PgDirectoryRepository,
    id: ClinicId,
    patch: &ClinicPatch,
    stamp: &AuditStamp,
) -> Result<Clinic, RepoWriteError> {
    let patch = patch.clone();
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    let row = conn
        .transaction::<_, TxError, _>(async move |conn| {
            let p = &patch;
            let row = diesel::update(
                clinics::table
                    .filter(clinics::id.eq(id.as_uuid()))
                    .filter(clinics::deleted_at.is_null()),
            )
            .set((
                p.name.as_ref().map(|v| clinics::name.eq(v)),
                p.slug.as_ref().map(|v| clinics::slug.eq(v)),
                p.description.as_ref().map(|v| clinics::description.eq(v)),
                p.logo_url.as_ref().map(|v| clinics::logo_url.eq(v)),
                p.contacts
                    .as_ref()
                    .map(|v| clinics::contacts.eq(Value::Object(v.clone()))),
                p.address.as_ref().map(|v| clinics::address.eq(v)),
                p.latitude
                    .map(|v| clinics::latitude.eq(numeric!(Some(v), 8))),
                p.longitude
                    .map(|v| clinics::longitude.eq(numeric!(Some(v), 8))),
                p.opening_hours
                    .as_ref()
                    .map(|v| clinics::opening_hours.eq(Value::Object(v.clone()))),
                p.status.map(|v| clinics::status.eq(v.as_str())),
                clinics::updated_at.eq(diesel::dsl::now),
            ))
            .returning(ClinicRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            let Some(row) = row else {
                return Err(TxError::Outcome(RepoWriteError::NotFound));
            };
            insert_audit_stamp(
                conn,
                &stamp,
                "clinic.update",
                "clinic",
                Some(&row.id.to_string()),
                Some(&patch.audit_details()),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(row.into_clinic())
}

pub(super) async fn delete_clinic(
    repo: &PgDirectoryRepository,
    id: ClinicId,
    now: DateTime<Utc>,
    stamp: &AuditStamp,
) -> Result<(), RepoWriteError> {
    let stamp = stamp.clone();
    let mut conn = repo.conn().await?;
    conn.transaction::<_, TxError, _>(async move |conn| {
        let deleted = diesel::update(
            clinics::table
                .filter(clinics::id.eq(id.as_uuid()))
                .filter(clinics::deleted_at.is_null()),
        )
        .set(clinics::deleted_at.eq(now))
        .execute(conn)
        .await?;
        if deleted == 0 {
            return Err(TxError::Outcome(RepoWriteError::NotFound));
        }
        insert_audit_stamp(
            conn,
            &stamp,
            "clinic.delete",
            "clinic",
            Some(&id.to_string()),
            Some(&json!({"deleted_at": now.to_rfc3339()})),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(())
}
