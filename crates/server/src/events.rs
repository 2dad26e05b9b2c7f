//! Live user events: the process's registry of open streams (caps, wake-ups from the Redis
//! notice listener, shutdown), and the publisher that implements the domains' event ports by
//! rendering each event and appending it to its user's log in Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use medico24_appointments::booking::{AppointmentEvents, AppointmentUpdated};
use medico24_kernel::{Clock, PortError, SystemClock};
use medico24_notifications::{NotificationCreated, NotificationEvents, NotificationRepository};
use medico24_redis::{Notice, RedisEvents};
use prometheus::{IntCounterVec, IntGauge};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::EventSettings;

/// The event name of a new notification.
pub const NOTIFICATION_CREATED: &str = "notification.created";
/// The event name of a changed appointment.
pub const APPOINTMENT_UPDATED: &str = "appointment.updated";

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamRefused {
    /// The user already holds the per-user maximum of open streams (429).
    #[error("too many open event streams for this user")]
    PerUser,
    /// This process holds its maximum of open streams (503).
    #[error("event streams at capacity")]
    Global,
}

/// Why a stream ticket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketRefused {
    /// Unknown, already used or expired (401).
    #[error("invalid or expired ticket")]
    Invalid,
}

/// Why a ticket did not open a stream.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// The ticket is unusable (401).
    #[error(transparent)]
    Refused(TicketRefused),
    /// Redis could not be asked (503).
    #[error(transparent)]
    Port(PortError),
}

fn unavailable(error: medico24_redis::RedisError) -> PortError {
    PortError::Unavailable(error.to_string())
}

struct Slot {
    id: u64,
    wake: mpsc::Sender<()>,
}

/// The open streams of this process, by user.
pub struct EventHub {
    log: RedisEvents,
    settings: EventSettings,
    streams: Mutex<HashMap<uuid::Uuid, Vec<Slot>>>,
    next_id: AtomicU64,
    open: IntGauge,
    shutdown: watch::Sender<bool>,
}

/// A registered stream: woken when its user has new events; unregistered when dropped.
pub struct StreamSlot {
    hub: Arc<EventHub>,
    user: uuid::Uuid,
    id: u64,
    /// Receives a wake-up (coalesced) when the user has new events.
    pub wake: mpsc::Receiver<()>,
    /// Turns true when the process shuts down.
    pub shutdown: watch::Receiver<bool>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self
            .hub
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slots) = streams.get_mut(&self.user) {
            slots.retain(|slot| slot.id != self.id);
            if slots.is_empty() {
                streams.remove(&self.user);
            }
        }
        self.hub.open.dec();
    }
}

impl EventHub {
    /// The hub over `log`, counting open streams in `open`.
    pub fn new(log: RedisEvents, settings: EventSettings, open: IntGauge) -> Self {
        Self {
            log,
            settings,
            streams: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            open,
            shutdown: watch::Sender::new(false),
        }
    }

    /// Up to `count` events of `user` after the event id `after`, as `(id, SSE frame)`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the log cannot be read.
    pub async fn frames_after(
        &self,
        user: uuid::Uuid,
        after: &str,
        count: usize,
    ) -> Result<Vec<(String, String)>, PortError> {
        let entries = self
            .log
            .read_after(user, after, count)
            .await
            .map_err(unavailable)?;
        Ok(entries
            .into_iter()
            .map(|entry| {
                let frame = format!(
                    "id: {}\nevent: {}\ndata: {}\n\n",
                    entry.id, entry.event_type, entry.data
                );
                (entry.id, frame)
            })
            .collect())
    }

    /// The newest event id of `user` (`0-0` without events): where a fresh stream starts.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the log cannot be read.
    pub async fn newest_id(&self, user: uuid::Uuid) -> Result<String, PortError> {
        self.log.last_id(user).await.map_err(unavailable)
    }

    /// Stores a stream ticket for `user`, whose stream ends at `until` (Unix seconds).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when it cannot be stored.
    pub async fn issue_ticket(
        &self,
        ticket: &str,
        user: uuid::Uuid,
        until: i64,
    ) -> Result<(), PortError> {
        self.log
            .issue_ticket(ticket, user, until, self.settings.ticket_ttl)
            .await
            .map_err(unavailable)
    }

    /// Consumes a ticket: its user and end time.
    ///
    /// # Errors
    /// [`TicketError`]: refused, or Redis unavailable.
    pub async fn redeem_ticket(&self, ticket: &str) -> Result<(uuid::Uuid, i64), TicketError> {
        self.log
            .redeem_ticket(ticket)
            .await
            .map_err(|error| TicketError::Port(unavailable(error)))?
            .ok_or(TicketError::Refused(TicketRefused::Invalid))
    }

    /// The stream settings.
    pub fn settings(&self) -> &EventSettings {
        &self.settings
    }

    /// Registers a stream of `user`.
    ///
    /// # Errors
    /// [`StreamRefused`] when a cap is reached (the per-user cap is checked first).
    pub fn open(self: &Arc<Self>, user: uuid::Uuid) -> Result<StreamSlot, StreamRefused> {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if streams.get(&user).map_or(0, Vec::len) >= self.settings.max_streams_per_user {
            return Err(StreamRefused::PerUser);
        }
        let total: usize = streams.values().map(Vec::len).sum();
        if total >= self.settings.max_streams {
            return Err(StreamRefused::Global);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (wake_tx, wake) = mpsc::channel(1);
        streams
            .entry(user)
            .or_default()
            .push(Slot { id, wake: wake_tx });
        self.open.inc();
        Ok(StreamSlot {
            hub: Arc::clone(self),
            user,
            id,
            wake,
            shutdown: self.shutdown.subscribe(),
        })
    }

    /// Wakes every stream of `user` (a full wake channel already has a wake-up pending).
    pub fn notify(&self, user: uuid::Uuid) {
        let streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        for slot in streams.get(&user).into_iter().flatten() {
            let _ = slot.wake.try_send(());
        }
    }

    /// Wakes every stream (after the notice subscription was (re)opened).
    pub fn notify_all(&self) {
        let streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        for slot in streams.values().flatten() {
            let _ = slot.wake.try_send(());
        }
    }

    /// Tells every stream to send `retry:` and close (graceful shutdown); stops the listener.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Holds the Redis notice subscription and wakes the streams it names, until shutdown.
    pub async fn run_listener(self: Arc<Self>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let listener = {
            let log = self.log.clone();
            let stop = self.shutdown.subscribe();
            async move { log.listen(tx, stop).await }
        };
        let dispatch = async {
            while let Some(notice) = rx.recv().await {
                match notice {
                    Notice::User(user) => self.notify(user),
                    Notice::Resync => self.notify_all(),
                }
            }
        };
        tokio::join!(listener, dispatch);
    }
}

/// The `appointment.updated` payload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppointmentUpdatedEvent {
    /// The appointment.
    #[schema(format = Uuid)]
    pub appointment_id: String,
    /// Status after the change.
    #[schema(value_type = crate::openapi::enums::AppointmentStatus)]
    pub status: String,
    /// Start after the change.
    #[serde(serialize_with = "crate::http::wire::datetime")]
    #[schema(value_type = String, format = DateTime)]
    pub appointment_at: DateTime<Utc>,
    /// Names of the fields that changed (`status`, `appointment_at`, `notes`, …; `deleted` when
    /// it was deleted), never their values.
    pub changed: Vec<String>,
}

/// Implements the appointment and notification event ports: renders each event and appends it
/// to its user's log (which also notifies every replica). Never blocks or fails the use case:
/// the work runs on a spawned task; a failure is logged without personal data and counted.
#[derive(Clone)]
pub struct EventPublisher {
    log: RedisEvents,
    notifications: medico24_postgres::PgNotificationRepository,
    failures: IntCounterVec,
}

impl EventPublisher {
    /// The publisher over `log`, reading new notifications through `notifications`.
    pub fn new(
        log: RedisEvents,
        notifications: medico24_postgres::PgNotificationRepository,
        failures: IntCounterVec,
    ) -> Self {
        for event in [NOTIFICATION_CREATED, APPOINTMENT_UPDATED] {
            failures.with_label_values(&[event]);
        }
        Self {
            log,
            notifications,
            failures,
        }
    }

    fn failed(&self, event: &'static str, error: &dyn std::fmt::Display) {
        self.failures.with_label_values(&[event]).inc();
        tracing::warn!(event, %error, "live event not published");
    }

    fn spawn(&self, event: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(work);
            }
            Err(error) => self.failed(event, &error),
        }
    }

    async fn append(&self, user: uuid::Uuid, event: &'static str, data: &impl Serialize) {
        let data = match serde_json::to_string(data) {
            Ok(data) => data,
            Err(error) => return self.failed(event, &error),
        };
        let now = SystemClock.now().timestamp_millis();
        if let Err(error) = self.log.append(user, event, &data, now).await {
            self.failed(event, &error);
        }
    }
}

impl AppointmentEvents for EventPublisher {
    fn updated(&self, event: AppointmentUpdated) {
        let publisher = self.clone();
        self.spawn(APPOINTMENT_UPDATED, async move {
            let payload = AppointmentUpdatedEvent {
                appointment_id: event.id.to_string(),
                status: event.status.as_str().to_owned(),
                appointment_at: event.appointment_at,
                changed: event.changed.iter().map(|&name| name.to_owned()).collect(),
            };
            publisher
                .append(event.patient_id.as_uuid(), APPOINTMENT_UPDATED, &payload)
                .await;
        });
    }
}

impl NotificationEvents for EventPublisher {
    fn created(&self, created: Vec<NotificationCreated>) {
        let publisher = self.clone();
        self.spawn(NOTIFICATION_CREATED, async move {
            for one in created {
                match publisher.notifications.find(one.notification_id).await {
                    Ok(Some(detail)) => {
                        let payload = crate::http::bodies::NotificationRecordResponse::from(
                            detail.notification,
                        );
                        publisher
                            .append(one.user_id.as_uuid(), NOTIFICATION_CREATED, &payload)
                            .await;
                    }
                    // Deleted before it could be announced: nothing to tell.
                    Ok(None) => {}
                    Err(error) => publisher.failed(NOTIFICATION_CREATED, &error),
                }
            }
        });
    }
}
