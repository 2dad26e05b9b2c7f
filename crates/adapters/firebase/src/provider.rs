//! The push sender the service runs with, one of the known senders chosen at startup: FCM HTTP
//! v1 when a usable service account is configured, otherwise disabled (every delivery recorded
//! failed with `PROVIDER_NOT_CONFIGURED`).

use medico24_kernel::SystemClock;
use medico24_notifications::{
    PROVIDER_NOT_CONFIGURED, PushMessage, PushOutcome, PushResult, PushSender,
};

use crate::fcm::{FcmPushSender, TokioSleeper};

/// Where pushes go.
#[derive(Debug, Clone)]
pub enum PushProvider {
    /// FCM HTTP v1 with the service account's OAuth2 token.
    Fcm(FcmPushSender<SystemClock, TokioSleeper>),
    /// No credentials: nothing is sent.
    Disabled,
}

impl PushSender for PushProvider {
    fn is_enabled(&self) -> bool {
        matches!(self, PushProvider::Fcm(_))
    }

    async fn send_all(&self, messages: &[PushMessage]) -> Vec<PushResult> {
        match self {
            PushProvider::Fcm(sender) => sender.send_all(messages).await,
            PushProvider::Disabled => messages
                .iter()
                .map(|_| {
                    PushResult::new(PushOutcome::Failed {
                        code: PROVIDER_NOT_CONFIGURED.to_owned(),
                        reason: PROVIDER_NOT_CONFIGURED.to_owned(),
                    })
                })
                .collect(),
        }
    }
}
