//! Server-side request forgery guard: a feed URL (or a redirect) must not make the
//! daemon fetch from loopback, the private network or link-local metadata services.
//!
//! Three layers, all active when `allow_private_addresses` is false:
//! 1. [`check_url`] resolves the source's host before anything is sent, for a clear
//!    [`CrawlError::PrivateAddress`];
//! 2. [`GuardedResolver`] is the client's DNS resolver, so every connection — every
//!    redirect hop, and a host whose DNS answer changes between check and connect —
//!    only ever sees public addresses;
//! 3. [`redirect_policy`] refuses redirects to literal private IPs (literal addresses
//!    never reach a resolver).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use url::{Host, Url};

use crate::CrawlError;

/// The guard's exceptions: addresses named in `crawler.allow_addresses` (an intranet
/// feed, a test server) that may be reached although they are private.
#[derive(Debug, Clone, Default)]
pub struct Exemptions(std::sync::Arc<[IpAddr]>);

impl Exemptions {
    pub fn new(addresses: &[IpAddr]) -> Self {
        Exemptions(addresses.iter().copied().collect())
    }

    /// Forbidden and not exempted.
    pub fn forbids(&self, ip: IpAddr) -> bool {
        is_forbidden_ip(ip) && !self.0.contains(&ip)
    }
}

/// True for addresses a crawler must not reach from the outside in.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) embeds an IPv4 address the gateway will connect to.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return is_forbidden_v4(Ipv4Addr::new(a, b, c, d));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // deprecated site-local fec0::/10
        // IPv4-compatible ::a.b.c.d (deprecated) carries an IPv4 address too.
        || (segments[..6] == [0, 0, 0, 0, 0, 0] && {
            let [a, b] = segments[6].to_be_bytes();
            let [c, d] = segments[7].to_be_bytes();
            is_forbidden_v4(Ipv4Addr::new(a, b, c, d))
        })
}

/// Resolves `url`'s host and fails with [`CrawlError::PrivateAddress`] if any address
/// it resolves to is forbidden.
pub async fn check_url(url: &Url, exempt: &Exemptions) -> Result<(), CrawlError> {
    let host = url.host().ok_or_else(|| CrawlError::InvalidUrl {
        url: url.to_string(),
        reason: "no host".into(),
    })?;
    let host_text = url.host_str().unwrap_or_default().to_string();
    let refuse = |addr: IpAddr| CrawlError::PrivateAddress {
        url: url.to_string(),
        host: host_text.clone(),
        addr,
    };
    match host {
        Host::Ipv4(v4) => {
            if exempt.forbids(IpAddr::V4(v4)) {
                return Err(refuse(IpAddr::V4(v4)));
            }
        }
        Host::Ipv6(v6) => {
            if exempt.forbids(IpAddr::V6(v6)) {
                return Err(refuse(IpAddr::V6(v6)));
            }
        }
        Host::Domain(domain) => {
            let port = url.port_or_known_default().unwrap_or(80);
            let addrs = tokio::net::lookup_host((domain, port))
                .await
                .map_err(|error| CrawlError::Dns {
                    host: domain.to_string(),
                    message: error.to_string(),
                })?;
            for addr in addrs {
                if exempt.forbids(addr.ip()) {
                    return Err(refuse(addr.ip()));
                }
            }
        }
    }
    Ok(())
}

/// The error the resolver and redirect policy raise; found again in the reqwest
/// error's source chain and turned into [`CrawlError::PrivateAddress`].
#[derive(Debug)]
pub struct ForbiddenAddress {
    pub host: String,
    pub addr: IpAddr,
}

impl fmt::Display for ForbiddenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "host {:?} resolves to the private or local address {}",
            self.host, self.addr
        )
    }
}

impl StdError for ForbiddenAddress {}

/// Finds a [`ForbiddenAddress`] anywhere in an error's source chain.
pub fn find_forbidden<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a ForbiddenAddress> {
    let mut current: Option<&'a (dyn StdError + 'static)> = Some(error);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<ForbiddenAddress>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// A DNS resolver that refuses names resolving to forbidden addresses.
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver(pub Exemptions);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let exempt = self.0.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| exempt.forbids(a.ip())) {
                return Err(Box::new(ForbiddenAddress {
                    host,
                    addr: bad.ip(),
                }) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// At most `max_redirects` hops; with `guard`, no hop to a literal forbidden IP.
pub fn redirect_policy(max_redirects: usize, guard: Option<Exemptions>) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max_redirects {
            return attempt.error(TooManyRedirects { max: max_redirects });
        }
        if let Some(exempt) = &guard
            && let Some(forbidden) = forbidden_literal(attempt.url(), exempt)
        {
            return attempt.error(forbidden);
        }
        attempt.follow()
    })
}

/// A redirect target whose host is a literal forbidden IP (names go through the
/// resolver instead).
fn forbidden_literal(url: &Url, exempt: &Exemptions) -> Option<ForbiddenAddress> {
    let addr = match url.host()? {
        Host::Ipv4(v4) => IpAddr::V4(v4),
        Host::Ipv6(v6) => IpAddr::V6(v6),
        Host::Domain(_) => return None,
    };
    exempt.forbids(addr).then(|| ForbiddenAddress {
        host: url.host_str().unwrap_or_default().to_string(),
        addr,
    })
}

/// Raised by [`redirect_policy`] when the chain is too long.
#[derive(Debug)]
pub struct TooManyRedirects {
    pub max: usize,
}

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} redirects", self.max)
    }
}

impl StdError for TooManyRedirects {}

/// Finds a [`TooManyRedirects`] anywhere in an error's source chain.
pub fn find_too_many_redirects<'a>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a TooManyRedirects> {
    let mut current: Option<&'a (dyn StdError + 'static)> = Some(error);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<TooManyRedirects>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(ip: &str) -> bool {
        is_forbidden_ip(ip.parse().expect("ip"))
    }

    #[test]
    fn classifies_addresses() {
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(forbidden(bad), "{bad} should be refused");
        }
        for good in [
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!forbidden(good), "{good} should be allowed");
        }
    }

    #[test]
    fn redirect_targets_with_private_literals_are_refused() {
        let url = |s: &str| Url::parse(s).expect("url");
        let none = Exemptions::default();
        assert!(
            forbidden_literal(&url("http://169.254.169.254/latest/meta-data"), &none).is_some()
        );
        assert!(forbidden_literal(&url("http://[::ffff:10.0.0.1]/"), &none).is_some());
        assert!(forbidden_literal(&url("http://8.8.8.8/"), &none).is_none());
        assert!(
            forbidden_literal(&url("http://localhost/"), &none).is_none(),
            "names go to the resolver"
        );
        let exempt = Exemptions::new(&["127.0.0.2".parse().expect("ip")]);
        assert!(forbidden_literal(&url("http://127.0.0.2:8080/"), &exempt).is_none());
        assert!(forbidden_literal(&url("http://127.0.0.1:8080/"), &exempt).is_some());
    }

    #[tokio::test]
    async fn resolver_refuses_names_of_local_addresses() {
        use std::str::FromStr;
        let name = Name::from_str("localhost").expect("name");
        let error = match GuardedResolver::default().resolve(name).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(error) => error,
        };
        let forbidden = find_forbidden(error.as_ref()).expect("ForbiddenAddress in the chain");
        assert!(forbidden.addr.is_loopback());
    }

    #[tokio::test]
    async fn check_url_refuses_loopback_literal_and_localhost() {
        let literal = Url::parse("http://127.0.0.1:8080/feed").expect("url");
        assert!(matches!(
            check_url(&literal, &Exemptions::default()).await,
            Err(CrawlError::PrivateAddress { .. })
        ));
        let v6 = Url::parse("http://[::1]/feed").expect("url");
        assert!(matches!(
            check_url(&v6, &Exemptions::default()).await,
            Err(CrawlError::PrivateAddress { .. })
        ));
        let name = Url::parse("http://localhost:9/feed").expect("url");
        assert!(matches!(
            check_url(&name, &Exemptions::default()).await,
            Err(CrawlError::PrivateAddress { .. })
        ));
    }
}
