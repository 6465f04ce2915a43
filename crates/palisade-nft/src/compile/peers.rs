//! From a rule's `from`/`to` list to named sets: which pods and addresses it covers.
//!
//! ```text
//!   rule peers ── definition text (canonical, order-free) ──> set names (hash of the text)
//!      │                                                         │
//!      └─ resolve once per definition ─> matched pods ───────────┼─> pods4/pods6   hash sets of pod IPs
//!                                        ipBlock ranges ─────────┼─> cidr4/cidr6   interval sets
//!                                        + named ports (egress) ─┴─> named4/6      ip . proto . port
//! ```
//!
//! Sets are named after their DEFINITION, never their elements: when pods come and go only the
//! elements change, which is what lets [`crate::diff`] update a node with element commands. A
//! definition is resolved once however many chains use it, so chains share their sets.
//!
//! Semantics mirror `palisade_core::eval::peer_matches`: pod items match pods subject to policy
//! (never hostNetwork pods or non-pod addresses); an ipBlock matches an address in its ranges
//! and also every address of a pod having ANY address in them (so the other address of a
//! dual-stack pod is matched too). Those extra addresses go into the pod sets.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use palisade_core::eval::{ip_block_contains, namespace_labels};
use palisade_core::model::{
    Cluster, Labels, NAMESPACE_NAME_LABEL, NamespaceScope, Operator, Peer, Peers, Pod, PortMatch,
    PortSpec, Protocol, Selector,
};
use rustc_hash::FxHashMap;

use super::intervals::block_ranges;
use crate::names;
use crate::ruleset::{AddrRange, ClassMask, Family, Set, SetElements};

/// Per-family flags, indexed by [`fam`].
pub(crate) type PerFamily<T> = [T; 2];

pub(crate) fn fam(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

/// A namespace that has pods, with the labels its selectors see.
#[derive(Debug)]
struct NsEntry<'a> {
    name: &'a str,
    labels: Cow<'a, Labels>,
    pods: Vec<usize>,
}

/// What resolution needs from the cluster, computed once per compile.
#[derive(Debug)]
pub(crate) struct Index<'a> {
    pub(crate) cluster: &'a Cluster,
    namespaces: Vec<NsEntry<'a>>,
    /// Families of any pod address: sets of a family no pod has are not emitted.
    pub(crate) pod_families: PerFamily<bool>,
    /// Some pod has several addresses: only then can an ipBlock match an address outside it.
    multi_address: bool,
}

impl<'a> Index<'a> {
    pub(crate) fn new(cluster: &'a Cluster) -> Index<'a> {
        let mut by_ns: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
        let mut pod_families = [false; 2];
        let mut multi_address = false;
        for (i, pod) in cluster.pods.iter().enumerate() {
            by_ns.entry(pod.namespace.as_str()).or_default().push(i);
            for ip in &pod.ips {
                pod_families[fam(Family::of(ip))] = true;
            }
            multi_address |= pod.ips.len() > 1;
        }
        let mut namespaces: Vec<NsEntry<'a>> = by_ns
            .into_iter()
            .map(|(name, pods)| NsEntry {
                name,
                labels: namespace_labels(cluster, name),
                pods,
            })
            .collect();
        namespaces.sort_by(|a, b| a.name.cmp(b.name));
        Index {
            cluster,
            namespaces,
            pod_families,
            multi_address,
        }
    }

    fn pod(&self, i: usize) -> Option<&'a Pod> {
        self.cluster.pods.get(i)
    }

    /// The pods a definition matches (indices into `Cluster::pods`, ascending). Every pod
    /// is judged by [`Resolution::matches`]; namespaces no pod item can select are skipped.
    pub(crate) fn matched(&self, r: &Resolution) -> Vec<usize> {
        let pods = &self.cluster.pods;
        if r.has_blocks() {
            // An ipBlock can match a pod of any namespace.
            let labels: FxHashMap<&str, &Labels> = self
                .namespaces
                .iter()
                .map(|ns| (ns.name, ns.labels.as_ref()))
                .collect();
            return pods
                .iter()
                .enumerate()
                .filter(|(_, pod)| {
                    labels
                        .get(pod.namespace.as_str())
                        .is_some_and(|l| r.matches(pod, l))
                })
                .map(|(i, _)| i)
                .collect();
        }
        let mut out = Vec::new();
        for ns in &self.namespaces {
            if !r.may_select_in(ns.name, &ns.labels) {
                continue;
            }
            out.extend(
                ns.pods
                    .iter()
                    .copied()
                    .filter(|&i| self.pod(i).is_some_and(|p| r.matches(p, &ns.labels))),
            );
        }
        out.sort_unstable();
        out
    }
}

/// The sets one rule's peers resolved to.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerSets {
    /// The class set of the pods matched, when emitted.
    pub(crate) classes: Option<String>,
    /// ipBlock interval sets, when the blocks have addresses of the family.
    pub(crate) blocks: PerFamily<Option<String>>,
}

/// One `from`/`to` definition: what it says, and how it judges a pod.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub(crate) text: String,
    /// The ipBlock items alone, canonical.
    block_text: String,
    has_pod_items: bool,
    /// The policy's namespace (what a podSelector alone selects in).
    policy_ns: String,
    /// The pod items: namespace scope and pod selector.
    pod_items: Vec<(NamespaceScope, Selector)>,
    /// The ipBlock items: cidr and excepts.
    blocks: Vec<(IpNet, Vec<IpNet>)>,
    ranges: PerFamily<Vec<AddrRange>>,
}

impl Resolution {
    /// Whether the list matches `pod` (whose namespace carries `ns_labels`), as
    /// `palisade_core::eval::peer_matches` decides for each of its addresses: a pod item
    /// matches pods subject to policy in its scope, an ipBlock every pod (hostNetwork ones
    /// included) with an address inside it.
    pub(crate) fn matches(&self, pod: &Pod, ns_labels: &Labels) -> bool {
        let by_item = !pod.host_network
            && self.pod_items.iter().any(|(scope, sel)| {
                scope_includes(scope, &self.policy_ns, &pod.namespace, ns_labels)
                    && sel.matches(&pod.labels)
            });
        by_item
            || pod.ips.iter().any(|ip| {
                self.blocks
                    .iter()
                    .any(|(cidr, except)| ip_block_contains(cidr, except, ip))
            })
    }

    /// Whether some pod item can select pods of namespace `ns` (ipBlocks aside).
    pub(crate) fn may_select_in(&self, ns: &str, ns_labels: &Labels) -> bool {
        self.pod_items
            .iter()
            .any(|(scope, _)| scope_includes(scope, &self.policy_ns, ns, ns_labels))
    }

    /// Whether the list has ipBlocks, which can match a pod of any namespace.
    pub(crate) fn has_blocks(&self) -> bool {
        !self.blocks.is_empty()
    }
}

fn scope_includes(scope: &NamespaceScope, policy_ns: &str, ns: &str, ns_labels: &Labels) -> bool {
    match scope {
        NamespaceScope::Own => ns == policy_ns,
        NamespaceScope::Matching(sel) => sel.matches(ns_labels),
    }
}

/// Resolved definitions, shared by every chain of one compile.
#[derive(Debug)]
pub(crate) struct SetTable<'a> {
    pub(crate) index: Index<'a>,
    pub(crate) sets: BTreeMap<String, Set>,
    resolved: FxHashMap<String, Arc<Resolution>>,
    named: FxHashMap<String, Option<String>>,
    /// Class sets still to fill: set name -> the definition whose pods' addresses it holds.
    pub(crate) members: BTreeMap<String, Arc<Resolution>>,
    /// Named-port class sets still to fill: set name -> destination pods and port names.
    pub(crate) named_members: BTreeMap<String, NamedMembers>,
}

/// The destination pods of a named-port class set, and the port names it resolves.
pub(crate) type NamedMembers = (Destinations, Vec<(String, Protocol)>);

/// Which pods a named-port set's rule reaches.
#[derive(Debug, Clone)]
pub(crate) enum Destinations {
    /// Every pod (`to` absent or empty).
    All,
    /// The pods a definition matches.
    Of(Arc<Resolution>),
}

impl Destinations {
    /// Whether `pod` is a destination whose named ports the set resolves (never a
    /// hostNetwork pod: it is not subject to policy and has no named ports to resolve).
    pub(crate) fn includes(&self, pod: &Pod, ns_labels: &Labels) -> bool {
        !pod.host_network
            && match self {
                Destinations::All => true,
                Destinations::Of(r) => r.matches(pod, ns_labels),
            }
    }
}

/// The atoms `pod` gives its addresses in named-port set `n`: one per declared port whose
/// name and protocol the set resolves.
pub(crate) fn port_atoms(n: u32, wanted: &[(String, Protocol)], pod: &Pod) -> Vec<Atom> {
    pod.ports
        .iter()
        .filter(|cp| {
            wanted
                .iter()
                .any(|(name, proto)| cp.protocol == *proto && cp.name.as_ref() == Some(name))
        })
        .map(|cp| Atom::Port(n, cp.protocol, cp.port))
        .collect()
}

/// What a class id stands for: one thing a local rule can observe about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Atom {
    /// Matched by the `from`/`to` list of class set `n` (index into the filled sets).
    Member(u32),
    /// A destination of named-port set `n`, where the names resolve to protocol and port.
    Port(u32, Protocol, u16),
}

/// A selector in kubectl notation with expressions sorted, `{}` for the empty one.
fn selector_text(sel: &Selector) -> String {
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut exprs: Vec<String> = sel
        .expressions
        .iter()
        .map(|req| {
            let key = &req.key;
            let join = |vs: &BTreeSet<String>| vs.iter().cloned().collect::<Vec<_>>().join(",");
            match &req.operator {
                Operator::In(vs) => format!("{key} in ({})", join(vs)),
                Operator::NotIn(vs) => format!("{key} notin ({})", join(vs)),
                Operator::Exists => key.clone(),
                Operator::DoesNotExist => format!("!{key}"),
            }
        })
        .collect();
    exprs.sort();
    exprs.dedup();
    parts.extend(exprs);
    format!("{{{}}}", parts.join(","))
}

/// One `from`/`to` item as canonical text; a podSelector alone names the policy's namespace.
fn item_text(policy_ns: &str, item: &Peer) -> String {
    match item {
        Peer::Pods { namespaces, pods } => match namespaces {
            NamespaceScope::Own => format!("{policy_ns} {}", selector_text(pods)),
            NamespaceScope::Matching(ns) => {
                format!("ns{} {}", selector_text(ns), selector_text(pods))
            }
        },
        Peer::IpBlock { cidr, except } => {
            let mut s = cidr.to_string();
            let mut except: Vec<String> = except.iter().map(ToString::to_string).collect();
            except.sort();
            except.dedup();
            if !except.is_empty() {
                let _ = write!(s, " except {}", except.join(","));
            }
            s
        }
    }
}

/// Canonical text of some items: sorted, duplicates dropped (a `from`/`to` list is an OR, so
/// neither order nor repetition matters).
fn items_text<'p>(policy_ns: &str, items: impl Iterator<Item = &'p Peer>) -> String {
    let texts: BTreeSet<String> = items.map(|i| item_text(policy_ns, i)).collect();
    texts.into_iter().collect::<Vec<_>>().join("; ")
}

/// The canonical definition of a `from`/`to` list.
pub(crate) fn peers_text(policy_ns: &str, peers: &Peers) -> String {
    match peers {
        Peers::Any => "any".to_string(),
        Peers::OneOf(items) => items_text(policy_ns, items.iter()),
    }
}

/// A short human hint for a set name: the first item, without its excepts, and namespaces
/// selected by name shown by name.
fn hint(text: &str) -> String {
    let first = text.split(';').next().unwrap_or(text);
    let first = first.split(" except").next().unwrap_or(first);
    first.replace(NAMESPACE_NAME_LABEL, "").replace("{=", "{")
}

impl<'a> SetTable<'a> {
    pub(crate) fn new(cluster: &'a Cluster) -> SetTable<'a> {
        SetTable {
            index: Index::new(cluster),
            sets: BTreeMap::new(),
            resolved: FxHashMap::default(),
            named: FxHashMap::default(),
            members: BTreeMap::new(),
            named_members: BTreeMap::new(),
        }
    }

    /// Resolves a non-empty `from`/`to` list once per definition.
    fn resolve(&mut self, policy_ns: &str, items: &[Peer]) -> Arc<Resolution> {
        let text = items_text(policy_ns, items.iter());
        if let Some(hit) = self.resolved.get(&text) {
            return Arc::clone(hit);
        }
        let mut pod_items = Vec::new();
        let mut blocks = Vec::new();
        for item in items {
            match item {
                Peer::Pods { namespaces, pods } => {
                    pod_items.push((namespaces.clone(), pods.clone()))
                }
                Peer::IpBlock { cidr, except } => blocks.push((*cidr, except.clone())),
            }
        }
        let block_refs: Vec<(&IpNet, &[IpNet])> =
            blocks.iter().map(|(c, e)| (c, e.as_slice())).collect();
        let ranges = [
            block_ranges(&block_refs, Family::V4),
            block_ranges(&block_refs, Family::V6),
        ];
        let resolution = Arc::new(Resolution {
            block_text: items_text(
                policy_ns,
                items.iter().filter(|i| matches!(i, Peer::IpBlock { .. })),
            ),
            has_pod_items: !pod_items.is_empty(),
            policy_ns: policy_ns.to_string(),
            pod_items,
            blocks,
            ranges,
            text: text.clone(),
        });
        self.resolved.insert(text, Arc::clone(&resolution));
        resolution
    }

    /// The sets for a non-empty `from`/`to` list of a policy in `policy_ns`.
    pub(crate) fn peers(&mut self, policy_ns: &str, items: &[Peer]) -> PeerSets {
        let r = self.resolve(policy_ns, items);
        let mut out = PeerSets::default();
        for family in Family::ALL {
            let f = fam(family);
            let ranges = &r.ranges[f];
            if !ranges.is_empty() {
                let name = names::name(
                    &format!("cidr{}", family.digit()),
                    &hint(&r.block_text),
                    &format!("cidr{} {}", family.digit(), r.block_text),
                );
                self.sets.entry(name.clone()).or_insert_with(|| Set {
                    family,
                    comment: names::comment(&r.block_text),
                    elements: SetElements::Intervals(ranges.clone()),
                });
                out.blocks[f] = Some(name);
            }
        }
        // The class set exists when pods have addresses. A list of ipBlocks alone needs it
        // only for the other addresses of multi-address pods.
        let index = &self.index;
        let any_family = index.pod_families.iter().any(|f| *f);
        if any_family && (r.has_pod_items || index.multi_address) {
            let name = names::name("cls", &hint(&r.text), &format!("cls {}", r.text));
            if !self.sets.contains_key(&name) {
                self.sets.insert(
                    name.clone(),
                    Set {
                        family: Family::V4,
                        comment: names::comment(&r.text),
                        elements: SetElements::Classes(BTreeSet::new()),
                    },
                );
                self.members.insert(name.clone(), Arc::clone(&r));
            }
            out.classes = Some(name);
        }
        out
    }

    /// The `class . l4proto . dport` set for the named ports of an egress rule: the class of
    /// every address of every destination pod the peers match (all pods subject to policy for
    /// `Peers::Any`), with the numbers each named port resolves to ON THOSE PODS, by name and
    /// protocol (`palisade_core::eval::resolve_named_port`); pods resolving a name differently
    /// are in different classes. `None` when no pod has an address.
    pub(crate) fn named(
        &mut self,
        policy_ns: &str,
        peers: &Peers,
        items: &[&PortMatch],
    ) -> Option<String> {
        let mut ports: Vec<(String, Protocol)> = items
            .iter()
            .filter_map(|m| match &m.port {
                PortSpec::Named(name) => Some((name.clone(), m.protocol)),
                _ => None,
            })
            .collect();
        ports.sort();
        ports.dedup();
        let peer_text = peers_text(policy_ns, peers);
        let port_text: Vec<String> = ports
            .iter()
            .map(|(name, proto)| format!("{proto}/{name}"))
            .collect();
        let text = format!("{peer_text} ports {}", port_text.join(","));
        if let Some(hit) = self.named.get(&text) {
            return hit.clone();
        }
        let out = if self.index.pod_families.iter().any(|f| *f) {
            let destinations = match peers {
                Peers::Any => Destinations::All,
                Peers::OneOf(list) => Destinations::Of(self.resolve(policy_ns, list)),
            };
            let name = names::name(
                "clsnamed",
                &port_text.join(" "),
                &format!("clsnamed {text}"),
            );
            self.sets.entry(name.clone()).or_insert_with(|| Set {
                family: Family::V4,
                comment: names::comment(&text),
                elements: SetElements::ClassPorts(BTreeSet::new()),
            });
            self.named_members
                .insert(name.clone(), (destinations, ports));
            Some(name)
        } else {
            None
        };
        self.named.insert(text, out.clone());
        out
    }

    /// Gives every address that some class set observes its class id, and fills the class
    /// sets. An address's class is the set of [`Atom`]s it has; ids are derived from a hash of
    /// the atoms' definitions (set names), not from their order, so a pod coming or going
    /// changes the id of no other class.
    /// At most `mask.max_id()` classes get an id; the addresses of the others are counted
    /// (the second value) and left without a class.
    pub(crate) fn assign_classes(&mut self, mask: ClassMask) -> (BTreeMap<IpAddr, u16>, usize) {
        let cluster = self.index.cluster;
        let mut atoms_of: FxHashMap<IpAddr, Vec<Atom>> = FxHashMap::default();
        let member_sets: Vec<String> = self.members.keys().cloned().collect();
        for (n, name) in member_sets.iter().enumerate() {
            let Some(r) = self.members.get(name) else {
                continue;
            };
            let atom = Atom::Member(super::id(n));
            for pod in self
                .index
                .matched(r)
                .into_iter()
                .filter_map(|i| cluster.pods.get(i))
            {
                for ip in &pod.ips {
                    atoms_of.entry(*ip).or_default().push(atom);
                }
            }
        }
        let named_sets: Vec<String> = self.named_members.keys().cloned().collect();
        for (n, name) in named_sets.iter().enumerate() {
            let Some((destinations, ports)) = self.named_members.get(name) else {
                continue;
            };
            let pods = match destinations {
                Destinations::All => (0..cluster.pods.len()).collect(),
                Destinations::Of(r) => self.index.matched(r),
            };
            for pod in pods.into_iter().filter_map(|i| cluster.pods.get(i)) {
                if pod.host_network {
                    continue;
                }
                for atom in port_atoms(super::id(n), ports, pod) {
                    for ip in &pod.ips {
                        atoms_of.entry(*ip).or_default().push(atom);
                    }
                }
            }
        }
        // Distinct atom lists, each with a hash of what its atoms mean.
        let mut signatures: FxHashMap<Vec<Atom>, u32> = FxHashMap::default();
        let mut listed: Vec<(u64, String, Vec<Atom>)> = Vec::new();
        let mut class_of_addr: Vec<(IpAddr, u32)> = Vec::with_capacity(atoms_of.len());
        for (ip, mut atoms) in atoms_of {
            atoms.sort_unstable();
            atoms.dedup();
            let next = super::id(listed.len());
            let sig = *signatures.entry(atoms.clone()).or_insert(next);
            if sig == next {
                let (hash, text) = class_key(
                    &atoms,
                    |n| member_sets[n as usize].as_str(),
                    |n| named_sets[n as usize].as_str(),
                );
                listed.push((hash, text, atoms));
            }
            class_of_addr.push((ip, sig));
        }
        let keys: Vec<(u64, &str)> = listed.iter().map(|(h, t, _)| (*h, t.as_str())).collect();
        let ids = assign_ids(&keys, mask);
        for (k, (_, _, atoms)) in listed.iter().enumerate() {
            let id = ids[k];
            if id == 0 {
                continue;
            }
            for atom in atoms {
                let (name, element) = match *atom {
                    Atom::Member(n) => (&member_sets[n as usize], None),
                    Atom::Port(n, proto, port) => (&named_sets[n as usize], Some((proto, port))),
                };
                let Some(set) = self.sets.get_mut(name) else {
                    continue;
                };
                match (&mut set.elements, element) {
                    (SetElements::Classes(c), None) => {
                        c.insert(id);
                    }
                    (SetElements::ClassPorts(c), Some((proto, port))) => {
                        c.insert((id, proto, port));
                    }
                    _ => {}
                }
            }
        }
        let mut unclassified = 0;
        let classes = class_of_addr
            .into_iter()
            .filter_map(|(ip, sig)| {
                let id = ids[sig as usize];
                if id == 0 {
                    unclassified += 1;
                }
                (id != 0).then_some((ip, id))
            })
            .collect();
        (classes, unclassified)
    }
}

/// What a class means, as text, and its hash: the names of the sets its atoms are in (with the
/// port, for named-port sets), sorted. Ids come from the hash, so they depend on what the class
/// means, not on the order classes were found in.
pub(crate) fn class_key<'n>(
    atoms: &[Atom],
    member: impl Fn(u32) -> &'n str,
    named: impl Fn(u32) -> &'n str,
) -> (u64, String) {
    let mut texts: Vec<String> = atoms
        .iter()
        .map(|a| match *a {
            Atom::Member(n) => member(n).to_string(),
            Atom::Port(n, proto, port) => format!("{} {proto}/{port}", named(n)),
        })
        .collect();
    texts.sort_unstable();
    let text = texts.join("\n");
    (names::fnv64(&text), text)
}

/// Class ids for classes given by their [`class_key`]s: in hash order (then text), each takes
/// `1 + hash % capacity` or the next free id after it; 0 for those beyond the mask's capacity.
/// A function of the set of classes alone, so any way of arriving at the same classes (a full
/// compile, an incremental one) numbers them alike.
pub(crate) fn assign_ids(keys: &[(u64, &str)], mask: ClassMask) -> Vec<u16> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by(|&a, &b| keys[a].cmp(&keys[b]));
    let max = mask.max_id();
    let capacity = u64::from(max);
    let mut taken = vec![false; usize::from(max) + 1];
    let mut ids = vec![0u16; keys.len()];
    for &k in order.iter().take(usize::from(max)) {
        let mut id = 1 + keys[k].0 % capacity;
        while taken[id as usize] {
            id = if id == capacity { 1 } else { id + 1 };
        }
        taken[id as usize] = true;
        ids[k] = u16::try_from(id).unwrap_or(u16::MAX);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::model::Requirement;

    #[test]
    fn definitions_ignore_order_and_repetition() {
        let a = Peer::IpBlock {
            cidr: "10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}")),
            except: vec![
                "10.2.0.0/16".parse().unwrap_or_else(|e| panic!("{e}")),
                "10.1.0.0/16".parse().unwrap_or_else(|e| panic!("{e}")),
            ],
        };
        let b = Peer::Pods {
            namespaces: NamespaceScope::Own,
            pods: Selector {
                match_labels: [("app".to_string(), "web".to_string())].into(),
                expressions: vec![
                    Requirement {
                        key: "z".to_string(),
                        operator: Operator::Exists,
                    },
                    Requirement {
                        key: "a".to_string(),
                        operator: Operator::DoesNotExist,
                    },
                ],
            },
        };
        let one = peers_text("prod", &Peers::OneOf(vec![a.clone(), b.clone()]));
        let two = peers_text("prod", &Peers::OneOf(vec![b.clone(), a.clone(), b]));
        assert_eq!(one, two);
        assert_eq!(
            one,
            "10.0.0.0/8 except 10.1.0.0/16,10.2.0.0/16; prod {app=web,!a,z}"
        );
        // A podSelector alone means the policy's own namespace: a different definition.
        assert_ne!(one, peers_text("dev", &Peers::OneOf(vec![a])));
    }
}
