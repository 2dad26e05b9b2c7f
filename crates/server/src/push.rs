//! The push provider chosen at startup (an enum of the known adapters): FCM HTTP v1 when
//! a usable service account is configured, otherwise disabled (every delivery recorded failed).

use std::sync::Arc;

use medico24_firebase::{CallObserver, FcmConfig, FcmPushSender, ServiceAccount, TokioSleeper};
use medico24_kernel::SystemClock;
use medico24_notifications::{
    PROVIDER_NOT_CONFIGURED, PushMessage, PushOutcome, PushResult, PushSender,
};

use crate::config::Settings;
use crate::metrics::Metrics;

/// Timeout of one FCM or token request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where pushes go.
#[derive(Debug, Clone)]
pub enum PushProvider {
    /// FCM HTTP v1 with the service account's OAuth2 token.
    Fcm(FcmPushSender<SystemClock, TokioSleeper>),
    /// No credentials: nothing is sent.
    Disabled,
}

impl PushProvider {
    /// FCM when `FIREBASE_CONFIG_JSON`/`FIREBASE_CREDENTIALS_PATH` holds a usable service
    /// account; disabled without one. An unusable account (missing fields, bad key) is logged
    /// and leaves sending disabled rather than stopping the service.
    pub fn from_settings(settings: &Settings, http: &reqwest::Client, metrics: &Metrics) -> Self {
        let Some(json) = &settings.firebase_service_account else {
            return PushProvider::Disabled;
        };
        let account = match ServiceAccount::from_json(json.expose()) {
            Ok(account) => account,
            Err(error) => {
                tracing::error!(%error, "the Firebase service account is unusable; push sending is disabled");
                return PushProvider::Disabled;
            }
        };
        let mut config = FcmConfig::new(settings.fcm_base_url.clone());
        config
            .token_url
            .clone_from(&settings.google_oauth_token_url);
        config.concurrency = settings.fcm_concurrency;
        config.max_retries = settings.fcm_max_retries;
        config.request_timeout = REQUEST_TIMEOUT;
        config.backoff_base = settings.fcm_backoff_base;
        let external = metrics.external_duration.clone();
        let observer: CallObserver = Arc::new(move |service, outcome, elapsed| {
            external
                .with_label_values(&[service, outcome.as_str()])
                .observe(elapsed.as_secs_f64());
        });
        PushProvider::Fcm(FcmPushSender::new(
            account,
            config,
            http.clone(),
            SystemClock,
            TokioSleeper,
            Some(observer),
        ))
    }
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
