//! Keyset paging of listings ordered by an instant and then the id, both descending: the
//! predicate that starts a page right after a row's key, and the split of a fetched page from the
//! one extra row that shows more rows follow.

use diesel::BoxableExpression;
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::sql_types::{Bool, Timestamptz, Uuid};
use medico24_kernel::paging::SeekKey;

/// `(<at>, <id>) < (key.at, key.id)`, with `at` and `id` the qualified SQL names of the sort
/// columns (e.g. `users.created_at`, `users.id`).
///
/// Written as one row comparison because PostgreSQL turns it into a start position in a btree
/// index whose keys run through the sort instant, read backwards (with `id` among the keys
/// exactly; without it as `at <= x`, rechecking the few rows that share the instant): the page
/// costs the rows it returns, however deep it is. The equivalent `at < x OR (at = x AND id < y)`
/// is not matched to an index that way.
///
/// Being raw SQL, it also keeps the statement out of Diesel's prepared-statement cache, so each
/// page is planned with its own values (a partial index such as the one of inactive users is only
/// chosen for a literal `false`).
pub(crate) fn after_key<QS>(
    at: &'static str,
    id: &'static str,
    key: SeekKey,
) -> Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>> {
    Box::new(
        sql::<Bool>(&format!("({at}, {id}) < ("))
            .bind::<Timestamptz, _>(key.at)
            .sql(", ")
            .bind::<Uuid, _>(key.id)
            .sql(")"),
    )
}

/// How many rows to fetch for a page of `page_size`: one more, to learn whether rows follow.
pub(crate) fn fetch_limit(page_size: u32) -> i64 {
    i64::from(page_size) + 1
}

/// Cuts `rows` (fetched with [`fetch_limit`]) to `page_size` and returns the key of the last row
/// kept when the extra row showed that more rows follow.
pub(crate) fn split_page<T>(
    rows: &mut Vec<T>,
    page_size: u32,
    key: impl Fn(&T) -> SeekKey,
) -> Option<SeekKey> {
    let size = usize::try_from(page_size).unwrap_or(usize::MAX);
    if rows.len() > size {
        rows.truncate(size);
        rows.last().map(key)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn key(n: u128) -> SeekKey {
        SeekKey {
            at: DateTime::<Utc>::UNIX_EPOCH,
            id: uuid::Uuid::from_u128(n),
        }
    }

    #[test]
    fn a_full_page_with_one_extra_row_has_a_next_key() {
        let mut rows = vec![3_u128, 2, 1];
        assert_eq!(split_page(&mut rows, 2, |n| key(*n)), Some(key(2)));
        assert_eq!(rows, vec![3, 2]);
    }

    #[test]
    fn the_last_page_has_none() {
        let mut rows = vec![3_u128, 2];
        assert_eq!(split_page(&mut rows, 2, |n| key(*n)), None);
        assert_eq!(rows, vec![3, 2]);
        let mut empty: Vec<u128> = Vec::new();
        assert_eq!(split_page(&mut empty, 2, |n| key(*n)), None);
    }
}
