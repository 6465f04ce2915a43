//! Address arithmetic for ipBlocks: `cidr` minus every `except`, as disjoint inclusive ranges.
//!
//! ```text
//!   10.0.0.0/16 except 10.0.1.0/24, 10.0.3.0/24
//!     -> 10.0.0.0-10.0.0.255, 10.0.2.0-10.0.2.255, 10.0.4.0-10.0.255.255
//! ```
//!
//! Addresses are handled as `u128` (IPv4 zero-extended) within one family, so one code path
//! serves both. Ranges are kept sorted, disjoint and non-adjacent: the canonical form nft
//! stores without `auto-merge`, which is what lets a set's elements be compared and diffed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::ruleset::{AddrRange, Family};

/// An inclusive range of addresses of one family, as numbers.
type Span = (u128, u128);

pub(crate) fn to_u128(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(*v4)),
        IpAddr::V6(v6) => u128::from(*v6),
    }
}

fn from_u128(family: Family, n: u128) -> IpAddr {
    match family {
        // Spans of IPv4 come from IPv4 addresses, so the value fits; saturate rather than panic.
        Family::V4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX))),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

fn span(net: &IpNet) -> Span {
    (to_u128(&net.network()), to_u128(&net.broadcast()))
}

/// Sorts and merges overlapping or adjacent spans.
fn normalize(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (first, last) in spans {
        match out.last_mut() {
            Some(prev) if prev.1.checked_add(1).is_none_or(|next| first <= next) => {
                prev.1 = prev.1.max(last);
            }
            _ => out.push((first, last)),
        }
    }
    out
}

/// `spans` without the addresses of `cut`.
fn subtract(spans: Vec<Span>, cut: Span) -> Vec<Span> {
    let mut out = Vec::with_capacity(spans.len() + 1);
    for (first, last) in spans {
        if cut.1 < first || last < cut.0 {
            out.push((first, last));
            continue;
        }
        if first < cut.0 {
            out.push((first, cut.0 - 1));
        }
        if cut.1 < last {
            out.push((cut.1 + 1, last));
        }
    }
    out
}

/// The addresses of `family` in at least one block (`cidr` minus its `except` entries,
/// <https://kubernetes.io/docs/reference/kubernetes-api/networking/network-policy-v1/#IPBlock>),
/// mirroring `palisade_core::eval::ip_block_contains`: an except of the other family removes
/// nothing, a block of the other family adds nothing.
pub(crate) fn block_ranges(blocks: &[(&IpNet, &[IpNet])], family: Family) -> Vec<AddrRange> {
    let mut all = Vec::new();
    for (cidr, except) in blocks {
        if net_family(cidr) != family {
            continue;
        }
        let mut spans = vec![span(cidr)];
        for e in except.iter().filter(|e| net_family(e) == family) {
            spans = subtract(spans, span(e));
        }
        all.extend(spans);
    }
    normalize(all)
        .into_iter()
        .map(|(first, last)| AddrRange {
            first: from_u128(family, first),
            last: from_u128(family, last),
        })
        .collect()
}

fn net_family(net: &IpNet) -> Family {
    match net {
        IpNet::V4(_) => Family::V4,
        IpNet::V6(_) => Family::V6,
    }
}

/// Whether sorted, disjoint `ranges` contain `ip`.
pub(crate) fn ranges_contain(ranges: &[AddrRange], ip: &IpAddr) -> bool {
    let after = ranges.partition_point(|r| r.first <= *ip);
    after
        .checked_sub(1)
        .and_then(|i| ranges.get(i))
        .is_some_and(|r| r.contains(ip))
}

/// The prefix length when `range` is exactly one CIDR block, for `10.0.0.0/24` style output.
pub(crate) fn prefix_len(range: &AddrRange) -> Option<u8> {
    let bits: u32 = match Family::of(&range.first) {
        Family::V4 => 32,
        Family::V6 => 128,
    };
    let (first, last) = (to_u128(&range.first), to_u128(&range.last));
    let size = last.checked_sub(first)?.checked_add(1);
    let host_bits = match size {
        // The whole IPv6 space.
        None => 128,
        Some(size) if size.is_power_of_two() => size.trailing_zeros(),
        Some(_) => return None,
    };
    let aligned = host_bits >= 128 || first & ((1u128 << host_bits) - 1) == 0;
    (aligned && host_bits <= bits).then(|| u8::try_from(bits - host_bits).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn show(ranges: &[AddrRange]) -> Vec<String> {
        ranges
            .iter()
            .map(|r| match prefix_len(r) {
                Some(len) => format!("{}/{len}", r.first),
                None => format!("{}-{}", r.first, r.last),
            })
            .collect()
    }

    fn ranges(blocks: &[(&str, &[&str])], family: Family) -> Vec<String> {
        let owned: Vec<(IpNet, Vec<IpNet>)> = blocks
            .iter()
            .map(|(c, e)| (net(c), e.iter().map(|x| net(x)).collect()))
            .collect();
        let refs: Vec<(&IpNet, &[IpNet])> = owned.iter().map(|(c, e)| (c, e.as_slice())).collect();
        show(&block_ranges(&refs, family))
    }

    /// IPBlock: "except is a slice of CIDRs that should not be included within an IPBlock"
    /// (https://kubernetes.io/docs/reference/kubernetes-api/networking/network-policy-v1/#IPBlock).
    #[test]
    fn cidr_minus_except_table() {
        let v4 = Family::V4;
        type Case<'a> = (&'a str, Vec<(&'a str, &'a [&'a str])>, Family, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            (
                "plain cidr",
                vec![("10.0.0.0/24", &[])],
                v4,
                vec!["10.0.0.0/24"],
            ),
            (
                "hole in the middle",
                vec![("10.0.0.0/16", &["10.0.1.0/24"])],
                v4,
                vec!["10.0.0.0/24", "10.0.2.0-10.0.255.255"],
            ),
            (
                "except at both ends",
                vec![("10.0.0.0/30", &["10.0.0.0/32", "10.0.0.3/32"])],
                v4,
                vec!["10.0.0.1-10.0.0.2"],
            ),
            (
                "except covering everything",
                vec![("10.0.0.0/24", &["10.0.0.0/16"])],
                v4,
                vec![],
            ),
            (
                "adjacent blocks merge",
                vec![("10.0.0.0/25", &[]), ("10.0.0.128/25", &[])],
                v4,
                vec!["10.0.0.0/24"],
            ),
            (
                "overlapping blocks: one's except is the other's cidr",
                vec![("10.0.0.0/24", &["10.0.0.0/28"]), ("10.0.0.0/28", &[])],
                v4,
                vec!["10.0.0.0/24"],
            ),
            (
                "everything",
                vec![("0.0.0.0/0", &[])],
                v4,
                vec!["0.0.0.0/0"],
            ),
            (
                "except of the other family removes nothing",
                vec![("10.0.0.0/31", &["fd00::/64"])],
                v4,
                vec!["10.0.0.0/31"],
            ),
            (
                "block of the other family adds nothing",
                vec![("fd00::/64", &[])],
                v4,
                vec![],
            ),
            (
                "whole IPv6 space",
                vec![("::/0", &[])],
                Family::V6,
                vec!["::/0"],
            ),
            (
                "IPv6 hole",
                vec![("fd00::/64", &["fd00::/65"])],
                Family::V6,
                vec!["fd00::8000:0:0:0/65"],
            ),
            (
                "top of the IPv6 space",
                vec![("::/0", &["::/1"])],
                Family::V6,
                vec!["8000::/1"],
            ),
            (
                "top of the IPv4 space",
                vec![("255.255.255.254/31", &["255.255.255.254/32"])],
                v4,
                vec!["255.255.255.255/32"],
            ),
        ];
        for (label, blocks, family, want) in cases {
            assert_eq!(ranges(&blocks, family), want, "{label}");
        }
    }

    #[test]
    fn contains_agrees_with_the_engine() {
        let cidr = net("10.0.0.0/16");
        let except = [net("10.0.1.0/24"), net("10.0.0.7/32")];
        let spans = block_ranges(&[(&cidr, &except)], Family::V4);
        for ip in [
            "10.0.0.0",
            "10.0.0.6",
            "10.0.0.7",
            "10.0.0.8",
            "10.0.1.9",
            "10.0.2.0",
            "10.1.0.0",
            "9.255.255.255",
            "fd00::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
            assert_eq!(
                ranges_contain(&spans, &ip),
                palisade_core::eval::ip_block_contains(&cidr, &except, &ip),
                "{ip}"
            );
        }
    }

    #[test]
    fn prefix_len_only_for_aligned_power_of_two_ranges() {
        let r = |a: &str, b: &str| AddrRange {
            first: a.parse().unwrap_or_else(|e| panic!("{a}: {e}")),
            last: b.parse().unwrap_or_else(|e| panic!("{b}: {e}")),
        };
        assert_eq!(prefix_len(&r("10.0.0.0", "10.0.0.255")), Some(24));
        assert_eq!(prefix_len(&r("10.0.0.1", "10.0.0.1")), Some(32));
        assert_eq!(prefix_len(&r("10.0.0.1", "10.0.0.2")), None);
        assert_eq!(prefix_len(&r("10.0.0.2", "10.0.0.5")), None, "unaligned");
        assert_eq!(prefix_len(&r("0.0.0.0", "255.255.255.255")), Some(0));
        assert_eq!(
            prefix_len(&r("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            Some(0)
        );
    }
}
