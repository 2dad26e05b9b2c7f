//! Input shared by more than one handler module: the directory's window and geo query built from
//! the shared query groups, and the `pharmacy_id` path parameter.

use actix_web::HttpRequest;
use medico24_directory::{GeoQuery, Window};
use medico24_kernel::PharmacyId;

use super::error::ApiError;
use super::input::path_uuid;
use super::search::{PointParams, WindowParams};

/// The directory's window from the `skip`/`limit` parameters.
pub fn directory_window(params: &WindowParams) -> Window {
    Window::new(params.skip(), params.limit())
}

/// The directory's geo query from the search point parameters.
pub fn geo_query(point: &PointParams) -> GeoQuery {
    GeoQuery {
        latitude: point.latitude.get(),
        longitude: point.longitude.get(),
        radius_km: point.radius_km(),
    }
}

/// The `pharmacy_id` path parameter (public and admin pharmacy routes).
///
/// # Errors
/// 422 `uuid_parsing` at `["path", "pharmacy_id"]`.
pub fn pharmacy_id(req: &HttpRequest) -> Result<PharmacyId, ApiError> {
    Ok(PharmacyId::from_uuid(path_uuid(req, "pharmacy_id")?))
}
