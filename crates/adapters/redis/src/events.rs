//! Live user events: a per-user Redis Stream as the resumable log (its entry ids are the
//! monotonic event ids), one pub/sub channel carrying "user X has new events" notices to every
//! replica, and single-use stream tickets.
//!
//! Keys: the log of user `U` is `v2:events:{U}` (the user id as hash tag, so on a Redis Cluster a
//! user's log lives in one slot, like the session keys); a ticket is `v2:events:ticket:{H}` with
//! `H` the SHA-256 of the ticket (the ticket itself is never stored or logged). The notice channel
//! is `v2:events:notices`: on one endpoint a plain channel (`PUBLISH`/`SUBSCRIBE`); on a Redis
//! Cluster a sharded channel (`SPUBLISH`/`SSUBSCRIBE`, RESP3), so a notice goes to the one shard
//! that owns the channel's slot instead of being broadcast to every node.

use std::time::Duration;

use futures_util::StreamExt;
use redis::cluster::ClusterClient;
use redis::{Client, ProtocolVersion, PushKind, TlsCertificates, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

use crate::client::{Redis, RedisConfig, RedisError};
use crate::exec::bounded;

/// One entry of a user's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The stream entry id (`<ms>-<seq>`): the SSE event id, monotonic per user.
    pub id: String,
    /// The event name (`notification.created`, …).
    pub event_type: String,
    /// The JSON payload, as text.
    pub data: String,
}

/// What the notice listener tells the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The user has new entries in their log.
    User(uuid::Uuid),
    /// The subscription was (re)established: notices may have been missed, every stream should
    /// look at its log.
    Resync,
}

/// The event log, notices and tickets over the application's Redis.
#[derive(Clone)]
pub struct RedisEvents {
    redis: Redis,
    config: RedisConfig,
    retention: Duration,
}

impl std::fmt::Debug for RedisEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEvents")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// Whole milliseconds of `d`, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl RedisEvents {
    /// The events over `redis`; `config` (the pool's) opens the one subscriber connection;
    /// entries are kept at least `retention`.
    pub fn new(redis: Redis, config: RedisConfig, retention: Duration) -> Self {
        Self {
            redis,
            config,
            retention,
        }
    }

    fn log_key(&self, user: uuid::Uuid) -> String {
        self.redis.key(&format!("v2:events:{{{user}}}"))
    }

    fn ticket_key(&self, ticket: &str) -> String {
        let digest = hex::encode(Sha256::digest(ticket.as_bytes()));
        self.redis.key(&format!("v2:events:ticket:{{{digest}}}"))
    }

    fn channel(&self) -> String {
        self.redis.key("v2:events:notices")
    }

    /// Deletes `user`'s event log (the payloads it holds name the user's appointments and
    /// notifications).
    ///
    /// # Errors
    /// [`RedisError`] when the key could not be deleted.
    pub async fn delete_log(&self, user: uuid::Uuid) -> Result<(), RedisError> {
        let key = self.log_key(user);
        bounded(&self.redis, async move |conn| {
            let _: i64 = redis::cmd("DEL").arg(&key).query_async(conn).await?;
            Ok::<_, RedisError>(())
        })
        .await
    }

    /// Appends an event to `user`'s log (trimming entries older than the retention, which is
    /// also the log's idle expiry) and then publishes the notice. Returns the entry id.
    ///
    /// # Errors
    /// [`RedisError`] when the entry could not be written; a failed notice after a written entry
    /// is not an error (streams find the entry at their next heartbeat).
    pub async fn append(
        &self,
        user: uuid::Uuid,
        event_type: &str,
        data: &str,
        now_ms: i64,
    ) -> Result<String, RedisError> {
        let key = self.log_key(user);
        let retention = millis(self.retention);
        let min_id = now_ms.saturating_sub(retention).max(0);
        let id: String = bounded(&self.redis, async |conn| {
            let (id,): (String,) = redis::pipe()
                .atomic()
                .cmd("XADD")
                .arg(&key)
                .arg("MINID")
                .arg("~")
                .arg(min_id)
                .arg("*")
                .arg("type")
                .arg(event_type)
                .arg("data")
                .arg(data)
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(retention.saturating_mul(2))
                .ignore()
                .query_async(conn)
                .await?;
            Ok(id)
        })
        .await?;
        let channel = self.channel();
        let publish = if self.redis.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        let notice = user.to_string();
        let published = bounded(&self.redis, async |conn| {
            let _: i64 = redis::cmd(publish)
                .arg(&channel)
                .arg(&notice)
                .query_async(conn)
                .await?;
            Ok(())
        })
        .await;
        if let Err(error) = published {
            tracing::warn!(%error, "event notice not published; streams will find the entry at their next heartbeat");
        }
        Ok(id)
    }

    /// Up to `count` entries of `user`'s log after `after` (exclusive), oldest first.
    ///
    /// # Errors
    /// [`RedisError`] when the log cannot be read (an id Redis refuses is a command error).
    pub async fn read_after(
        &self,
        user: uuid::Uuid,
        after: &str,
        count: usize,
    ) -> Result<Vec<StoredEvent>, RedisError> {
        let key = self.log_key(user);
        let start = format!("({after}");
        let entries: Vec<(String, Vec<(String, String)>)> = bounded(&self.redis, async |conn| {
            Ok(redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query_async(conn)
                .await?)
        })
        .await?;
        Ok(entries
            .into_iter()
            .map(|(id, fields)| {
                let mut event = StoredEvent {
                    id,
                    event_type: String::new(),
                    data: String::new(),
                };
                for (name, value) in fields {
                    match name.as_str() {
                        "type" => event.event_type = value,
                        "data" => event.data = value,
                        _ => {}
                    }
                }
                event
            })
            .collect())
    }

    /// The id of the newest entry of `user`'s log, or `0-0` when it is empty: where a stream
    /// without a resume id starts.
    ///
    /// # Errors
    /// [`RedisError`] when the log cannot be read.
    pub async fn last_id(&self, user: uuid::Uuid) -> Result<String, RedisError> {
        let key = self.log_key(user);
        let newest: Vec<(String, Vec<(String, String)>)> = bounded(&self.redis, async |conn| {
            Ok(redis::cmd("XREVRANGE")
                .arg(&key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(conn)
                .await?)
        })
        .await?;
        Ok(newest
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id))
    }

    /// Stores a stream ticket for `user`, valid for `ttl`; `until` (Unix seconds) is when the
    /// access token that asked for it expires, and so when a stream opened with it ends.
    ///
    /// # Errors
    /// [`RedisError`] when it cannot be stored.
    pub async fn issue_ticket(
        &self,
        ticket: &str,
        user: uuid::Uuid,
        until: i64,
        ttl: Duration,
    ) -> Result<(), RedisError> {
        let key = self.ticket_key(ticket);
        bounded(&self.redis, async |conn| {
            let () = redis::cmd("SET")
                .arg(&key)
                .arg(format!("{user} {until}"))
                .arg("PX")
                .arg(millis(ttl).max(1))
                .query_async(conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// Consumes a ticket (`GETDEL`: one use, whoever asks first): its user and the `until` it
    /// was issued with, or `None` for an unknown, used or expired ticket.
    ///
    /// # Errors
    /// [`RedisError`] when Redis cannot be asked.
    pub async fn redeem_ticket(
        &self,
        ticket: &str,
    ) -> Result<Option<(uuid::Uuid, i64)>, RedisError> {
        let key = self.ticket_key(ticket);
        let value: Option<String> = bounded(&self.redis, async |conn| {
            Ok(redis::cmd("GETDEL").arg(&key).query_async(conn).await?)
        })
        .await?;
        Ok(value.and_then(|value| {
            let (user, until) = value.split_once(' ')?;
            Some((uuid::Uuid::parse_str(user).ok()?, until.parse().ok()?))
        }))
    }

    /// Holds this process's one subscription to the notice channel until `stop` turns true,
    /// forwarding every notice to `notices`. A lost subscription is reopened after a second;
    /// each (re)subscription is followed by [`Notice::Resync`].
    pub async fn listen(
        &self,
        notices: mpsc::UnboundedSender<Notice>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let session = async {
                if self.config.cluster {
                    self.listen_cluster(&notices).await
                } else {
                    self.listen_single(&notices).await
                }
            };
            tokio::select! {
                result = session => {
                    if let Err(error) = result {
                        tracing::warn!(%error, "event notice subscription lost; reopening");
                    }
                }
                () = stopped(&mut stop) => return,
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = stopped(&mut stop) => return,
            }
        }
    }

    fn root_cert(&self) -> Result<Option<TlsCertificates>, RedisError> {
        self.config
            .tls_ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path)
                    .map(|root_cert| TlsCertificates {
                        client_tls: None,
                        root_cert: Some(root_cert),
                    })
                    .map_err(|e| {
                        RedisError::Config(format!("REDIS_CA_FILE `{}`: {e}", path.display()))
                    })
            })
            .transpose()
    }

    async fn listen_single(
        &self,
        notices: &mpsc::UnboundedSender<Notice>,
    ) -> Result<(), RedisError> {
        let client = match self.root_cert()? {
            Some(tls) => Client::build_with_tls(self.config.url.as_str(), tls)?,
            None => Client::open(self.config.url.as_str())?,
        };
        let mut pubsub = tokio::time::timeout(self.config.timeout, client.get_async_pubsub())
            .await
            .map_err(|_| RedisError::Unavailable("subscriber connection timed out".to_owned()))??;
        pubsub.subscribe(self.channel()).await?;
        let _ = notices.send(Notice::Resync);
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            forward(message.get_payload_bytes(), notices);
        }
        Err(RedisError::Unavailable(
            "subscriber connection closed".to_owned(),
        ))
    }

    async fn listen_cluster(
        &self,
        notices: &mpsc::UnboundedSender<Notice>,
    ) -> Result<(), RedisError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<redis::PushInfo>();
        let mut builder = ClusterClient::builder(vec![self.config.url.as_str()])
            .connection_timeout(self.config.timeout)
            .response_timeout(self.config.timeout)
            .use_protocol(ProtocolVersion::RESP3)
            .push_sender(tx);
        if let Some(tls) = self.root_cert()? {
            builder = builder.certs(tls);
        }
        let client = builder.build()?;
        let mut conn = client.get_async_connection().await?;
        conn.ssubscribe(self.channel()).await?;
        let _ = notices.send(Notice::Resync);
        while let Some(push) = rx.recv().await {
            match push.kind {
                PushKind::SMessage => {
                    if let Some(Value::BulkString(payload)) = push.data.get(1) {
                        forward(payload, notices);
                    }
                }
                // The client resubscribes by itself after a reconnection: look at every log.
                PushKind::SSubscribe => {
                    let _ = notices.send(Notice::Resync);
                }
                _ => {}
            }
        }
        drop(conn);
        Err(RedisError::Unavailable(
            "subscriber connection closed".to_owned(),
        ))
    }
}

/// Resolves once `stop` is true.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Forwards a notice payload (a user id) when it is one.
fn forward(payload: &[u8], notices: &mpsc::UnboundedSender<Notice>) {
    if let Some(user) = std::str::from_utf8(payload)
        .ok()
        .and_then(|text| uuid::Uuid::parse_str(text).ok())
    {
        let _ = notices.send(Notice::User(user));
    }
}
