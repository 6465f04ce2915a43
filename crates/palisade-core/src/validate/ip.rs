//! IP addresses and CIDRs read the way the API server reads the legacy fields palisade uses
//! (`ipBlock.cidr`, `ipBlock.except`, `status.podIP(s)`).
//!
//! Kubernetes 1.33 validates them with `IsValidIPForLegacyField` / `IsValidCIDRForLegacyField`
//! (apimachinery `pkg/util/validation/ip.go`) with the `StrictIPCIDRValidation` feature gate off
//! (alpha, default off), so it accepts more than Rust's parsers do:
//! - IPv4 octets with leading zeros (`010.0.0.1`), read as decimal (`netutils.ParseIPSloppy`);
//! - a prefix length with leading zeros (`10.0.0.0/08`);
//! - IPv4-mapped IPv6 (`::ffff:10.0.0.0/104`), which Go's `net.IPNet` then treats as IPv4;
//! - bits set after the prefix (`10.1.2.3/8`), which `net.ParseCIDR` masks off.
//!
//! Each of these is accepted with a warning (`GetWarningsForIP`, `GetWarningsForCIDR`). This
//! module parses exactly that language, once, so that validation and conversion agree.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// An address as the API server reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SloppyIp {
    /// The address Go's `net.IP` stands for: IPv4-mapped IPv6 becomes IPv4.
    pub addr: IpAddr,
    /// Leading zeros in an IPv4 octet.
    pub leading_zeros: bool,
    /// Written as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
    pub ipv4_mapped: bool,
}

impl SloppyIp {
    /// Accepted, but Kubernetes warns and will reject it once strict validation is on.
    pub fn is_non_standard(&self) -> bool {
        self.leading_zeros || self.ipv4_mapped
    }
}

/// A CIDR as the API server reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SloppyCidr {
    /// The network Go's `net.ParseCIDR` returns: host bits cleared, IPv4-mapped prefixes of at
    /// least 96 bits seen as IPv4. This is what palisade enforces.
    pub net: IpNet,
    /// The address as written (before masking), with the same IPv4-mapped reading as `net`.
    pub addr: IpAddr,
    /// The prefix length as written (`Mask.Size()` in Go), which for IPv4-mapped prefixes is
    /// 96 more than `net`'s. `ValidateIPBlock` compares these raw lengths.
    pub written_prefix: u8,
    pub leading_zeros: bool,
    pub ipv4_mapped: bool,
}

impl SloppyCidr {
    /// Bits set after the prefix length (`10.1.2.3/8`).
    pub fn has_host_bits(&self) -> bool {
        self.addr != self.net.addr()
    }

    pub fn is_non_standard(&self) -> bool {
        self.leading_zeros || self.ipv4_mapped
    }
}

/// Decimal digits only, at least one, value <= `max`: Go's `dtoi` plus a range check.
/// Returns the value and whether it had a leading zero.
fn sloppy_decimal(s: &str, max: u32) -> Option<(u32, bool)> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    // More than 3 significant digits is always out of range here (max <= 128... or 255).
    if digits.len() > 3 {
        return None;
    }
    let value = if digits.is_empty() {
        0
    } else {
        digits.parse::<u32>().ok()?
    };
    (value <= max).then_some((value, s.len() > 1 && s.starts_with('0')))
}

/// IPv4 in dotted decimal, octets possibly 0-padded (`netutils.ParseIPSloppy`).
fn sloppy_ipv4(s: &str) -> Option<(Ipv4Addr, bool)> {
    let mut octets = [0u8; 4];
    let mut leading_zeros = false;
    let mut parts = s.split('.');
    for octet in &mut octets {
        let (value, zero) = sloppy_decimal(parts.next()?, 255)?;
        *octet = u8::try_from(value).ok()?;
        leading_zeros |= zero;
    }
    if parts.next().is_some() {
        return None;
    }
    Some((Ipv4Addr::from(octets), leading_zeros))
}

/// IPv6, possibly ending in a 0-padded dotted IPv4 part.
fn sloppy_ipv6(s: &str) -> Option<(Ipv6Addr, bool)> {
    if let Ok(v6) = s.parse::<Ipv6Addr>() {
        return Some((v6, false));
    }
    let (head, tail) = s.rsplit_once(':')?;
    if !tail.contains('.') {
        return None;
    }
    let (v4, zeros) = sloppy_ipv4(tail)?;
    let v6 = format!("{head}:{v4}").parse::<Ipv6Addr>().ok()?;
    Some((v6, zeros))
}

/// Parses an address the way `IsValidIPForLegacyField` (non-strict) accepts it.
pub fn parse_ip(s: &str) -> Option<SloppyIp> {
    if s.contains(':') {
        let (v6, leading_zeros) = sloppy_ipv6(s)?;
        Some(match v6.to_ipv4_mapped() {
            Some(v4) => SloppyIp {
                addr: IpAddr::V4(v4),
                leading_zeros,
                ipv4_mapped: true,
            },
            None => SloppyIp {
                addr: IpAddr::V6(v6),
                leading_zeros,
                ipv4_mapped: false,
            },
        })
    } else {
        let (v4, leading_zeros) = sloppy_ipv4(s)?;
        Some(SloppyIp {
            addr: IpAddr::V4(v4),
            leading_zeros,
            ipv4_mapped: false,
        })
    }
}

/// Parses a CIDR the way `IsValidCIDRForLegacyField` (non-strict) accepts it.
pub fn parse_cidr(s: &str) -> Option<SloppyCidr> {
    let (ip_text, prefix_text) = s.split_once('/')?;
    if ip_text.contains(':') {
        let (v6, ip_zeros) = sloppy_ipv6(ip_text)?;
        let (prefix, prefix_zeros) = sloppy_decimal(prefix_text, 128)?;
        let prefix = u8::try_from(prefix).ok()?;
        let masked = IpNet::new(IpAddr::V6(v6), prefix).ok()?.trunc();
        let leading_zeros = ip_zeros || prefix_zeros;
        // Go keeps the 16-byte form but every later use (Contains, String) goes through
        // To4(), so a mapped network that still has its ::ffff: marker after masking is IPv4.
        let mapped_net = match masked.addr() {
            IpAddr::V6(net6) => net6.to_ipv4_mapped(),
            IpAddr::V4(_) => None,
        };
        if let (Some(net4), Some(addr4)) = (mapped_net, v6.to_ipv4_mapped()) {
            let net = IpNet::new(IpAddr::V4(net4), prefix.saturating_sub(96)).ok()?;
            return Some(SloppyCidr {
                net,
                addr: IpAddr::V4(addr4),
                written_prefix: prefix,
                leading_zeros,
                ipv4_mapped: true,
            });
        }
        Some(SloppyCidr {
            net: masked,
            addr: IpAddr::V6(v6),
            written_prefix: prefix,
            leading_zeros,
            ipv4_mapped: v6.to_ipv4_mapped().is_some(),
        })
    } else {
        let (v4, ip_zeros) = sloppy_ipv4(ip_text)?;
        let (prefix, prefix_zeros) = sloppy_decimal(prefix_text, 32)?;
        let prefix = u8::try_from(prefix).ok()?;
        let net = IpNet::new(IpAddr::V4(v4), prefix).ok()?.trunc();
        Some(SloppyCidr {
            net,
            addr: IpAddr::V4(v4),
            written_prefix: prefix,
            leading_zeros: ip_zeros || prefix_zeros,
            ipv4_mapped: false,
        })
    }
}

/// The maximum prefix length of the family `s` is written in, for error messages.
pub fn family_bits(s: &str) -> u8 {
    if s.contains(':') { 128 } else { 32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected readings from apimachinery pkg/util/validation/ip_test.go
    // (TestIsValidIPForLegacyField, TestIsValidCIDRForLegacyField, TestGetWarningsForCIDR),
    // with strict validation off as in Kubernetes 1.33.

    #[test]
    fn addresses() {
        for (label, text, expect) in [
            ("plain IPv4", "10.0.0.1", Some(("10.0.0.1", false, false))),
            ("IPv6", "2001:db8::1", Some(("2001:db8::1", false, false))),
            (
                "IPv6 non-canonical",
                "2001:DB8:0:0::1",
                Some(("2001:db8::1", false, false)),
            ),
            (
                "leading zeros",
                "010.000.000.001",
                Some(("10.0.0.1", true, false)),
            ),
            (
                "IPv4-mapped",
                "::ffff:10.0.0.1",
                Some(("10.0.0.1", false, true)),
            ),
            (
                "mapped with zeros",
                "::ffff:010.0.0.1",
                Some(("10.0.0.1", true, true)),
            ),
            ("octet too big", "10.0.0.256", None),
            ("three octets", "10.0.1", None),
            ("five octets", "10.0.0.1.2", None),
            ("empty octet", "10..0.1", None),
            ("sign", "+10.0.0.1", None),
            ("with prefix", "10.0.0.1/32", None),
            ("zone", "fe80::1%eth0", None),
            ("empty", "", None),
        ] {
            let got =
                parse_ip(text).map(|ip| (ip.addr.to_string(), ip.leading_zeros, ip.ipv4_mapped));
            let want = expect.map(|(a, z, m)| (a.to_string(), z, m));
            assert_eq!(got, want, "{label}: {text:?}");
        }
    }

    #[test]
    fn cidrs() {
        for (label, text, expect) in [
            (
                "IPv4 network",
                "10.0.0.0/8",
                Some(("10.0.0.0/8", 8, false, false, false)),
            ),
            (
                "host bits masked",
                "10.1.2.3/8",
                Some(("10.0.0.0/8", 8, true, false, false)),
            ),
            (
                "single address",
                "10.1.2.3/32",
                Some(("10.1.2.3/32", 32, false, false, false)),
            ),
            (
                "everything",
                "0.0.0.0/0",
                Some(("0.0.0.0/0", 0, false, false, false)),
            ),
            (
                "IPv6",
                "2001:db8::/32",
                Some(("2001:db8::/32", 32, false, false, false)),
            ),
            (
                "IPv6 host bits",
                "2001:db8::1/64",
                Some(("2001:db8::/64", 64, true, false, false)),
            ),
            (
                "zero-padded octet",
                "010.0.0.0/8",
                Some(("10.0.0.0/8", 8, false, true, false)),
            ),
            (
                "zero-padded prefix",
                "10.0.0.0/08",
                Some(("10.0.0.0/8", 8, false, true, false)),
            ),
            (
                "IPv4-mapped seen as IPv4",
                "::ffff:10.0.0.0/104",
                Some(("10.0.0.0/8", 104, false, false, true)),
            ),
            ("missing prefix", "10.0.0.0", None),
            ("empty prefix", "10.0.0.0/", None),
            ("prefix too long", "10.0.0.0/33", None),
            ("IPv6 prefix too long", "::/129", None),
            ("negative prefix", "10.0.0.0/-1", None),
            ("two slashes", "10.0.0.0/8/9", None),
            ("not an address", "example.com/8", None),
        ] {
            let got = parse_cidr(text).map(|c| {
                (
                    c.net.to_string(),
                    c.written_prefix,
                    c.has_host_bits(),
                    c.leading_zeros,
                    c.ipv4_mapped,
                )
            });
            let want = expect.map(|(n, p, h, z, m)| (n.to_string(), p, h, z, m));
            assert_eq!(got, want, "{label}: {text:?}");
        }
    }
}
