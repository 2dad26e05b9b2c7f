//! The reads outside the nearby search: the detail, the plain listing, the hours of one
//! pharmacy, and assembling page rows with their locations and hours.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamptz};
use diesel_async::RunQueryDsl;
use medico24_kernel::PharmacyId;
use medico24_pharmacy::{
    Hours, Location, Pharmacy, PharmacyFilter, PharmacyListItem, PortError, Window,
};

use super::rows::{HoursRow, LocationRow, PharmacyRow};
use super::{OPEN_NOW_SQL, PgPharmacyRepository, TxError, port};
use crate::conn::PgConn;
use crate::schema::{pharmacies, pharmacy_hours, pharmacy_locations};

fn offset(window: Window) -> i64 {
    // `Window` guarantees skip ≤ i64::MAX.
    i64::try_from(window.skip()).unwrap_or(i64::MAX)
}

/// Loads the locations and hours of `rows` (one query each) and assembles the items, keeping
/// the order of `rows`.
pub(super) async fn assemble(
    conn: &mut PgConn,
    rows: Vec<(PharmacyRow, Option<f64>)>,
) -> Result<Vec<PharmacyListItem>, TxError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = rows.iter().map(|(row, _)| row.id).collect();
    let locations: Vec<LocationRow> = pharmacy_locations::table
        .filter(pharmacy_locations::pharmacy_id.eq_any(&ids))
        .select(LocationRow::as_select())
        .load(conn)
        .await?;
    let hours: Vec<HoursRow> = pharmacy_hours::table
        .filter(pharmacy_hours::pharmacy_id.eq_any(&ids))
        .order((pharmacy_hours::pharmacy_id, pharmacy_hours::day_of_week))
        .select(HoursRow::as_select())
        .load(conn)
        .await?;
    let mut locations: HashMap<uuid::Uuid, Location> = locations
        .into_iter()
        .map(|l| (l.pharmacy_id, l.into_location()))
        .collect();
    let mut hours_by_pharmacy: HashMap<uuid::Uuid, Vec<Hours>> = HashMap::new();
    for row in hours {
        let pharmacy = row.pharmacy_id;
        hours_by_pharmacy
            .entry(pharmacy)
            .or_default()
            .push(row.into_hours()?);
    }
    Ok(rows
        .into_iter()
        .map(|(row, distance_km)| {
            let location = locations.remove(&row.id);
            let hours = hours_by_pharmacy.remove(&row.id).unwrap_or_default();
            PharmacyListItem {
                pharmacy: row.into_pharmacy(location, hours),
                distance_km,
            }
        })
        .collect())
}

/// The detail of `id` on `conn` (inside or outside a transaction).
pub(super) async fn load_detail(
    conn: &mut PgConn,
    id: uuid::Uuid,
) -> Result<Option<Pharmacy>, TxError> {
    let Some(row) = pharmacies::table
        .find(id)
        .select(PharmacyRow::as_select())
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    Ok(assemble(conn, vec![(row, None)])
        .await?
        .pop()
        .map(|item| item.pharmacy))
}

pub(super) async fn find(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
) -> Result<Option<Pharmacy>, PortError> {
    let mut conn = repo.db.conn().await?;
    Ok(load_detail(&mut conn, id.as_uuid()).await?)
}

pub(super) async fn list(
    repo: &PgPharmacyRepository,
    filter: &PharmacyFilter,
    window: Window,
    now: DateTime<Utc>,
) -> Result<Vec<PharmacyListItem>, PortError> {
    let mut query = pharmacies::table
        .filter(pharmacies::is_active.eq(filter.is_active))
        .into_boxed();
    if let Some(verified) = filter.is_verified {
        query = query.filter(pharmacies::is_verified.eq(verified));
    }
    if let Some(delivery) = filter.supports_delivery {
        query = query.filter(pharmacies::supports_delivery.eq(delivery));
    }
    if let Some(pickup) = filter.supports_pickup {
        query = query.filter(pharmacies::supports_pickup.eq(pickup));
    }
    if filter.open_now {
        query = query.filter(
            sql::<Bool>(OPEN_NOW_SQL[0])
                .bind::<Timestamptz, _>(now)
                .sql(OPEN_NOW_SQL[1]),
        );
    }
    let mut conn = repo.db.conn().await?;
    let rows: Vec<PharmacyRow> = query
        .select(PharmacyRow::as_select())
        .order((
            pharmacies::rating.desc(),
            pharmacies::created_at.desc(),
            pharmacies::id.desc(),
        ))
        .offset(offset(window))
        .limit(i64::from(window.limit()))
        .load(&mut conn)
        .await
        .map_err(port)?;
    let rows = rows.into_iter().map(|row| (row, None)).collect();
    Ok(assemble(&mut conn, rows).await?)
}

pub(super) async fn list_hours(
    repo: &PgPharmacyRepository,
    id: PharmacyId,
) -> Result<Option<Vec<Hours>>, PortError> {
    let mut conn = repo.db.conn().await?;
    let id = id.as_uuid();
    let exists = pharmacies::table
        .find(id)
        .select(pharmacies::id)
        .first::<uuid::Uuid>(&mut conn)
        .await
        .optional()
        .map_err(port)?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let rows: Vec<HoursRow> = pharmacy_hours::table
        .filter(pharmacy_hours::pharmacy_id.eq(id))
        .order(pharmacy_hours::day_of_week)
        .select(HoursRow::as_select())
        .load(&mut conn)
        .await
        .map_err(port)?;
    let hours = rows
        .into_iter()
        .map(HoursRow::into_hours)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PortError::Unexpected(e.to_string()))?;
    Ok(Some(hours))
}
