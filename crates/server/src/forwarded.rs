//! Forwarding headers (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`) and the client's
//! address, trusted only from the proxies listed in `[Hub] trusted_proxies`.
//!
//! A client that talks to the hub directly can write any of these headers. Read from it,
//! they would pick the rate-limit bucket, the Secure flag, the public origin, and what the
//! built-in proxy tells the apps behind it. So the listener removes them from every request
//! whose TCP peer is not a trusted proxy, before anything reads them; what is left was
//! written by a proxy the operator named.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The headers a proxy uses to describe the original request. Removed from requests of
/// untrusted peers.
pub const FORWARDING_HEADERS: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-original-uri",
    "x-real-ip",
    "forwarded",
];

/// Whether `peer` is one of the trusted proxies. IPv4 peers on an IPv6 socket
/// (`::ffff:a.b.c.d`) count as their IPv4 address.
pub fn is_trusted(trusted: &[IpNet], peer: IpAddr) -> bool {
    let peer = peer.to_canonical();
    trusted.iter().any(|network| network.contains(&peer))
}

/// Removes every forwarding header: the request came from a peer that is not a trusted
/// proxy, so none of them was written by one.
pub fn strip(headers: &mut HeaderMap) {
    for name in FORWARDING_HEADERS {
        headers.remove(*name);
    }
}

/// The client's address. From an untrusted peer that is the peer itself (its headers
/// were stripped). From a trusted proxy it is the right-most address of
/// `X-Forwarded-For` that is not itself a trusted proxy: every proxy appends the address
/// it saw, so the entries left of the first untrusted one were written by the client and
/// prove nothing. A list that cannot be read falls back to the peer, never to a value the
/// client may have chosen.
pub fn client_ip(trusted: &[IpNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(trusted, peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for entry in text.split(',') {
            match parse_hop(entry.trim()) {
                Some(ip) => hops.push(ip.to_canonical()),
                None => return peer,
            }
        }
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(trusted, hop) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), as proxies write them.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|addr| addr.ip())
}

/// The rate-limit bucket of a client address: the address for IPv4, its /64 for IPv6
/// (one subscriber usually holds a whole /64, so single IPv6 addresses cost nothing to
/// rotate through).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// Parses `trusted_proxies`: CIDR networks or single addresses.
pub fn parse_trusted(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries.iter().map(|entry| parse_network(entry)).collect()
}

/// Parses one entry of `metrics_allowed_networks`: a CIDR network without host bits
/// (`10.1.0.0/16`) or one IP address. Anything else is refused, not guessed at: a
/// misread entry would open the metrics to the wrong clients.
pub fn parse_network(entry: &str) -> Result<ipnet::IpNet, String> {
    let network = if entry.contains('/') {
        entry.parse::<ipnet::IpNet>().ok()
    } else {
        entry
            .parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    };
    match network {
        Some(network) if network == network.trunc() => Ok(network),
        Some(network) => Err(format!(
            "{entry:?} has host bits set; write the network as {}",
            network.trunc()
        )),
        None => Err(format!(
            "{entry:?} is not a CIDR network (such as 10.0.0.0/8) or an IP address"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = nets(&["127.0.0.1/32"]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(&trusted, peer, &xff(&["198.51.100.1"])), peer);
    }

    #[test]
    fn a_trusted_proxy_names_the_right_most_untrusted_hop() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        // The client wrote 6.6.6.6 itself; the edge proxy appended 198.51.100.7.
        let headers = xff(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(
            client_ip(&trusted, peer, &headers),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Only trusted hops: the left-most one.
        assert_eq!(
            client_ip(&trusted, peer, &xff(&["10.9.9.9, 10.1.2.3"])),
            "10.9.9.9".parse::<IpAddr>().unwrap()
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(&trusted, peer, &HeaderMap::new()), peer);
        // A list with garbage is not believed.
        assert_eq!(client_ip(&trusted, peer, &xff(&["1.2.3.4, junk"])), peer);
        // Ports and brackets as proxies write them.
        assert_eq!(
            client_ip(&trusted, peer, &xff(&["[2001:db8::1]:443"])),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(c));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(bucket(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(bucket(mapped), v4);
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks() {
        let trusted = nets(&["127.0.0.0/8"]);
        assert!(is_trusted(&trusted, "::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_trusted(&trusted, "::1".parse().unwrap()));
    }
}
