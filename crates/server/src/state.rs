//! Shared application state handed to handlers and middleware, and the concrete service types.

use std::sync::Arc;
use std::time::Instant;

use medico24_appointments::booking::AppointmentService;
use medico24_firebase::FirebaseIdTokenVerifier;
use medico24_identity::IdentityService;
use medico24_jwt::JwtTokens;
use medico24_kernel::SystemClock;
use medico24_postgres::{Database, PgAppointmentRepository, PgUserRepository};
use medico24_redis::{Redis, RedisRateLimiter, RedisSessionStore, RedisUserCache};

use crate::config::Settings;
use crate::metrics::Metrics;

/// The identity service with its production adapters.
pub type Identity = IdentityService<
    PgUserRepository,
    RedisUserCache,
    RedisSessionStore,
    FirebaseIdTokenVerifier<SystemClock>,
    JwtTokens,
    SystemClock,
>;

/// The appointment service with its production adapters.
pub type Appointments = AppointmentService<PgAppointmentRepository, SystemClock>;

/// The pharmacy service with its production adapters.
pub type Pharmacies = medico24_pharmacy::PharmacyService<
    medico24_postgres::PgPharmacyRepository,
    medico24_redis::RedisPharmacyCache,
    SystemClock,
>;

/// The care-directory service (clinics, doctors, associations) with its production adapters.
pub type Directory = medico24_directory::DirectoryService<
    medico24_postgres::PgDirectoryRepository,
    medico24_redis::RedisDirectoryCache,
    SystemClock,
>;

/// The notification service (push tokens, sends, outbox, broadcasts) with its production adapters.
pub type Notifications = medico24_notifications::NotificationService<
    medico24_postgres::PgNotificationRepository,
    medico24_firebase::PushProvider,
    SystemClock,
>;

/// Export, erasure and the read audit over PostgreSQL and Redis.
pub type Privacy = medico24_identity::PrivacyService<
    medico24_postgres::PgPersonalData,
    medico24_redis::RedisPersonalTraces,
    SystemClock,
>;

/// Environment conditions over Google and Redis, one lookup per grid point in flight.
pub type Environment =
    medico24_google::EnvironmentConditions<medico24_redis::RedisConditionsCache, SystemClock>;

/// Everything a request may need; cloned cheaply (all members are handles).
pub struct AppState {
    /// Configuration.
    pub settings: Arc<Settings>,
    /// PostgreSQL pool.
    pub db: Database,
    /// Redis pool.
    pub redis: Redis,
    /// The one outbound HTTP client (rustls, timeouts).
    pub http: reqwest::Client,
    /// Prometheus series.
    pub metrics: Metrics,
    /// When the process started serving (for uptime).
    pub started_at: Instant,
    /// The OpenAPI document, serialized once at startup.
    pub openapi_json: Arc<Vec<u8>>,
    /// Users, login, sessions, tokens.
    pub identity: Arc<Identity>,
    /// Request counters of the rate limiter.
    pub rate_limiter: RedisRateLimiter,
    /// Environment conditions; `None` when `GOOGLE_MAPS_API_KEY` is empty (→ 503).
    pub environment: Option<Environment>,
    /// Admin console statistics (read-only SQL aggregates).
    pub admin_stats: medico24_postgres::PgAdminStats,
    /// The admin statistics answers, each computed once for all the requests waiting for it.
    pub admin_reads: AdminReads,
    /// Bookings and their changes.
    pub appointments: Arc<Appointments>,
    /// Pharmacies, locations, hours, nearby search, their caches.
    pub pharmacies: Arc<Pharmacies>,
    /// Clinics, doctors and their associations, with the detail caches.
    pub directory: Arc<Directory>,
    /// Push tokens, notification sends and history, the outbox consumer, broadcasts.
    pub notifications: Arc<Notifications>,
    /// The open live event streams of this process and the user event log.
    pub events: Arc<crate::events::EventHub>,
    /// Data export, account erasure and the audit of reads of others' personal data.
    pub privacy: Arc<Privacy>,
}

/// Serialized admin statistics answers, coalesced: concurrent requests share one computation.
#[derive(Default)]
pub struct AdminReads {
    /// `GET /api/v1/admin/metrics`.
    pub metrics:
        crate::coalesce::Coalesced<Result<actix_web::web::Bytes, medico24_kernel::PortError>>,
    /// `GET /api/v1/admin/dashboard/stats`.
    pub dashboard:
        crate::coalesce::Coalesced<Result<actix_web::web::Bytes, medico24_kernel::PortError>>,
}
