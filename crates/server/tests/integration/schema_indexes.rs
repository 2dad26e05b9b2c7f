//! The migrated schema carries no redundant index: every index is updated by every write of its
//! table, so one that another index already covers costs writes and buys nothing. A migration
//! that adds such an index fails here.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use medico24_testkit::TestDb;

/// Pairs of valid indexes of one public table that index the same keys the same way: same access
/// method, columns or expressions, operator classes, collations, orderings and predicate.
/// Uniqueness is not compared: two unique ones enforce one rule twice, and a plain one next to a
/// unique one on the same keys serves no query the unique one does not.
const DUPLICATES: &str = "
    SELECT a.indexrelid::regclass::text || ' = ' || b.indexrelid::regclass::text
           || ' on ' || a.indrelid::regclass::text AS finding
    FROM pg_index a
    JOIN pg_index b ON b.indrelid = a.indrelid AND a.indexrelid < b.indexrelid
    JOIN pg_class ia ON ia.oid = a.indexrelid
    JOIN pg_class ib ON ib.oid = b.indexrelid
    JOIN pg_class t ON t.oid = a.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = 'public' AND a.indisvalid AND b.indisvalid
      AND ia.relam = ib.relam
      AND a.indnkeyatts = b.indnkeyatts
      AND a.indkey::text = b.indkey::text
      AND a.indclass::text = b.indclass::text
      AND a.indcollation::text = b.indcollation::text
      AND a.indoption::text = b.indoption::text
      AND pg_get_expr(a.indexprs, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indexprs, b.indrelid)
      AND pg_get_expr(a.indpred, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indpred, b.indrelid)
    ORDER BY 1";

/// Plain btree indexes whose keys are a strict left prefix of another btree index that covers
/// every row (same columns first, same operator classes, collations and orderings): the longer
/// one serves every search the shorter one serves. Unique indexes, indexes behind a constraint,
/// partial ones and ones with expressions or included columns are left out: they carry a rule or
/// serve a query the longer one cannot.
const PREFIXES: &str = "
    SELECT a.indexrelid::regclass::text || ' < ' || b.indexrelid::regclass::text
           || ' on ' || a.indrelid::regclass::text AS finding
    FROM pg_index a
    JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
    JOIN pg_class ia ON ia.oid = a.indexrelid
    JOIN pg_class ib ON ib.oid = b.indexrelid
    JOIN pg_am am ON am.oid = ia.relam AND am.amname = 'btree'
    JOIN pg_class t ON t.oid = a.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = 'public' AND a.indisvalid AND b.indisvalid
      AND ib.relam = ia.relam
      AND NOT a.indisunique
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = a.indexrelid)
      AND a.indpred IS NULL AND b.indpred IS NULL
      AND a.indexprs IS NULL
      AND a.indnatts = a.indnkeyatts
      AND a.indnkeyatts < b.indnkeyatts
      AND (a.indkey::int2[])[0:a.indnkeyatts - 1] = (b.indkey::int2[])[0:a.indnkeyatts - 1]
      AND (a.indclass::oid[])[0:a.indnkeyatts - 1] = (b.indclass::oid[])[0:a.indnkeyatts - 1]
      AND (a.indcollation::oid[])[0:a.indnkeyatts - 1] = (b.indcollation::oid[])[0:a.indnkeyatts - 1]
      AND (a.indoption::int2[])[0:a.indnkeyatts - 1] = (b.indoption::int2[])[0:a.indnkeyatts - 1]
    ORDER BY 1";

#[derive(QueryableByName)]
struct Finding {
    #[diesel(sql_type = Text)]
    finding: String,
}

async fn findings(db: &TestDb, sql: &str) -> Vec<String> {
    let mut conn = db.connect().await;
    diesel::sql_query(sql)
        .load::<Finding>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("querying the catalog: {e}"))
        .into_iter()
        .map(|f| f.finding)
        .collect()
}

#[tokio::test]
async fn no_index_of_the_schema_duplicates_another() {
    let db = TestDb::new().await;
    assert_eq!(findings(&db, DUPLICATES).await, Vec::<String>::new());
}

#[tokio::test]
async fn no_plain_index_is_a_left_prefix_of_another() {
    let db = TestDb::new().await;
    assert_eq!(findings(&db, PREFIXES).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_checks_find_redundant_indexes_added_on_purpose() {
    let db = TestDb::new().await;
    TestDb::execute(
        &db,
        "CREATE INDEX test_dup_a ON appointments (status);
         CREATE INDEX test_dup_b ON appointments (status);
         CREATE UNIQUE INDEX test_dup_unique ON users (firebase_uid);
         CREATE INDEX test_prefix ON appointments (doctor_id);
         CREATE INDEX test_partial ON appointments (doctor_id) WHERE deleted_at IS NULL;
         CREATE INDEX test_desc ON appointments (status DESC);",
    )
    .await;
    let duplicates = findings(&db, DUPLICATES).await;
    assert!(
        duplicates.contains(&"test_dup_a = test_dup_b on appointments".to_owned()),
        "{duplicates:?}"
    );
    assert!(
        duplicates
            .iter()
            .any(|f| f.contains("test_dup_unique") && f.contains("ix_users_firebase_uid")),
        "{duplicates:?}"
    );
    assert_eq!(duplicates.len(), 2, "{duplicates:?}");
    let prefixes = findings(&db, PREFIXES).await;
    assert!(
        prefixes.iter().any(|f| f.starts_with("test_prefix < ")),
        "{prefixes:?}"
    );
    assert!(
        !prefixes
            .iter()
            .any(|f| f.starts_with("test_partial") || f.starts_with("test_desc")),
        "a partial index and one in another order are not redundant: {prefixes:?}"
    );
}
