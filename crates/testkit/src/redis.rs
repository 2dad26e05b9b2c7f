//! A random Redis key prefix per test, cleaned up when the test ends.

use redis::{self, AsyncCommands};

use crate::test_redis_url;

/// A key namespace in the shared test Redis.
#[derive(Debug, Clone)]
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    /// A fresh namespace.
    pub fn new() -> Self {
        Self {
            url: test_redis_url(),
            prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix of this test.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A direct connection for assertions.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connecting to the test redis")
    }

    /// Every key of this test's namespace (test-only: uses SCAN).
    pub async fn keys(&self) -> Vec<String> {
        let mut conn = self.connection().await;
        let mut keys: Vec<String> = Vec::new();
        let mut iter: redis::AsyncIter<'_, String> = conn
            .scan_match(format!("{}*", self.prefix))
            .await
            .expect("scan");
        while let Some(key) = iter.next_item().await {
            keys.push(key.expect("scan item"));
        }
        keys
    }
}

impl Default for TestRedis {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let url = self.url.clone();
        let pattern = format!("{}*", self.prefix);
        // Drop runs outside async context; clean up on a helper thread with its own runtime.
        let cleaned = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let client = redis::Client::open(url.as_str()).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                let mut keys: Vec<String> = Vec::new();
                if let Ok(mut iter) = conn.scan_match::<_, String>(pattern).await {
                    while let Some(Ok(key)) = iter.next_item().await {
                        keys.push(key);
                    }
                }
                if !keys.is_empty() {
                    let _: Result<(), _> = conn.del(keys).await;
                }
                Some(())
            })
        })
        .join();
        drop(cleaned);
    }
}
