//! Sets of protocol/ports, in one canonical form so equal sets compare (and hash) equal.
//!
//! ```text
//!   PortSet ─┬─ every_protocol: bool        ports "Any": TCP, UDP, SCTP and every other protocol (ICMP...)
//!            └─ ranges[TCP | UDP | SCTP]    sorted, disjoint, non-adjacent inclusive port ranges
//! ```
//!
//! Canonical form: when `every_protocol` is set the per-protocol lists are empty (they would be
//! redundant), and ranges are merged as soon as they touch (`80-81` + `82` = `80-82`). The
//! port universe of one protocol is `0..=65535`; a rule without a `port` covers all of it
//! ("TCP all"), while an explicit `port: 1, endPort: 65535` is shown as written.

use std::fmt;

use crate::model::Protocol;

use super::Probe;

/// An inclusive range of port numbers.
pub type PortRange = (u16, u16);

/// Every port of one protocol.
const FULL: [PortRange; 1] = [(0, u16::MAX)];

/// Which protocol/ports a connection may use. Canonical: equal sets compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct PortSet {
    every_protocol: bool,
    /// Indexed by [`proto_index`]; empty while `every_protocol` is set.
    ranges: [Vec<PortRange>; 3],
}

fn proto_index(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    }
}

impl PortSet {
    /// The empty set, usable in `static` items.
    pub const EMPTY: PortSet = PortSet {
        every_protocol: false,
        ranges: [Vec::new(), Vec::new(), Vec::new()],
    };

    /// Every port of every protocol, usable in `static` items.
    pub const ALL: PortSet = PortSet {
        every_protocol: true,
        ranges: [Vec::new(), Vec::new(), Vec::new()],
    };

    /// The empty set: nothing is allowed.
    pub fn none() -> PortSet {
        PortSet::default()
    }

    /// Every port of every protocol, including protocols without ports (ICMP and the rest).
    pub fn all() -> PortSet {
        PortSet {
            every_protocol: true,
            ranges: Default::default(),
        }
    }

    /// Every port of one protocol.
    pub fn protocol(protocol: Protocol) -> PortSet {
        PortSet::range(protocol, 0, u16::MAX)
    }

    /// The ports `first..=last` of one protocol; empty when `first > last`.
    pub fn range(protocol: Protocol, first: u16, last: u16) -> PortSet {
        let mut set = PortSet::none();
        set.insert_range(protocol, first, last);
        set
    }

    /// A single port.
    pub fn port(protocol: Protocol, port: u16) -> PortSet {
        PortSet::range(protocol, port, port)
    }

    /// True for the set of every port of every protocol.
    pub fn is_all(&self) -> bool {
        self.every_protocol
    }

    pub fn is_empty(&self) -> bool {
        !self.every_protocol && self.ranges.iter().all(Vec::is_empty)
    }

    /// The ranges of `protocol` (the full range when [`PortSet::is_all`]).
    pub fn ranges(&self, protocol: Protocol) -> &[PortRange] {
        if self.every_protocol {
            &FULL
        } else {
            &self.ranges[proto_index(protocol)]
        }
    }

    /// True when every port of `protocol` is in the set.
    pub fn covers_protocol(&self, protocol: Protocol) -> bool {
        self.ranges(protocol) == FULL
    }

    pub fn contains(&self, probe: Probe) -> bool {
        if self.every_protocol {
            return true;
        }
        let ranges = &self.ranges[proto_index(probe.protocol)];
        // Ranges are sorted and disjoint: the only candidate is the last range starting at or
        // before the port.
        let after = ranges.partition_point(|&(first, _)| first <= probe.port);
        after
            .checked_sub(1)
            .and_then(|i| ranges.get(i))
            .is_some_and(|&(_, last)| probe.port <= last)
    }

    /// Adds `first..=last` of `protocol` (nothing when `first > last`).
    pub fn insert_range(&mut self, protocol: Protocol, first: u16, last: u16) {
        if self.every_protocol || first > last {
            return;
        }
        let ranges = &mut self.ranges[proto_index(protocol)];
        ranges.push((first, last));
        normalize(ranges);
    }

    pub fn union(&self, other: &PortSet) -> PortSet {
        if self.every_protocol || other.every_protocol {
            return PortSet::all();
        }
        let mut out = self.clone();
        for (mine, theirs) in out.ranges.iter_mut().zip(&other.ranges) {
            if !theirs.is_empty() {
                mine.extend_from_slice(theirs);
                normalize(mine);
            }
        }
        out
    }

    pub fn intersection(&self, other: &PortSet) -> PortSet {
        if self.every_protocol {
            return other.clone();
        }
        if other.every_protocol {
            return self.clone();
        }
        let mut out = PortSet::none();
        for ((dst, a), b) in out.ranges.iter_mut().zip(&self.ranges).zip(&other.ranges) {
            *dst = intersect_ranges(a, b);
        }
        out
    }
}

/// Sorts and merges overlapping or adjacent ranges in place.
fn normalize(ranges: &mut Vec<PortRange>) {
    ranges.sort_unstable();
    let mut merged: Vec<PortRange> = Vec::with_capacity(ranges.len());
    for &(first, last) in ranges.iter() {
        match merged.last_mut() {
            // u32 so that `last + 1` cannot overflow at 65535.
            Some(prev) if u32::from(first) <= u32::from(prev.1) + 1 => prev.1 = prev.1.max(last),
            _ => merged.push((first, last)),
        }
    }
    *ranges = merged;
}

/// Intersection of two canonical range lists (two-pointer walk).
fn intersect_ranges(a: &[PortRange], b: &[PortRange]) -> Vec<PortRange> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while let (Some(&(a0, a1)), Some(&(b0, b1))) = (a.get(i), b.get(j)) {
        let (first, last) = (a0.max(b0), a1.min(b1));
        if first <= last {
            out.push((first, last));
        }
        if a1 < b1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

impl fmt::Display for PortSet {
    /// `all`, `none`, or e.g. `TCP 80,443,8000-8080,UDP 53` (protocols in TCP, UDP, SCTP order;
    /// every port of a protocol as `TCP all`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.every_protocol {
            return f.write_str("all");
        }
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first_item = true;
        for protocol in Protocol::ALL {
            let ranges = &self.ranges[proto_index(protocol)];
            if ranges.is_empty() {
                continue;
            }
            if !first_item {
                f.write_str(",")?;
            }
            first_item = false;
            write!(f, "{protocol} ")?;
            if ranges.as_slice() == FULL {
                f.write_str("all")?;
                continue;
            }
            for (i, &(first, last)) in ranges.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if first == last {
                    write!(f, "{first}")?;
                } else {
                    write!(f, "{first}-{last}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(protocol: Protocol, port: u16) -> Probe {
        Probe { protocol, port }
    }

    fn tcp(first: u16, last: u16) -> PortSet {
        PortSet::range(Protocol::Tcp, first, last)
    }

    #[test]
    fn display_table() {
        let cases: Vec<(&str, PortSet, &str)> = vec![
            ("empty", PortSet::none(), "none"),
            ("every protocol", PortSet::all(), "all"),
            (
                "whole protocol",
                PortSet::protocol(Protocol::Udp),
                "UDP all",
            ),
            (
                "mixed, in TCP/UDP/SCTP order",
                PortSet::port(Protocol::Udp, 53)
                    .union(&PortSet::port(Protocol::Tcp, 443))
                    .union(&tcp(8000, 8080))
                    .union(&PortSet::port(Protocol::Tcp, 80)),
                "TCP 80,443,8000-8080,UDP 53",
            ),
            (
                "adjacent ranges merge",
                tcp(80, 81).union(&tcp(82, 90)),
                "TCP 80-90",
            ),
            ("explicit 1-65535 is not all", tcp(1, 65535), "TCP 1-65535"),
            (
                "sctp last",
                PortSet::port(Protocol::Sctp, 9).union(&PortSet::protocol(Protocol::Tcp)),
                "TCP all,SCTP 9",
            ),
        ];
        for (label, set, want) in cases {
            assert_eq!(set.to_string(), want, "{label}");
        }
    }

    #[test]
    fn canonical_equality() {
        let a = tcp(1, 10).union(&tcp(11, 20)).union(&tcp(5, 6));
        let b = tcp(1, 20);
        assert_eq!(a, b);
        assert_eq!(PortSet::all().union(&tcp(1, 2)), PortSet::all());
        assert_eq!(tcp(5, 1), PortSet::none(), "inverted range is empty");
    }

    #[test]
    fn contains_and_intersection() {
        let a = tcp(80, 90)
            .union(&tcp(100, 200))
            .union(&PortSet::port(Protocol::Udp, 53));
        let b = tcp(85, 150).union(&PortSet::protocol(Protocol::Udp));
        let both = a.intersection(&b);
        assert_eq!(both.to_string(), "TCP 85-90,100-150,UDP 53");
        for (port, want) in [
            (84, false),
            (85, true),
            (95, false),
            (150, true),
            (151, false),
        ] {
            assert_eq!(
                both.contains(probe(Protocol::Tcp, port)),
                want,
                "tcp/{port}"
            );
        }
        assert!(!both.contains(probe(Protocol::Sctp, 53)));
        assert_eq!(PortSet::all().intersection(&a), a);
        assert_eq!(a.intersection(&PortSet::none()), PortSet::none());
        assert!(PortSet::all().contains(probe(Protocol::Sctp, 0)));
        assert!(PortSet::protocol(Protocol::Tcp).covers_protocol(Protocol::Tcp));
        assert_eq!(PortSet::all().ranges(Protocol::Udp), &[(0, 65535)]);
    }
}
