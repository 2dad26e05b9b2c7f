//! The infrastructure failure every port can report.

/// Infrastructure failure behind a port.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PortError {
    /// The backing service is unreachable, timed out or its pool is exhausted (→ 503).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else (→ 500); the text is logged, never sent.
    #[error("unexpected: {0}")]
    Unexpected(String),
}
