//! The client IP of a request: the socket peer, or the `X-Forwarded-For` hop just before our
//! trusted proxies.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;

use crate::config::IpNetwork;

/// Resolves the client address of a request from its peer and headers.
pub fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpNetwork],
) -> Option<IpAddr> {
    let peer = normalize(peer?.ip());
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .map(normalize)
        .collect();
    // Walk from the right: the first hop that is not one of our proxies is the client.
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(*ip, trusted))
            .unwrap_or(peer),
    )
}

fn is_trusted(ip: IpAddr, trusted: &[IpNetwork]) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are the IPv4 address.
fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_str(xff).unwrap(),
        );
        map
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let ip = client_ip(peer("203.0.113.9"), &headers("1.2.3.4"), &[]);
        assert_eq!(ip, Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn forwarded_for_is_walked_from_the_right_behind_trusted_proxies() {
        let trusted = [IpNetwork::parse("10.0.0.0/8").unwrap()];
        let ip = client_ip(
            peer("10.0.0.2"),
            &headers("6.6.6.6, 198.51.100.7, 10.0.0.5"),
            &trusted,
        );
        assert_eq!(ip, Some("198.51.100.7".parse().unwrap()));
    }

    #[test]
    fn ipv4_mapped_addresses_are_normalised() {
        let ip = client_ip(peer("::ffff:192.0.2.1"), &HeaderMap::new(), &[]);
        assert_eq!(ip, Some("192.0.2.1".parse().unwrap()));
    }
}
