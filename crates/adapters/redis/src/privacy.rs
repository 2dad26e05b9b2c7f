//! `PersonalTraces` over Redis: a user's sessions, cached account row and live event log, listed
//! for the export and purged on erasure.

use medico24_identity::{PersonalTraces, PortError, Session, SessionStore};
use medico24_kernel::UserId;

use crate::events::RedisEvents;
use crate::exec::unavailable;
use crate::session::RedisSessionStore;
use crate::user_cache::RedisUserCache;

/// What Redis keeps about a user, through the adapters that own each key.
#[derive(Clone)]
pub struct RedisPersonalTraces {
    sessions: RedisSessionStore,
    users: RedisUserCache,
    events: RedisEvents,
}

impl RedisPersonalTraces {
    /// The traces kept by these three adapters.
    pub fn new(sessions: RedisSessionStore, users: RedisUserCache, events: RedisEvents) -> Self {
        Self {
            sessions,
            users,
            events,
        }
    }
}

impl PersonalTraces for RedisPersonalTraces {
    async fn sessions(&self, user: UserId) -> Result<Vec<Session>, PortError> {
        self.sessions.list(user).await
    }

    async fn purge(&self, user: UserId) -> Result<(), PortError> {
        self.sessions.revoke_all(user).await?;
        self.users.remove(user).await.map_err(unavailable)?;
        self.events
            .delete_log(user.as_uuid())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
