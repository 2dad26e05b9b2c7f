//! Server-side refresh sessions: one hash per session and one set of session ids per
//! user, kept consistent by Lua scripts so no reader sees half an update.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use medico24_identity::{PortError, RotateOutcome, Session, SessionStore};
use medico24_kernel::UserId;
use redis::{self, Script};

use crate::client::{Redis, RedisError};
use crate::exec::{bounded, ttl_secs, unavailable};

mod legacy;

/// Stores a new session and adds it to its user's set.
///
/// `KEYS[1]` = session hash, `KEYS[2]` = user set; `ARGV` = sid, user_id, jti, created_at,
/// refreshed_at, ttl seconds. The set's TTL is only ever extended, never shortened.
const CREATE_LUA: &str = r"
local ttl = tonumber(ARGV[6])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'user_id', ARGV[2], 'jti', ARGV[3], 'created_at', ARGV[4], 'refreshed_at', ARGV[5])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('TTL', KEYS[2]) < ttl then
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 1
";

/// Rotates a session's refresh token.
///
/// `KEYS[1]` = session hash, `KEYS[2]` = the set of the presented `sub`; `ARGV` = sid, sub,
/// presented jti, new jti, now (Unix seconds), ttl seconds. Returns `revoked`, `invalid`,
/// `reused` (after deleting the session) or `ok`.
const ROTATE_LUA: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'user_id', 'jti')
if not stored[1] then
  return 'revoked'
end
if stored[1] ~= ARGV[2] then
  return 'invalid'
end
if stored[2] ~= ARGV[3] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[1])
  return 'reused'
end
local ttl = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'jti', ARGV[4], 'refreshed_at', ARGV[5])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('TTL', KEYS[2]) < ttl then
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 'ok'
";

/// Deletes every session of a user, then the user's set, atomically (a login racing a
/// logout-all is either wholly before it, and revoked, or wholly after it, and kept).
///
/// `KEYS[1]` = user set; `ARGV[1]` = the full key of a session minus its sid (the namespace
/// prefix is applied by the caller). Members whose session already expired are just skipped.
/// Returns the number of session hashes deleted.
const REVOKE_ALL_LUA: &str = r"
local deleted = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  deleted = deleted + redis.call('DEL', ARGV[1] .. sid)
end
redis.call('DEL', KEYS[1])
return deleted
";

static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(CREATE_LUA));
static ROTATE: LazyLock<Script> = LazyLock::new(|| Script::new(ROTATE_LUA));
static REVOKE_ALL: LazyLock<Script> = LazyLock::new(|| Script::new(REVOKE_ALL_LUA));

/// [`SessionStore`] over Redis: `v2:auth:{<user_id>}:session:<sid>` hashes (`user_id`, `jti`,
/// `created_at`, `refreshed_at` in Unix seconds) and a `v2:auth:{<user_id>}:sessions` set of sids
/// per user.
///
/// The `{<user_id>}` hash tag puts all of a user's session keys in one Redis Cluster slot, so
/// the scripts and transactions that touch a session and its user's set run on a cluster and
/// behind a cluster proxy too (keys of different slots in one script are refused there).
///
/// Every call is bounded by the handle's timeout; any Redis failure is
/// [`PortError::Unavailable`].
#[derive(Debug, Clone)]
pub struct RedisSessionStore {
    redis: Redis,
}

impl RedisSessionStore {
    /// A session store keeping its keys in `redis`.
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    fn session_key(&self, sid: uuid::Uuid, user_id: UserId) -> String {
        format!("{}{sid}", self.session_prefix(user_id))
    }

    /// Every session key of `user_id` is this prefix followed by the sid.
    fn session_prefix(&self, user_id: UserId) -> String {
        self.redis.key(&format!("v2:auth:{{{user_id}}}:session:"))
    }

    fn user_key(&self, user_id: UserId) -> String {
        self.redis.key(&format!("v2:auth:{{{user_id}}}:sessions"))
    }
}

impl RedisSessionStore {
    /// Every live session of `user_id` (sids in the user's set whose hash has not expired).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when Redis cannot be reached.
    pub async fn list(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let user_key = self.user_key(user_id);
        let sids: Vec<String> = bounded(&self.redis, async move |conn| {
            let sids: Vec<String> = redis::cmd("SMEMBERS")
                .arg(&user_key)
                .query_async(conn)
                .await?;
            Ok::<_, RedisError>(sids)
        })
        .await
        .map_err(unavailable)?;
        let mut sessions = Vec::with_capacity(sids.len());
        for sid in sids {
            let Ok(sid) = uuid::Uuid::parse_str(&sid) else {
                continue;
            };
            if let Some(session) = self.find(sid, user_id).await? {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }
}

impl SessionStore for RedisSessionStore {
    async fn create(&self, session: &Session, ttl: Duration) -> Result<(), PortError> {
        let session_key = self.session_key(session.sid, session.user_id);
        let user_key = self.user_key(session.user_id);
        bounded(&self.redis, async move |conn| {
            let _: i64 = CREATE
                .key(&session_key)
                .key(&user_key)
                .arg(session.sid.to_string())
                .arg(session.user_id.to_string())
                .arg(session.jti.to_string())
                .arg(session.created_at)
                .arg(session.refreshed_at)
                .arg(ttl_secs(ttl))
                .invoke_async(conn)
                .await?;
            Ok::<_, RedisError>(())
        })
        .await
        .map_err(unavailable)
    }

    async fn rotate(
        &self,
        sid: uuid::Uuid,
        user_id: UserId,
        presented_jti: uuid::Uuid,
        new_jti: uuid::Uuid,
        now_unix: i64,
        ttl: Duration,
    ) -> Result<RotateOutcome, PortError> {
        let rotate = async || {
            let session_key = self.session_key(sid, user_id);
            let user_key = self.user_key(user_id);
            bounded(&self.redis, async move |conn| {
                let outcome: String = ROTATE
                    .key(&session_key)
                    .key(&user_key)
                    .arg(sid.to_string())
                    .arg(user_id.to_string())
                    .arg(presented_jti.to_string())
                    .arg(new_jti.to_string())
                    .arg(now_unix)
                    .arg(ttl_secs(ttl))
                    .invoke_async(conn)
                    .await?;
                Ok::<_, RedisError>(outcome)
            })
            .await
            .map_err(unavailable)
        };
        let mut outcome: String = rotate().await?;
        // A session from before the hash-tagged layout is moved over once, then rotated.
        if outcome == "revoked" && self.adopt_legacy(sid, user_id).await? {
            outcome = rotate().await?;
        }
        match outcome.as_str() {
            "ok" => Ok(RotateOutcome::Rotated),
            "revoked" => Ok(RotateOutcome::Revoked),
            "invalid" => Ok(RotateOutcome::Invalid),
            "reused" => Ok(RotateOutcome::Reused),
            other => Err(PortError::Unexpected(format!(
                "rotation script answered {other:?}"
            ))),
        }
    }

    async fn find(&self, sid: uuid::Uuid, user_id: UserId) -> Result<Option<Session>, PortError> {
        let session_key = self.session_key(sid, user_id);
        let fields: HashMap<String, String> = bounded(&self.redis, async move |conn| {
            let fields: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(&session_key)
                .query_async(conn)
                .await?;
            Ok::<_, RedisError>(fields)
        })
        .await
        .map_err(unavailable)?;
        if fields.is_empty() {
            return self.find_legacy(sid, user_id).await;
        }
        parse_session(sid, &fields).map(Some)
    }

    async fn revoke(&self, sid: uuid::Uuid, user_id: UserId) -> Result<(), PortError> {
        let session_key = self.session_key(sid, user_id);
        let user_key = self.user_key(user_id);
        bounded(&self.redis, async move |conn| {
            let _: (i64, i64) = redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(&session_key)
                .cmd("SREM")
                .arg(&user_key)
                .arg(sid.to_string())
                .query_async(conn)
                .await?;
            Ok::<_, RedisError>(())
        })
        .await
        .map_err(unavailable)?;
        self.forget_legacy(sid, user_id).await
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<(), PortError> {
        let user_key = self.user_key(user_id);
        let session_prefix = self.session_prefix(user_id);
        bounded(&self.redis, async move |conn| {
            let _: i64 = REVOKE_ALL
                .key(&user_key)
                .arg(&session_prefix)
                .invoke_async(conn)
                .await?;
            Ok::<_, RedisError>(())
        })
        .await
        .map_err(unavailable)?;
        self.forget_all_legacy(user_id).await
    }
}

/// Builds a [`Session`] from its stored hash; a malformed hash is [`PortError::Unexpected`].
fn parse_session(sid: uuid::Uuid, fields: &HashMap<String, String>) -> Result<Session, PortError> {
    fn field<'a>(fields: &'a HashMap<String, String>, name: &str) -> Result<&'a str, PortError> {
        fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| PortError::Unexpected(format!("session hash lacks `{name}`")))
    }
    fn malformed(name: &str) -> PortError {
        PortError::Unexpected(format!("session hash has a malformed `{name}`"))
    }
    Ok(Session {
        sid,
        user_id: field(fields, "user_id")?
            .parse()
            .map_err(|_| malformed("user_id"))?,
        jti: field(fields, "jti")?
            .parse()
            .map_err(|_| malformed("jti"))?,
        created_at: field(fields, "created_at")?
            .parse()
            .map_err(|_| malformed("created_at"))?,
        refreshed_at: field(fields, "refreshed_at")?
            .parse()
            .map_err(|_| malformed("refreshed_at"))?,
    })
}
