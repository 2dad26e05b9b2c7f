//! Sessions written before the hash-tagged layout (`v2:auth:session:<sid>` hashes and
//! `v2:auth:user_sessions:<user_id>` sets, whose two keys a Redis Cluster cannot serve in one
//! script): moved into the current layout when their refresh token is next used, found by
//! logout, and removed with the rest. Each step is a one-key command, so this works on a single
//! server (where such keys exist after an upgrade) and harmlessly finds nothing on a cluster.
//!
//! The old keys expire by themselves within `REFRESH_TOKEN_EXPIRE_DAYS` of the upgrade; after
//! that this module has nothing left to do and can be removed.

use std::collections::HashMap;
use std::time::Duration;

use medico24_identity::{PortError, Session, SessionStore};
use medico24_kernel::UserId;

use super::{RedisSessionStore, parse_session};
use crate::client::RedisError;
use crate::exec::{bounded, unavailable};

impl RedisSessionStore {
    fn legacy_session_key(&self, sid: uuid::Uuid) -> String {
        self.redis.key(&format!("v2:auth:session:{sid}"))
    }

    fn legacy_user_key(&self, user_id: UserId) -> String {
        self.redis.key(&format!("v2:auth:user_sessions:{user_id}"))
    }

    /// The old-layout session `sid` when it belongs to `user_id`, with its remaining lifetime
    /// in seconds.
    async fn legacy(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
    ) -> Result<Option<(Session, i64)>, PortError> {
        let key = self.legacy_session_key(sid);
        let (fields, ttl_ms): (HashMap<String, String>, i64) =
            bounded(&self.redis, async move |conn| {
                let fields: HashMap<String, String> =
                    redis::cmd("HGETALL").arg(&key).query_async(conn).await?;
                let ttl_ms: i64 = redis::cmd("PTTL").arg(&key).query_async(conn).await?;
                Ok::<_, RedisError>((fields, ttl_ms))
            })
            .await
            .map_err(unavailable)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let session = parse_session(sid, &fields)?;
        if session.user_id != user_id {
            return Ok(None);
        }
        // No expiry (-1) cannot come from the old code; treat it as a day, like a fresh one.
        let ttl_secs = if ttl_ms > 0 {
            (ttl_ms / 1000).max(1)
        } else {
            86_400
        };
        Ok(Some((session, ttl_secs)))
    }

    /// The old-layout session `sid` of `user_id`, if any (for logout).
    pub(super) async fn find_legacy(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
    ) -> Result<Option<Session>, PortError> {
        Ok(self.legacy(sid, user_id).await?.map(|(session, _)| session))
    }

    /// Moves the old-layout session `sid` of `user_id` into the current layout, keeping its
    /// token id and remaining lifetime; `true` when there was one.
    pub(super) async fn adopt_legacy(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
    ) -> Result<bool, PortError> {
        let Some((session, ttl_secs)) = self.legacy(sid, user_id).await? else {
            return Ok(false);
        };
        let ttl = Duration::from_secs(u64::try_from(ttl_secs).unwrap_or(86_400));
        SessionStore::create(self, &session, ttl).await?;
        self.forget_legacy(sid, user_id).await?;
        Ok(true)
    }

    /// Deletes the old-layout session `sid` of `user_id` (one-key commands).
    pub(super) async fn forget_legacy(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
    ) -> Result<(), PortError> {
        let session_key = self.legacy_session_key(sid);
        let user_key = self.legacy_user_key(user_id);
        bounded(&self.redis, async move |conn| {
            let _: i64 = redis::cmd("DEL")
                .arg(&session_key)
                .query_async(conn)
                .await?;
            let _: i64 = redis::cmd("SREM")
                .arg(&user_key)
                .arg(sid.to_string())
                .query_async(conn)
                .await?;
            Ok::<_, RedisError>(())
        })
        .await
        .map_err(unavailable)
    }

    /// Deletes every old-layout session of `user_id` and their set (one-key commands).
    pub(super) async fn forget_all_legacy(&self, user_id: UserId) -> Result<(), PortError> {
        let user_key = self.legacy_user_key(user_id);
        let session_keys = |sids: Vec<String>| -> Vec<String> {
            sids.iter()
                .filter_map(|sid| sid.parse::<uuid::Uuid>().ok())
                .map(|sid| self.legacy_session_key(sid))
                .collect()
        };
        let sids: Vec<String> = bounded(&self.redis, async |conn| {
            Ok::<_, RedisError>(
                redis::cmd("SMEMBERS")
                    .arg(&user_key)
                    .query_async(conn)
                    .await?,
            )
        })
        .await
        .map_err(unavailable)?;
        let keys = session_keys(sids);
        bounded(&self.redis, async move |conn| {
            for key in &keys {
                let _: i64 = redis::cmd("DEL").arg(key).query_async(conn).await?;
            }
            let _: i64 = redis::cmd("DEL").arg(&user_key).query_async(conn).await?;
            Ok::<_, RedisError>(())
        })
        .await
        .map_err(unavailable)
    }
}
