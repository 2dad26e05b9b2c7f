//! The writes, each one transaction with its audit event: create, update, delete, the
//! location, the hours and verification, and the row lock and violation helpers they share.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::{AuditStamp, PharmacyId};
use medico24_pharmacy::{
    AUDIT_RESOURCE, DayOfWeek, DeleteHours, Hours, HoursInput, LocationPatch, LocationUpdate,
    NewPharmacy, Pharmacy, PharmacyPatch, PharmacyVerify, PortError, VerifyChange, actions,
    verify_audit_details,
};
use serde_json::json;

use super::reads::load_detail;
use super::rows::HoursRow;
use super::{PgPharmacyRepository, TxError};
use crate::audit::insert_audit_stamp;
use crate::conn::PgConn;
use crate::schema::{pharmacies, pharmacy_hours, pharmacy_locations};

/// Whether `error` is a foreign-key violation (the pharmacy vanished mid-write).
fn is_foreign_key_violation(error: &TxError) -> bool {
    matches!(
        error,
        TxError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            _
        ))
    )
}

/// Takes the pharmacy's row lock; `false` when it does not exist.
async fn lock_pharmacy(conn: &mut PgConn, id: uuid::Uuid) -> QueryResult<bool> {
    Ok(pharmacies::table
        .find(id)
        .select(pharmacies::id)
        .for_update()
        .first::<uuid::Uuid>(conn)
        .await
        .optional()?
        .is_some())
}

async fn touch(conn: &mut PgConn, id: uuid::Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    // The set_updated_at trigger stamps the row as well; the explicit value keeps the intent visible.
    diesel::update(pharmacies::table.find(id))
        .set(pharmacies::updated_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

async fn audit(
    conn: &mut PgConn,
    stamp: &AuditStamp,
    action: &str,
    id: uuid::Uuid,
    details: serde_json::Value,
) -> QueryResult<()> {
    insert_audit_stamp(
        conn,
        stamp,
        action,
        AUDIT_RESOURCE,
        Some(&id.to_string()),
        Some(&details),
    )
    .await
}

pub(super) async fn create(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
    new: &NewPharmacy,
    stamp: &AuditStamp,
    now: DateTime<Utc>,
) -> Result<Pharmacy, PortError> {
    let mut conn = repo.db.conn().await.map_err(PortError::from)?;
    let new = new.clone();
    let stamp = stamp.clone();
    let id = id.as_uuid();
    conn.transaction::<_, TxError, _>(async move |conn| {
        diesel::insert_into(pharmacies::table)
            .values((
                pharmacies::id.eq(id),
                pharmacies::name.eq(&new.name),
                pharmacies::description.eq(&new.description),
                pharmacies::phone.eq(&new.phone),
                pharmacies::email.eq(&new.email),
                pharmacies::is_verified.eq(false),
                pharmacies::is_active.eq(true),
                pharmacies::rating_count.eq(0),
                pharmacies::supports_delivery.eq(new.supports_delivery),
                pharmacies::supports_pickup.eq(new.supports_pickup),
                pharmacies::timezone.eq(new.timezone.name()),
                pharmacies::created_at.eq(now),
                pharmacies::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        let location = &new.location;
        diesel::insert_into(pharmacy_locations::table)
            .values((
                pharmacy_locations::id.eq(uuid::Uuid::now_v7()),
                pharmacy_locations::pharmacy_id.eq(id),
                pharmacy_locations::address_line.eq(&location.address_line),
                pharmacy_locations::city.eq(&location.city),
                pharmacy_locations::state.eq(&location.state),
                pharmacy_locations::country.eq(&location.country),
                pharmacy_locations::pincode.eq(&location.pincode),
                pharmacy_locations::latitude.eq(location.coordinates.latitude.get()),
                pharmacy_locations::longitude.eq(location.coordinates.longitude.get()),
                pharmacy_locations::created_at.eq(now),
            ))
            .execute(conn)
            .await?;
        if !new.hours.is_empty() {
            let rows: Vec<_> = new
                .hours
                .iter()
                .map(|h| {
                    (
                        pharmacy_hours::id.eq(uuid::Uuid::now_v7()),
                        pharmacy_hours::pharmacy_id.eq(id),
                        pharmacy_hours::day_of_week.eq(i16::from(h.day_of_week.get())),
                        pharmacy_hours::open_time.eq(h.open_time),
                        pharmacy_hours::close_time.eq(h.close_time),
                        pharmacy_hours::is_closed.eq(h.is_closed),
                    )
                })
                .collect();
            diesel::insert_into(pharmacy_hours::table)
                .values(rows)
                .execute(conn)
                .await?;
        }
        audit(conn, &stamp, actions::CREATE, id, new.audit_details()).await?;
        load_detail(conn, id)
            .await?
            .ok_or_else(|| TxError::Query(DieselError::NotFound))
    })
    .await
    .map_err(PortError::from)
}

pub(super) async fn update(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
    patch: &PharmacyPatch,
    stamp: &AuditStamp,
    now: DateTime<Utc>,
) -> Result<Option<Pharmacy>, PortError> {
    #[derive(AsChangeset)]
    #[diesel(table_name = pharmacies)]
    struct Changes<'a> {
        name: Option<&'a str>,
        description: Option<&'a str>,
        phone: Option<&'a str>,
        email: Option<&'a str>,
        supports_delivery: Option<bool>,
        supports_pickup: Option<bool>,
        is_active: Option<bool>,
        timezone: Option<&'static str>,
        updated_at: DateTime<Utc>,
    }
    let mut conn = repo.db.conn().await?;
    let patch = patch.clone();
    let stamp = stamp.clone();
    let id = id.as_uuid();
    Ok(conn
        .transaction::<_, TxError, _>(async move |conn| {
            let changes = Changes {
                name: patch.name.as_deref(),
                description: patch.description.as_deref(),
                phone: patch.phone.as_deref(),
                email: patch.email.as_deref(),
                supports_delivery: patch.supports_delivery,
                supports_pickup: patch.supports_pickup,
                is_active: patch.is_active,
                timezone: patch.timezone.map(|tz| tz.name()),
                updated_at: now,
            };
            let updated = diesel::update(pharmacies::table.find(id))
                .set(changes)
                .returning(pharmacies::id)
                .get_result::<uuid::Uuid>(conn)
                .await
                .optional()?;
            if updated.is_none() {
                return Ok(None);
            }
            audit(conn, &stamp, actions::UPDATE, id, patch.audit_details()).await?;
            load_detail(conn, id).await
        })
        .await?)
}

pub(super) async fn delete(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
    stamp: &AuditStamp,
) -> Result<bool, PortError> {
    let mut conn = repo.db.conn().await?;
    let stamp = stamp.clone();
    let id = id.as_uuid();
    Ok(conn
        .transaction::<_, TxError, _>(async move |conn| {
            let Some(name) = diesel::delete(pharmacies::table.find(id))
                .returning(pharmacies::name)
                .get_result::<String>(conn)
                .await
                .optional()?
            else {
                return Ok(false);
            };
            audit(conn, &stamp, actions::DELETE, id, json!({"name": name})).await?;
            Ok(true)
        })
        .await?)
}

pub(super) async fn update_location(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
    patch: &LocationPatch,
    stamp: &AuditStamp,
    now: DateTime<Utc>,
) -> Result<Option<LocationUpdate>, PortError> {
    #[derive(AsChangeset)]
    #[diesel(table_name = pharmacy_locations)]
    struct Changes<'a> {
        address_line: Option<&'a str>,
        city: Option<&'a str>,
        state: Option<&'a str>,
        country: Option<&'a str>,
        pincode: Option<&'a str>,
        latitude: Option<f64>,
        longitude: Option<f64>,
    }
    let mut conn = repo.db.conn().await?;
    let patch = patch.clone();
    let stamp = stamp.clone();
    let id = id.as_uuid();
    Ok(conn
        .transaction::<_, TxError, _>(async move |conn| {
            if !lock_pharmacy(conn, id).await? {
                return Ok(None);
            }
            let changes = Changes {
                address_line: patch.address_line.as_deref(),
                city: patch.city.as_deref(),
                state: patch.state.as_deref(),
                country: patch.country.as_deref(),
                pincode: patch.pincode.as_deref(),
                latitude: patch.latitude.map(|l| l.get()),
                longitude: patch.longitude.map(|l| l.get()),
            };
            let changed = diesel::update(
                pharmacy_locations::table.filter(pharmacy_locations::pharmacy_id.eq(id)),
            )
            .set(changes)
            .execute(conn)
            .await?;
            if changed == 0 {
                let current = load_detail(conn, id).await?;
                return Ok(current.map(LocationUpdate::NoLocation));
            }
            touch(conn, id, now).await?;
            audit(
                conn,
                &stamp,
                actions::LOCATION_UPDATE,
                id,
                patch.audit_details(),
            )
            .await?;
            Ok(load_detail(conn, id).await?.map(LocationUpdate::Updated))
        })
        .await?)
}

pub(super) async fn upsert_hours(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
    hours: &HoursInput,
    stamp: &AuditStamp,
    now: DateTime<Utc>,
) -> Result<Option<Hours>, PortError> {
    let mut conn = repo.db.conn().await?;
    let hours = *hours;
    let stamp = stamp.clone();
    let id = id.as_uuid();
    let result = conn
        .transaction::<_, TxError, _>(async move |conn| {
            if !lock_pharmacy(conn, id).await? {
                return Ok(None);
            }
            let row: HoursRow = diesel::insert_into(pharmacy_hours::table)
                .values((
                    pharmacy_hours::id.eq(uuid::Uuid::now_v7()),
                    pharmacy_hours::pharmacy_id.eq(id),
                    pharmacy_hours::day_of_week.eq(i16::from(hours.day_of_week.get())),
                    pharmacy_hours::open_time.eq(hours.open_time),
                    pharmacy_hours::close_time.eq(hours.close_time),
                    pharmacy_hours::is_closed.eq(hours.is_closed),
                ))
                .on_conflict((pharmacy_hours::pharmacy_id, pharmacy_hours::day_of_week))
                .do_update()
                .set((
                    pharmacy_hours::open_time.eq(hours.open_time),
                    pharmacy_hours::close_time.eq(hours.close_time),
                    pharmacy_hours::is_closed.eq(hours.is_closed),
                ))
                .returning(HoursRow::as_returning())
                .get_result(conn)
                .await?;
            touch(conn, id, now).await?;
            audit(
                conn,
                &stamp,
                actions::HOURS_UPSERT,
                id,
                hours.audit_details(),
            )
            .await?;
            Ok(Some(row.into_hours()?))
        })
        .await;
    match result {
        Ok(stored) => Ok(stored),
        // The row lock makes this unreachable; a vanished pharmacy is still a 404.
        Err(error) if is_foreign_key_violation(&error) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

pub(super) async fn delete_hours(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
    day: DayOfWeek,
    stamp: &AuditStamp,
    now: DateTime<Utc>,
) -> Result<DeleteHours, PortError> {
    let mut conn = repo.db.conn().await?;
    let stamp = stamp.clone();
    let id = id.as_uuid();
    Ok(conn
        .transaction::<_, TxError, _>(async move |conn| {
            if !lock_pharmacy(conn, id).await? {
                return Ok(DeleteHours::PharmacyNotFound);
            }
            let deleted = diesel::delete(
                pharmacy_hours::table
                    .filter(pharmacy_hours::pharmacy_id.eq(id))
                    .filter(pharmacy_hours::day_of_week.eq(i16::from(day.get()))),
            )
            .execute(conn)
            .await?;
            if deleted == 0 {
                return Ok(DeleteHours::HoursNotFound);
            }
            touch(conn, id, now).await?;
            audit(
                conn,
                &stamp,
                actions::HOURS_DELETE,
                id,
                json!({"day_of_week": day.get()}),
            )
            .await?;
            Ok(DeleteHours::Deleted)
        })
        .await?)
}

pub(super) async fn set_verified(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
    change: VerifyChange,
    stamp: &AuditStamp,
    now: DateTime<Utc>,
) -> Result<Option<PharmacyVerify>, PortError> {
    let mut conn = repo.db.conn().await?;
    let stamp = stamp.clone();
    let id = id.as_uuid();
    Ok(conn
        .transaction::<_, TxError, _>(async move |conn| {
            let Some(before) = pharmacies::table
                .find(id)
                .select(pharmacies::is_verified)
                .for_update()
                .first::<bool>(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            let after = change.apply(before);
            let (name, is_verified, is_active, updated_at) =
                diesel::update(pharmacies::table.find(id))
                    .set((
                        pharmacies::is_verified.eq(after),
                        pharmacies::updated_at.eq(now),
                    ))
                    .returning((
                        pharmacies::name,
                        pharmacies::is_verified,
                        pharmacies::is_active,
                        pharmacies::updated_at,
                    ))
                    .get_result::<(String, bool, bool, DateTime<Utc>)>(conn)
                    .await?;
            audit(
                conn,
                &stamp,
                actions::VERIFY,
                id,
                verify_audit_details(before, after),
            )
            .await?;
            Ok(Some(PharmacyVerify {
                id: PharmacyId::from_uuid(id),
                name,
                is_verified,
                is_active,
                updated_at,
            }))
        })
        .await?)
}
