//! Live event stream settings: heartbeat, caps, retention of the resumable log, the reconnect
//! delay sent on shutdown, the per-stream buffer.

use std::time::Duration;

use super::Reader;

/// How the event streams (`GET /api/v1/events`) behave.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// `EVENTS_HEARTBEAT_MS` (default 20000): a comment line this often; each heartbeat also
    /// checks that the user is still active and looks at the user's log for missed notices.
    pub heartbeat: Duration,
    /// `EVENTS_MAX_STREAMS_PER_USER` (default 5): more open streams of one user answer 429.
    pub max_streams_per_user: usize,
    /// `EVENTS_MAX_STREAMS` (default 10000): more open streams in this process answer 503.
    pub max_streams: usize,
    /// `EVENTS_RETENTION_SECONDS` (default 900, at least 600): how long a user's log keeps an
    /// event, so a client resumes without loss after this long away.
    pub retention: Duration,
    /// `EVENTS_RETRY_MS` (default 3000): the `retry:` sent before a stream closes on shutdown.
    pub retry: Duration,
    /// `EVENTS_STREAM_BUFFER` (default 64): frames waiting for a slow client before its stream
    /// is dropped (it resumes with its last id).
    pub buffer: usize,
    /// `EVENTS_TICKET_TTL_SECONDS` (default 60, at most 60): how long a stream ticket stays
    /// usable.
    pub ticket_ttl: Duration,
}

/// Reads the event settings, recording every problem in `r`.
pub(super) fn read(r: &mut Reader<'_>) -> EventSettings {
    EventSettings {
        heartbeat: Duration::from_millis(r.number("EVENTS_HEARTBEAT_MS", 20_000, 50, 60_000)),
        max_streams_per_user: r.number("EVENTS_MAX_STREAMS_PER_USER", 5_usize, 1, 100),
        max_streams: r.number("EVENTS_MAX_STREAMS", 10_000_usize, 1, 1_000_000),
        retention: Duration::from_secs(r.number("EVENTS_RETENTION_SECONDS", 900, 600, 86_400)),
        retry: Duration::from_millis(r.number("EVENTS_RETRY_MS", 3000, 0, 600_000)),
        buffer: r.number("EVENTS_STREAM_BUFFER", 64_usize, 1, 10_000),
        ticket_ttl: Duration::from_secs(r.number("EVENTS_TICKET_TTL_SECONDS", 60, 1, 60)),
    }
}
