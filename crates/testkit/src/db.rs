//! One database per test, created from a template that is migrated once per set of migrations
//! (shared by every test process of a run, and by later runs while the migrations are unchanged).

use std::path::PathBuf;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::test_database_url;

/// Advisory lock taken while a template is built, so parallel test processes build it once.
const TEMPLATE_LOCK_KEY: i64 = 0x7465_6d70_6c61_7465; // "template"

/// A database that exists for one test and is dropped when this value is.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDb {
    /// A fresh, fully migrated database.
    pub async fn new() -> Self {
        let admin_url = test_database_url();
        let template = ensure_template(&admin_url).await;
        let name = format!("medico24_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect(&admin_url).await;
        let mut attempt = 0;
        loop {
            // Concurrent clones of one template can collide briefly; retry.
            match admin
                .batch_execute(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                ))
                .await
            {
                Ok(()) => break,
                Err(error) if attempt < 20 => {
                    attempt += 1;
                    tracing_sleep(attempt, &error.to_string()).await;
                }
                Err(error) => panic!("creating test database {name}: {error}"),
            }
        }
        let url = database_url_for(&admin_url, &name);
        Self {
            name,
            url,
            admin_url,
        }
    }

    /// An empty database without any migration (for migration tests).
    pub async fn empty() -> Self {
        let admin_url = test_database_url();
        let name = format!("medico24_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect(&admin_url).await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("creating empty database {name}: {e}"));
        let url = database_url_for(&admin_url, &name);
        Self {
            name,
            url,
            admin_url,
        }
    }

    /// Connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool of at most `max_connections` on this database, as the application builds one
    /// (10 s waits, no statement timeout), for repository-level tests.
    pub fn pool(&self, max_connections: usize) -> medico24_postgres::Database {
        medico24_postgres::Database::connect_lazy(&medico24_postgres::DatabaseConfig {
            url: self.url.clone(),
            pooler: medico24_postgres::PoolerMode::Session,
            prepared_statements: true,
            max_connections,
            wait_timeout: std::time::Duration::from_secs(10),
            connect_timeout: std::time::Duration::from_secs(10),
            statement_timeout: None,
        })
        .expect("a pool for the test database")
    }

    /// A direct connection (outside the application's pool).
    pub async fn connect(&self) -> AsyncPgConnection {
        connect(&self.url).await
    }

    /// Runs SQL statements (fixtures, checks).
    pub async fn execute(&self, sql: &str) {
        let mut conn = self.connect().await;
        conn.batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("executing {sql:?}: {e}"));
    }

    /// Runs `SELECT count(*) FROM …`-style queries returning one bigint named `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.connect().await;
        diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("querying {sql:?}: {e}"))
            .n
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside async context; use a private runtime on a helper thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut admin = AsyncPgConnection::establish(&admin_url).await.ok()?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        drop(dropped);
    }
}

async fn tracing_sleep(attempt: u32, _error: &str) {
    tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
}

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", redact(url)))
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The same server URL with another database name.
pub fn database_url_for(base: &str, database: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (base, None),
    };
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    let path_start = without_query[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end);
    let server = path_start.map_or(without_query, |i| &without_query[..i]);
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// FNV-1a over the migration files, so a changed migration gets a new template.
fn migrations_fingerprint() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir];
    while let Some(path) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "sql") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for byte in file.to_string_lossy().bytes().chain(bytes) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

async fn exists(conn: &mut AsyncPgConnection, name: String) -> bool {
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(name)
        .get_result::<Exists>(conn)
        .await
        .map(|e| e.n > 0)
        .unwrap_or(false)
}

async fn ensure_template(admin_url: &str) -> String {
    let template = format!("medico24_tpl_{}", migrations_fingerprint());
    let mut admin = connect(admin_url).await;
    if exists(&mut admin, template.clone()).await {
        return template;
    }
    admin
        .batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})"))
        .await
        .expect("taking the template lock");
    if !exists(&mut admin, template.clone()).await {
        let building = format!("{template}_building");
        // One statement per call: DROP/CREATE DATABASE cannot run in a (multi-statement) block.
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .await
            .expect("dropping a half-built template");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{building}\""))
            .await
            .expect("creating the template database");
        let building_url = database_url_for(admin_url, &building);
        medico24_postgres::run_migrations(&building_url)
            .await
            .unwrap_or_else(|e| panic!("migrating the template database: {e}"));
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
            ))
            .await
            .expect("publishing the template database");
    }
    admin
        .batch_execute(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})"))
        .await
        .expect("releasing the template lock");
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            database_url_for("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url_for("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            database_url_for("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://***@h/db");
    }
}
