//! Who may reach the API: browser origins (`CORS_ORIGINS`, `CORS_ALLOW_CREDENTIALS`) and the
//! proxies whose forwarded client addresses are believed (`TRUSTED_PROXIES`).

use std::net::IpAddr;

use super::Reader;

/// An IP network from `TRUSTED_PROXIES` (a single address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Parses `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (
                addr.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u8>().ok()?),
            ),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether `ip` lies inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin, never with credentials.
    Any,
    /// Exactly these origins.
    List(Vec<String>),
}

/// Reads `CORS_ORIGINS` and `CORS_ALLOW_CREDENTIALS` (never credentials with `*`), recording
/// every problem in `r`.
pub(super) fn read_cors(r: &mut Reader<'_>, production: bool) -> (CorsOrigins, bool) {
    let origins: Vec<String> = r
        .text("CORS_ORIGINS", "http://localhost:3000")
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    let mut cors_allow_credentials = r.boolean("CORS_ALLOW_CREDENTIALS", true);
    let cors_origins = if origins.iter().any(|o| o == "*") {
        if production && cors_allow_credentials {
            r.problem("CORS_ORIGINS contains * while CORS_ALLOW_CREDENTIALS is true");
        }
        cors_allow_credentials = false;
        CorsOrigins::Any
    } else {
        CorsOrigins::List(origins)
    };
    (cors_origins, cors_allow_credentials)
}

/// Reads `TRUSTED_PROXIES`, recording every problem in `r`.
pub(super) fn read_trusted_proxies(r: &mut Reader<'_>) -> Vec<IpNetwork> {
    let mut trusted_proxies = Vec::new();
    for entry in r
        .text("TRUSTED_PROXIES", "")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match IpNetwork::parse(entry) {
            Some(net) => trusted_proxies.push(net),
            None => r.problem("TRUSTED_PROXIES must be comma-separated IP addresses or CIDRs"),
        }
    }
    trusted_proxies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_addresses() {
        let net = IpNetwork::parse("10.1.0.0/16").unwrap_or_else(|| panic!("parse"));
        assert!(net.contains("10.1.200.3".parse().unwrap_or_else(|_| panic!())));
        assert!(!net.contains("10.2.0.1".parse().unwrap_or_else(|_| panic!())));
        let single = IpNetwork::parse("::1").unwrap_or_else(|| panic!("parse"));
        assert!(single.contains("::1".parse().unwrap_or_else(|_| panic!())));
        assert!(
            IpNetwork::parse("0.0.0.0/0")
                .is_some_and(|n| n.contains("8.8.8.8".parse().unwrap_or_else(|_| panic!())))
        );
    }
}
