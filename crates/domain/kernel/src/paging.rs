//! Page requests (1-based page number and size, optionally positioned by a row's sort key) and
//! pages of results.

use chrono::{DateTime, Utc};

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

/// A row's place in a listing ordered newest first: its sort instant, then its id (the
/// tie-breaker, also descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeekKey {
    /// The instant the listing sorts by (e.g. `created_at`).
    pub at: DateTime<Utc>,
    /// The row's id.
    pub id: uuid::Uuid,
}

impl SeekKey {
    /// Whether a row with `(at, id)` comes after this key in the newest-first order.
    pub fn precedes(&self, at: DateTime<Utc>, id: uuid::Uuid) -> bool {
        (at, id) < (self.at, self.id)
    }
}

/// A validated request for one page of a sorted listing.
///
/// Either numbered (the rows after the first `(page − 1) × page_size`, found by counting them) or
/// positioned (the `page_size` rows that follow a [`SeekKey`], found through an index without
/// counting; `page` then only labels the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    page_size: u32,
    after: Option<SeekKey>,
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
        Ok(Self {
            page,
            page_size,
            after: None,
        })
    }

    /// A request with `page` raised to at least 1 and `page_size` clamped into 1..=100.
    pub fn clamped(page: u32, page_size: u32) -> Self {
        Self {
            page: page.max(1),
            page_size: page_size.clamp(1, MAX_PAGE_SIZE),
            after: None,
        }
    }

    /// Page `page` (raised to at least 1) of `page_size` rows (clamped into 1..=100) that start
    /// right after `key` in the listing's order.
    pub fn after(page: u32, page_size: u32, key: SeekKey) -> Self {
        Self {
            after: Some(key),
            ..Self::clamped(page, page_size)
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

    /// The key the page starts after, for a positioned request.
    pub const fn seek(&self) -> Option<SeekKey> {
        self.after
    }

    /// Rows to skip: `(page − 1) × page_size`, or 0 for a positioned request (the key places it).
    pub const fn offset(&self) -> u64 {
        if self.after.is_some() {
            0
        } else {
            (self.page as u64 - 1) * self.page_size as u64
        }
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
    /// The key the next page starts after, when the listing can be walked by key and rows
    /// follow this page; `None` on the last page and for listings walked by number only.
    pub next: Option<SeekKey>,
}

impl<T> Page<T> {
    /// `ceil(total / page_size)`, 0 when there are no rows.
    pub fn total_pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.request.page_size()))
    }

    /// The page `request` asks for out of `rows`, which hold every matching row in listing order
    /// (newest first by `key`): the rows after the request's key when it has one, else after the
    /// `(page − 1) × page_size` rows before the page; `next` is set when rows follow. In-memory
    /// listings use it to page exactly as a database does.
    pub fn from_sorted(rows: Vec<T>, request: PageRequest, key: impl Fn(&T) -> SeekKey) -> Self {
        let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        let size = usize::try_from(request.page_size()).unwrap_or(usize::MAX);
        let rest: Vec<T> = match request.seek() {
            Some(after) => rows
                .into_iter()
                .filter(|row| {
                    let k = key(row);
                    after.precedes(k.at, k.id)
                })
                .collect(),
            None => rows
                .into_iter()
                .skip(usize::try_from(request.offset()).unwrap_or(usize::MAX))
                .collect(),
        };
        let more = rest.len() > size;
        let items: Vec<T> = rest.into_iter().take(size).collect();
        let next = if more { items.last().map(&key) } else { None };
        Page {
            items,
            total,
            request,
            next,
        }
    }

    /// Converts every item, keeping the paging data.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            request: self.request,
            next: self.next,
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
            next: None,
        };
        assert_eq!(page.total_pages(), 3);
        let empty: Page<u8> = Page {
            items: vec![],
            total: 0,
            request,
            next: None,
        };
        assert_eq!(empty.total_pages(), 0);
    }

    #[test]
    fn a_positioned_request_skips_nothing_and_keeps_its_key() {
        let key = SeekKey {
            at: DateTime::<Utc>::UNIX_EPOCH,
            id: uuid::Uuid::nil(),
        };
        let request = PageRequest::after(7, 500, key);
        assert_eq!(request.page(), 7);
        assert_eq!(request.page_size(), MAX_PAGE_SIZE);
        assert_eq!(request.offset(), 0);
        assert_eq!(request.seek(), Some(key));
        assert_eq!(PageRequest::clamped(7, 20).seek(), None);
    }

    #[test]
    fn a_sorted_listing_pages_the_same_by_number_and_by_key() {
        let key = |n: &u128| SeekKey {
            at: DateTime::<Utc>::UNIX_EPOCH,
            id: uuid::Uuid::from_u128(*n),
        };
        let rows: Vec<u128> = (1..=5).rev().collect();
        let numbered = |page| {
            Page::from_sorted(
                rows.clone(),
                PageRequest::new(page, 2).unwrap_or_else(|_| unreachable!()),
                key,
            )
        };
        let first = numbered(1);
        assert_eq!((first.items.clone(), first.total), (vec![5, 4], 5));
        let second = Page::from_sorted(rows.clone(), PageRequest::after(2, 2, key(&4)), key);
        assert_eq!(second.items, numbered(2).items);
        assert_eq!(second.next, Some(key(&2)));
        let third = Page::from_sorted(rows.clone(), PageRequest::after(3, 2, key(&2)), key);
        assert_eq!((third.items, third.next), (vec![1], None));
        assert_eq!(numbered(3).next, None);
    }

    #[test]
    fn rows_after_a_key_are_older_or_equally_old_with_a_smaller_id() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let key = SeekKey {
            at,
            id: uuid::Uuid::from_u128(5),
        };
        assert!(key.precedes(at, uuid::Uuid::from_u128(4)));
        assert!(!key.precedes(at, uuid::Uuid::from_u128(5)));
        assert!(!key.precedes(at, uuid::Uuid::from_u128(6)));
        assert!(key.precedes(at - chrono::Duration::seconds(1), uuid::Uuid::from_u128(9)));
        assert!(!key.precedes(at + chrono::Duration::seconds(1), uuid::Uuid::nil()));
    }
}
