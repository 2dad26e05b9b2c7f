//! Numbered pages: the `page` and `page_size` query parameters shared by every paged listing.

use medico24_kernel::PageRequest;

use super::input::QueryReader;

/// Reads `page` (≥ 1, default 1) and `page_size` (1–100, default `default_size`).
pub fn page_request(query: &mut QueryReader, default_size: i64) -> PageRequest {
    let page = query.int("page", 1, 1, i64::from(u32::MAX));
    let size = query.int("page_size", default_size, 1, 100);
    // Out-of-range values were reported as issues above; clamping only keeps the type valid.
    PageRequest::clamped(
        u32::try_from(page).unwrap_or(1),
        u32::try_from(size).unwrap_or(20),
    )
}
