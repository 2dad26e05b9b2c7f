//! The clinic and doctor detail caches (`v2:clinic:{id}`, `v2:doctor:{id}`): the
//! Clinic and Doctor JSON representations (the domain types serialize to exactly
//! those), cache-aside with their own TTLs, failing open so a Redis outage only costs database
//! reads.

use std::time::Duration;

use medico24_directory::{Clinic, DirectoryCache, Doctor};
use medico24_kernel::{ClinicId, DoctorId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Redis, RedisError};
use crate::exec::{bounded, ttl_secs};
use crate::metrics::{CacheObserver, RESULT_ERROR, RESULT_HIT, RESULT_MISS, report};

/// The `cache` label of the clinic cache.
const CLINIC_CACHE: &str = "clinic";
/// The `cache` label of the doctor cache.
const DOCTOR_CACHE: &str = "doctor";

/// TTLs of the two caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryCacheTtls {
    /// `CLINIC_CACHE_TTL_SECONDS` (at least one second).
    pub clinic: Duration,
    /// `DOCTOR_CACHE_TTL_SECONDS` (at least one second).
    pub doctor: Duration,
}

/// [`DirectoryCache`] over Redis strings.
///
/// Errors never reach the caller: a failed or unreadable read is a miss, a failed write or
/// invalidation is skipped. Each is logged at `warn` with the id only (never the value) and
/// reported as `error` to the observer, which also hears every `hit` and `miss`.
#[derive(Clone)]
pub struct RedisDirectoryCache {
    redis: Redis,
    ttls: DirectoryCacheTtls,
    observer: Option<CacheObserver>,
}

impl std::fmt::Debug for RedisDirectoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDirectoryCache")
            .field("redis", &self.redis)
            .field("ttls", &self.ttls)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl RedisDirectoryCache {
    /// Caches in `redis` with `ttls`, reporting outcomes to `observer` when given.
    pub fn new(redis: Redis, ttls: DirectoryCacheTtls, observer: Option<CacheObserver>) -> Self {
        Self {
            redis,
            ttls,
            observer,
        }
    }

    /// The full key of clinic `id` (prefix included).
    pub fn clinic_key(&self, id: ClinicId) -> String {
        self.redis.key(&format!("v2:clinic:{id}"))
    }

    /// The full key of doctor `id` (prefix included).
    pub fn doctor_key(&self, id: DoctorId) -> String {
        self.redis.key(&format!("v2:doctor:{id}"))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        cache: &'static str,
        key: String,
        id: &str,
    ) -> Option<T> {
        let cached = bounded(&self.redis, async move |conn| {
            let value: Option<String> = redis::cmd("GET").arg(&key).query_async(conn).await?;
            Ok::<_, RedisError>(value)
        })
        .await;
        let json = match cached {
            Ok(Some(json)) => json,
            Ok(None) => {
                report(self.observer.as_ref(), cache, RESULT_MISS);
                return None;
            }
            Err(error) => {
                tracing::warn!(cache, resource.id = id, error = %error, "directory cache read failed");
                report(self.observer.as_ref(), cache, RESULT_ERROR);
                return None;
            }
        };
        match serde_json::from_str::<T>(&json) {
            Ok(value) => {
                report(self.observer.as_ref(), cache, RESULT_HIT);
                Some(value)
            }
            Err(error) => {
                // The message could quote stored values, so only its category and position.
                tracing::warn!(
                    cache,
                    resource.id = id,
                    error.category = ?error.classify(),
                    error.line = error.line(),
                    error.column = error.column(),
                    "directory cache holds an unreadable value"
                );
                report(self.observer.as_ref(), cache, RESULT_ERROR);
                None
            }
        }
    }

    async fn put<T: Serialize>(
        &self,
        cache: &'static str,
        key: String,
        id: &str,
        value: &T,
        ttl: Duration,
    ) {
        let json = match serde_json::to_string(value) {
            Ok(json) => json,
            Err(error) => {
                tracing::warn!(cache, resource.id = id, error.category = ?error.classify(), "directory cache could not encode a value");
                report(self.observer.as_ref(), cache, RESULT_ERROR);
                return;
            }
        };
        let ttl = ttl_secs(ttl);
        let written = bounded(&self.redis, async move |conn| {
            let () = redis::cmd("SET")
                .arg(&key)
                .arg(json)
                .arg("EX")
                .arg(ttl)
                .query_async(conn)
                .await?;
            Ok::<_, RedisError>(())
        })
        .await;
        if let Err(error) = written {
            tracing::warn!(cache, resource.id = id, error = %error, "directory cache write skipped");
            report(self.observer.as_ref(), cache, RESULT_ERROR);
        }
    }

    async fn delete(&self, cache: &'static str, key: String, id: &str) {
        let deleted = bounded(&self.redis, async move |conn| {
            let _: i64 = redis::cmd("DEL").arg(&key).query_async(conn).await?;
            Ok::<_, RedisError>(())
        })
        .await;
        if let Err(error) = deleted {
            tracing::warn!(cache, resource.id = id, error = %error, "directory cache invalidation skipped");
            report(self.observer.as_ref(), cache, RESULT_ERROR);
        }
    }
}

impl DirectoryCache for RedisDirectoryCache {
    async fn clinic(&self, id: ClinicId) -> Option<Clinic> {
        self.get(CLINIC_CACHE, self.clinic_key(id), &id.to_string())
            .await
    }

    async fn put_clinic(&self, clinic: &Clinic) {
        let id = clinic.id;
        self.put(
            CLINIC_CACHE,
            self.clinic_key(id),
            &id.to_string(),
            clinic,
            self.ttls.clinic,
        )
        .await;
    }

    async fn invalidate_clinic(&self, id: ClinicId) {
        self.delete(CLINIC_CACHE, self.clinic_key(id), &id.to_string())
            .await;
    }

    async fn doctor(&self, id: DoctorId) -> Option<Doctor> {
        self.get(DOCTOR_CACHE, self.doctor_key(id), &id.to_string())
            .await
    }

    async fn put_doctor(&self, doctor: &Doctor) {
        let id = doctor.id;
        self.put(
            DOCTOR_CACHE,
            self.doctor_key(id),
            &id.to_string(),
            doctor,
            self.ttls.doctor,
        )
        .await;
    }

    async fn invalidate_doctor(&self, id: DoctorId) {
        self.delete(DOCTOR_CACHE, self.doctor_key(id), &id.to_string())
            .await;
    }
}
