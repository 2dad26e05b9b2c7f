//! `spawn_app`: the real server on port 0 with its own database, Redis prefix and fakes.

use std::collections::HashMap;

use actix_web::dev::ServerHandle;
use actix_web::web;
use medico24_server::state::AppState;
use medico24_server::{Application, Settings};

use crate::{FakeFirebase, FakeGoogle, TestDb, TestRedis};

/// A running server and everything it talks to.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The bound port.
    pub port: u16,
    /// The application's own database.
    pub db: TestDb,
    /// The application's Redis namespace.
    pub redis: TestRedis,
    /// Google fake.
    pub google: FakeGoogle,
    /// Firebase fake.
    pub firebase: FakeFirebase,
    /// Shared state of the running app (metrics, pools).
    pub state: web::Data<AppState>,
    /// HTTP client for calling the app (no redirects followed).
    pub client: reqwest::Client,
    /// The settings the app was built with.
    pub settings: Settings,
    handle: ServerHandle,
}

impl TestApp {
    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET request")
    }

    /// Drops the cached row of user `id` (tests that change users behind the app's back).
    pub async fn redis_flush_user(&self, id: &str) {
        use redis::AsyncCommands;
        let mut conn = self.redis.connection().await;
        let _: () = conn
            .del(format!("{}v2:user:{id}", self.redis.prefix()))
            .await
            .expect("deleting cached user");
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&self) {
        self.state.events.shutdown();
        self.handle.stop(true).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the database is dropped (with FORCE) right after.
        self.state.events.shutdown();
        drop(self.handle.stop(false));
    }
}

/// The variables every test app starts from.
fn base_vars(
    db: &TestDb,
    redis: &TestRedis,
    google: &FakeGoogle,
    firebase: &FakeFirebase,
) -> HashMap<String, String> {
    let log_level = std::env::var("TEST_LOG").unwrap_or_else(|_| "off".to_owned());
    [
        ("ENVIRONMENT", "test".to_owned()),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("HTTP_WORKERS", "2".to_owned()),
        ("DATABASE_URL", db.url().to_owned()),
        ("DATABASE_POOL_SIZE", "5".to_owned()),
        ("REDIS_URL", redis.url().to_owned()),
        ("REDIS_POOL_SIZE", "4".to_owned()),
        ("REDIS_KEY_PREFIX", redis.prefix().to_owned()),
        (
            "JWT_SECRET_KEY",
            "test-access-key-0123456789abcdef0123456789".to_owned(),
        ),
        (
            "JWT_REFRESH_SECRET_KEY",
            "test-refresh-key-0123456789abcdef012345678".to_owned(),
        ),
        (
            "ADMIN_NOTIFICATION_SECRET",
            "test-admin-secret-0123456789abcdef0123456".to_owned(),
        ),
        ("FIREBASE_PROJECT_ID", "medico24-test".to_owned()),
        ("FIREBASE_CERTS_URL", firebase.certs_url()),
        ("GOOGLE_OAUTH_TOKEN_URL", firebase.token_url()),
        ("FCM_BASE_URL", firebase.fcm_base_url()),
        ("GOOGLE_AIR_QUALITY_URL", google.air_quality_url()),
        ("GOOGLE_WEATHER_URL", google.weather_url()),
        ("CORS_ORIGINS", "http://localhost:3000".to_owned()),
        ("SHUTDOWN_TIMEOUT_SECONDS", "5".to_owned()),
        // Background workers off: a test drives them with `medico24_server::workers::run_once`
        // (or turns them on) so what it observes is deterministic.
        ("WORKERS_ENABLED", "false".to_owned()),
        // No appointment reminders: the tests of other capabilities count a booking's outbox
        // rows; the reminder tests turn them on with `REMINDER_OFFSETS`.
        ("REMINDER_OFFSETS", "none".to_owned()),
        ("LOG_LEVEL", log_level),
        ("LOG_FORMAT", "json".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Spawns the app with the test defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after `customize` adjusts its environment variables.
pub async fn spawn_app_with(customize: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    spawn_app_with_db(TestDb::new().await, customize).await
}

/// Spawns the app on a database the test created itself (e.g. to point `DATABASE_URL` at a
/// [`FaultProxy`](crate::FaultProxy) in front of `db` from `customize`); `TestApp::db` is `db`.
pub async fn spawn_app_with_db(
    db: TestDb,
    customize: impl FnOnce(&mut HashMap<String, String>),
) -> TestApp {
    let redis = TestRedis::new();
    let google = FakeGoogle::start().await;
    let firebase = FakeFirebase::start().await;
    let mut vars = base_vars(&db, &redis, &google, &firebase);
    customize(&mut vars);
    let settings = Settings::from_vars(&vars).unwrap_or_else(|e| panic!("test settings: {e}"));
    medico24_server::telemetry::init(&settings.log_level, settings.log_format);
    let app = Application::build(settings.clone()).expect("building the app");
    let port = app.port();
    let state = app.state();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("test client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db,
        redis,
        google,
        firebase,
        state,
        client,
        settings,
        handle,
    }
}
