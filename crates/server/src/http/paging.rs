//! Numbered pages: the `page` and `page_size` query parameters shared by every paged listing.

use medico24_kernel::PageRequest;

use super::input::{IntOr, QueryReader, request_query};

/// Highest page number: pages are counted in a `u32`.
pub const MAX_PAGE: i64 = 4_294_967_295;

request_query! {
    /// Numbered pages of a listing, 20 rows by default.
    pub struct PageParams {
        /// Page number (default 1)
        pub page: IntOr<1, { MAX_PAGE }, 1>,
        /// Page size (default 20)
        pub page_size: IntOr<1, 100, 20>,
    }
}

impl PageParams {
    /// The page asked for.
    pub fn request(&self) -> PageRequest {
        numbered(self.page.get(), self.page_size.get())
    }
}

/// A page request from a page number and size that were read within their bounds.
pub fn numbered(page: i64, page_size: i64) -> PageRequest {
    PageRequest::clamped(
        u32::try_from(page).unwrap_or(u32::MAX),
        u32::try_from(page_size).unwrap_or(100),
    )
}

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
