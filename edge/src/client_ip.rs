//! Who the client is, for per-client rate limits: the TCP peer's address, or — only when that
//! peer is a trusted proxy (`tessera serve --trust-proxy CIDR`) — the right-most address of
//! `X-Forwarded-For` that is not itself a trusted proxy.
//!
//! Walking `X-Forwarded-For` from the right stops at the first untrusted address: everything to
//! its left was written by the client or by proxies we do not know, so it could be forged. When
//! every listed hop is trusted, the left-most is the client; an entry that is not an IP address
//! (or `ip:port`) ends the walk at the last trusted hop. Without `--trust-proxy` the header is
//! ignored. Not done here: the `Forwarded` header (RFC 7239), PROXY protocol.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use ipnet::IpNet;

/// Request extension: the client's address as decided by this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Parses a `--trust-proxy` value: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address.
pub fn parse_trusted_proxy(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    if let Ok(net) = value.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    value
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{value:?} is not a CIDR (e.g. 10.0.0.0/8) or an IP address"))
}

/// The client's address given the TCP peer, the request headers and the trusted proxies.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return client;
        };
        hops.extend(text.split(',').map(str::trim));
    }
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .map(|ip| ip.to_canonical())
}

/// Middleware: inserts [`ClientIp`] when the connection's peer address is known.
pub(crate) async fn layer(
    State(trusted): State<Arc<[IpNet]>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let ip = client_ip(peer.ip(), request.headers(), &trusted);
        request.extensions_mut().insert(ClientIp(ip));
    }
    next.run(request).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let trusted = [parse_trusted_proxy("10.0.0.0/8").unwrap()];
        let forged = headers(&["1.2.3.4"]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &forged, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &forged, &[]), ip("10.0.0.1"));
        assert_eq!(client_ip(ip("10.0.0.1"), &forged, &trusted), ip("1.2.3.4"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = [
            parse_trusted_proxy("10.0.0.0/8").unwrap(),
            parse_trusted_proxy("192.0.2.7").unwrap(),
        ];
        let peer = ip("10.0.0.1");
        // The client forged "6.6.6.6"; 198.51.100.4 reached the trusted proxy 192.0.2.7.
        let chain = headers(&["6.6.6.6, 198.51.100.4", "192.0.2.7"]);
        assert_eq!(client_ip(peer, &chain, &trusted), ip("198.51.100.4"));
        // All hops trusted: the left-most.
        assert_eq!(
            client_ip(peer, &headers(&["10.1.1.1, 192.0.2.7"]), &trusted),
            ip("10.1.1.1")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            client_ip(
                peer,
                &headers(&["198.51.100.4, garbage, 10.2.2.2"]),
                &trusted
            ),
            ip("10.2.2.2")
        );
        // Ports, IPv6 and IPv4-mapped addresses.
        assert_eq!(
            client_ip(peer, &headers(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(
                ip("::ffff:10.0.0.1"),
                &headers(&["198.51.100.4:80"]),
                &trusted
            ),
            ip("198.51.100.4")
        );
        // No header: the peer.
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
    }

    #[test]
    fn trusted_proxy_values_are_cidrs_or_addresses() {
        assert_eq!(
            parse_trusted_proxy("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_trusted_proxy("::1").unwrap().to_string(), "::1/128");
        assert!(parse_trusted_proxy("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxy("proxy.local").is_err());
    }
}
