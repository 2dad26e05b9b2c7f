//! `FaultProxy`: a loopback TCP forwarder between the app under test and a shared service
//! (PostgreSQL, Redis) that a test can cut, stall and restore, so outages are simulated for one
//! app without stopping the service every other test uses.
//!
//! The app is configured with [`FaultProxy::proxied_url`] instead of the service's URL; every
//! connection it opens goes through the proxy, which copies bytes both ways
//! (`copy_bidirectional`) while it is up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forward bytes both ways.
    Forward,
    /// Close new connections right after accepting them (the client sees EOF or a reset).
    Refuse,
    /// Accept new connections but forward nothing; live connections freeze (a black hole).
    Stall,
}

/// The mode plus how many cuts happened; a connection opened before the latest cut is closed
/// even if the proxy was restored before the connection's task noticed the cut.
#[derive(Debug, Clone, Copy)]
struct State {
    mode: Mode,
    epoch: u64,
}

/// Counters shared with the proxy's tasks.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    forwarded: AtomicU64,
    refused: AtomicU64,
    live: AtomicUsize,
}

/// Decrements the live-connection gauge when a forwarding task ends, however it ends.
struct LiveGuard(Arc<Counters>);

impl LiveGuard {
    fn new(counters: &Arc<Counters>) -> Self {
        counters.live.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(counters))
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A controllable TCP proxy on `127.0.0.1:<random port>` in front of one `host:port`.
///
/// Dropping it stops accepting and closes every connection it holds.
pub struct FaultProxy {
    port: u16,
    target: String,
    state: watch::Sender<State>,
    counters: Arc<Counters>,
    acceptor: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .field("target", &self.target)
            .field("mode", &self.state.borrow().mode)
            .finish()
    }
}

impl FaultProxy {
    /// Starts forwarding to `target` (`host:port`; the host is resolved per connection).
    pub async fn start(target: impl Into<String>) -> Self {
        let target = target.into();
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("binding the fault proxy");
        let port = listener.local_addr().expect("fault proxy address").port();
        let (state, receiver) = watch::channel(State {
            mode: Mode::Forward,
            epoch: 0,
        });
        let counters = Arc::new(Counters::default());
        let acceptor = tokio::spawn(accept_loop(
            listener,
            target.clone(),
            receiver,
            Arc::clone(&counters),
        ));
        Self {
            port,
            target,
            state,
            counters,
            acceptor,
        }
    }

    /// Starts a proxy in front of the server of `url` (`scheme://[user[:password]@]host[:port]/…`,
    /// `default_port` when the URL has none) and returns it with `url` rewritten to go through it.
    pub async fn for_url(url: &str, default_port: u16) -> (Self, String) {
        let (host, port) = url_server(url, default_port)
            .unwrap_or_else(|| panic!("no host:port in the URL given to the fault proxy"));
        let proxy = Self::start(format!("{host}:{port}")).await;
        let proxied = proxy.proxied_url(url, default_port);
        (proxy, proxied)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The `host:port` connections are forwarded to.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `url` with its server replaced by this proxy (credentials, path and query kept).
    pub fn proxied_url(&self, url: &str, default_port: u16) -> String {
        replace_server(url, &self.address(), default_port)
            .unwrap_or_else(|| panic!("no host:port in the URL given to the fault proxy"))
    }

    /// Simulates the service going down: every live connection is closed (waits until they
    /// are) and new ones are closed as soon as they are accepted, until [`restore`](Self::restore).
    pub async fn cut(&self) {
        self.state.send_modify(|s| {
            s.mode = Mode::Refuse;
            s.epoch += 1;
        });
        self.wait_until_no_live_connection().await;
    }

    /// Simulates a network black hole: live connections stop forwarding (bytes stay queued)
    /// and new connections are accepted but not forwarded, until [`restore`](Self::restore)
    /// (which resumes them) or [`cut`](Self::cut) (which closes them).
    pub fn stall(&self) {
        self.state.send_modify(|s| s.mode = Mode::Stall);
    }

    /// Forwards again; connections made from now on reach the service.
    pub fn restore(&self) {
        self.state.send_modify(|s| s.mode = Mode::Forward);
    }

    /// Whether the proxy currently forwards.
    pub fn is_up(&self) -> bool {
        self.state.borrow().mode == Mode::Forward
    }

    /// Connections accepted so far (forwarded, refused or stalled).
    pub fn connections(&self) -> u64 {
        self.counters.accepted.load(Ordering::SeqCst)
    }

    /// Connections that reached the service so far.
    pub fn forwarded(&self) -> u64 {
        self.counters.forwarded.load(Ordering::SeqCst)
    }

    /// Connections closed on accept because the proxy was cut.
    pub fn refused(&self) -> u64 {
        self.counters.refused.load(Ordering::SeqCst)
    }

    /// Connections currently open to the service.
    pub fn live(&self) -> usize {
        self.counters.live.load(Ordering::SeqCst)
    }

    async fn wait_until_no_live_connection(&self) {
        for _ in 0..500 {
            if self.live() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "fault proxy: {} connection(s) still open 5 s after the cut",
            self.live()
        );
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        // Connection tasks end when they see the sender gone (dropped with `self`).
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: String,
    mut state: watch::Receiver<State>,
    counters: Arc<Counters>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let Ok((inbound, _)) = accepted else {
            continue;
        };
        counters.accepted.fetch_add(1, Ordering::SeqCst);
        let current = *state.borrow();
        if current.mode == Mode::Refuse {
            counters.refused.fetch_add(1, Ordering::SeqCst);
            drop(inbound);
            continue;
        }
        tokio::spawn(serve(
            inbound,
            target.clone(),
            state.clone(),
            Arc::clone(&counters),
            current.epoch,
        ));
    }
}

/// One client connection: waits out a stall, connects to the target, then copies both ways
/// until either side closes, the proxy is cut or the proxy is dropped.
async fn serve(
    mut inbound: TcpStream,
    target: String,
    mut state: watch::Receiver<State>,
    counters: Arc<Counters>,
    epoch: u64,
) {
    // Accepted during a stall: hold the connection until the proxy forwards again.
    loop {
        let current = *state.borrow_and_update();
        if current.epoch != epoch || current.mode == Mode::Refuse {
            counters.refused.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if current.mode == Mode::Forward {
            break;
        }
        if state.changed().await.is_err() {
            return;
        }
    }
    let Ok(mut outbound) = TcpStream::connect(target.as_str()).await else {
        return;
    };
    counters.forwarded.fetch_add(1, Ordering::SeqCst);
    let _live = LiveGuard::new(&counters);
    let copy = copy_bidirectional(&mut inbound, &mut outbound);
    tokio::pin!(copy);
    loop {
        let current = *state.borrow_and_update();
        if current.epoch != epoch || current.mode == Mode::Refuse {
            // Cut: dropping both streams closes both sockets.
            return;
        }
        if current.mode == Mode::Stall {
            // Frozen: the copy is not polled, so nothing moves until the state changes.
            if state.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            biased;
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = &mut copy => return,
        }
    }
}

/// Byte range of the `host[:port]` part of `url` (after any `user[:password]@`).
fn server_span(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = start + rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &url[start..end];
    let host_start = start + authority.rfind('@').map_or(0, |at| at + 1);
    (host_start < end).then_some((host_start, end))
}

/// `(host, port)` of the server in `url`, `default_port` when it has none.
pub fn url_server(url: &str, default_port: u16) -> Option<(String, u16)> {
    let (start, end) = server_span(url)?;
    let server = &url[start..end];
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &server[..close + 2];
        let port = rest[close + 1..].strip_prefix(':');
        (host, port)
    } else {
        match server.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (server, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => default_port,
    };
    Some((host.to_owned(), port))
}

/// `url` with its `host[:port]` replaced by `address`.
fn replace_server(url: &str, address: &str, default_port: u16) -> Option<String> {
    url_server(url, default_port)?;
    let (start, end) = server_span(url)?;
    Some(format!("{}{address}{}", &url[..start], &url[end..]))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn servers_are_found_in_database_and_redis_urls() {
        assert_eq!(
            url_server("postgres://postgres@127.0.0.1:5432/postgres", 5432),
            Some(("127.0.0.1".to_owned(), 5432))
        );
        assert_eq!(
            url_server("postgres://u:p@db.local/x?sslmode=disable", 5432),
            Some(("db.local".to_owned(), 5432))
        );
        assert_eq!(
            url_server("redis://:secret@[::1]:6380/0", 6379),
            Some(("[::1]".to_owned(), 6380))
        );
        assert_eq!(
            url_server("redis://127.0.0.1:6379", 6379),
            Some(("127.0.0.1".to_owned(), 6379))
        );
        assert_eq!(
            url_server("postgres:///db?host=/run/postgresql", 5432),
            None
        );
        assert_eq!(
            replace_server("postgres://u:p@h:5432/db?x=1", "127.0.0.1:9", 5432).as_deref(),
            Some("postgres://u:p@127.0.0.1:9/db?x=1")
        );
        assert_eq!(
            replace_server("redis://127.0.0.1", "127.0.0.1:9", 6379).as_deref(),
            Some("redis://127.0.0.1:9")
        );
    }

    /// An echo server on a random port.
    async fn echo_server() -> String {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut reader, mut writer) = stream.split();
                    let _ = tokio::io::copy(&mut reader, &mut writer).await;
                });
            }
        });
        address
    }

    async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(message).await?;
        let mut answer = vec![0; message.len()];
        stream.read_exact(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn forwards_cuts_refuses_stalls_and_restores() {
        let proxy = FaultProxy::start(echo_server().await).await;
        let mut first = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(round_trip(&mut first, b"hello").await.unwrap(), b"hello");
        assert_eq!(proxy.live(), 1);

        proxy.cut().await;
        assert_eq!(proxy.live(), 0);
        assert!(
            round_trip(&mut first, b"again").await.is_err(),
            "a live connection is closed by the cut"
        );
        let mut refused = TcpStream::connect(proxy.address()).await.unwrap();
        assert!(
            round_trip(&mut refused, b"x").await.is_err(),
            "new ones are closed"
        );
        assert!(proxy.refused() >= 1);

        proxy.restore();
        let mut second = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(round_trip(&mut second, b"back").await.unwrap(), b"back");

        proxy.stall();
        second.write_all(b"held").await.unwrap();
        let mut buffer = [0_u8; 4];
        let stalled =
            tokio::time::timeout(Duration::from_millis(100), second.read_exact(&mut buffer)).await;
        assert!(stalled.is_err(), "nothing moves while stalled");
        proxy.restore();
        second.read_exact(&mut buffer).await.unwrap();
        assert_eq!(&buffer, b"held", "queued bytes flow after the restore");
        assert_eq!(proxy.connections(), 3);
        assert_eq!(proxy.forwarded(), 2);
    }
}
