//! Building the application from settings: adapters, state, the HTTP server on a bound listener.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use medico24_firebase::{
    CallObserver, FcmConfig, FcmPushSender, FirebaseIdTokenVerifier, IdTokenVerifierConfig,
    PushProvider, ServiceAccount, TokioSleeper,
};
use medico24_identity::IdentityService;
use medico24_jwt::JwtTokens;
use medico24_kernel::SystemClock;
use medico24_postgres::{Database, PgUserRepository};
use medico24_redis::{Redis, RedisRateLimiter, RedisSessionStore, RedisUserCache};

use crate::config::Settings;
use crate::http::{self, middleware};
use crate::metrics::Metrics;
use crate::openapi;
use crate::state::AppState;

/// Timeout of every outbound HTTP call.
const OUTBOUND_TIMEOUT: Duration = Duration::from_secs(10);

/// Timeout of one FCM send or OAuth2 token request.
const FCM_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a read waits for a connection to the read replica before reading from the primary.
const REPLICA_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A built, bound, not yet running application.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Builds adapters and binds `HOST:PORT` (port 0 picks a free one). Nothing is contacted:
    /// the service starts while PostgreSQL, Redis or Google are down.
    ///
    /// # Errors
    /// When the listener cannot be bound or a pool cannot be configured.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let metrics = Metrics::new().context("registering metrics")?;
        let wait_histogram = metrics.db_pool_wait.clone();
        // The HTTP server gets exactly this many workers, and the pool one shard per worker,
        // so requests use connections driven on their own thread. Without `HTTP_WORKERS`,
        // one per CPU (actix-web's own default).
        let http_workers = settings.http_workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        });
        let database = &settings.database;
        let mut db = Database::connect_lazy_for_workers(
            &database.pool_config(
                &database.url,
                settings.database_pool_size,
                settings.database_pool_timeout,
                settings.database_statement_timeout,
            ),
            http_workers,
        )
        .context("configuring the database pool")?
        .with_wait_observer(Arc::new(move |waited| {
            wait_histogram.observe(waited.as_secs_f64())
        }));
        if let Some(read_url) = &database.read_url {
            // A replica that is down should cost a read little: it is given up on quickly,
            // and the read goes to the primary.
            let replica = Database::connect_lazy_for_workers(
                &database.pool_config(
                    read_url,
                    settings.database_pool_size,
                    settings.database_pool_timeout.min(REPLICA_CONNECT_TIMEOUT),
                    settings.database_statement_timeout,
                ),
                http_workers,
            )
            .context("configuring the read replica pool")?;
            let fallbacks = metrics.db_replica_fallbacks.clone();
            db = db.with_replica(
                replica,
                database.read_max_lag,
                Some(Arc::new(
                    move |reason: medico24_postgres::ReplicaFallback| {
                        fallbacks.with_label_values(&[reason.as_str()]).inc();
                    },
                )),
            );
        }
        let redis = Redis::connect_lazy(&settings.redis.pool_config(settings.redis.pool_size))
            .context("configuring the redis pool")?;
        let http_client = reqwest::Client::builder()
            .timeout(OUTBOUND_TIMEOUT)
            .connect_timeout(OUTBOUND_TIMEOUT)
            .user_agent(concat!("medico24/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let openapi_json =
            serde_json::to_vec(&openapi::document(&settings)).context("serializing OpenAPI")?;
        let identity = build_identity(&settings, &db, &redis, &http_client, &metrics);
        let rate_limiter = RedisRateLimiter::new(redis.clone());
        let environment = build_environment(&settings, &redis, &http_client, &metrics)?;
        let admin_stats = medico24_postgres::PgAdminStats::new(db.clone());
        let event_log = medico24_redis::RedisEvents::new(
            redis.clone(),
            settings.redis.pool_config(1),
            settings.events.retention,
        );
        let events = Arc::new(crate::events::EventHub::new(
            event_log.clone(),
            settings.events.clone(),
            metrics.event_streams_open.clone(),
        ));
        let privacy = Arc::new(medico24_identity::PrivacyService::new(
            medico24_postgres::PgPersonalData::new(db.clone()),
            medico24_redis::RedisPersonalTraces::new(
                RedisSessionStore::new(redis.clone()),
                RedisUserCache::new(redis.clone(), settings.cache_ttls.user, None),
                event_log.clone(),
            ),
            SystemClock,
            settings.erasure_grace,
        ));
        let publisher = Arc::new(crate::events::EventPublisher::new(
            event_log,
            medico24_postgres::PgNotificationRepository::new(db.clone()),
            metrics.event_publish_failures.clone(),
        ));
        let scheduled = metrics.reminders_scheduled.clone();
        let appointments = Arc::new(
            medico24_appointments::booking::AppointmentService::new(
                medico24_postgres::PgAppointmentRepository::new(db.clone()),
                SystemClock,
                settings.default_timezone,
            )
            .with_events(publisher.clone())
            .with_reminders(
                settings.reminder_offsets.clone(),
                Some(Arc::new(move |count| scheduled.inc_by(count))),
            ),
        );

        let pharmacy_cache_requests = metrics.cache_requests.clone();
        let pharmacies = Arc::new(medico24_pharmacy::PharmacyService::new(
            medico24_postgres::PgPharmacyRepository::new(db.clone()),
            medico24_redis::RedisPharmacyCache::new(
                redis.clone(),
                settings.cache_ttls.pharmacy,
                settings.cache_ttls.pharmacy_list,
                Some(Arc::new(move |cache, result| {
                    pharmacy_cache_requests
                        .with_label_values(&[cache, result])
                        .inc()
                })),
            ),
            SystemClock,
        ));

        let directory_cache_requests = metrics.cache_requests.clone();
        let directory = Arc::new(medico24_directory::DirectoryService::new(
            medico24_postgres::PgDirectoryRepository::new(db.clone()),
            medico24_redis::RedisDirectoryCache::new(
                redis.clone(),
                medico24_redis::DirectoryCacheTtls {
                    clinic: settings.cache_ttls.clinic,
                    doctor: settings.cache_ttls.doctor,
                },
                Some(Arc::new(move |cache, result| {
                    directory_cache_requests
                        .with_label_values(&[cache, result])
                        .inc()
                })),
            ),
            SystemClock,
        ));

        let sent_counter = metrics.notifications_sent.clone();
        let notifications = Arc::new(
            medico24_notifications::NotificationService::new(
                medico24_postgres::PgNotificationRepository::new(db.clone()),
                push_provider(&settings, &http_client, &metrics),
                SystemClock,
                Some(Arc::new(
                    move |outcome: medico24_notifications::SendMetric, count| {
                        sent_counter
                            .with_label_values(&[outcome.as_str()])
                            .inc_by(count)
                    },
                )),
            )
            .with_events(publisher)
            .with_reminder_observer(reminder_observer(&metrics)),
        );

        let state = web::Data::new(AppState {
            settings: Arc::clone(&settings),
            db,
            redis,
            http: http_client,
            metrics,
            started_at: Instant::now(),
            openapi_json: Arc::new(openapi_json),
            identity: Arc::new(identity),
            rate_limiter,
            environment,
            admin_stats,
            admin_reads: crate::state::AdminReads::default(),
            appointments,
            pharmacies,
            directory,
            notifications,
            events,
            privacy,
        });

        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();

        let app_state = state.clone();
        let prefix = settings.api_prefix.clone();
        let max_body = settings.max_request_body_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .configure(|cfg| http::configure(cfg, &prefix, max_body))
                .default_service(web::to(http::not_found))
                .wrap(from_fn(middleware::guard))
                .wrap(from_fn(middleware::cors))
                .wrap(from_fn(middleware::edge))
        })
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .disable_signals();
        server = server.workers(http_workers);
        let server = server
            .listen(listener)
            .context("starting the HTTP server")?
            .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared state (tests inspect metrics and pools through it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through a [`ServerHandle`].
    ///
    /// # Errors
    /// When the server fails while running.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let workers = self
            .state
            .settings
            .workers_enabled
            .then(|| crate::workers::Workers::start(self.state.clone()));
        let listener = tokio::spawn(Arc::clone(&self.state.events).run_listener());
        let result = self.server.await;
        // Streams were told to close before the server stopped (`EventHub::shutdown`); this
        // also ends the listener when the server stopped some other way.
        self.state.events.shutdown();
        let _ = listener.await;
        // Background work finishes its current item before the pool closes.
        if let Some(workers) = workers {
            workers.shutdown().await;
        }
        self.state.db.close();
        result
    }
}

/// The identity service over its production adapters.
fn build_identity(
    settings: &Settings,
    db: &Database,
    redis: &Redis,
    http_client: &reqwest::Client,
    metrics: &Metrics,
) -> crate::state::Identity {
    let external = metrics.external_duration.clone();
    let cache_requests = metrics.cache_requests.clone();
    let mut verifier_config = IdTokenVerifierConfig::new(
        settings.firebase_project_id.clone(),
        settings.firebase_certs_url.clone(),
    );
    verifier_config.emulator = settings.firebase_auth_emulator_host.is_some();
    let verifier = FirebaseIdTokenVerifier::new(
        verifier_config,
        http_client.clone(),
        SystemClock,
        Some(Arc::new(move |outcome, elapsed| {
            external
                .with_label_values(&["firebase_certs", outcome.as_str()])
                .observe(elapsed.as_secs_f64());
        })),
    );
    let tokens = JwtTokens::new(
        settings.jwt_secret_key.expose(),
        settings.jwt_refresh_secret_key.expose(),
        settings.access_token_ttl,
        settings.refresh_token_ttl,
    );
    IdentityService::new(
        PgUserRepository::new(db.clone()),
        RedisUserCache::new(
            redis.clone(),
            settings.cache_ttls.user,
            Some(Arc::new(move |cache, result| {
                cache_requests.with_label_values(&[cache, result]).inc()
            })),
        ),
        RedisSessionStore::new(redis.clone()),
        verifier,
        tokens,
        SystemClock,
    )
}

/// FCM when `FIREBASE_CONFIG_JSON`/`FIREBASE_CREDENTIALS_PATH` holds a usable service account;
/// disabled without one. An unusable account (missing fields, bad key) is logged and leaves
/// sending disabled rather than stopping the service.
fn push_provider(settings: &Settings, http: &reqwest::Client, metrics: &Metrics) -> PushProvider {
    let Some(json) = &settings.firebase_service_account else {
        return PushProvider::Disabled;
    };
    let account = match ServiceAccount::from_json(json.expose()) {
        Ok(account) => account,
        Err(error) => {
            tracing::error!(%error, "the Firebase service account is unusable; push sending is disabled");
            return PushProvider::Disabled;
        }
    };
    let mut config = FcmConfig::new(settings.fcm_base_url.clone());
    config
        .token_url
        .clone_from(&settings.google_oauth_token_url);
    config.concurrency = settings.fcm_concurrency;
    config.max_retries = settings.fcm_max_retries;
    config.request_timeout = FCM_REQUEST_TIMEOUT;
    config.backoff_base = settings.fcm_backoff_base;
    let external = metrics.external_duration.clone();
    let observer: CallObserver = Arc::new(move |service, outcome, elapsed| {
        external
            .with_label_values(&[service, outcome.as_str()])
            .observe(elapsed.as_secs_f64());
    });
    PushProvider::Fcm(FcmPushSender::new(
        account,
        config,
        http.clone(),
        SystemClock,
        TokioSleeper,
        Some(observer),
    ))
}

/// The environment conditions over Google and Redis, or `None` without `GOOGLE_MAPS_API_KEY`.
///
/// # Errors
/// When a Google URL is not an absolute http(s) URL (the message names the variable).
fn build_environment(
    settings: &Settings,
    redis: &Redis,
    http_client: &reqwest::Client,
    metrics: &Metrics,
) -> anyhow::Result<Option<crate::state::Environment>> {
    let Some(key) = &settings.google_maps_api_key else {
        return Ok(None);
    };
    let external = metrics.external_duration.clone();
    let cache_requests = metrics.cache_requests.clone();
    let provider = medico24_google::GoogleConditions::new(
        medico24_google::GoogleConfig {
            api_key: key.expose().to_owned(),
            air_quality_url: settings.google_air_quality_url.clone(),
            weather_url: settings.google_weather_url.clone(),
            timeout: settings.google_timeout,
        },
        http_client.clone(),
        Some(Arc::new(move |service, outcome, elapsed| {
            external
                .with_label_values(&[service, outcome.as_str()])
                .observe(elapsed.as_secs_f64());
        })),
    )?;
    let cache = medico24_redis::RedisConditionsCache::new(
        redis.clone(),
        settings.cache_ttls.env_fresh,
        settings.cache_ttls.env_stale,
        Some(Arc::new(move |cache, result| {
            cache_requests.with_label_values(&[cache, result]).inc()
        })),
    );
    let service = medico24_environment::EnvironmentService::new(
        provider,
        cache,
        SystemClock,
        medico24_environment::FreshnessPolicy::new(
            settings.cache_ttls.env_fresh,
            settings.cache_ttls.env_stale,
        ),
    );
    Ok(Some(medico24_google::EnvironmentConditions::new(service)))
}

/// Reminder outcomes into `medico24_reminders_sent_total`, `…_skipped_total{reason}` and
/// `medico24_reminder_lag_seconds`.
fn reminder_observer(metrics: &Metrics) -> medico24_notifications::ReminderObserver {
    let (sent, skipped, lag) = (
        metrics.reminders_sent.clone(),
        metrics.reminders_skipped.clone(),
        metrics.reminder_lag.clone(),
    );
    Arc::new(move |metric| match metric {
        medico24_notifications::ReminderMetric::Sent { lag_seconds } => {
            sent.inc();
            lag.observe(lag_seconds);
        }
        medico24_notifications::ReminderMetric::Skipped(reason) => {
            skipped.with_label_values(&[reason.as_str()]).inc();
        }
    })
}
