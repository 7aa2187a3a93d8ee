//! The client's address: the peer's, unless the peer is a trusted proxy, in which case the
//! nearest untrusted address in `X-Forwarded-For`. Headers from anyone else are ignored, so a
//! client cannot pick its own rate-limit bucket.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{extract::ConnectInfo, http::request::Parts};
use ipnet::IpNet;

pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    // Walk from the nearest hop outwards; the first untrusted one is the client.
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, forwarded: Option<&str>) -> Parts {
        let mut request = Request::builder();
        if let Some(value) = forwarded {
            request = request.header("x-forwarded-for", value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |p: &Parts| client_ip(p, &trusted).to_string();
        assert_eq!(ip(&parts("203.0.113.9:1", Some("1.2.3.4"))), "203.0.113.9");
        assert_eq!(ip(&parts("10.0.0.2:1", Some("1.2.3.4"))), "1.2.3.4");
        assert_eq!(
            ip(&parts("10.0.0.2:1", Some("6.6.6.6, 1.2.3.4, 10.0.0.7"))),
            "1.2.3.4"
        );
        assert_eq!(ip(&parts("10.0.0.2:1", None)), "10.0.0.2");
        assert_eq!(ip(&parts("10.0.0.2:1", Some("garbage"))), "10.0.0.2");
    }
}
