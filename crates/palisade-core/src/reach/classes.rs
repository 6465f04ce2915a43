//! Endpoint equivalence classes: endpoints that no policy can tell apart share one class.
//!
//! ```text
//!   Vocab (from every policy)            endpoint                       class key
//!   ───────────────────────────          ─────────────────────────      ─────────────────────────────
//!   label keys + values selectors use ─> labels projected onto them ─┐
//!   named ports (name, protocol)      ─> its declared numbers       ─┼─> PolicyPod{ns, labels, ports, blocks}
//!   ipBlocks (cidr minus except)      ─> blocks any of its IPs hit  ─┘   or Other{blocks}
//! ```
//!
//! A label whose key no pod selector mentions is invisible to every policy and is dropped; a
//! value no selector names only matters as "present", so it is replaced by a placeholder. The
//! namespace is kept whole (its labels and own-namespace scopes depend on it). hostNetwork
//! pods and external addresses are only ever seen through ipBlocks, so they form `Other`
//! classes keyed by their block matches alone.

use std::borrow::Cow;
use std::net::IpAddr;

use rustc_hash::{FxHashMap, FxHashSet};

use super::atoms::{Atoms, Block};
use super::bitset::Bitset;
use crate::model::{
    Cluster, Direction, Labels, NAMESPACE_NAME_LABEL, Operator, Peer, Peers, PortSpec, Ports,
    Protocol, Selector,
};

/// What the policies of a cluster can observe about an endpoint.
#[derive(Debug)]
pub(crate) struct Vocab<'a> {
    /// Label keys pod selectors mention, with the values they name.
    label_values: FxHashMap<&'a str, FxHashSet<&'a str>>,
    /// Named ports rules mention, by id.
    named: FxHashMap<(&'a str, Protocol), u32>,
    pub(crate) named_protocols: Vec<Protocol>,
    blocks: FxHashMap<Block<'a>, u32>,
    block_list: Vec<Block<'a>>,
}

impl<'a> Vocab<'a> {
    pub(crate) fn collect(cluster: &'a Cluster) -> Vocab<'a> {
        let mut vocab = Vocab {
            label_values: FxHashMap::default(),
            named: FxHashMap::default(),
            named_protocols: Vec::new(),
            blocks: FxHashMap::default(),
            block_list: Vec::new(),
        };
        for policy in &cluster.policies {
            vocab.add_selector(&policy.subject);
            for direction in [Direction::Ingress, Direction::Egress] {
                for rule in policy.rules(direction).unwrap_or_default() {
                    if let Peers::OneOf(items) = &rule.peers {
                        for item in items {
                            match item {
                                Peer::Pods { pods, .. } => vocab.add_selector(pods),
                                Peer::IpBlock { cidr, except } => {
                                    vocab.block_id_or_insert((cidr, except));
                                }
                            }
                        }
                    }
                    if let Ports::OneOf(items) = &rule.ports {
                        for item in items {
                            if let PortSpec::Named(name) = &item.port {
                                vocab.named_id_or_insert(name, item.protocol);
                            }
                        }
                    }
                }
            }
        }
        vocab
    }

    fn add_selector(&mut self, selector: &'a Selector) {
        for (k, v) in &selector.match_labels {
            self.label_values.entry(k).or_default().insert(v);
        }
        for req in &selector.expressions {
            let values = self.label_values.entry(&req.key).or_default();
            if let Operator::In(vs) | Operator::NotIn(vs) = &req.operator {
                values.extend(vs.iter().map(String::as_str));
            }
        }
    }

    fn block_id_or_insert(&mut self, block: Block<'a>) -> u32 {
        let next = id(self.block_list.len());
        let id = *self.blocks.entry(block).or_insert(next);
        if id == next {
            self.block_list.push(block);
        }
        id
    }

    fn named_id_or_insert(&mut self, name: &'a str, protocol: Protocol) -> u32 {
        let next = id(self.named_protocols.len());
        let id = *self.named.entry((name, protocol)).or_insert(next);
        if id == next {
            self.named_protocols.push(protocol);
        }
        id
    }

    pub(crate) fn block_id(&self, block: Block<'a>) -> Option<u32> {
        self.blocks.get(&block).copied()
    }

    pub(crate) fn named_id(&self, name: &str, protocol: Protocol) -> Option<u32> {
        self.named.get(&(name, protocol)).copied()
    }

    pub(crate) fn block_list(&self) -> Vec<Block<'a>> {
        self.block_list.clone()
    }
}

/// Converts a count into an id; counts are bounded by the input, far below `u32::MAX`.
pub(crate) fn id(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Namespace ids: the cluster's namespaces, then any only named by pods or policies (with the
/// label the API server would give them).
#[derive(Debug)]
pub(crate) struct Namespaces<'a> {
    ids: FxHashMap<&'a str, u32>,
    pub(crate) labels: Vec<Cow<'a, Labels>>,
}

impl<'a> Namespaces<'a> {
    pub(crate) fn collect(cluster: &'a Cluster) -> Namespaces<'a> {
        let mut table = Namespaces {
            ids: FxHashMap::default(),
            labels: Vec::new(),
        };
        for ns in &cluster.namespaces {
            if !table.ids.contains_key(ns.name.as_str()) {
                table.ids.insert(&ns.name, id(table.labels.len()));
                table.labels.push(Cow::Borrowed(&ns.labels));
            }
        }
        let named = cluster
            .pods
            .iter()
            .map(|p| p.namespace.as_str())
            .chain(cluster.policies.iter().map(|p| p.namespace.as_str()));
        for name in named {
            if !table.ids.contains_key(name) {
                table.ids.insert(name, id(table.labels.len()));
                table.labels.push(Cow::Owned(Labels::from([(
                    NAMESPACE_NAME_LABEL.to_string(),
                    name.to_string(),
                )])));
            }
        }
        table
    }

    pub(crate) fn id(&self, name: &str) -> u32 {
        self.ids.get(name).copied().unwrap_or(u32::MAX)
    }

    pub(crate) fn len(&self) -> usize {
        self.labels.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ClassKind {
    /// A pod subject to policy: namespace id, projected label set id.
    PolicyPod { ns: u32, labelset: u32 },
    /// A hostNetwork pod or a non-pod address.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ClassKey {
    pub(crate) kind: ClassKind,
    /// Id into [`Classes::named_sigs`].
    pub(crate) named_ports: u32,
    /// Id into [`Classes::block_sigs`].
    pub(crate) blocks: u32,
}

#[derive(Debug)]
pub(crate) struct Classes {
    pub(crate) keys: Vec<ClassKey>,
    /// Per endpoint (pods, then externals).
    pub(crate) class_of: Vec<u32>,
    /// Policy-pod classes per namespace id.
    pub(crate) by_namespace: Vec<Vec<u32>>,
    /// A pod carrying each projected label set (its real labels decide every selector alike).
    pub(crate) labelset_pods: Vec<usize>,
    /// Declared (named port id, number) pairs, sorted; id 0 is "none".
    pub(crate) named_sigs: Vec<Vec<(u32, u16)>>,
    /// Blocks matched; id 0 is "none".
    pub(crate) block_sigs: Vec<Bitset>,
    pub(crate) atom_count: usize,
}

/// Assigns ids to distinct values, in order of first appearance.
struct Interner<K> {
    ids: FxHashMap<K, u32>,
    len: usize,
}

impl<K: std::hash::Hash + Eq> Interner<K> {
    fn new() -> Interner<K> {
        Interner {
            ids: FxHashMap::default(),
            len: 0,
        }
    }

    /// The id and whether it is new.
    fn get(&mut self, key: K) -> (u32, bool) {
        let next = id(self.len);
        let got = *self.ids.entry(key).or_insert(next);
        if got == next {
            self.len += 1;
        }
        (got, got == next)
    }
}

impl Classes {
    pub(crate) fn build(
        cluster: &Cluster,
        externals: &[IpAddr],
        vocab: &Vocab<'_>,
        namespaces: &Namespaces<'_>,
    ) -> Classes {
        let mut atoms = Atoms::new(vocab.block_list());
        let block_count = atoms.block_count();
        let mut labelsets: Interner<Vec<(&str, Option<&str>)>> = Interner::new();
        let mut labelset_pods = Vec::new();
        let mut named: Interner<Vec<(u32, u16)>> = Interner::new();
        let mut named_sigs = Vec::new();
        let mut blocks: Interner<Bitset> = Interner::new();
        let mut block_sigs = Vec::new();
        let mut keys: Interner<ClassKey> = Interner::new();
        let mut key_list = Vec::new();
        let mut class_of = Vec::with_capacity(cluster.pods.len() + externals.len());
        let mut by_namespace = vec![Vec::new(); namespaces.len()];

        // Id 0 of both signature tables is the empty one.
        named.get(Vec::new());
        named_sigs.push(Vec::new());
        blocks.get(Bitset::new(block_count));
        block_sigs.push(Bitset::new(block_count));

        let mut block_sig = |ips: &[IpAddr]| {
            let set = atoms.blocks_matching(ips);
            let (sig, new) = blocks.get(set.clone());
            if new {
                block_sigs.push(set);
            }
            sig
        };
        for (index, pod) in cluster.pods.iter().enumerate() {
            let block_sig = block_sig(&pod.ips);
            let key = if pod.host_network {
                ClassKey {
                    kind: ClassKind::Other,
                    named_ports: 0,
                    blocks: block_sig,
                }
            } else {
                let projected = project_labels(&pod.labels, vocab);
                let (labelset, new) = labelsets.get(projected);
                if new {
                    labelset_pods.push(index);
                }
                let mut ports: Vec<(u32, u16)> = pod
                    .ports
                    .iter()
                    .filter_map(|cp| {
                        let name = cp.name.as_deref()?;
                        Some((vocab.named_id(name, cp.protocol)?, cp.port))
                    })
                    .collect();
                ports.sort_unstable();
                ports.dedup();
                let (named_ports, new) = named.get(ports.clone());
                if new {
                    named_sigs.push(ports);
                }
                ClassKey {
                    kind: ClassKind::PolicyPod {
                        ns: namespaces.id(&pod.namespace),
                        labelset,
                    },
                    named_ports,
                    blocks: block_sig,
                }
            };
            let (class, new) = keys.get(key);
            if new {
                key_list.push(key);
                if let ClassKind::PolicyPod { ns, .. } = key.kind
                    && let Some(list) = by_namespace.get_mut(ns as usize)
                {
                    list.push(class);
                }
            }
            class_of.push(class);
        }
        for ip in externals {
            let key = ClassKey {
                kind: ClassKind::Other,
                named_ports: 0,
                blocks: block_sig(std::slice::from_ref(ip)),
            };
            let (class, new) = keys.get(key);
            if new {
                key_list.push(key);
            }
            class_of.push(class);
        }
        Classes {
            keys: key_list,
            class_of,
            by_namespace,
            labelset_pods,
            named_sigs,
            block_sigs,
            atom_count: atoms.atom_count(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The labels selectors can see: keys they mention, values they name (others as `None`).
fn project_labels<'l>(labels: &'l Labels, vocab: &Vocab<'_>) -> Vec<(&'l str, Option<&'l str>)> {
    labels
        .iter()
        .filter_map(|(k, v)| {
            let values = vocab.label_values.get(k.as_str())?;
            let value = values.contains(v.as_str()).then_some(v.as_str());
            Some((k.as_str(), value))
        })
        .collect()
}
