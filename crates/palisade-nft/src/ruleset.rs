//! The ruleset value: what palisade keeps in the `inet palisade` table of one node.
//!
//! ```text
//!   Ruleset ─┬─ egress / ingress: local pod address -> MapEntry { chain, pod }   (verdict maps)
//!            ├─ chains: name -> Chain ── Rule { matches, counter, verdict, comment }
//!            │                              Match: Address(set) | Ports(PortSet) | AddressPort(set)
//!            ├─ sets:   name -> Set { family, comment, elements }
//!            │                        elements: Addresses | Intervals | AddressPorts
//!            └─ pending_pods, address_conflicts   (what could not be programmed, for reports)
//! ```
//!
//! The fixed parts (the table, the `forward` base chain and the four verdict maps' declarations)
//! are not stored: they are the same for every node and every cluster, which is what lets
//! [`crate::diff`] leave them alone. Everything is kept in ordered maps so that rendering, stats
//! and comparisons are deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use palisade_core::eval::PortSet;
use palisade_core::model::Protocol;

/// The nftables table palisade owns; nothing else is ever touched.
pub const TABLE: &str = "palisade";
/// The table's family: one table for IPv4 and IPv6.
pub const TABLE_FAMILY: &str = "inet";
/// The base chain on the forward hook.
pub const BASE_CHAIN: &str = "forward";
/// Runs just before the usual filter chains, so a drop here wins over their accepts and an
/// accept here still leaves them their say.
pub const BASE_PRIORITY: &str = "filter - 10";

/// IPv4 or IPv6: every address set and map exists once per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The nft payload keyword (`ip saddr`, `ip6 saddr`).
    pub fn keyword(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }

    /// The nft address type.
    pub fn addr_type(self) -> &'static str {
        match self {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        }
    }

    /// `4` or `6`, as used in set and map names.
    pub fn digit(self) -> char {
        match self {
            Family::V4 => '4',
            Family::V6 => '6',
        }
    }
}

/// Which verdict map: keyed by the source (egress) or destination (ingress) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapKind {
    Egress,
    Ingress,
}

impl MapKind {
    pub const ALL: [MapKind; 2] = [MapKind::Egress, MapKind::Ingress];

    /// `egress4`, `ingress6`, ...
    pub fn map_name(self, family: Family) -> String {
        let base = match self {
            MapKind::Egress => "egress",
            MapKind::Ingress => "ingress",
        };
        format!("{base}{}", family.digit())
    }

    /// The packet field the map is keyed by.
    pub fn field(self) -> AddrField {
        match self {
            MapKind::Egress => AddrField::Source,
            MapKind::Ingress => AddrField::Destination,
        }
    }
}

/// One element of a verdict map: packets of this local pod address jump to `chain`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MapEntry {
    pub chain: String,
    /// `namespace/name`, rendered as the element's comment.
    pub pod: String,
}

/// An inclusive address range of one family (`first <= last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl AddrRange {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        Family::of(ip) == Family::of(&self.first) && self.first <= *ip && *ip <= self.last
    }
}

/// The elements of a named set; the variant decides the set's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SetElements {
    /// A hash set of addresses (`type ipv4_addr`).
    Addresses(BTreeSet<IpAddr>),
    /// An interval set (`flags interval`): sorted, disjoint, non-adjacent ranges.
    Intervals(Vec<AddrRange>),
    /// A concatenated hash set `ipv4_addr . inet_proto . inet_service`: a destination pod
    /// address with a port a named port resolved to on that pod.
    AddressPorts(BTreeSet<(IpAddr, Protocol, u16)>),
}

impl SetElements {
    pub fn len(&self) -> usize {
        match self {
            SetElements::Addresses(s) => s.len(),
            SetElements::Intervals(v) => v.len(),
            SetElements::AddressPorts(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same kind of set with no elements: what identifies a set's declaration.
    pub fn kind(&self) -> SetKind {
        match self {
            SetElements::Addresses(_) => SetKind::Addresses,
            SetElements::Intervals(_) => SetKind::Intervals,
            SetElements::AddressPorts(_) => SetKind::AddressPorts,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetKind {
    Addresses,
    Intervals,
    AddressPorts,
}

/// A named set. Its name is derived from its definition (never from its elements), so pod churn
/// changes elements only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub family: Family,
    /// The definition the elements were resolved from, e.g. `production: {app=web}`.
    pub comment: String,
    pub elements: SetElements,
}

impl Set {
    /// Whether two sets have the same declaration (type, flags, comment), elements aside.
    pub fn same_declaration(&self, other: &Set) -> bool {
        self.family == other.family
            && self.comment == other.comment
            && self.elements.kind() == other.elements.kind()
    }
}

/// Which address of the packet a match reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddrField {
    Source,
    Destination,
}

impl AddrField {
    pub fn keyword(self) -> &'static str {
        match self {
            AddrField::Source => "saddr",
            AddrField::Destination => "daddr",
        }
    }
}

/// One condition of a rule; a rule matches when all of its conditions do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Match {
    /// `ip saddr @set`: the packet is of `family` and the address is in the named set.
    Address {
        family: Family,
        field: AddrField,
        set: String,
    },
    /// `meta l4proto . th dport { tcp . 80, udp . 53, tcp . 8000-8080 }`: an anonymous set of
    /// protocol/port ranges. Never "every protocol" (that is no match at all).
    Ports(PortSet),
    /// `ip daddr . meta l4proto . th dport @set`: destination address, protocol and port
    /// together, for named ports resolved per destination pod.
    AddressPort { family: Family, set: String },
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Ingress allows: the packet is accepted.
    Accept,
    /// Egress allows: back to the base chain, where the destination's ingress is checked.
    Return,
    Drop,
}

impl Verdict {
    pub fn keyword(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Return => "return",
            Verdict::Drop => "drop",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub matches: Vec<Match>,
    /// Count packets (used on the final drop of every chain, for metrics).
    pub counter: bool,
    pub verdict: Verdict,
    /// Where the rule comes from, e.g. `production/allow-web ingress[0]`.
    pub comment: Option<String>,
}

/// A regular chain, the target of verdict map entries. Its name is derived from its content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Chain {
    pub rules: Vec<Rule>,
}

/// Local pods sharing one address: only the first (by `namespace/name`) is programmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressConflict {
    pub address: IpAddr,
    pub programmed: String,
    pub skipped: Vec<String>,
}

/// The compiled ruleset of one node. Build it with [`crate::compile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    pub node: String,
    /// Local pods isolated for egress, by address.
    pub egress: BTreeMap<IpAddr, MapEntry>,
    /// Local pods isolated for ingress, by address.
    pub ingress: BTreeMap<IpAddr, MapEntry>,
    pub chains: BTreeMap<String, Chain>,
    pub sets: BTreeMap<String, Set>,
    /// Local pods (`namespace/name`) without an address: they cannot be programmed yet.
    pub pending_pods: Vec<String>,
    pub address_conflicts: Vec<AddressConflict>,
}

/// Sizes of a ruleset, counting the fixed parts (base chain, verdict maps) too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// The base chain plus every policy chain.
    pub chains: usize,
    /// Named sets, the four verdict maps excluded.
    pub sets: usize,
    pub maps: usize,
    /// Elements of every set and map (an interval counts once).
    pub elements: usize,
    /// Rules of every chain, the base chain's included.
    pub rules: usize,
}

/// The rules of the base chain, in order.
pub(crate) const BASE_RULES: usize = 5;

impl Ruleset {
    /// A ruleset with nothing to enforce (the shape of a node without isolated local pods).
    pub fn empty(node: &str) -> Ruleset {
        Ruleset {
            node: node.to_string(),
            egress: BTreeMap::new(),
            ingress: BTreeMap::new(),
            chains: BTreeMap::new(),
            sets: BTreeMap::new(),
            pending_pods: Vec::new(),
            address_conflicts: Vec::new(),
        }
    }

    /// The verdict map of one kind.
    pub fn map(&self, kind: MapKind) -> &BTreeMap<IpAddr, MapEntry> {
        match kind {
            MapKind::Egress => &self.egress,
            MapKind::Ingress => &self.ingress,
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            chains: 1 + self.chains.len(),
            sets: self.sets.len(),
            maps: MapKind::ALL.len() * Family::ALL.len(),
            elements: self.egress.len()
                + self.ingress.len()
                + self.sets.values().map(|s| s.elements.len()).sum::<usize>(),
            rules: BASE_RULES + self.chains.values().map(|c| c.rules.len()).sum::<usize>(),
        }
    }
}
