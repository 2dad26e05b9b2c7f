//! Page requests (1-based page number and size) and pages of results.

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Why a page request is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageRequestError {
    /// `page` was 0.
    #[error("page must be at least 1")]
    PageTooSmall,
    /// `page_size` was outside 1..=100.
    #[error("page_size must be between 1 and {MAX_PAGE_SIZE}")]
    SizeOutOfRange,
}

/// A validated request for one page of a sorted listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    page_size: u32,
}

impl PageRequest {
    /// Validates `page ≥ 1` and `1 ≤ page_size ≤ 100`.
    pub fn new(page: u32, page_size: u32) -> Result<Self, PageRequestError> {
        if page == 0 {
            return Err(PageRequestError::PageTooSmall);
        }
        if page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(PageRequestError::SizeOutOfRange);
        }
        Ok(Self { page, page_size })
    }

    /// A request with `page` raised to at least 1 and `page_size` clamped into 1..=100.
    pub fn clamped(page: u32, page_size: u32) -> Self {
        Self {
            page: page.max(1),
            page_size: page_size.clamp(1, MAX_PAGE_SIZE),
        }
    }

    /// 1-based page number.
    pub const fn page(&self) -> u32 {
        self.page
    }

    /// Items per page.
    pub const fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Rows to skip: `(page − 1) × page_size`.
    pub const fn offset(&self) -> u64 {
        (self.page as u64 - 1) * self.page_size as u64
    }
}

/// One page of a listing together with the total number of matching rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page, in listing order.
    pub items: Vec<T>,
    /// Rows matching the filters over all pages.
    pub total: u64,
    /// What was asked for.
    pub request: PageRequest,
}

impl<T> Page<T> {
    /// `ceil(total / page_size)`, 0 when there are no rows.
    pub fn total_pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.request.page_size()))
    }

    /// Converts every item, keeping the paging data.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            request: self.request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(PageRequest::new(0, 20), Err(PageRequestError::PageTooSmall));
        assert_eq!(
            PageRequest::new(1, 0),
            Err(PageRequestError::SizeOutOfRange)
        );
        assert_eq!(
            PageRequest::new(1, 101),
            Err(PageRequestError::SizeOutOfRange)
        );
        assert!(PageRequest::new(1, 100).is_ok());
    }

    #[test]
    fn offset_and_total_pages() {
        let request = PageRequest::new(3, 20).unwrap_or_else(|_| unreachable!());
        assert_eq!(request.offset(), 40);
        let page: Page<u8> = Page {
            items: vec![],
            total: 41,
            request,
        };
        assert_eq!(page.total_pages(), 3);
        let empty: Page<u8> = Page {
            items: vec![],
            total: 0,
            request,
        };
        assert_eq!(empty.total_pages(), 0);
    }
}
