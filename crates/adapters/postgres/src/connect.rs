//! Opening PostgreSQL connections from a connection URL the way libpq reads it: `sslmode`,
//! `sslrootcert` (a CA file or `system`), SNI, SCRAM and URL-encoded credentials; TLS is rustls.
//!
//! tokio-postgres understands only `sslmode=disable|prefer|require` and no `sslrootcert`, so the
//! TLS options are taken out of the URL here, the rest is handed to tokio-postgres, and the
//! certificate checks libpq would make are done by the rustls verifier chosen below.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use diesel::{ConnectionError, ConnectionResult};
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`: how much TLS a connection insists on and what it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// Plain TCP first; TLS (unverified) only when the server refuses plain TCP.
    Allow,
    /// TLS when the server offers it, plain TCP otherwise; the certificate is not checked.
    Prefer,
    /// TLS or nothing; the certificate is not checked (unless `sslrootcert` is given, which
    /// makes it `verify-ca`, as libpq does).
    Require,
    /// TLS with a certificate signed by a trusted CA, whatever host name it names.
    VerifyCa,
    /// TLS with a trusted certificate issued for the host connected to.
    VerifyFull,
}

impl SslMode {
    /// The value as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = ();

    fn from_str(value: &str) -> Result<Self, ()> {
        Ok(match value {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return Err(()),
        })
    }
}

/// Why a connection URL cannot be used. The message names the option at fault and never
/// repeats the URL (it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectConfigError(String);

/// URL options handed to tokio-postgres as they are (it names none of them when it refuses
/// one, so unknown options are refused here, by name).
const PASSED_ON: &[&str] = &[
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RootSource {
    /// A PEM file with one or more CA certificates.
    File(PathBuf),
    /// The platform's trust store (`sslrootcert=system`).
    System,
}

/// A parsed connection URL, ready to open connections. Cheap to clone.
#[derive(Clone)]
pub struct PgConnectOptions {
    config: tokio_postgres::Config,
    ssl_mode: SslMode,
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for PgConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the password: show only what identifies the endpoint.
        f.debug_struct("PgConnectOptions")
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .field("ssl_mode", &self.ssl_mode)
            .finish_non_exhaustive()
    }
}

impl PgConnectOptions {
    /// Parses a `postgres://` / `postgresql://` URL (also the reference implementation's
    /// `postgresql+asyncpg://`), reading the CA file when one is named.
    ///
    /// Without `sslmode` the mode is libpq's default, `prefer`; with `sslrootcert=system` it
    /// is `verify-full`, and a weaker mode is refused (libpq 16 does the same: the public
    /// roots trust anyone's certificate for *some* host, so only the host name check makes
    /// them meaningful).
    ///
    /// # Errors
    /// [`ConnectConfigError`] naming the option at fault: an unknown `sslmode`, a CA file that
    /// cannot be read or holds no certificate, a verifying mode without any CA, client
    /// certificates (not supported), or a URL tokio-postgres cannot read.
    pub fn parse(url: &str) -> Result<Self, ConnectConfigError> {
        let url = normalize_url(url);
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url.as_str(), ""),
        };
        let mut kept = Vec::new();
        let mut ssl_mode = None;
        let mut root = None;
        let mut sni = true;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(raw_value)
                .ok_or_else(|| bad(format!("option `{key}`: invalid percent-encoding")))?;
            match key {
                "sslmode" => {
                    ssl_mode = Some(value.parse::<SslMode>().map_err(|()| {
                        bad(format!(
                            "sslmode `{value}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        ))
                    })?);
                }
                "sslrootcert" => {
                    root = Some(if value == "system" {
                        RootSource::System
                    } else {
                        RootSource::File(PathBuf::from(value))
                    });
                }
                "sslsni" => {
                    sni = match value.as_str() {
                        "0" => false,
                        "1" => true,
                        _ => return Err(bad("sslsni must be 0 or 1".to_owned())),
                    };
                }
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                    return Err(bad(format!(
                        "option `{key}`: client certificates and CRLs are not supported"
                    )));
                }
                _ if PASSED_ON.contains(&key) => kept.push(pair),
                _ => return Err(bad(format!("unknown connection option `{key}`"))),
            }
        }
        let ssl_mode = match (ssl_mode, &root) {
            (Some(mode), Some(RootSource::System)) if mode != SslMode::VerifyFull => {
                return Err(bad(format!(
                    "sslmode `{}` may not be used with sslrootcert=system (use verify-full)",
                    mode.as_str()
                )));
            }
            (Some(mode), _) => mode,
            (None, Some(RootSource::System)) => SslMode::VerifyFull,
            (None, _) => SslMode::Prefer,
        };
        // libpq: with a CA at hand, `require` checks the chain like `verify-ca`.
        let ssl_mode = if ssl_mode == SslMode::Require && root.is_some() {
            SslMode::VerifyCa
        } else {
            ssl_mode
        };
        let root = match (ssl_mode, root) {
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                // libpq's default CA file.
                let default = std::env::var_os("HOME")
                    .map(|home| Path::new(&home).join(".postgresql/root.crt"))
                    .filter(|path| path.is_file());
                Some(RootSource::File(default.ok_or_else(|| {
                    bad(format!(
                        "sslmode={} needs sslrootcert (a CA file, or `system` for the platform's roots)",
                        ssl_mode.as_str()
                    ))
                })?))
            }
            (_, root) => root,
        };
        let rebuilt = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config = tokio_postgres::Config::from_str(&rebuilt)
            .map_err(|e| bad(format!("cannot read the connection URL: {e}")))?;
        config.ssl_mode(match ssl_mode {
            SslMode::Disable | SslMode::Allow => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        let tls = tls_connector(ssl_mode, root.as_ref(), sni)?;
        Ok(Self {
            config,
            ssl_mode,
            tls,
        })
    }

    /// The effective `sslmode`.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// Whether every host is this machine (loopback or a Unix socket).
    pub fn is_local(&self) -> bool {
        self.config.get_hosts().iter().all(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            tokio_postgres::config::Host::Unix(_) => true,
        })
    }

    /// Opens one connection (TLS as the options say) and hands it to diesel-async.
    ///
    /// # Errors
    /// [`ConnectionError::BadConnection`] with the driver's message and its causes (a refused
    /// TLS handshake names the certificate problem); never the password.
    pub async fn connect(&self) -> ConnectionResult<AsyncPgConnection> {
        match self.connect_with(&self.config).await {
            Err(_) if self.ssl_mode == SslMode::Allow => {
                // `allow`: the server refused plain TCP, so try TLS (unverified).
                let mut config = self.config.clone();
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                self.connect_with(&config).await
            }
            result => result,
        }
    }

    /// Like [`PgConnectOptions::connect`], for a transaction pooler: the driver's own setup
    /// statements run inside one transaction, which first clears statements other clients left
    /// on the server connection when `clear_statements` (see `conn::CLEAR_STATEMENTS`).
    ///
    /// diesel-async sets the time zone and encoding on every new connection with statements it
    /// prepares in one round trip and executes in the next; behind a transaction pooler the
    /// two round trips can reach different server connections ("prepared statement does not
    /// exist"). Inside a transaction the pooler keeps one server connection for both.
    ///
    /// # Errors
    /// As [`PgConnectOptions::connect`].
    pub async fn connect_pinned(
        &self,
        clear_statements: bool,
    ) -> ConnectionResult<AsyncPgConnection> {
        let config = if self.ssl_mode == SslMode::Allow {
            // No plain-then-TLS fallback here: a pooler endpoint is one or the other.
            let mut config = self.config.clone();
            config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
            config
        } else {
            self.config.clone()
        };
        let (client, connection) = config
            .connect(self.tls.clone())
            .await
            .map_err(|e| ConnectionError::BadConnection(error_chain(&e)))?;
        // Ends when the client (owned by the returned connection) is dropped.
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "database connection ended with an error");
            }
        });
        let begin = if clear_statements {
            format!("BEGIN{}", crate::conn::CLEAR_STATEMENTS)
        } else {
            "BEGIN".to_owned()
        };
        client
            .batch_execute(&begin)
            .await
            .map_err(|e| ConnectionError::BadConnection(error_chain(&e)))?;
        let mut conn = AsyncPgConnection::try_from(client).await?;
        diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, "COMMIT")
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        Ok(conn)
    }

    async fn connect_with(
        &self,
        config: &tokio_postgres::Config,
    ) -> ConnectionResult<AsyncPgConnection> {
        let (client, connection) = config
            .connect(self.tls.clone())
            .await
            .map_err(|e| ConnectionError::BadConnection(error_chain(&e)))?;
        AsyncPgConnection::try_from_client_and_connection(client, connection).await
    }
}

/// Accepts the reference implementation's `postgresql+asyncpg://` scheme as well.
fn normalize_url(url: &str) -> String {
    for prefix in [
        "postgresql+asyncpg://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
    ] {
        if let Some(rest) = url.strip_prefix(prefix) {
            return format!("postgresql://{rest}");
        }
    }
    url.to_owned()
}

fn bad(message: String) -> ConnectConfigError {
    ConnectConfigError(message)
}

/// An error and its causes on one line (tokio-postgres puts the interesting part, such as
/// the certificate problem, in the source).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(if byte == b'+' { b' ' } else { byte });
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The rustls connector for `mode`: which certificates are trusted and what is checked.
fn tls_connector(
    mode: SslMode,
    root: Option<&RootSource>,
    sni: bool,
) -> Result<MakeRustlsConnect, ConnectConfigError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS setup failed: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(load_roots(root)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| bad(format!("sslrootcert: {e}")))?;
            if mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
        SslMode::Disable | SslMode::Allow | SslMode::Prefer | SslMode::Require => {
            Arc::new(Unverified(provider))
        }
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.enable_sni = sni;
    Ok(MakeRustlsConnect::new(config))
}

fn load_roots(root: Option<&RootSource>) -> Result<RootCertStore, ConnectConfigError> {
    let mut store = RootCertStore::empty();
    match root {
        Some(RootSource::File(path)) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(format!("sslrootcert `{}`: {e}", path.display())))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad(format!(
                    "sslrootcert `{}` holds no usable CA certificate",
                    path.display()
                )));
            }
        }
        Some(RootSource::System) => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(bad(
                    "sslrootcert=system: the platform's trust store is empty or unreadable"
                        .to_owned(),
                ));
            }
        }
        None => {}
    }
    Ok(store)
}

/// `verify-ca`: the chain must lead to a trusted CA; the host name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer`/`require` without a CA: encryption without authentication of the server, as
/// libpq does. The handshake signatures are still checked.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> Result<SslMode, ConnectConfigError> {
        PgConnectOptions::parse(url).map(|options| options.ssl_mode())
    }

    #[test]
    fn asyncpg_urls_are_accepted() {
        assert_eq!(
            normalize_url("postgresql+asyncpg://u:p@h:5432/db"),
            "postgresql://u:p@h:5432/db"
        );
        assert_eq!(normalize_url("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn sslmode_defaults_to_prefer_and_reads_every_libpq_spelling() {
        assert_eq!(mode("postgres://h/db"), Ok(SslMode::Prefer));
        for (text, expected) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
        ] {
            assert_eq!(
                mode(&format!("postgres://u:p@h/db?sslmode={text}")),
                Ok(expected)
            );
        }
    }

    #[test]
    fn an_unknown_sslmode_is_named_and_the_password_is_not() {
        let err = mode("postgres://u:secret@h/db?sslmode=verify_full").unwrap_err();
        assert!(err.to_string().contains("verify_full"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn verifying_modes_need_a_ca_and_name_the_option() {
        // HOME without ~/.postgresql/root.crt: no default CA to fall back on.
        let err = mode("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .unwrap_err();
        assert!(err.to_string().contains("sslrootcert"), "{err}");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn system_roots_imply_verify_full_and_refuse_weaker_modes() {
        let err = mode("postgres://h/db?sslmode=require&sslrootcert=system").unwrap_err();
        assert!(err.to_string().contains("verify-full"), "{err}");
        // The trust store may be empty on a minimal machine; either way the mode is right or
        // the error names the option.
        match mode("postgres://h/db?sslrootcert=system") {
            Ok(mode) => assert_eq!(mode, SslMode::VerifyFull),
            Err(err) => assert!(err.to_string().contains("sslrootcert=system"), "{err}"),
        }
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_named() {
        let path = std::env::temp_dir().join(format!("not-a-ca-{}.pem", std::process::id()));
        std::fs::write(&path, "this is not a certificate\n").unwrap();
        let url = format!(
            "postgres://u:secret@h/db?sslmode=verify-full&sslrootcert={}",
            path.display()
        );
        let err = mode(&url).unwrap_err().to_string();
        let _ = std::fs::remove_file(&path);
        assert!(err.contains("sslrootcert"), "{err}");
        assert!(err.contains("no usable CA certificate"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn client_certificates_are_refused_by_name() {
        let err = mode("postgres://h/db?sslcert=/tmp/c.pem").unwrap_err();
        assert!(err.to_string().contains("sslcert"), "{err}");
    }

    #[test]
    fn other_options_reach_tokio_postgres_and_credentials_are_url_decoded() {
        let options = PgConnectOptions::parse(
            "postgresql://med%40user:p%40ss%3Aw%2Frd%25@db.example.com:6543/app?sslmode=disable&application_name=api&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(options.config.get_user(), Some("med@user"));
        assert_eq!(options.config.get_password(), Some(&b"p@ss:w/rd%"[..]));
        assert_eq!(options.config.get_application_name(), Some("api"));
        assert_eq!(options.config.get_ports(), &[6543]);
        let debug = format!("{options:?}");
        assert!(!debug.contains("p@ss"), "{debug}");
    }

    #[test]
    fn an_unknown_option_is_named() {
        let err = mode("postgres://h/db?sslmode=disable&frobnicate=1").unwrap_err();
        assert!(err.to_string().contains("frobnicate"), "{err}");
    }

    #[test]
    fn percent_decoding_rejects_broken_escapes() {
        assert_eq!(percent_decode("a%2Fb"), Some("a/b".to_owned()));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}

#[cfg(test)]
mod sni_tests {
    //! What the client puts in its TLS ClientHello, read by a listener that speaks just enough
    //! of the PostgreSQL protocol to be asked for TLS.

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::PgConnectOptions;

    /// The server name the client sends when connecting with `url` (its host and port are
    /// filled in), `None` when it sends none.
    async fn server_name_sent(url_for: impl Fn(u16) -> String) -> Option<String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            // SSLRequest: length 8, code 80877103; the answer 'S' says "go ahead with TLS".
            let mut request = [0_u8; 8];
            stream.read_exact(&mut request).await.unwrap();
            assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47]);
            stream.write_all(b"S").await.unwrap();
            let acceptor =
                tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            let start = acceptor.await.unwrap();
            start.client_hello().server_name().map(str::to_owned)
        });
        let options = PgConnectOptions::parse(&url_for(port)).unwrap();
        // The handshake cannot finish (the listener has no certificate); only the hello counts.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), options.connect()).await;
        server.await.unwrap()
    }

    #[tokio::test]
    async fn the_host_name_is_sent_as_sni_unless_sslsni_is_0_or_the_host_is_an_address() {
        let named = |extra: &'static str| {
            move |port: u16| {
                format!(
                    "postgresql://u:p@db.example.com:{port}/app?hostaddr=127.0.0.1&sslmode=require{extra}"
                )
            }
        };
        assert_eq!(
            server_name_sent(named("")).await.as_deref(),
            Some("db.example.com")
        );
        assert_eq!(server_name_sent(named("&sslsni=0")).await, None);
        assert_eq!(
            server_name_sent(|port| format!(
                "postgresql://u:p@127.0.0.1:{port}/app?sslmode=require"
            ))
            .await,
            None
        );
    }
}
