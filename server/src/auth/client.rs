//! Who is on the other end: the peer's address, or — only when the peer is one of the proxies
//! taskdeck was told to trust (`--trusted-proxies`) — the client address those proxies report
//! in `Forwarded` or `X-Forwarded-For`. A header from anyone else is ignored, so a client
//! cannot choose the address its sign-in failures are counted against.

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client's address as taskdeck reads it, set on every request by [`remember`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The networks whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    /// `CIDR,CIDR,…` (a plain address is a network of one).
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not an address or a network (CIDR)"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client behind `peer`: walking the forwarded chain from the nearest hop, the first
    /// address that is not a trusted proxy. Without trusted proxies, or from an untrusted
    /// peer, the peer itself.
    pub fn client(&self, peer: IpAddr, headers: &http::HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        let mut client = peer;
        for hop in chain.iter().rev() {
            let Some(ip) = hop else {
                // An unreadable hop: nothing before it can be believed.
                return client;
            };
            client = canonical(*ip);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// IPv4 addresses mapped into IPv6 (`::ffff:1.2.3.4`) are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses of `Forwarded` (RFC 7239 `for=`), or else of `X-Forwarded-For`, nearest
/// last; `None` for a hop that is not an address (`unknown`, an obfuscated name).
fn forwarded_chain(headers: &http::HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|s| s.trim().to_owned()))
            .filter(|s| !s.is_empty())
            .collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_hop(v.trim().trim_matches('"')))
                })?
            })
            .collect();
    }
    values("x-forwarded-for")
        .iter()
        .map(|v| parse_hop(v))
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_hop(v: &str) -> Option<IpAddr> {
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = v.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    v.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// Records the client's address on the request for everything after it (the gate, sign-in,
/// the audit log, per-caller limits).
pub async fn remember(trusted: Arc<TrustedProxies>, mut req: Request, next: Next) -> Response {
    if let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let client = trusted.client(peer, req.headers());
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let xff = headers(&[("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(none.client(ip("10.0.0.5"), &xff), ip("10.0.0.5"));

        let proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        assert_eq!(proxies.client(ip("10.0.0.5"), &xff), ip("6.6.6.6"));
        assert_eq!(
            proxies.client(ip("192.0.2.9"), &xff),
            ip("192.0.2.9"),
            "not a proxy of ours"
        );
        // A client cannot put an address in front of the chain: the nearest untrusted hop wins.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 7.7.7.7, 10.0.0.2")]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &chain), ip("7.7.7.7"));
        let forwarded = headers(&[(
            "forwarded",
            r#"for=1.1.1.1, for="[2001:db8::7]:443";proto=https, for=10.0.0.3"#,
        )]);
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &forwarded),
            ip("2001:db8::7")
        );
        let unknown = headers(&[("x-forwarded-for", "1.1.1.1, unknown")]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &unknown), ip("10.0.0.5"));
        assert_eq!(
            proxies.client(ip("::ffff:10.0.0.5"), &xff),
            ip("6.6.6.6"),
            "a mapped address is its IPv4 address"
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
    }
}
