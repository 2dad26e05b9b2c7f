//! The rows of `pharmacies`, `pharmacy_locations` and `pharmacy_hours` as selected, and their
//! conversions into the domain types.

use chrono::{DateTime, NaiveTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Float8;
use medico24_kernel::PharmacyId;
use medico24_pharmacy::{DayOfWeek, Hours, Location, Pharmacy};

use crate::schema::{pharmacies, pharmacy_hours, pharmacy_locations};

/// A `pharmacies` row as selected (`rating numeric(2,1)` read as float8).
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = pharmacies, check_for_backend(diesel::pg::Pg))]
pub(super) struct PharmacyRow {
    pub(super) id: uuid::Uuid,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) email: Option<String>,
    pub(super) is_verified: bool,
    pub(super) is_active: bool,
    #[diesel(
        select_expression = sql::<Float8>("pharmacies.rating::float8"),
        select_expression_type = diesel::expression::SqlLiteral<Float8>,
        sql_type = Float8
    )]
    pub(super) rating: f64,
    pub(super) rating_count: i32,
    pub(super) supports_delivery: bool,
    pub(super) supports_pickup: bool,
    pub(super) timezone: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

/// A `pharmacy_locations` row without the generated `geo`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pharmacy_locations, check_for_backend(diesel::pg::Pg))]
pub(super) struct LocationRow {
    pub(super) id: uuid::Uuid,
    pub(super) pharmacy_id: uuid::Uuid,
    pub(super) address_line: String,
    pub(super) city: String,
    pub(super) state: Option<String>,
    pub(super) country: String,
    pub(super) pincode: Option<String>,
    pub(super) latitude: f64,
    pub(super) longitude: f64,
    pub(super) created_at: DateTime<Utc>,
}

/// A `pharmacy_hours` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pharmacy_hours, check_for_backend(diesel::pg::Pg))]
pub(super) struct HoursRow {
    pub(super) id: uuid::Uuid,
    pub(super) pharmacy_id: uuid::Uuid,
    pub(super) day_of_week: i16,
    pub(super) open_time: NaiveTime,
    pub(super) close_time: NaiveTime,
    pub(super) is_closed: bool,
}

impl LocationRow {
    pub(super) fn into_location(self) -> Location {
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
pub(super) struct BadDay(uuid::Uuid, i16);

impl HoursRow {
    pub(super) fn into_hours(self) -> Result<Hours, BadDay> {
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
    pub(super) fn into_pharmacy(self, location: Option<Location>, hours: Vec<Hours>) -> Pharmacy {
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
