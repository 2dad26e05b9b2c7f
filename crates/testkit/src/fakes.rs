//! Local stand-ins for Google and Firebase that speak their real HTTP protocols (wiremock).
//! Tests mount the answers they need; the server under test only sees configurable base URLs.

use wiremock::MockServer;

/// Google Air Quality and Weather current-conditions endpoints.
pub struct FakeGoogle {
    /// The underlying mock server (mount `Mock`s on it).
    pub server: MockServer,
}

impl FakeGoogle {
    /// Path of the Air Quality lookup on the fake.
    pub const AIR_QUALITY_PATH: &'static str = "/v1/currentConditions:lookup";
    /// Path of the Weather lookup on the fake.
    pub const WEATHER_PATH: &'static str = "/weather/v1/currentConditions:lookup";

    /// Starts the fake on a free local port.
    pub async fn start() -> Self {
        Self {
            server: MockServer::start().await,
        }
    }

    /// Value for `GOOGLE_AIR_QUALITY_URL`.
    pub fn air_quality_url(&self) -> String {
        format!("{}{}", self.server.uri(), Self::AIR_QUALITY_PATH)
    }

    /// Value for `GOOGLE_WEATHER_URL`.
    pub fn weather_url(&self) -> String {
        format!("{}{}", self.server.uri(), Self::WEATHER_PATH)
    }
}

/// Firebase/Google identity endpoints: x509 certificates for ID tokens, the OAuth2 token
/// endpoint for service accounts, and FCM HTTP v1.
pub struct FakeFirebase {
    /// The underlying mock server (mount `Mock`s on it).
    pub server: MockServer,
}

impl FakeFirebase {
    /// Path of the certificate set on the fake.
    pub const CERTS_PATH: &'static str =
        "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";
    /// Path of the OAuth2 token endpoint on the fake.
    pub const TOKEN_PATH: &'static str = "/token";

    /// Starts the fake on a free local port.
    pub async fn start() -> Self {
        Self {
            server: MockServer::start().await,
        }
    }

    /// Value for `FIREBASE_CERTS_URL`.
    pub fn certs_url(&self) -> String {
        format!("{}{}", self.server.uri(), Self::CERTS_PATH)
    }

    /// Value for `GOOGLE_OAUTH_TOKEN_URL`.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.server.uri(), Self::TOKEN_PATH)
    }

    /// Value for `FCM_BASE_URL` (requests go to `/v1/projects/{p}/messages:send`).
    pub fn fcm_base_url(&self) -> String {
        self.server.uri()
    }
}
