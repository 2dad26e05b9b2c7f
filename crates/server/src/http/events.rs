//! `/api/v1/events`: the caller's live events as Server-Sent Events, and the single-use tickets
//! browsers open the stream with (an `EventSource` cannot send an `Authorization` header).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, header};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use medico24_identity::AuthError;
use medico24_kernel::UserId;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::input::{self, Text, request_query};
use super::routing::RouteRegistry;
use crate::events::{EventHub, StreamSlot};
use crate::openapi::schemas::{ErrorResponse, ValidationErrorResponse};
use crate::state::AppState;

/// Entries read from the log per round trip while catching up.
const READ_BATCH: usize = 100;

request_query! {
    /// How a stream is opened without an `Authorization` header, and where it resumes.
    pub struct StreamParams {
        /// A ticket from `POST /api/v1/events/ticket` (browsers); used once, within 60 s
        pub ticket: Option<Text<1, 128>>,
        /// Resume after this event id (what `Last-Event-ID` carries; the header wins)
        pub last_event_id: Option<Text<3, 64>>,
    }
}

/// `POST /api/v1/events/ticket` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTicketResponse {
    /// Opaque, single use: `GET /api/v1/events?ticket=…` within `expires_in` seconds.
    pub ticket: String,
    /// Seconds the ticket stays usable (60).
    pub expires_in: u64,
}

/// Whether `id` looks like an event id (`<ms>-<seq>`, the log's entry ids).
fn is_event_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.len() <= 20
            && seq.len() <= 20
            && ms.bytes().all(|b| b.is_ascii_digit())
            && seq.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The caller's live events.
///
/// Frames, each ended by a blank line: `id: <event id>`, `event: <name>` and `data: <JSON
/// payload on one line>` per event (`notification.created` → `NotificationRecordResponse`,
/// `appointment.updated` → `AppointmentUpdatedEvent`); `: heartbeat` comment lines every
/// 15–30 s; a `retry: <ms>` line before the server closes the stream for a restart. Reconnect
/// with `Last-Event-ID` (or `last_event_id`) to receive every event after that id (events are
/// kept at least 10 minutes). The stream ends when the access token expires or the account is
/// deactivated.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", operation_id = "event_stream",
    security(("bearerAuth" = []), ()),
    params(
        StreamParams,
        ("Last-Event-ID" = Option<String>, Header, nullable = false, min_length = 3, max_length = 64, description = "Resume after this event id (`<ms>-<seq>`)"),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`", content_type = "text/event-stream", body = String,
            example = json!("id: 1767225600000-0\nevent: appointment.updated\ndata: {\"appointment_id\":\"0194a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b\",\"status\":\"confirmed\",\"appointment_at\":\"2030-01-01T10:00:00Z\",\"changed\":[\"status\"]}\n\n: heartbeat\n\n")),
        (status = 401, description = "Not authenticated, or an invalid, used or expired ticket", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 422, description = "Invalid query or Last-Event-ID", body = ValidationErrorResponse),
        (status = 429, description = "Rate limited, or too many open streams for this user", body = ErrorResponse),
        (status = 503, description = "Redis unavailable or streams at capacity", body = ErrorResponse),
    ))]
pub async fn stream(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let params = input::query::<StreamParams>(&req)?;
    let header_id = req
        .headers()
        .get("last-event-id")
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let resume = match header_id {
        Some(id) if !is_event_id(&id) => {
            return Err(ApiError::invalid(
                vec!["header".into(), "last-event-id".into()],
                "value_error",
                "Last-Event-ID must be an event id (<ms>-<seq>)",
            ));
        }
        Some(id) => Some(id),
        None => match params.last_event_id {
            Some(id) if !is_event_id(&id) => {
                return Err(ApiError::invalid(
                    vec!["query".into(), "last_event_id".into()],
                    "value_error",
                    "last_event_id must be an event id (<ms>-<seq>)",
                ));
            }
            other => other.map(String::from),
        },
    };
    let hub = Arc::clone(&state.events);
    let (user, until) = match params.ticket {
        Some(ticket) => {
            let (user, until) = hub.redeem_ticket(&ticket).await?;
            let user = state
                .identity
                .load_user(UserId::from_uuid(user))
                .await?
                .ok_or(AuthError::UserNotFound)?;
            if !user.is_active {
                return Err(AuthError::Deactivated.into());
            }
            let until = DateTime::from_timestamp(until, 0).unwrap_or_else(Utc::now);
            (user.id, until)
        }
        None => {
            let authorization = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            let (user, until) = state.identity.authenticate_until(authorization).await?;
            (user.id, until)
        }
    };
    let slot = hub.open(user.as_uuid())?;
    // Registered before the start is read: an event appended in between wakes the stream.
    let cursor = match resume {
        Some(id) => id,
        None => hub.newest_id(user.as_uuid()).await?,
    };
    let (frames, body) = mpsc::channel::<Bytes>(hub.settings().buffer);
    let stream = Stream {
        hub: Arc::clone(&hub),
        state: state.clone(),
        user,
        until,
        cursor,
        frames,
    };
    tokio::spawn(stream.run(slot));
    let body = futures_util::stream::unfold(body, |mut body| async move {
        body.recv()
            .await
            .map(|frame| (Ok::<_, Infallible>(frame), body))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}

/// Why a stream's task stops.
enum End {
    /// The client went away, or fell too far behind (it resumes with its last id).
    Client,
    /// Token expiry, deactivation, shutdown or Redis failure.
    Server,
}

/// One open stream: its task writes frames into a bounded channel the response body reads.
struct Stream {
    hub: Arc<EventHub>,
    state: web::Data<AppState>,
    user: UserId,
    until: DateTime<Utc>,
    cursor: String,
    frames: mpsc::Sender<Bytes>,
}

impl Stream {
    /// Queues `frame`; a full buffer drops the stream (the client resumes with its last id).
    fn send(&self, frame: String) -> Result<(), End> {
        match self.frames.try_send(Bytes::from(frame)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                tracing::info!("event stream dropped: the client is not reading");
                Err(End::Client)
            }
            Err(TrySendError::Closed(_)) => Err(End::Client),
        }
    }

    /// Sends every entry after the cursor.
    async fn catch_up(&mut self) -> Result<(), End> {
        loop {
            let entries = match self
                .hub
                .frames_after(self.user.as_uuid(), &self.cursor, READ_BATCH)
                .await
            {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::warn!(%error, "event log unreadable; closing the stream");
                    return Err(End::Server);
                }
            };
            let full = entries.len() == READ_BATCH;
            for (id, frame) in entries {
                self.send(frame)?;
                self.cursor = id;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Whether the user may still hold the stream.
    async fn still_active(&self) -> bool {
        match self.state.identity.load_user(self.user).await {
            Ok(Some(user)) => user.is_active,
            Ok(None) => false,
            // A database hiccup does not end a stream; the next heartbeat checks again.
            Err(_) => true,
        }
    }

    async fn run(mut self, mut slot: StreamSlot) {
        let heartbeat = self.hub.settings().heartbeat;
        let retry = self.hub.settings().retry;
        let expiry = (self.until - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let expires = tokio::time::sleep(expiry);
        tokio::pin!(expires);
        let mut ticks =
            tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
        let result: Result<(), End> = async {
            self.send(": connected\n\n".to_owned())?;
            self.catch_up().await?;
            loop {
                tokio::select! {
                    woken = slot.wake.recv() => {
                        if woken.is_none() {
                            return Err(End::Server);
                        }
                        self.catch_up().await?;
                    }
                    _ = ticks.tick() => {
                        self.send(": heartbeat\n\n".to_owned())?;
                        if !self.still_active().await {
                            return Err(End::Server);
                        }
                        // The safety net for a notice lost while the subscription was down.
                        self.catch_up().await?;
                    }
                    () = &mut expires => return Err(End::Server),
                    () = stopped(&mut slot.shutdown) => {
                        let _ = self.send(format!("retry: {}\n\n", retry.as_millis()));
                        return Err(End::Server);
                    }
                    () = self.frames.closed() => return Err(End::Client),
                }
            }
        }
        .await;
        drop(result);
        drop(slot);
    }
}

/// Resolves once `shutdown` is true.
async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

/// A single-use ticket to open the caller's stream without an `Authorization` header.
#[utoipa::path(post, path = "/api/v1/events/ticket", tag = "events", operation_id = "event_stream_ticket",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A ticket, usable once within 60 s", body = EventTicketResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Account deactivated", body = ErrorResponse),
        (status = 429, description = "Rate limited", body = ErrorResponse),
        (status = 503, description = "Redis unavailable", body = ErrorResponse),
    ))]
pub async fn ticket(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (user, until) = state.identity.authenticate_until(authorization).await?;
    let ttl = state.events.settings().ticket_ttl;
    let bytes: [u8; 32] = rand::random();
    let ticket = hex::encode(bytes);
    state
        .events
        .issue_ticket(&ticket, user.id.as_uuid(), until.timestamp())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(EventTicketResponse {
            ticket,
            expires_in: ttl.as_secs(),
        }))
}

/// Live events.
pub fn routes(routes: &mut RouteRegistry, prefix: &str) {
    routes
        .route(Method::GET, &format!("{prefix}/events"), stream)
        .route(Method::POST, &format!("{prefix}/events/ticket"), ticket);
}

/// The event operations and payload schemas.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(stream, ticket),
    components(schemas(
        EventTicketResponse,
        crate::events::AppointmentUpdatedEvent,
        super::bodies::NotificationRecordResponse
    ))
)]
pub struct Docs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_two_runs_of_digits() {
        for (id, ok) in [
            ("1767225600000-0", true),
            ("0-0", true),
            ("1-", false),
            ("-1", false),
            ("abc-1", false),
            ("1-2-3", false),
            ("", false),
        ] {
            assert_eq!(is_event_id(id), ok, "{id}");
        }
    }

    #[test]
    fn refusals_answer_429_503_and_401() {
        use crate::events::{StreamRefused, TicketRefused};
        use crate::http::error::ErrorCode;
        assert_eq!(
            ApiError::from(StreamRefused::PerUser).code(),
            ErrorCode::RateLimited
        );
        assert_eq!(
            ApiError::from(StreamRefused::Global).code(),
            ErrorCode::ServiceUnavailable
        );
        assert_eq!(
            ApiError::from(TicketRefused::Invalid).code(),
            ErrorCode::Unauthorized
        );
    }
}
