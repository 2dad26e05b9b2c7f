//! Numbered pages: the `page` and `page_size` query parameters shared by every paged listing.

use medico24_kernel::PageRequest;

use super::input::{IntOr, request_query};

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
