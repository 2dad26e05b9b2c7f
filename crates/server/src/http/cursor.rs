//! Cursors of the admin listings that can be walked by key: an opaque, URL-safe token that says
//! where the next page starts, so a deep page costs what a first page costs, next to the numbered
//! `page`/`page_size` paging every listing keeps.
//!
//! A cursor holds the page number it leads to, the sort key (instant and id) of the last row of
//! the page that returned it, and a fingerprint of the listing, its filters and the page size. It
//! is not signed: it only names a position, which the caller could reach with filters anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use medico24_kernel::paging::SeekKey;
use medico24_kernel::{Page, PageRequest};
use sha2::{Digest, Sha256};

use super::input::{IntOr, Query, Text, request_query};
use super::paging::{MAX_PAGE, numbered};

/// Query parameter that carries a cursor.
pub const CURSOR_PARAM: &str = "cursor";

/// Longest cursor accepted (the ones issued have 50 characters).
const MAX_CURSOR_CHARS: usize = 200;

/// Layout version, the first byte of every cursor.
const VERSION: u8 = 1;

/// Bytes of a version-1 cursor: version, page (u32), instant (i64 microseconds), id (16 bytes),
/// fingerprint (8 bytes).
const ENCODED_LEN: usize = 1 + 4 + 8 + 16 + 8;

/// What a cursor belongs to: the listing, its filters and the page size. A cursor replayed with
/// other filters or another page size would label its pages with wrong numbers, so it is refused.
#[derive(Debug, Clone)]
pub struct CursorScope {
    hasher: Sha256,
}

impl CursorScope {
    /// The scope of `listing` (a stable name) read with pages of `page_size`.
    pub fn new(listing: &str, page_size: u32) -> Self {
        let scope = Self {
            hasher: Sha256::new(),
        };
        scope
            .field("listing", Some(listing))
            .field("page_size", Some(page_size))
    }

    /// Adds one filter (`None` when the request does not use it).
    #[must_use]
    pub fn field(mut self, name: &str, value: Option<impl ToString>) -> Self {
        // Length-prefixed parts: no two different filter sets can write the same bytes.
        self.write(name.as_bytes());
        match value {
            Some(value) => {
                self.hasher.update([1]);
                self.write(value.to_string().as_bytes());
            }
            None => self.hasher.update([0]),
        }
        self
    }

    fn write(&mut self, bytes: &[u8]) {
        self.hasher.update((bytes.len() as u64).to_be_bytes());
        self.hasher.update(bytes);
    }

    fn fingerprint(&self) -> [u8; 8] {
        let digest = self.hasher.clone().finalize();
        let bytes: &[u8] = digest.as_ref();
        let mut out = [0; 8];
        out.copy_from_slice(&bytes[..8]);
        out
    }
}

/// A decoded cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    page: u32,
    key: SeekKey,
    fingerprint: [u8; 8],
}

impl Cursor {
    fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(ENCODED_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.page.to_be_bytes());
        bytes.extend_from_slice(&self.key.at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(self.key.id.as_bytes());
        bytes.extend_from_slice(&self.fingerprint);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION || rest.len() != ENCODED_LEN - 1 {
            return None;
        }
        let (page, rest) = rest.split_at(4);
        let (micros, rest) = rest.split_at(8);
        let (id, fingerprint) = rest.split_at(16);
        let page = u32::from_be_bytes(page.try_into().ok()?);
        let micros = i64::from_be_bytes(micros.try_into().ok()?);
        // Page 1 never needs a cursor; a cursor always leads to page 2 or later.
        if page < 2 {
            return None;
        }
        Some(Self {
            page,
            key: SeekKey {
                at: DateTime::from_timestamp_micros(micros)?,
                id: uuid::Uuid::from_slice(id).ok()?,
            },
            fingerprint: fingerprint.try_into().ok()?,
        })
    }
}

request_query! {
    /// Paging of a listing that can also be walked by cursor, 20 rows by default.
    pub struct CursorParams {
        /// Page number (default 1); not with `cursor`
        pub page: IntOr<1, { MAX_PAGE }, 1>,
        /// Page size (default 20)
        pub page_size: IntOr<1, 100, 20>,
        /// `next_cursor` of the previous page; the filters and `page_size` must be those of that request
        pub cursor: Option<Text<0, { MAX_CURSOR_CHARS }>>,
    }
}

impl CursorParams {
    /// The page size asked for (default included).
    pub fn page_size(&self) -> u32 {
        numbered(1, self.page_size.get()).page_size()
    }

    /// The page to read: the numbered page, or the one the cursor leads to; `None` when the
    /// paging itself could not be read.
    ///
    /// Runs after the listing's filters were read (`scope` is `None` when they broke a rule), so
    /// a cursor's issues follow theirs in the 422. A cursor that comes with `page` (the cursor
    /// carries its own page number), that cannot be decoded, or that belongs to another
    /// listing, filters or page size is reported as an issue of `query`.
    pub fn resolve(
        paging: Option<Self>,
        query: &mut Query,
        scope: Option<&CursorScope>,
    ) -> Option<PageRequest> {
        let paging = paging?;
        let numbered = numbered(paging.page.get(), paging.page_size.get());
        let Some(text) = paging.cursor else {
            return Some(numbered);
        };
        if query.has("page") {
            query.report(
                "page",
                "value_error",
                "page cannot be combined with cursor: the cursor already names its page",
            );
            return None;
        }
        let Some(cursor) = Cursor::decode(&text) else {
            query.report(CURSOR_PARAM, "value_error", "Invalid cursor");
            return None;
        };
        // A filter that failed to parse changes the scope; report that failure alone.
        let scope = scope?;
        if cursor.fingerprint != scope.fingerprint() {
            if !query.has_issues() {
                query.report(
                    CURSOR_PARAM,
                    "value_error",
                    "The cursor belongs to another query: send the filters and page_size of \
                     the request that returned it",
                );
            }
            return None;
        }
        Some(PageRequest::after(
            cursor.page,
            numbered.page_size(),
            cursor.key,
        ))
    }
}

/// The cursor of the page after `page`, when rows follow it.
pub fn next_cursor<T>(page: &Page<T>, scope: &CursorScope) -> Option<String> {
    let key = page.next?;
    let next = page.request.page().checked_add(1)?;
    Some(
        Cursor {
            page: next,
            key,
            fingerprint: scope.fingerprint(),
        }
        .encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn cursor() -> Cursor {
        Cursor {
            page: 5001,
            key: SeekKey {
                at: Utc
                    .timestamp_opt(1_700_000_000, 123_456_000)
                    .single()
                    .unwrap_or_default(),
                id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            },
            fingerprint: CursorScope::new("admin_users", 20).fingerprint(),
        }
    }

    #[test]
    fn a_cursor_survives_its_round_trip_and_is_url_safe() {
        let text = cursor().encode();
        assert_eq!(text.len(), 50);
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{text}"
        );
        assert_eq!(Cursor::decode(&text), Some(cursor()));
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        let good = cursor().encode();
        let mut wrong_version = URL_SAFE_NO_PAD.decode(&good).unwrap_or_default();
        wrong_version[0] = 2;
        let mut page_one = URL_SAFE_NO_PAD.decode(&good).unwrap_or_default();
        page_one[1..5].copy_from_slice(&1_u32.to_be_bytes());
        let mut far_instant = URL_SAFE_NO_PAD.decode(&good).unwrap_or_default();
        far_instant[5..13].copy_from_slice(&i64::MAX.to_be_bytes());
        for text in [
            String::new(),
            "x".to_owned(),
            "not a cursor".to_owned(),
            format!("{good}="),
            good[..good.len() - 1].to_owned(),
            format!("{good}AA"),
            URL_SAFE_NO_PAD.encode(wrong_version),
            URL_SAFE_NO_PAD.encode(page_one),
            URL_SAFE_NO_PAD.encode(far_instant),
        ] {
            assert_eq!(Cursor::decode(&text), None, "{text}");
        }
    }

    #[test]
    fn the_scope_tells_listings_filters_and_page_sizes_apart() {
        let base = || CursorScope::new("admin_users", 20);
        let fingerprints = [
            base().fingerprint(),
            CursorScope::new("admin_appointments", 20).fingerprint(),
            CursorScope::new("admin_users", 21).fingerprint(),
            base().field("role", Some("admin")).fingerprint(),
            base().field("role", None::<&str>).fingerprint(),
            base().field("role", Some("")).fingerprint(),
            base()
                .field("a", Some("b"))
                .field("c", None::<&str>)
                .fingerprint(),
            base()
                .field("ab", Some(""))
                .field("c", None::<&str>)
                .fingerprint(),
        ];
        for (i, a) in fingerprints.iter().enumerate() {
            for b in &fingerprints[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            base().field("role", Some("admin")).fingerprint(),
            base().field("role", Some("admin")).fingerprint()
        );
    }
}
