//! Policies compiled against the classes: who each policy selects, which classes each rule's
//! peers cover, and each rule's ports as an interned set plus the named ports left to resolve.
//!
//! ```text
//!   Policy ─ subject ─────────────> classes of its namespace it selects -> ingress_of / egress_of
//!          └ Rule ─ peers ────────> Bitset over classes (OR of its items, each memoized)
//!                 └ ports ────────> static PortSet id + named port ids (resolved per destination)
//! ```
//!
//! Selectors are evaluated at most once per (distinct selector, projected label set), on the
//! real labels of a pod carrying that label set, and only on candidates an index of label
//! pairs leaves; namespace selectors once per namespace.

use rustc_hash::FxHashMap;

use super::bitset::Bitset;
use super::classes::{ClassKind, Classes, Namespaces, Vocab, id};
use super::intern::{ALL, PortSets};
use crate::eval::PortSet;
use crate::model::{
    Cluster, Direction, NamespaceScope, Operator, Peer, Peers, PortSpec, Ports, Selector,
};

#[derive(Debug)]
pub(crate) struct RulePorts {
    /// Numeric ports and whole protocols.
    pub(crate) fixed: u32,
    /// Named port ids, resolved on the destination.
    pub(crate) named: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    /// Index into [`Compiled::peer_sets`].
    pub(crate) peers: u32,
    pub(crate) ports: RulePorts,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    /// Per policy: its ingress and egress rules (`None` when the direction is not isolated).
    pub(crate) rules: Vec<[Option<Vec<CompiledRule>>; 2]>,
    /// Distinct rule peer sets over classes.
    pub(crate) peer_sets: Vec<Bitset>,
    /// Per class: the policies isolating it for ingress / egress, ascending.
    pub(crate) isolating: [Vec<Vec<u32>>; 2],
}

/// Whether a policy-pod class carries one of the `matching` label sets.
fn class_matches(classes: &Classes, matching: Option<&Bitset>, class: u32) -> bool {
    match classes.keys.get(class as usize).map(|k| k.kind) {
        Some(ClassKind::PolicyPod { labelset, .. }) => {
            matching.is_some_and(|m| m.contains(labelset as usize))
        }
        _ => false,
    }
}

pub(crate) fn dir_index(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// Which label sets each distinct pod selector matches, computed on first use.
///
/// A selector with a `matchLabels` pair or an `In` requirement can only match label sets that
/// carry one of the pairs it names, so only those candidates (found through an index of
/// pairs) are tested; other selectors test every label set.
struct SelectorMemo<'a> {
    ids: FxHashMap<&'a Selector, usize>,
    results: Vec<Bitset>,
    /// (key, value) -> label sets whose pods carry that label.
    index: FxHashMap<(&'a str, &'a str), Vec<u32>>,
}

impl<'a> SelectorMemo<'a> {
    fn new(cluster: &'a Cluster, classes: &Classes) -> SelectorMemo<'a> {
        let mut index: FxHashMap<(&'a str, &'a str), Vec<u32>> = FxHashMap::default();
        for (labelset, &pod) in classes.labelset_pods.iter().enumerate() {
            if let Some(pod) = cluster.pods.get(pod) {
                for (k, v) in &pod.labels {
                    index.entry((k, v)).or_default().push(id(labelset));
                }
            }
        }
        SelectorMemo {
            ids: FxHashMap::default(),
            results: Vec::new(),
            index,
        }
    }

    /// The smallest candidate list the selector's own pairs give, if any.
    fn candidates(&self, selector: &Selector) -> Option<Vec<u32>> {
        let mut best: Option<Vec<u32>> = None;
        let mut consider = |list: Vec<u32>| {
            if best.as_ref().is_none_or(|b| list.len() < b.len()) {
                best = Some(list);
            }
        };
        for (k, v) in &selector.match_labels {
            let list = self
                .index
                .get(&(k.as_str(), v.as_str()))
                .cloned()
                .unwrap_or_default();
            consider(list);
        }
        for req in &selector.expressions {
            if let Operator::In(values) = &req.operator {
                let mut list: Vec<u32> = values
                    .iter()
                    .flat_map(|v| {
                        self.index
                            .get(&(req.key.as_str(), v.as_str()))
                            .map_or(&[][..], Vec::as_slice)
                    })
                    .copied()
                    .collect();
                list.sort_unstable();
                list.dedup();
                consider(list);
            }
        }
        best
    }

    fn matching(&mut self, selector: &'a Selector, cluster: &Cluster, classes: &Classes) -> usize {
        let next = self.results.len();
        let sel = *self.ids.entry(selector).or_insert(next);
        if sel == next {
            let count = classes.labelset_pods.len();
            let candidates = self
                .candidates(selector)
                .unwrap_or_else(|| (0..count).map(id).collect());
            let mut set = Bitset::new(count);
            for labelset in candidates {
                let labels = classes
                    .labelset_pods
                    .get(labelset as usize)
                    .and_then(|&p| cluster.pods.get(p))
                    .map(|p| &p.labels);
                if labels.is_some_and(|l| selector.matches(l)) {
                    set.insert(labelset as usize);
                }
            }
            self.results.push(set);
        }
        sel
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PeerKey {
    Pods { scope: Scope, selector: usize },
    Block(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Namespace(u32),
    Matching(usize),
}

struct Compiler<'a, 'c> {
    cluster: &'a Cluster,
    classes: &'c Classes,
    vocab: &'c Vocab<'a>,
    namespaces: &'c Namespaces<'a>,
    selectors: SelectorMemo<'a>,
    /// Interned selector ids shared by pod and namespace selectors (only for peer keys).
    selector_ids: FxHashMap<&'a Selector, usize>,
    ns_matches: FxHashMap<usize, Bitset>,
    peers: FxHashMap<PeerKey, Bitset>,
    peer_sets: Vec<Bitset>,
    peer_set_ids: FxHashMap<Bitset, u32>,
}

impl<'a> Compiler<'a, '_> {
    fn selector_id(&mut self, selector: &'a Selector) -> usize {
        let next = self.selector_ids.len();
        *self.selector_ids.entry(selector).or_insert(next)
    }

    /// The label sets a pod selector matches.
    fn pod_selector(&mut self, selector: &'a Selector) -> Option<&Bitset> {
        let sel = self
            .selectors
            .matching(selector, self.cluster, self.classes);
        self.selectors.results.get(sel)
    }

    fn item(&mut self, policy_ns: u32, item: &'a Peer) -> Bitset {
        let key = match item {
            Peer::Pods { namespaces, pods } => PeerKey::Pods {
                scope: match namespaces {
                    NamespaceScope::Own => Scope::Namespace(policy_ns),
                    NamespaceScope::Matching(sel) => Scope::Matching(self.selector_id(sel)),
                },
                selector: self.selector_id(pods),
            },
            Peer::IpBlock { cidr, except } => {
                PeerKey::Block(self.vocab.block_id((cidr, except)).unwrap_or(u32::MAX))
            }
        };
        if let Some(set) = self.peers.get(&key) {
            return set.clone();
        }
        let mut set = Bitset::new(self.classes.len());
        match item {
            Peer::Pods { namespaces, pods } => {
                let in_scope: Vec<usize> = match namespaces {
                    NamespaceScope::Own => vec![policy_ns as usize],
                    NamespaceScope::Matching(sel) => {
                        let sel_id = self.selector_id(sel);
                        let labels = &self.namespaces.labels;
                        self.ns_matches
                            .entry(sel_id)
                            .or_insert_with(|| {
                                let mut m = Bitset::new(labels.len());
                                for (i, l) in labels.iter().enumerate() {
                                    if sel.matches(l) {
                                        m.insert(i);
                                    }
                                }
                                m
                            })
                            .iter()
                            .collect()
                    }
                };
                let classes = self.classes;
                let matching = self.pod_selector(pods);
                for ns in in_scope {
                    let members = classes.by_namespace.get(ns).map_or(&[][..], Vec::as_slice);
                    for &class in members {
                        if class_matches(classes, matching, class) {
                            set.insert(class as usize);
                        }
                    }
                }
            }
            Peer::IpBlock { .. } => {
                if let PeerKey::Block(block) = key {
                    for (class, k) in self.classes.keys.iter().enumerate() {
                        let hit = self
                            .classes
                            .block_sigs
                            .get(k.blocks as usize)
                            .is_some_and(|b| b.contains(block as usize));
                        if hit {
                            set.insert(class);
                        }
                    }
                }
            }
        }
        self.peers.insert(key, set.clone());
        set
    }

    fn peer_set_id(&mut self, set: Bitset) -> u32 {
        if let Some(&id) = self.peer_set_ids.get(&set) {
            return id;
        }
        let new = id(self.peer_sets.len());
        self.peer_sets.push(set.clone());
        self.peer_set_ids.insert(set, new);
        new
    }

    fn rule_peers(&mut self, policy_ns: u32, peers: &'a Peers) -> u32 {
        let set = match peers {
            Peers::Any => Bitset::full(self.classes.len()),
            Peers::OneOf(items) => {
                let mut set = Bitset::new(self.classes.len());
                for item in items {
                    set.union_with(&self.item(policy_ns, item));
                }
                set
            }
        };
        self.peer_set_id(set)
    }

    fn rule_ports(&self, ports: &Ports, sets: &mut PortSets) -> RulePorts {
        let Ports::OneOf(items) = ports else {
            return RulePorts {
                fixed: ALL,
                named: Vec::new(),
            };
        };
        let mut fixed = PortSet::none();
        let mut named = Vec::new();
        for item in items {
            match &item.port {
                PortSpec::Any => fixed = fixed.union(&PortSet::protocol(item.protocol)),
                PortSpec::Range { first, last } => {
                    fixed.insert_range(item.protocol, *first, *last);
                }
                PortSpec::Named(name) => {
                    if let Some(id) = self.vocab.named_id(name, item.protocol) {
                        named.push(id);
                    }
                }
            }
        }
        named.sort_unstable();
        named.dedup();
        RulePorts {
            fixed: sets.intern(fixed),
            named,
        }
    }
}

pub(crate) fn compile<'a>(
    cluster: &'a Cluster,
    classes: &Classes,
    vocab: &Vocab<'a>,
    namespaces: &Namespaces<'a>,
    sets: &mut PortSets,
) -> Compiled {
    let mut c = Compiler {
        cluster,
        classes,
        vocab,
        namespaces,
        selectors: SelectorMemo::new(cluster, classes),
        selector_ids: FxHashMap::default(),
        ns_matches: FxHashMap::default(),
        peers: FxHashMap::default(),
        peer_sets: Vec::new(),
        peer_set_ids: FxHashMap::default(),
    };
    let mut isolating = [
        vec![Vec::new(); classes.len()],
        vec![Vec::new(); classes.len()],
    ];
    let mut rules = Vec::with_capacity(cluster.policies.len());
    for (index, policy) in cluster.policies.iter().enumerate() {
        let ns = namespaces.id(&policy.namespace);
        let members = classes
            .by_namespace
            .get(ns as usize)
            .map_or(&[][..], Vec::as_slice);
        let matching = c.pod_selector(&policy.subject);
        for &class in members {
            if class_matches(classes, matching, class) {
                for direction in [Direction::Ingress, Direction::Egress] {
                    if policy.rules(direction).is_some()
                        && let Some(list) = isolating[dir_index(direction)].get_mut(class as usize)
                    {
                        list.push(id(index));
                    }
                }
            }
        }
        let mut compiled: [Option<Vec<CompiledRule>>; 2] = [None, None];
        for direction in [Direction::Ingress, Direction::Egress] {
            if let Some(list) = policy.rules(direction) {
                let out = list
                    .iter()
                    .map(|rule| CompiledRule {
                        peers: c.rule_peers(ns, &rule.peers),
                        ports: c.rule_ports(&rule.ports, sets),
                    })
                    .collect();
                compiled[dir_index(direction)] = Some(out);
            }
        }
        rules.push(compiled);
    }
    Compiled {
        rules,
        peer_sets: c.peer_sets,
        isolating,
    }
}
