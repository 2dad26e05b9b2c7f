//! Query groups shared by the directory and pharmacy listings: the `skip`/`limit` window and
//! the search point of a geo search.

use super::input::{Above, IntOr, Number, request_query};

request_query! {
    /// The rows of a listing: `limit` rows after the first `skip`.
    pub struct WindowParams {
        /// Rows to skip (default 0)
        pub skip: IntOr<0, { i64::MAX }, 0>,
        /// Page size (default 20)
        pub limit: IntOr<1, 100, 20>,
    }
}

impl WindowParams {
    /// Rows to skip.
    pub fn skip(&self) -> u64 {
        // Read within 0..=i64::MAX.
        u64::try_from(self.skip.get()).unwrap_or(0)
    }

    /// Rows to return.
    pub fn limit(&self) -> u32 {
        // Read within 1..=100.
        u32::try_from(self.limit.get()).unwrap_or(20)
    }
}

request_query! {
    /// The search point and radius of a geo search.
    pub struct PointParams {
        /// Search point
        pub latitude: Number<-90, 90>,
        /// Search point
        pub longitude: Number<-180, 180>,
        /// Radius, inclusive (default 10)
        pub radius_km: Option<Above<0, 100>>,
    }
}

/// The default radius of a geo search, in kilometres.
pub const DEFAULT_RADIUS_KM: f64 = 10.0;

impl PointParams {
    /// The radius asked for, or the default.
    pub fn radius_km(&self) -> f64 {
        self.radius_km.map_or(DEFAULT_RADIUS_KM, Above::get)
    }
}
