//! The ruleset value: what palisade keeps in the `inet palisade` table of one node.
//!
//! ```text
//!   Ruleset ─┬─ egress / ingress: local pod address -> MapEntry { chain, pod }   (verdict maps)
//!            ├─ chains: name -> Chain ── Rule { matches, counter, verdict, comment }
//!            │                              Match: Address(set) | Ports(PortSet) | AddressPort(set)
//!            ├─ sets:   name -> Set { family, comment, elements }
//!            │                        elements: Addresses | Intervals | AddressPorts
//!            ├─ counters: name -> CounterDef   (named counter objects, with [`CompileOptions`])
//!            ├─ pod_counters: (map, address) -> counter   (counter maps: drops per local pod)
//!            ├─ guard: Option<Guard>           (the fail-closed guard's base rules, with options)
//!            └─ pending_pods, address_conflicts   (what could not be programmed, for reports)
//! ```
//!
//! The fixed parts (the table, the `forward` base chain and the four verdict maps' declarations)
//! are not stored: they are the same for every node and every cluster, which is what lets
//! [`crate::diff`] leave them alone. Everything is kept in ordered maps so that rendering, stats
//! and comparisons are deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use palisade_core::eval::PortSet;
use palisade_core::model::{Direction, Protocol};

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

/// The bits of the packet mark that carry an address class while palisade's base chain runs.
/// The base chain XORs the class id of the peer address in before a policy chain and XORs it
/// out right after, so every bit of the mark leaves as it came in; a new connection arriving
/// with any of these bits set is dropped, since its class would be ambiguous. The bits are
/// configurable so that a CNI using high mark bits of its own can keep them
/// (docs/ruleset-design.md): contiguous, at least [`ClassMask::MIN_BITS`] wide, and clear of
/// kube-proxy's bits ([`KUBE_PROXY_MARKS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassMask(u32);

/// kube-proxy's mark bits: 0x4000 masquerade, 0x8000 drop (iptables mode; nftables mode uses
/// 0x4000). A class mask never overlaps them.
pub const KUBE_PROXY_MARKS: u32 = 0x0000_c000;

/// Why a class mask was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassMaskError {
    #[error("the class mark mask 0x{0:08x} is not one run of contiguous bits")]
    NotContiguous(u32),
    #[error(
        "the class mark mask 0x{0:08x} has fewer than {min} bits (at most {max} classes)",
        min = ClassMask::MIN_BITS,
        max = (1u32 << ClassMask::MIN_BITS) - 1
    )]
    TooNarrow(u32),
    #[error("the class mark mask 0x{0:08x} overlaps kube-proxy's mark bits 0x0000c000")]
    KubeProxy(u32),
    #[error("`{0}` is not a 32-bit mask (e.g. 0xffff0000)")]
    Syntax(String),
}

impl ClassMask {
    /// Bits 16-31: 65,535 class ids.
    pub const DEFAULT: ClassMask = ClassMask(0xffff_0000);
    /// Fewer bits than this leave so few class ids (255 at 8 bits) that an ordinary node runs
    /// out of them.
    pub const MIN_BITS: u32 = 8;

    pub fn new(bits: u32) -> Result<ClassMask, ClassMaskError> {
        if bits == 0 {
            return Err(ClassMaskError::TooNarrow(bits));
        }
        let run = bits >> bits.trailing_zeros();
        if run & run.wrapping_add(1) != 0 {
            return Err(ClassMaskError::NotContiguous(bits));
        }
        if bits & KUBE_PROXY_MARKS != 0 {
            return Err(ClassMaskError::KubeProxy(bits));
        }
        if bits.count_ones() < Self::MIN_BITS {
            return Err(ClassMaskError::TooNarrow(bits));
        }
        Ok(ClassMask(bits))
    }

    /// The mask's bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Where the class id starts within the mark.
    pub fn shift(self) -> u32 {
        self.0.trailing_zeros()
    }

    /// The largest class id the mask holds (ids start at 1; 0 is "no class").
    pub fn max_id(self) -> u16 {
        u16::try_from(self.0 >> self.shift()).unwrap_or(u16::MAX)
    }

    /// The mark bits of class `id` (`id` must be at most [`ClassMask::max_id`]).
    pub fn mark(self, id: u16) -> u32 {
        (u32::from(id) << self.shift()) & self.0
    }

    /// The class in `mark`'s class bits; `None` for 0 (no class).
    pub fn class_of(self, mark: u32) -> Option<u16> {
        u16::try_from((mark & self.0) >> self.shift())
            .ok()
            .filter(|id| *id != 0)
    }

    /// Whether the mask is a prefix of the mark (its top bits), the form in which nft lists
    /// `meta mark & mask != 0` as `meta mark != 0x00000000/N`.
    pub fn is_prefix(self) -> bool {
        self.0.leading_ones() == self.0.count_ones()
    }
}

impl Default for ClassMask {
    fn default() -> ClassMask {
        ClassMask::DEFAULT
    }
}

impl std::fmt::Display for ClassMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{:08x}", self.0)
    }
}

impl std::str::FromStr for ClassMask {
    type Err = ClassMaskError;

    /// `0xffff0000` (hexadecimal with `0x`) or a decimal number.
    fn from_str(s: &str) -> Result<ClassMask, ClassMaskError> {
        let t = s.trim();
        let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(&hex.replace('_', ""), 16),
            None => t.parse::<u32>(),
        };
        ClassMask::new(parsed.map_err(|_| ClassMaskError::Syntax(s.to_string()))?)
    }
}

/// `class-002a`: the one-rule chain that XORs class `id` into the mark.
pub fn class_chain(id: u16) -> String {
    format!("class-{id:04x}")
}

/// `classes4` / `classes6`: the map from cluster addresses to their class chains.
pub fn class_map_name(family: Family) -> String {
    format!("classes{}", family.digit())
}

/// Which verdict map: keyed by the source (egress) or destination (ingress) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapKind {
    Egress,
    Ingress,
}

impl MapKind {
    pub const ALL: [MapKind; 2] = [MapKind::Egress, MapKind::Ingress];

    /// `egress-drops4`, ...: the counter map of this kind ([`Ruleset::pod_counters`]).
    pub fn counter_map_name(self, family: Family) -> String {
        let base = match self {
            MapKind::Egress => "egress",
            MapKind::Ingress => "ingress",
        };
        format!("{base}-drops{}", family.digit())
    }

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
    /// A hash set of address classes (`type mark`, each id shifted into the [`ClassMask`]): the
    /// classes whose addresses a `from`/`to` list matches.
    Classes(BTreeSet<u16>),
    /// A concatenated hash set `mark . inet_proto . inet_service`: a destination class with a
    /// port a named port resolved to on the pods of that class.
    ClassPorts(BTreeSet<(u16, Protocol, u16)>),
}

impl SetElements {
    pub fn len(&self) -> usize {
        match self {
            SetElements::Addresses(s) => s.len(),
            SetElements::Intervals(v) => v.len(),
            SetElements::AddressPorts(s) => s.len(),
            SetElements::Classes(s) => s.len(),
            SetElements::ClassPorts(s) => s.len(),
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
            SetElements::Classes(_) => SetKind::Classes,
            SetElements::ClassPorts(_) => SetKind::ClassPorts,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetKind {
    Addresses,
    Intervals,
    AddressPorts,
    Classes,
    ClassPorts,
}

/// A named set. Its name is derived from its definition (never from its elements), so pod churn
/// changes elements only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// The family of its addresses; class sets hold no address and say [`Family::V4`].
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
    /// `meta mark & <mask> == @set` ([`ClassMask`]): the class of the other side of the connection (the
    /// destination in egress chains, the source in ingress chains) is in a
    /// [`SetElements::Classes`] set. Both families alike.
    Class { set: String },
    /// `meta mark & <mask> . meta l4proto . th dport @set`: the destination's class with
    /// protocol and port, for named ports of egress rules ([`SetElements::ClassPorts`]).
    ClassPort { set: String },
}

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Ingress allows: the packet is accepted.
    Accept,
    /// Egress allows: back to the base chain, where the destination's ingress is checked.
    Return,
    Drop,
    /// No verdict: the next rule runs (a rule that only logs).
    Continue,
}

impl Verdict {
    /// The nft keyword; empty for [`Verdict::Continue`].
    pub fn keyword(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Return => "return",
            Verdict::Drop => "drop",
            Verdict::Continue => "",
        }
    }
}

/// A rate-limited `log group` statement: `limit rate R/second burst B packets log prefix ..
/// group G`. Over the limit the rule does not match, so the packet goes on to the next rule
/// unlogged: a flood costs the node one token-bucket check per packet, never a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogStatement {
    pub group: u16,
    /// `palisade <chain>`: the chain that dropped, which says the direction and lets the agent
    /// find the policies (see [`parse_log_prefix`](crate::parse_log_prefix)).
    pub prefix: String,
    pub rate_per_second: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub matches: Vec<Match>,
    /// Log the packet to an nflog group (rate-limited) before the verdict.
    pub log: Option<LogStatement>,
    /// Named counter objects this rule increments (`counter name "..."`), see
    /// [`Ruleset::counters`].
    pub counters: Vec<String>,
    /// `counter name ip saddr map @egress-drops4`: the counter of the pod the packet's
    /// address belongs to (see [`Ruleset::pod_counters`]); no counter when the address is in
    /// no element, and the rule carries no verdict then either way.
    pub counter_map: Option<(Family, MapKind)>,
    /// Count packets (used on the final drop of every chain, for metrics).
    pub counter: bool,
    pub verdict: Verdict,
    /// Where the rule comes from, e.g. `production/allow-web ingress[0]`.
    pub comment: Option<String>,
}

/// What a named counter object counts, so that a counter read from the kernel maps back to a
/// policy and rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CounterDef {
    /// Packets (first packets of connections) that rule `rule` of the policy's `direction`
    /// rules allowed.
    Allowed {
        namespace: String,
        policy: String,
        direction: Direction,
        rule: usize,
    },
    /// Packets dropped at pods this policy isolates in `direction` because no rule of any
    /// isolating policy matched. A drop at a pod isolated by several policies counts in each.
    Denied {
        namespace: String,
        policy: String,
        direction: Direction,
    },
    /// Packets dropped at this local pod in `direction` (one counter per pod and direction,
    /// selected by address through [`Ruleset::pod_counters`]).
    PodDenied {
        namespace: String,
        pod: String,
        direction: Direction,
    },
    /// Packets the fail-closed guard dropped (see [`Guard`]).
    Guard { direction: Direction },
}

impl CounterDef {
    /// The object's comment in the kernel: `allow production/web ingress[0]`.
    pub fn comment(&self) -> String {
        match self {
            CounterDef::Allowed {
                namespace,
                policy,
                direction,
                rule,
            } => format!("allow {namespace}/{policy} {}[{rule}]", direction.as_str()),
            CounterDef::Denied {
                namespace,
                policy,
                direction,
            } => format!("deny {namespace}/{policy} {}", direction.as_str()),
            CounterDef::PodDenied {
                namespace,
                pod,
                direction,
            } => format!("drops at {namespace}/{pod} {}", direction.as_str()),
            CounterDef::Guard { direction } => format!("guard {}", direction.as_str()),
        }
    }
}

/// How to compile beyond the policies themselves. The default adds nothing: the ruleset of
/// [`crate::compile`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// Log every policy drop to an nflog group, rate-limited per chain.
    pub log: Option<LogOptions>,
    /// Named counters: allowed packets per policy rule, denied packets per isolating policy.
    pub counters: bool,
    /// The node's pod CIDRs, for the fail-closed guard ([`Guard`]); empty: no guard.
    pub guard_cidrs: Vec<IpNet>,
    /// The mark bits that carry class ids.
    pub class_mask: ClassMask,
}

/// Where and how often drops are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogOptions {
    pub group: u16,
    /// Token bucket per chain: sustained messages per second ...
    pub rate_per_second: u32,
    /// ... and the burst allowed above it.
    pub burst: u32,
}

impl LogOptions {
    /// Default rate: 10 messages per second per chain, bursts of 20. A node has at most two
    /// chains per local pod, so even a flood against every pod stays a few thousand netlink
    /// messages per second, which the agent reads without effort; a human looking at one
    /// denied connection sees every attempt.
    pub const DEFAULT_RATE: u32 = 10;
    pub const DEFAULT_BURST: u32 = 20;

    pub fn new(group: u16) -> LogOptions {
        LogOptions {
            group,
            rate_per_second: Self::DEFAULT_RATE,
            burst: Self::DEFAULT_BURST,
        }
    }
}

/// The fail-closed guard: while a local pod that policies would isolate has no address yet,
/// forwarded traffic from or to an address of the node's pod CIDRs that is no known pod is
/// dropped. The pod's address shows up in the kernel before palisade learns it; without the
/// guard its first connections would pass unfiltered.
///
/// ```text
///   forward: ct state established,related accept
///            ip saddr @guard-net4 ip saddr != @guard-known4 jump guard-egress    (and ip6)
///            ip daddr @guard-net4 ip daddr != @guard-known4 jump guard-ingress   (and ip6)
///            ... the verdict maps
///   guard-net<f>:   the pod CIDRs while a pending isolated pod exists, else empty
///   guard-known<f>: every pod address inside the pod CIDRs
/// ```
///
/// The base rules exist whenever guard CIDRs are configured; arming and disarming changes
/// only set elements, so it is an ordinary update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// Pending local pods (`namespace/name`) that policies isolate: the guard is armed while
    /// this is not empty.
    pub pending_isolated: Vec<String>,
}

impl Guard {
    pub fn armed(&self) -> bool {
        !self.pending_isolated.is_empty()
    }

    /// The interval set of the pod CIDRs of `family`.
    pub fn net_set(family: Family) -> String {
        format!("guard-net{}", family.digit())
    }

    /// The set of known pod addresses of `family`.
    pub fn known_set(family: Family) -> String {
        format!("guard-known{}", family.digit())
    }

    /// The chain dropping unknown traffic in `kind`'s direction.
    pub fn chain(kind: MapKind) -> &'static str {
        match kind {
            MapKind::Egress => "guard-egress",
            MapKind::Ingress => "guard-ingress",
        }
    }
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
    /// Every cluster address some rule of this node tells apart, with its class id (never 0):
    /// addresses no local rule can tell apart share a class. The `classes4`/`classes6` maps
    /// jump to the chain [`class_chain`] of the id; one chain per id in use.
    pub classes: BTreeMap<IpAddr, u16>,
    /// The mark bits the class ids are XORed into ([`CompileOptions::class_mask`]).
    pub class_mask: ClassMask,
    /// Addresses left without a class because the node needs more classes than
    /// [`ClassMask::max_id`]: they match no class set (denied where a pod peer would allow).
    pub unclassified: usize,
    /// Named counter objects, with [`CompileOptions::counters`].
    pub counters: BTreeMap<String, CounterDef>,
    /// With [`CompileOptions::counters`]: the counter maps (`egress-drops4`, ...: local pod
    /// address -> its [`CounterDef::PodDenied`] counter), keyed by map and address. `None`: no
    /// counter maps are declared.
    pub pod_counters: Option<BTreeMap<(MapKind, IpAddr), String>>,
    /// The fail-closed guard, with [`CompileOptions::guard_cidrs`].
    pub guard: Option<Guard>,
    /// Local pods (`namespace/name`) without an address: they cannot be programmed yet.
    pub pending_pods: Vec<String>,
    pub address_conflicts: Vec<AddressConflict>,
}

/// Sizes of a ruleset, counting the fixed parts (base chain, verdict maps) too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// The base chain plus every policy chain and class chain.
    pub chains: usize,
    /// Named sets, the verdict maps excluded.
    pub sets: usize,
    pub maps: usize,
    /// Elements of every set and map (an interval counts once).
    pub elements: usize,
    /// Rules of every chain, the base chain's included.
    pub rules: usize,
}

/// The rules of the base chain: established, mark check, then per family the class stamp,
/// egress map, unstamp, stamp, ingress map, unstamp.
pub(crate) const BASE_RULES: usize = 2 + 6 * 2;

impl Ruleset {
    /// A ruleset with nothing to enforce (the shape of a node without isolated local pods).
    pub fn empty(node: &str) -> Ruleset {
        Ruleset {
            node: node.to_string(),
            egress: BTreeMap::new(),
            ingress: BTreeMap::new(),
            chains: BTreeMap::new(),
            sets: BTreeMap::new(),
            classes: BTreeMap::new(),
            class_mask: ClassMask::DEFAULT,
            unclassified: 0,
            counters: BTreeMap::new(),
            pod_counters: None,
            guard: None,
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

    /// Rules of the base chain: the guard adds one per direction and family.
    pub(crate) fn base_rules(&self) -> usize {
        let guard = if self.guard.is_some() {
            MapKind::ALL.len() * Family::ALL.len()
        } else {
            0
        };
        BASE_RULES + guard
    }

    /// The class ids in use, each with its chain.
    pub fn class_ids(&self) -> BTreeSet<u16> {
        self.classes.values().copied().collect()
    }

    pub fn stats(&self) -> Stats {
        let ids = self.class_ids().len();
        Stats {
            chains: 1 + self.chains.len() + ids,
            sets: self.sets.len(),
            maps: (MapKind::ALL.len() + 1) * Family::ALL.len(),
            elements: self.egress.len()
                + self.ingress.len()
                + self.classes.len()
                + self.pod_counters.as_ref().map_or(0, BTreeMap::len)
                + self.sets.values().map(|s| s.elements.len()).sum::<usize>(),
            rules: self.base_rules()
                + ids
                + self.chains.values().map(|c| c.rules.len()).sum::<usize>(),
        }
    }
}
