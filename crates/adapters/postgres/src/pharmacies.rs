//! `PharmacyRepository` on PostgreSQL/PostGIS: pharmacies with their location and hours, the
//! plain listing and the nearby search (index-assisted KNN on `pharmacy_locations.geo`), "open
//! now" evaluated in SQL in each pharmacy's zone, and every write in one transaction with its
//! audit event.
//!
//! A nearby page is one statement: the KNN scan with each pharmacy's location, and its hours
//! aggregated into arrays for the returned rows only. A listing page (cached) or a detail costs
//! three queries whatever its size: the rows, then the locations and the hours of all of them
//! (`pharmacy_id = ANY($1)`).

use crate::conn::PgConn;
use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, Bool, Float8, Int8, Nullable, SmallInt, Text, Time, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use medico24_kernel::{AuditStamp, PharmacyId};
use medico24_pharmacy::{
    AUDIT_RESOURCE, CreatePharmacyError, DayOfWeek, DeleteHours, Hours, HoursInput, Location,
    LocationPatch, LocationUpdate, NearbyQuery, NewPharmacy, Pharmacy, PharmacyFilter,
    PharmacyListItem, PharmacyPatch, PharmacyRepository, PharmacyVerify, PortError, VerifyChange,
    Window, actions, verify_audit_details,
};
use serde_json::json;

use crate::audit::insert_audit_stamp;
use crate::database::{Database, DatabaseError};
use crate::schema::{pharmacies, pharmacy_hours, pharmacy_locations};

/// The "open now" rule as a boolean SQL expression over the row `pharmacies`, split
/// around the one bind parameter: the instant (`timestamptz`) at which it is evaluated. With
/// `lt` the instant in the pharmacy's zone, `d` its ISO weekday and `(d + 5) % 7 + 1` the day
/// before. `medico24_pharmacy::is_open_at` is the same rule in Rust; an integration test
/// compares the two on a grid of instants.
pub const OPEN_NOW_SQL: [&str; 2] = [
    "EXISTS (SELECT 1 FROM pharmacy_hours oh \
       CROSS JOIN LATERAL (SELECT (",
    " AT TIME ZONE pharmacies.timezone) AS lt) ol \
      WHERE oh.pharmacy_id = pharmacies.id AND NOT oh.is_closed AND ( \
        (oh.day_of_week = extract(isodow FROM ol.lt)::int AND ( \
            (oh.open_time < oh.close_time AND oh.open_time <= ol.lt::time AND ol.lt::time < oh.close_time) \
         OR oh.open_time = oh.close_time \
         OR (oh.close_time < oh.open_time AND ol.lt::time >= oh.open_time))) \
     OR (oh.day_of_week = (extract(isodow FROM ol.lt)::int + 5) % 7 + 1 \
         AND oh.close_time < oh.open_time AND ol.lt::time < oh.close_time)))",
];

/// The columns of a pharmacy page row, `rating` converted to the nearest f64.
const PHARMACY_COLUMNS: &str = "pharmacies.id, pharmacies.name, pharmacies.description, \
     pharmacies.phone, pharmacies.email, pharmacies.is_verified, pharmacies.is_active, \
     pharmacies.rating::float8 AS rating, pharmacies.rating_count, pharmacies.supports_delivery, \
     pharmacies.supports_pickup, pharmacies.timezone, pharmacies.created_at, pharmacies.updated_at";

/// The location columns of a nearby row (`l` is `pharmacy_locations`), in `NearbyRow`'s order.
const LOCATION_COLUMNS: &str = "l.id AS location_id, l.address_line AS location_address_line, \
     l.city AS location_city, l.state AS location_state, l.country AS location_country, \
     l.pincode AS location_pincode, l.latitude AS location_latitude, \
     l.longitude AS location_longitude, l.created_at AS location_created_at";

/// The hours of candidate `c` as parallel arrays (one aggregate row, all `NULL` when the
/// pharmacy has none). The arrays share one input order, which is all that pairs them up; the
/// caller sorts the hours by weekday (an `ORDER BY` per aggregate would sort five times).
const HOURS_ARRAYS_SQL: &str = "SELECT array_agg(h.id) AS hour_ids, \
     array_agg(h.day_of_week) AS hour_days, array_agg(h.open_time) AS hour_opens, \
     array_agg(h.close_time) AS hour_closes, array_agg(h.is_closed) AS hour_closed \
     FROM pharmacy_hours h WHERE h.pharmacy_id = c.id";

/// A `pharmacies` row as selected (`rating numeric(2,1)` read as float8).
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = pharmacies, check_for_backend(diesel::pg::Pg))]
struct PharmacyRow {
    id: uuid::Uuid,
    name: String,
    description: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    is_verified: bool,
    is_active: bool,
    #[diesel(
        select_expression = sql::<Float8>("pharmacies.rating::float8"),
        select_expression_type = diesel::expression::SqlLiteral<Float8>,
        sql_type = Float8
    )]
    rating: f64,
    rating_count: i32,
    supports_delivery: bool,
    supports_pickup: bool,
    timezone: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A `pharmacy_locations` row without the generated `geo`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pharmacy_locations, check_for_backend(diesel::pg::Pg))]
struct LocationRow {
    id: uuid::Uuid,
    pharmacy_id: uuid::Uuid,
    address_line: String,
    city: String,
    state: Option<String>,
    country: String,
    pincode: Option<String>,
    latitude: f64,
    longitude: f64,
    created_at: DateTime<Utc>,
}

/// A `pharmacy_hours` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pharmacy_hours, check_for_backend(diesel::pg::Pg))]
struct HoursRow {
    id: uuid::Uuid,
    pharmacy_id: uuid::Uuid,
    day_of_week: i16,
    open_time: NaiveTime,
    close_time: NaiveTime,
    is_closed: bool,
}

/// The SQL types of [`PHARMACY_COLUMNS`], in order.
type PharmacySql = (
    diesel::sql_types::Uuid,
    Text,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Bool,
    Bool,
    Float8,
    diesel::sql_types::Int4,
    Bool,
    Bool,
    Text,
    Timestamptz,
    Timestamptz,
);

/// The SQL types of a [`NearbyStatement`] row, in its column order: the pharmacy, its location
/// ([`LOCATION_COLUMNS`]), `knn_m`, `distance_km`, then the hours arrays ([`HOURS_ARRAYS_SQL`]).
type NearbySql = (
    PharmacySql,
    diesel::sql_types::Uuid,
    Text,
    Text,
    Nullable<Text>,
    Text,
    Nullable<Text>,
    Float8,
    Float8,
    Timestamptz,
    Float8,
    Float8,
    Nullable<Array<diesel::sql_types::Uuid>>,
    Nullable<Array<SmallInt>>,
    Nullable<Array<Time>>,
    Nullable<Array<Time>>,
    Nullable<Array<Bool>>,
);

/// A nearby-search candidate: the pharmacy with its location and hours, the exact `<->`
/// distance the scan is ordered by, and the reported `ST_Distance` in kilometres. One row
/// carries the whole item, so a page costs one statement (see `candidates`). Read by position
/// ([`NearbySql`]): by name, every field was a search through ~30 column names, for each of
/// the page's rows.
#[derive(Queryable)]
struct NearbyRow {
    pharmacy: PharmacyRow,
    location_id: uuid::Uuid,
    location_address_line: String,
    location_city: String,
    location_state: Option<String>,
    location_country: String,
    location_pincode: Option<String>,
    location_latitude: f64,
    location_longitude: f64,
    location_created_at: DateTime<Utc>,
    knn_m: f64,
    distance_km: f64,
    /// The hours as parallel arrays in one shared order (`NULL` when the pharmacy has none).
    hour_ids: Option<Vec<uuid::Uuid>>,
    hour_days: Option<Vec<i16>>,
    hour_opens: Option<Vec<NaiveTime>>,
    hour_closes: Option<Vec<NaiveTime>>,
    hour_closed: Option<Vec<bool>>,
}

impl NearbyRow {
    /// The list item this row describes.
    fn into_item(self) -> Result<PharmacyListItem, BadDay> {
        let pharmacy_id = self.pharmacy.id;
        let location = Location {
            id: self.location_id,
            pharmacy_id: PharmacyId::from_uuid(pharmacy_id),
            address_line: self.location_address_line,
            city: self.location_city,
            state: self.location_state,
            country: self.location_country,
            pincode: self.location_pincode,
            latitude: self.location_latitude,
            longitude: self.location_longitude,
            created_at: self.location_created_at,
        };
        let mut hours = self
            .hour_ids
            .unwrap_or_default()
            .into_iter()
            .zip(self.hour_days.unwrap_or_default())
            .zip(self.hour_opens.unwrap_or_default())
            .zip(self.hour_closes.unwrap_or_default())
            .zip(self.hour_closed.unwrap_or_default())
            .map(
                |((((id, day_of_week), open_time), close_time), is_closed)| {
                    HoursRow {
                        id,
                        pharmacy_id,
                        day_of_week,
                        open_time,
                        close_time,
                        is_closed,
                    }
                    .into_hours()
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        hours.sort_by_key(|h| h.day_of_week);
        Ok(PharmacyListItem {
            pharmacy: self.pharmacy.into_pharmacy(Some(location), hours),
            distance_km: Some(self.distance_km),
        })
    }
}

/// The first `fetch` matching pharmacies in distance order (`geo <-> point`).
///
/// Two PostgreSQL/PostGIS facts shape this statement:
/// * Before PostgreSQL 17 an ordered GiST (KNN) index scan is only planned when the *whole*
///   `ORDER BY` is the `<->` expression; `ORDER BY geo <-> point, id` makes the planner sort
///   every match. So the statement orders by the distance alone (with a `LIMIT`, which lets the
///   planner stop early) and the caller breaks ties by id.
/// * `ST_DWithin(geography, …)` expands through its support function into
///   `geo && _ST_Expand(point, r) AND _ST_DWithin(geo, point, r, false)` but estimates a
///   handful of rows whatever the radius, which makes a bitmap scan plus a full sort look
///   cheaper than the KNN scan. Writing the two conditions out gives the planner the box
///   estimate of `&&` instead; the predicate is the same inclusive sphere test.
async fn knn_candidates(
    conn: &mut PgConn,
    query: &NearbyQuery,
    now: DateTime<Utc>,
    fetch: u64,
) -> Result<Vec<NearbyRow>, PortError> {
    match candidates(conn, query, now, fetch, true).await {
        // PostGIS's geography KNN scan can fail near the poles ("index returned tuples in wrong
        // order"); the same rows ordered by the computed sphere distance are the same answer.
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("wrong order") =>
        {
            candidates(conn, query, now, fetch, false)
                .await
                .map_err(port)
        }
        other => other.map_err(port),
    }
}

/// The nearby candidates, ordered by the index (`<->`) or by the computed sphere distance.
async fn candidates(
    conn: &mut PgConn,
    query: &NearbyQuery,
    now: DateTime<Utc>,
    fetch: u64,
    index_order: bool,
) -> Result<Vec<NearbyRow>, diesel::result::Error> {
    let filter = &query.filter;
    NearbyStatement {
        longitude: query.center.longitude.get(),
        latitude: query.center.latitude.get(),
        radius_m: query.radius.metres(),
        is_active: filter.is_active,
        flags: [
            ("is_verified", filter.is_verified),
            ("supports_delivery", filter.supports_delivery),
            ("supports_pickup", filter.supports_pickup),
        ]
        .into_iter()
        .filter_map(|(column, value)| Some((column, value?)))
        .collect(),
        open_at: filter.open_now.then_some(now),
        fetch: i64::try_from(fetch).unwrap_or(i64::MAX),
        index_order,
    }
    .load(conn)
    .await
}

/// The nearby statement (see `knn_candidates`). Its text depends only on which filters are
/// present and every value is a bind parameter, so Diesel keeps it as a prepared statement per
/// connection: a search is one Bind/Execute round trip, without parsing the statement again
/// (`sql_query` text is never cached).
struct NearbyStatement {
    longitude: f64,
    latitude: f64,
    radius_m: f64,
    is_active: bool,
    /// Optional exact-match filters: `(column of pharmacies, value)`.
    flags: Vec<(&'static str, bool)>,
    /// The instant of the open-now filter, when asked for.
    open_at: Option<DateTime<Utc>>,
    fetch: i64,
    index_order: bool,
}

impl NearbyStatement {
    /// The search point as a geography.
    fn push_point<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("ST_SetSRID(ST_MakePoint(");
        out.push_bind_param::<Float8, _>(&self.longitude)?;
        out.push_sql(", ");
        out.push_bind_param::<Float8, _>(&self.latitude)?;
        out.push_sql("), 4326)::geography");
        Ok(())
    }
}

impl QueryId for NearbyStatement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for NearbyStatement {
    type SqlType = NearbySql;
}

impl QueryFragment<Pg> for NearbyStatement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT c.*, hours.* FROM (SELECT ");
        out.push_sql(PHARMACY_COLUMNS);
        out.push_sql(", ");
        out.push_sql(LOCATION_COLUMNS);
        out.push_sql(", (l.geo <-> ");
        self.push_point(&mut out)?;
        out.push_sql(") AS knn_m, ST_Distance(l.geo, ");
        self.push_point(&mut out)?;
        out.push_sql(
            ", false) / 1000.0 AS distance_km FROM pharmacy_locations l \
             JOIN pharmacies ON pharmacies.id = l.pharmacy_id WHERE l.geo && _ST_Expand(",
        );
        self.push_point(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<Float8, _>(&self.radius_m)?;
        out.push_sql(") AND _ST_DWithin(l.geo, ");
        self.push_point(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<Float8, _>(&self.radius_m)?;
        out.push_sql(", false) AND pharmacies.is_active = ");
        out.push_bind_param::<Bool, _>(&self.is_active)?;
        for (column, value) in &self.flags {
            out.push_sql(" AND pharmacies.");
            out.push_sql(column);
            out.push_sql(" = ");
            out.push_bind_param::<Bool, _>(value)?;
        }
        if let Some(open_at) = &self.open_at {
            out.push_sql(" AND ");
            out.push_sql(OPEN_NOW_SQL[0]);
            out.push_bind_param::<Timestamptz, _>(open_at)?;
            out.push_sql(OPEN_NOW_SQL[1]);
        }
        if self.index_order {
            out.push_sql(" ORDER BY l.geo <-> ");
            self.push_point(&mut out)?;
        } else {
            out.push_sql(" ORDER BY ST_Distance(l.geo, ");
            self.push_point(&mut out)?;
            out.push_sql(", false)");
        }
        out.push_sql(" LIMIT ");
        out.push_bind_param::<Int8, _>(&self.fetch)?;
        // The hours are attached outside the limited scan, so they are read for the returned
        // rows only; the caller orders the rows (an outer ORDER BY would be a second sort).
        out.push_sql(") c LEFT JOIN LATERAL (");
        out.push_sql(HOURS_ARRAYS_SQL);
        out.push_sql(") hours ON true");
        Ok(())
    }
}

impl LocationRow {
    fn into_location(self) -> Location {
        Location {
            id: self.id,
            pharmacy_id: PharmacyId::from_uuid(self.pharmacy_id),
            address_line: self.address_line,
            city: self.city,
            state: self.state,
            country: self.country,
            pincode: self.pincode,
            latitude: self.latitude,
            longitude: self.longitude,
            created_at: self.created_at,
        }
    }
}

/// A stored weekday outside 1–7 (impossible under `pharmacy_hours_day_check`).
#[derive(Debug, thiserror::Error)]
#[error("pharmacy_hours row {0} has day_of_week {1} outside 1..=7")]
struct BadDay(uuid::Uuid, i16);

impl HoursRow {
    fn into_hours(self) -> Result<Hours, BadDay> {
        Ok(Hours {
            id: self.id,
            pharmacy_id: PharmacyId::from_uuid(self.pharmacy_id),
            day_of_week: DayOfWeek::new(i64::from(self.day_of_week))
                .map_err(|_| BadDay(self.id, self.day_of_week))?,
            open_time: self.open_time,
            close_time: self.close_time,
            is_closed: self.is_closed,
        })
    }
}

impl PharmacyRow {
    fn into_pharmacy(self, location: Option<Location>, hours: Vec<Hours>) -> Pharmacy {
        Pharmacy {
            id: PharmacyId::from_uuid(self.id),
            name: self.name,
            description: self.description,
            phone: self.phone,
            email: self.email,
            supports_delivery: self.supports_delivery,
            supports_pickup: self.supports_pickup,
            is_verified: self.is_verified,
            is_active: self.is_active,
            rating: self.rating,
            rating_count: self.rating_count,
            timezone: self.timezone,
            created_at: self.created_at,
            updated_at: self.updated_at,
            location,
            hours,
        }
    }
}

/// Why a repository transaction stopped.
#[derive(Debug, thiserror::Error)]
enum TxError {
    #[error(transparent)]
    Query(#[from] DieselError),
    #[error(transparent)]
    BadDay(#[from] BadDay),
}

impl From<TxError> for PortError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Query(e) => DatabaseError::Query(e).into(),
            TxError::BadDay(e) => PortError::Unexpected(e.to_string()),
        }
    }
}

fn port(error: DieselError) -> PortError {
    DatabaseError::Query(error).into()
}

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

/// The constraint behind a unique violation, if `error` is one.
fn unique_violation(error: &TxError) -> Option<String> {
    match error {
        TxError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            Some(info.constraint_name().unwrap_or_default().to_owned())
        }
        _ => None,
    }
}

fn offset(window: Window) -> i64 {
    // `Window` guarantees skip ≤ i64::MAX.
    i64::try_from(window.skip()).unwrap_or(i64::MAX)
}

/// Loads the locations and hours of `rows` (one query each) and assembles the items, keeping
/// the order of `rows`.
async fn assemble(
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
async fn load_detail(conn: &mut PgConn, id: uuid::Uuid) -> Result<Option<Pharmacy>, TxError> {
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

/// PostgreSQL implementation of [`PharmacyRepository`].
#[derive(Debug, Clone)]
pub struct PgPharmacyRepository {
    db: Database,
}

impl PgPharmacyRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl PharmacyRepository for PgPharmacyRepository {
    async fn create(
        &self,
        id: PharmacyId,
        new: &NewPharmacy,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Pharmacy, CreatePharmacyError> {
        if let Some(day) = new.duplicate_days().into_iter().next() {
            return Err(CreatePharmacyError::DuplicateDay(day));
        }
        let mut conn = self.db.conn().await.map_err(PortError::from)?;
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
        .map_err(|error| match unique_violation(&error).as_deref() {
            // Only reachable if the pre-check above were bypassed; never a 500.
            Some("unique_day_per_pharmacy") => match new_first_day(&error) {
                Some(day) => CreatePharmacyError::DuplicateDay(day),
                None => CreatePharmacyError::Port(PortError::from(error)),
            },
            _ => CreatePharmacyError::Port(PortError::from(error)),
        })
    }

    async fn find(&self, id: PharmacyId) -> Result<Option<Pharmacy>, PortError> {
        let mut conn = self.db.conn().await?;
        Ok(load_detail(&mut conn, id.as_uuid()).await?)
    }

    async fn list(
        &self,
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
        let mut conn = self.db.conn().await?;
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

    async fn nearby(
        &self,
        query: &NearbyQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<PharmacyListItem>, PortError> {
        // The page is the first `skip + limit` rows in (distance, id) order. The KNN scan can
        // only order by the distance (see `knn_candidates`), so fetch one row more than needed:
        // when it is strictly farther than the last wanted row, every row at or below that
        // distance is among the candidates and sorting them by (distance, id) is exact; when a
        // tie straddles the boundary, fetch twice as many and look again.
        let wanted = query
            .window
            .skip()
            .saturating_add(u64::from(query.window.limit()));
        let mut fetch = wanted.saturating_add(1);
        let mut conn = self.db.read_conn().await?;
        let rows = loop {
            let mut rows = knn_candidates(&mut conn, query, now, fetch).await?;
            rows.sort_by(|a, b| {
                a.knn_m
                    .total_cmp(&b.knn_m)
                    .then(a.pharmacy.id.cmp(&b.pharmacy.id))
            });
            let complete = u64::try_from(rows.len()).map_or(true, |n| n < fetch);
            let boundary = usize::try_from(wanted)
                .ok()
                .and_then(|w| rows.get(w.checked_sub(1)?));
            let separated = match (boundary, rows.last()) {
                (Some(boundary), Some(last)) => last.knn_m > boundary.knn_m,
                _ => true,
            };
            if complete || separated {
                break rows;
            }
            fetch = fetch.saturating_mul(2);
        };
        // Sorted by (distance, id), the page is rows `skip..skip + limit`.
        rows.into_iter()
            .skip(usize::try_from(query.window.skip()).unwrap_or(usize::MAX))
            .take(usize::try_from(query.window.limit()).unwrap_or(usize::MAX))
            .map(|row| row.into_item().map_err(|bad| TxError::from(bad).into()))
            .collect()
    }

    async fn update(
        &self,
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
        let mut conn = self.db.conn().await?;
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

    async fn delete(&self, id: PharmacyId, stamp: &AuditStamp) -> Result<bool, PortError> {
        let mut conn = self.db.conn().await?;
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

    async fn update_location(
        &self,
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
        let mut conn = self.db.conn().await?;
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

    async fn upsert_hours(
        &self,
        id: PharmacyId,
        hours: &HoursInput,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<Hours>, PortError> {
        let mut conn = self.db.conn().await?;
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

    async fn list_hours(&self, id: PharmacyId) -> Result<Option<Vec<Hours>>, PortError> {
        let mut conn = self.db.conn().await?;
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

    async fn delete_hours(
        &self,
        id: PharmacyId,
        day: DayOfWeek,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<DeleteHours, PortError> {
        let mut conn = self.db.conn().await?;
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

    async fn set_verified(
        &self,
        id: PharmacyId,
        change: VerifyChange,
        stamp: &AuditStamp,
        now: DateTime<Utc>,
    ) -> Result<Option<PharmacyVerify>, PortError> {
        let mut conn = self.db.conn().await?;
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
}

/// The weekday a `unique_day_per_pharmacy` violation is about, from its detail text
/// (`Key (pharmacy_id, day_of_week)=(…, 3) already exists.`).
fn new_first_day(error: &TxError) -> Option<DayOfWeek> {
    let TxError::Query(DieselError::DatabaseError(_, info)) = error else {
        return None;
    };
    let detail = info.details()?;
    let inside = detail.split(")=(").nth(1)?;
    let day = inside.split(')').next()?.rsplit(", ").next()?;
    DayOfWeek::new(day.trim().parse().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_now_fragment_has_one_placeholder_slot() {
        let whole = format!("{}$1{}", OPEN_NOW_SQL[0], OPEN_NOW_SQL[1]);
        assert_eq!(whole.matches("$1").count(), 1);
        assert!(whole.contains("AT TIME ZONE pharmacies.timezone"));
    }
}
