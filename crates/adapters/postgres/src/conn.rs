//! The checked-out connection every repository uses, and what it does differently behind a
//! transaction pooler (PgBouncer in transaction mode, Neon's pooler).
//!
//! A transaction pooler lends a server connection for one transaction at a time. Two things
//! break there that work on a direct connection:
//! - a statement prepared in one round trip and executed in the next may meet a different
//!   server connection (PgBouncer before 1.21 does not carry prepared statements over), and
//! - a session setting such as `SET statement_timeout` lands on whichever server connection
//!   was lent and then stays with it, for other clients, while this client's next statements
//!   run elsewhere without it.
//!
//! So in [`PoolerMode::Transaction`] a statement run outside an explicit transaction is run
//! inside one of its own (`BEGIN; SET LOCAL statement_timeout …` / statement / `COMMIT`), and
//! every explicit transaction starts with the same `SET LOCAL`: the server connection stays
//! the same from prepare to execute, and the timeout holds and ends with the transaction.
//! Without the pooler's own prepared-statement tracking, that `BEGIN` also clears what other
//! clients left on the server connection ([`CLEAR_STATEMENTS`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::QueryResult;
use diesel::connection::{CacheSize, Instrumentation};
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel_async::pooled_connection::deadpool as dp;
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncConnectionCore, AsyncPgConnection,
    SimpleAsyncConnection, TransactionManager,
};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream};
use futures_util::{FutureExt, StreamExt, TryStreamExt};

/// How connections reach PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoolerMode {
    /// Directly, or through a pooler in session mode: a connection is one server session.
    #[default]
    Session,
    /// Through a transaction pooler: only a transaction keeps its server connection.
    Transaction,
}

/// Appended to every `BEGIN` behind a transaction pooler that does not track prepared
/// statements itself: the server connection may hold statements another client prepared and
/// never closed (its request was cancelled half-way), under the same names the driver gives
/// ours (`s0`, `s1`, … counted per process), and preparing one of those names would fail with
/// "already exists". Clearing them costs no round trip: it travels with the `BEGIN`.
pub(crate) const CLEAR_STATEMENTS: &str = "; DEALLOCATE ALL";

/// What a checked-out connection does around each statement; fixed per pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatementPolicy {
    /// `Some(sql)`: statements outside an explicit transaction run in a transaction begun
    /// with this SQL, and explicit transactions begin with it too.
    pub(crate) begin_sql: Option<Arc<str>>,
}

impl StatementPolicy {
    pub(crate) fn new(
        mode: PoolerMode,
        statement_timeout: Option<Duration>,
        prepared_statements: bool,
    ) -> Self {
        let begin_sql = match mode {
            PoolerMode::Session => None,
            PoolerMode::Transaction => {
                let mut sql = "BEGIN".to_owned();
                if let Some(timeout) = statement_timeout {
                    sql.push_str(&format!(
                        "; SET LOCAL statement_timeout = {}",
                        timeout.as_millis()
                    ));
                }
                if !prepared_statements {
                    sql.push_str(CLEAR_STATEMENTS);
                }
                Some(Arc::from(sql))
            }
        };
        Self { begin_sql }
    }
}

type PooledObject = dp::Object<AsyncPgConnection>;

/// A pooled connection checked out of the [`crate::Database`]; use it as any diesel-async
/// connection (`query.load(&mut conn)`, `conn.transaction(…)`).
pub struct PgConn {
    /// Always `Some` until dropped.
    object: Option<PooledObject>,
    policy: StatementPolicy,
    /// Set while a statement's own transaction is open: if the future running it is dropped
    /// half-way, the connection is still inside that transaction, and must not go back to the
    /// pool.
    in_own_transaction: AtomicBool,
}

impl PgConn {
    pub(crate) fn new(object: PooledObject, policy: StatementPolicy) -> Self {
        Self {
            object: Some(object),
            policy,
            in_own_transaction: AtomicBool::new(false),
        }
    }

    fn inner(&self) -> &AsyncPgConnection {
        // Invariant: `object` is only taken in `drop`.
        match &self.object {
            Some(object) => object,
            None => unreachable_taken(),
        }
    }

    fn inner_mut(&mut self) -> &mut AsyncPgConnection {
        match &mut self.object {
            Some(object) => object,
            None => unreachable_taken(),
        }
    }

    /// The SQL that opens a statement's own transaction, when statements need one here.
    fn own_transaction(&mut self) -> Option<Arc<str>> {
        let begin = self.policy.begin_sql.clone()?;
        let depth =
            <AnsiTransactionManager as TransactionManager<Self>>::transaction_manager_status_mut(
                self,
            )
            .transaction_depth()
            .ok()?;
        depth.is_none().then_some(begin)
    }

    /// A statement's own transaction was left open by a future dropped half-way; the
    /// connection is closed when dropped, and refuses further statements until then.
    fn is_abandoned(&self) -> bool {
        self.in_own_transaction.load(Ordering::Acquire)
    }
}

#[cold]
fn unreachable_taken() -> ! {
    unreachable!("`object` is `None` only inside `Drop::drop`, where no method is called")
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if self.in_own_transaction.load(Ordering::Acquire)
            && let Some(object) = self.object.take()
        {
            // Leave the pool with the half-run transaction: closing the connection ends it.
            drop(dp::Object::take(object));
        }
    }
}

/// Runs `work` inside a transaction begun with `begin`, on the shared connection; rolled back
/// when `work` fails. `flag` marks the span in which dropping the future would leave the
/// transaction open.
async fn in_own_transaction<T>(
    conn: &AsyncPgConnection,
    flag: &AtomicBool,
    begin: &str,
    work: impl Future<Output = QueryResult<T>>,
) -> QueryResult<T> {
    let mut shared = conn;
    flag.store(true, Ordering::Release);
    shared.batch_execute(begin).await?;
    let result = work.await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = shared.batch_execute(end).await;
    flag.store(false, Ordering::Release);
    let value = result?;
    ended?;
    Ok(value)
}

async fn abandoned<T>() -> QueryResult<T> {
    Err(diesel::result::Error::BrokenTransactionManager)
}

impl SimpleAsyncConnection for PgConn {
    async fn batch_execute(&mut self, query: &str) -> QueryResult<()> {
        // Explicit transactions begin with `BEGIN` (diesel's transaction manager); behind a
        // transaction pooler they begin with the policy's SQL instead, which sets the
        // statement timeout for that transaction.
        let rewritten = match &self.policy.begin_sql {
            Some(begin) if query == "BEGIN" => Some(Arc::clone(begin)),
            _ => None,
        };
        let query = rewritten.as_deref().unwrap_or(query);
        self.inner_mut().batch_execute(query).await
    }
}

type Row = <AsyncPgConnection as AsyncConnectionCore>::Row<'static, 'static>;

impl AsyncConnectionCore for PgConn {
    type ExecuteFuture<'conn, 'query> = BoxFuture<'conn, QueryResult<usize>>;
    type LoadFuture<'conn, 'query> = BoxFuture<'conn, QueryResult<Self::Stream<'conn, 'query>>>;
    type Stream<'conn, 'query> = BoxStream<'static, QueryResult<Row>>;
    type Row<'conn, 'query> = Row;
    type Backend = diesel::pg::Pg;

    fn load<'conn, 'query, T>(&'conn mut self, source: T) -> Self::LoadFuture<'conn, 'query>
    where
        T: AsQuery + 'query,
        T::Query: QueryFragment<Self::Backend> + QueryId + 'query,
    {
        if self.is_abandoned() {
            return abandoned().boxed();
        }
        match self.own_transaction() {
            None => AsyncConnectionCore::load(self.inner_mut(), source),
            Some(begin) => {
                let this: &'conn Self = self;
                let conn = this.inner();
                // Built now (the query is only borrowed for this call), sent when polled:
                // after BEGIN, on the same connection.
                let load = AsyncConnectionCore::load(&mut &*conn, source);
                async move {
                    let rows = in_own_transaction(conn, &this.in_own_transaction, &begin, async {
                        load.await?.try_collect::<Vec<_>>().await
                    })
                    .await?;
                    Ok(stream::iter(rows.into_iter().map(Ok)).boxed())
                }
                .boxed()
            }
        }
    }

    fn execute_returning_count<'conn, 'query, T>(
        &'conn mut self,
        source: T,
    ) -> Self::ExecuteFuture<'conn, 'query>
    where
        T: QueryFragment<Self::Backend> + QueryId + 'query,
    {
        if self.is_abandoned() {
            return abandoned().boxed();
        }
        match self.own_transaction() {
            None => self.inner_mut().execute_returning_count(source),
            Some(begin) => {
                let this: &'conn Self = self;
                let conn = this.inner();
                let execute = AsyncConnectionCore::execute_returning_count(&mut &*conn, source);
                async move {
                    in_own_transaction(conn, &this.in_own_transaction, &begin, execute).await
                }
                .boxed()
            }
        }
    }
}

impl AsyncConnection for PgConn {
    type TransactionManager = AnsiTransactionManager;

    async fn establish(_database_url: &str) -> diesel::ConnectionResult<Self> {
        Err(diesel::ConnectionError::BadConnection(
            "a pooled connection comes from Database::conn".to_owned(),
        ))
    }

    fn transaction_state(&mut self) -> &mut AnsiTransactionManager {
        self.inner_mut().transaction_state()
    }

    fn instrumentation(&mut self) -> &mut dyn Instrumentation {
        self.inner_mut().instrumentation()
    }

    fn set_instrumentation(&mut self, instrumentation: impl Instrumentation) {
        self.inner_mut().set_instrumentation(instrumentation);
    }

    fn set_prepared_statement_cache_size(&mut self, size: CacheSize) {
        self.inner_mut().set_prepared_statement_cache_size(size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_transaction_pooler_wraps_statements() {
        assert_eq!(
            StatementPolicy::new(PoolerMode::Session, Some(Duration::from_secs(15)), false)
                .begin_sql,
            None
        );
        assert_eq!(
            StatementPolicy::new(
                PoolerMode::Transaction,
                Some(Duration::from_millis(1500)),
                false
            )
            .begin_sql
            .as_deref(),
            Some("BEGIN; SET LOCAL statement_timeout = 1500; DEALLOCATE ALL")
        );
        assert_eq!(
            StatementPolicy::new(PoolerMode::Transaction, None, true)
                .begin_sql
                .as_deref(),
            Some("BEGIN")
        );
    }
}
