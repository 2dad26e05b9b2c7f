//! How an outbound call ended, reported to an observer that turns it into the metric
//! `medico24_external_request_duration_seconds{service,outcome}`.

use std::sync::Arc;
use std::time::Duration;

/// How one outbound request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A usable answer arrived.
    Success,
    /// Network failure, unexpected status or an unusable body.
    Error,
    /// No answer within the timeout.
    Timeout,
}

impl Outcome {
    /// The `outcome` label value.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
        }
    }
}

/// Called once per certificate fetch with its outcome and wall-clock duration.
pub type FetchObserver = Arc<dyn Fn(Outcome, Duration) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_labels_match_the_metric_spec() {
        assert_eq!(Outcome::Success.as_str(), "success");
        assert_eq!(Outcome::Error.as_str(), "error");
        assert_eq!(Outcome::Timeout.as_str(), "timeout");
    }
}
