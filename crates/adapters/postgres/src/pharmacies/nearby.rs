//! The nearby search: the index-assisted KNN statement (a prepared statement per connection),
//! its row type, and the page assembled from its candidates.

use chrono::{DateTime, NaiveTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Float8, Int8, Nullable, SmallInt, Text, Time, Timestamptz};
use diesel_async::RunQueryDsl;
use medico24_kernel::PharmacyId;
use medico24_pharmacy::{Location, NearbyQuery, PharmacyListItem, PortError};

use super::rows::{BadDay, HoursRow, PharmacyRow};
use super::{OPEN_NOW_SQL, PgPharmacyRepository, TxError, port};
use crate::conn::PgConn;

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

pub(super) async fn nearby(
    repo: &PgPharmacyRepository,
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
    let mut conn = repo.db.read_conn().await?;
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
