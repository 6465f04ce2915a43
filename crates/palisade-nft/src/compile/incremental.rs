//! [`Incremental`]: the ruleset [`super::compile_with`] gives, computed from the previous one and
//! what changed in the cluster.
//!
//! ```text
//!   compile(cluster)
//!     namespaces' labels or the pods' address families changed  -> everything anew
//!     pods compared with the last call's (labels, addresses, node, hostNetwork, ports)
//!     policies or a local pod changed  -> local part anew (maps, chains, definitions):
//!                                         a new definition judges every pod once,
//!                                         a dropped one leaves the pods that had it
//!     changed pods                     -> judged against every definition
//!     their addresses                  -> class = the atoms of the pods holding them
//!     classes that came or went        -> ids of every class again (peers::assign_ids,
//!                                         a function of the set of classes), class sets
//!                                         patched, class-map entries of moved addresses
//! ```
//!
//! A pod event elsewhere in the cluster costs one pass over the pods (to find it) plus its own
//! atoms; a policy change costs the local part plus one pass per new definition. The result is
//! the same value as a full compile of the same cluster, which the tests check on random
//! clusters and random changes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use palisade_core::eval::namespace_labels;
use palisade_core::model::{Cluster, ContainerPort, Labels, Namespace, Pod, Policy};
use rustc_hash::{FxHashMap, FxHashSet};

use super::local_part;
use super::peers::{
    Atom, Destinations, NamedMembers, Resolution, SetTable, assign_ids, class_key, fam, port_atoms,
};
use crate::ruleset::{CompileOptions, Family, Guard, Ruleset, SetElements};

/// A compiler for one node that remembers its last result and recomputes only what a change
/// touches. Each [`Incremental::compile`] returns exactly what [`super::compile_with`] returns
/// for the same cluster, node and options.
#[derive(Debug)]
pub struct Incremental {
    node: String,
    options: CompileOptions,
    state: Option<State>,
    work: Work,
}

/// What the last [`Incremental::compile`] recomputed (for logs and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Everything was computed anew: the first call, or namespace labels or the pods' address
    /// families changed.
    pub full: bool,
    /// Pods added, removed, or changed in something the ruleset reads.
    pub pods: usize,
    /// The local part (maps, chains, definitions) was recomputed: policies or local pods
    /// changed.
    pub local: bool,
    pub definitions_added: usize,
    pub definitions_removed: usize,
    /// Addresses whose class was recomputed.
    pub addresses: usize,
    /// Classes that appeared or went away.
    pub classes_changed: usize,
    /// Microseconds spent finding what changed, on the local part, and on the classes.
    pub detect_us: u64,
    pub local_us: u64,
    pub classes_us: u64,
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// What of a pod the ruleset reads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts {
    labels: Labels,
    ips: Vec<IpAddr>,
    node: Option<String>,
    host_network: bool,
    ports: Vec<ContainerPort>,
}

impl Facts {
    fn of(pod: &Pod) -> Facts {
        Facts {
            labels: pod.labels.clone(),
            ips: pod.ips.clone(),
            node: pod.node.clone(),
            host_network: pod.host_network,
            ports: pod.ports.clone(),
        }
    }

    fn same_as(&self, pod: &Pod) -> bool {
        self.ips == pod.ips
            && self.host_network == pod.host_network
            && self.node == pod.node
            && self.labels == pod.labels
            && self.ports == pod.ports
    }
}

#[derive(Debug)]
struct PodEntry {
    namespace: String,
    name: String,
    facts: Facts,
    /// Sorted, without repeats.
    atoms: Vec<Atom>,
}

impl PodEntry {
    fn key(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

#[derive(Debug, Default)]
struct Address {
    /// The pods holding it (several for the node address of hostNetwork pods).
    pods: Vec<(String, String)>,
    /// The union of their atoms: the address's class; empty: no class.
    atoms: Vec<Atom>,
}

#[derive(Debug)]
struct Class {
    hash: u64,
    text: String,
    /// Addresses in it.
    count: usize,
    /// 0: beyond the mask's capacity.
    id: u16,
}

/// The definitions the local chains use, by interned id (ids are never reused).
#[derive(Debug, Default)]
struct Definitions {
    member_names: Vec<String>,
    member_ids: FxHashMap<String, u32>,
    members: BTreeMap<u32, Arc<Resolution>>,
    named_names: Vec<String>,
    named_ids: FxHashMap<String, u32>,
    named: BTreeMap<u32, NamedMembers>,
}

impl Definitions {
    fn intern(names: &mut Vec<String>, ids: &mut FxHashMap<String, u32>, name: &str) -> u32 {
        if let Some(id) = ids.get(name) {
            return *id;
        }
        let id = super::id(names.len());
        names.push(name.to_string());
        ids.insert(name.to_string(), id);
        id
    }

    fn set_name(&self, atom: Atom) -> &str {
        match atom {
            Atom::Member(n) => &self.member_names[n as usize],
            Atom::Port(n, ..) => &self.named_names[n as usize],
        }
    }

    /// The atoms of `pod` under every definition in use.
    fn atoms_of(&self, pod: &Pod, ns_labels: &Labels) -> Vec<Atom> {
        let mut atoms: Vec<Atom> = self
            .members
            .iter()
            .filter(|(_, r)| r.matches(pod, ns_labels))
            .map(|(n, _)| Atom::Member(*n))
            .collect();
        for (n, (destinations, ports)) in &self.named {
            if destinations.includes(pod, ns_labels) {
                atoms.extend(port_atoms(*n, ports, pod));
            }
        }
        atoms.sort_unstable();
        atoms.dedup();
        atoms
    }
}

#[derive(Debug)]
struct State {
    namespaces: Vec<(String, Labels)>,
    /// The policies of the last call; `None` when a caller said they changed, so they were
    /// not copied (copying and comparing 3,000 policies costs more than the local part they
    /// decide about): the next call that must compare them takes them as changed.
    policies: Option<Vec<Policy>>,
    shape: Shape,
    /// In the order of `Cluster::pods` (namespace, name).
    pods: Vec<PodEntry>,
    addresses: FxHashMap<IpAddr, Address>,
    definitions: Definitions,
    classes: FxHashMap<Vec<Atom>, Class>,
    ruleset: Ruleset,
}

/// Cluster-wide facts the local part reads: how many pods have an IPv4 address, an IPv6
/// address, several addresses (the local part only asks whether each is zero).
type Shape = [usize; 3];

fn count(shape: &mut Shape, ips: &[IpAddr], add: bool) {
    let mut has = [false; 3];
    for ip in ips {
        has[fam(Family::of(ip))] = true;
    }
    has[2] = ips.len() > 1;
    for (n, h) in shape.iter_mut().zip(has) {
        if h {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
    }
}

fn shape_of(cluster: &Cluster) -> Shape {
    let mut shape = [0; 3];
    for pod in &cluster.pods {
        count(&mut shape, &pod.ips, true);
    }
    shape
}

fn same_shape(a: &Shape, b: &Shape) -> bool {
    a.iter().zip(b).all(|(x, y)| (*x > 0) == (*y > 0))
}

/// What the caller knows changed in the cluster since the previous
/// [`Incremental::compile_changed`] (or [`Incremental::compile`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Changes {
    /// Anything may have changed: every pod and policy is compared.
    #[default]
    Unknown,
    /// Only these may have changed.
    Known {
        /// `(namespace, name)` of every pod added, removed or replaced.
        pods: BTreeSet<(String, String)>,
        /// Some policy was added, removed or replaced.
        policies: bool,
        /// Some namespace was added, removed or relabelled.
        namespaces: bool,
    },
}

impl Changes {
    /// Nothing changed.
    pub fn none() -> Changes {
        Changes::Known {
            pods: BTreeSet::new(),
            policies: false,
            namespaces: false,
        }
    }

    /// What `self` and then `later` changed together.
    pub fn then(&mut self, later: Changes) {
        match (&mut *self, later) {
            (
                Changes::Known {
                    pods,
                    policies,
                    namespaces,
                },
                Changes::Known {
                    pods: more,
                    policies: p,
                    namespaces: n,
                },
            ) => {
                pods.extend(more);
                *policies |= p;
                *namespaces |= n;
            }
            _ => *self = Changes::Unknown,
        }
    }
}

fn same_namespaces(known: &[(String, Labels)], now: &[Namespace]) -> bool {
    known.len() == now.len()
        && known
            .iter()
            .zip(now)
            .all(|((name, labels), ns)| *name == ns.name && *labels == ns.labels)
}

/// Policies equal in everything but where they were read from.
fn same_policies(known: &[Policy], now: &[Policy]) -> bool {
    known.len() == now.len()
        && known.iter().zip(now).all(|(a, b)| {
            a.namespace == b.namespace
                && a.name == b.name
                && a.subject == b.subject
                && a.ingress == b.ingress
                && a.egress == b.egress
        })
}

impl Incremental {
    pub fn new(node: impl Into<String>, options: CompileOptions) -> Incremental {
        Incremental {
            node: node.into(),
            options,
            state: None,
            work: Work::default(),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn options(&self) -> &CompileOptions {
        &self.options
    }

    /// What the last call recomputed.
    pub fn work(&self) -> Work {
        self.work
    }

    /// The ruleset of the last call, if any.
    pub fn current(&self) -> Option<&Ruleset> {
        self.state.as_ref().map(|s| &s.ruleset)
    }

    /// Forgets everything: the next call compiles from scratch.
    pub fn reset(&mut self) {
        self.state = None;
    }

    /// What `node` must enforce for `cluster`: equal to
    /// `compile_with(cluster, node, options)`.
    pub fn compile(&mut self, cluster: &Cluster) -> &Ruleset {
        self.compile_changed(cluster, &Changes::Unknown)
    }

    /// [`Incremental::compile`] when the caller knows what changed since the previous call:
    /// only those pods are compared, and policies and namespaces only if they changed. The
    /// result is wrong if `changes` leaves something out; it is checked as far as it is cheap
    /// (the number of pods), and everything is compared when that check fails.
    pub fn compile_changed(&mut self, cluster: &Cluster, changes: &Changes) -> &Ruleset {
        let mut work = Work::default();
        let state = match self.state.take() {
            Some(mut state) => {
                if state.update(cluster, &self.node, &self.options, &mut work, changes) {
                    state
                } else {
                    work = Work {
                        full: true,
                        ..Work::default()
                    };
                    State::build(cluster, &self.node, &self.options, &mut work)
                }
            }
            None => {
                work.full = true;
                State::build(cluster, &self.node, &self.options, &mut work)
            }
        };
        self.work = work;
        &self.state.insert(state).ruleset
    }
}

impl State {
    fn build(cluster: &Cluster, node: &str, options: &CompileOptions, work: &mut Work) -> State {
        let shape = shape_of(cluster);
        let mut addresses: FxHashMap<IpAddr, Address> = FxHashMap::default();
        let pods = cluster
            .pods
            .iter()
            .map(|pod| {
                for ip in &pod.ips {
                    addresses
                        .entry(*ip)
                        .or_default()
                        .pods
                        .push((pod.namespace.clone(), pod.name.clone()));
                }
                PodEntry {
                    namespace: pod.namespace.clone(),
                    name: pod.name.clone(),
                    facts: Facts::of(pod),
                    atoms: Vec::new(),
                }
            })
            .collect();
        let mut state = State {
            namespaces: cluster
                .namespaces
                .iter()
                .map(|ns| (ns.name.clone(), ns.labels.clone()))
                .collect(),
            policies: Some(cluster.policies.clone()),
            shape,
            pods,
            addresses,
            definitions: Definitions::default(),
            classes: FxHashMap::default(),
            ruleset: Ruleset::empty(node),
        };
        let mut touched = FxHashSet::default();
        state.local(cluster, node, options, &mut touched, work);
        state.classify(touched, true, options, work);
        state
    }

    /// Brings the state to `cluster`; `false` when only a build from scratch can (namespace
    /// labels or the pods' address families changed): the state is then unusable.
    fn update(
        &mut self,
        cluster: &Cluster,
        node: &str,
        options: &CompileOptions,
        work: &mut Work,
        changes: &Changes,
    ) -> bool {
        let started = Instant::now();
        let (pod_keys, policies_may, namespaces_may) = match changes {
            Changes::Known {
                pods,
                policies,
                namespaces,
            } => (Some(pods), *policies, *namespaces),
            Changes::Unknown => (None, true, true),
        };
        if namespaces_may && !same_namespaces(&self.namespaces, &cluster.namespaces) {
            return false;
        }
        let mut touched: FxHashSet<IpAddr> = FxHashSet::default();
        let before = self.shape;
        let mut merged = pod_keys.map(|keys| self.merge_known(cluster, node, keys, &mut touched));
        if self.pods.len() != cluster.pods.len() {
            // The caller's list missed something: compare everything.
            merged = None;
        }
        let (changed, removed, local_pod_changed) = match merged {
            Some(done) => done,
            None => self.merge_pods(cluster, node, &mut touched),
        };
        if !same_shape(&before, &self.shape) {
            return false;
        }
        work.pods = changed.len() + removed;
        let policies_changed = match (pod_keys, policies_may, &self.policies) {
            (_, false, _) => false,
            // The caller says they changed: trust it without copying them.
            (Some(_), true, _) => {
                self.policies = None;
                true
            }
            (None, true, Some(known)) if same_policies(known, &cluster.policies) => false,
            (None, true, _) => {
                self.policies = Some(cluster.policies.clone());
                true
            }
        };
        let local = policies_changed || local_pod_changed;
        work.detect_us = micros(started);
        if local {
            let started = Instant::now();
            self.local(cluster, node, options, &mut touched, work);
            work.local_us = micros(started);
        }
        let started = Instant::now();
        for &i in &changed {
            let (Some(pod), Some(entry)) = (cluster.pods.get(i), self.pods.get(i)) else {
                continue;
            };
            let atoms = self
                .definitions
                .atoms_of(pod, &namespace_labels(cluster, &pod.namespace));
            if atoms != entry.atoms {
                touched.extend(pod.ips.iter().copied());
            }
            self.pods[i].atoms = atoms;
        }
        if changed.len() + removed > 0 && !local && !options.guard_cidrs.is_empty() {
            self.refresh_guard(options);
        }
        self.classify(touched, local, options, work);
        work.classes_us = micros(started);
        true
    }

    /// [`State::merge_pods`] for the pods `keys` alone; the others are taken to be unchanged.
    fn merge_known(
        &mut self,
        cluster: &Cluster,
        node: &str,
        keys: &BTreeSet<(String, String)>,
        touched: &mut FxHashSet<IpAddr>,
    ) -> (Vec<usize>, usize, bool) {
        let mut removed = 0;
        let mut local = false;
        let mut replaced: Vec<&(String, String)> = Vec::new();
        for key in keys {
            let wanted = (key.0.as_str(), key.1.as_str());
            let now = cluster
                .pods
                .binary_search_by(|p| (p.namespace.as_str(), p.name.as_str()).cmp(&wanted))
                .ok()
                .and_then(|i| cluster.pods.get(i));
            let known = self.pods.binary_search_by(|e| e.key().cmp(&wanted));
            if let (Ok(at), Some(pod)) = (known, now)
                && self.pods[at].facts.same_as(pod)
            {
                continue;
            }
            if let Ok(at) = known {
                let gone = self.pods.remove(at);
                local |= gone.facts.node.as_deref() == Some(node);
                count(&mut self.shape, &gone.facts.ips, false);
                self.forget(&gone, touched);
                if now.is_none() {
                    removed += 1;
                }
            }
            if let Some(pod) = now {
                let entry = self.enter(pod, touched);
                local |= entry.facts.node.as_deref() == Some(node);
                let at = self
                    .pods
                    .binary_search_by(|e| e.key().cmp(&wanted))
                    .unwrap_or_else(|at| at);
                self.pods.insert(at, entry);
                replaced.push(key);
            }
        }
        let changed = replaced
            .into_iter()
            .filter_map(|(ns, name)| {
                self.pods
                    .binary_search_by(|e| e.key().cmp(&(ns.as_str(), name.as_str())))
                    .ok()
            })
            .collect();
        (changed, removed, local)
    }

    /// A new entry for `pod`, put on its addresses; its atoms are still to compute.
    fn enter(&mut self, pod: &Pod, touched: &mut FxHashSet<IpAddr>) -> PodEntry {
        let facts = Facts::of(pod);
        count(&mut self.shape, &facts.ips, true);
        for ip in &facts.ips {
            touched.insert(*ip);
            self.addresses
                .entry(*ip)
                .or_default()
                .pods
                .push((pod.namespace.clone(), pod.name.clone()));
        }
        PodEntry {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            facts,
            atoms: Vec::new(),
        }
    }

    /// Walks the cluster's pods against the known ones (both sorted by namespace and name):
    /// unchanged entries keep their atoms. Returns the indices of added and changed pods, the
    /// number of removed ones, and whether any of them is or was on `node`.
    fn merge_pods(
        &mut self,
        cluster: &Cluster,
        node: &str,
        touched: &mut FxHashSet<IpAddr>,
    ) -> (Vec<usize>, usize, bool) {
        let old = std::mem::take(&mut self.pods);
        let mut old = old.into_iter().peekable();
        let mut pods = Vec::with_capacity(cluster.pods.len());
        let mut changed = Vec::new();
        let mut local = false;
        let mut removed = 0;
        let on_node = |facts: &Facts| facts.node.as_deref() == Some(node);
        for (i, pod) in cluster.pods.iter().enumerate() {
            let key = (pod.namespace.as_str(), pod.name.as_str());
            // Known pods before this one are gone.
            while old.peek().is_some_and(|e| e.key() < key) {
                if let Some(gone) = old.next() {
                    removed += 1;
                    local |= on_node(&gone.facts);
                    count(&mut self.shape, &gone.facts.ips, false);
                    self.forget(&gone, touched);
                }
            }
            let known = old.next_if(|e| e.key() == key);
            match known {
                Some(entry) if entry.facts.same_as(pod) => pods.push(entry),
                known => {
                    if let Some(entry) = &known {
                        local |= on_node(&entry.facts);
                        count(&mut self.shape, &entry.facts.ips, false);
                        self.forget(entry, touched);
                    }
                    let entry = self.enter(pod, touched);
                    local |= on_node(&entry.facts);
                    pods.push(entry);
                    changed.push(i);
                }
            }
        }
        for gone in old {
            removed += 1;
            local |= on_node(&gone.facts);
            count(&mut self.shape, &gone.facts.ips, false);
            self.forget(&gone, touched);
        }
        self.pods = pods;
        (changed, removed, local)
    }

    /// Takes a pod off its addresses.
    fn forget(&mut self, entry: &PodEntry, touched: &mut FxHashSet<IpAddr>) {
        for ip in &entry.facts.ips {
            touched.insert(*ip);
            if let Some(address) = self.addresses.get_mut(ip)
                && let Some(at) = address
                    .pods
                    .iter()
                    .position(|(ns, name)| *ns == entry.namespace && *name == entry.name)
            {
                address.pods.swap_remove(at);
            }
        }
    }

    /// Recomputes the local part and brings the definitions in use up to date; the addresses
    /// of pods whose atoms change are added to `touched`.
    fn local(
        &mut self,
        cluster: &Cluster,
        node: &str,
        options: &CompileOptions,
        touched: &mut FxHashSet<IpAddr>,
        work: &mut Work,
    ) {
        work.local = true;
        let (mut ruleset, table) = local_part(cluster, node, options);
        let SetTable {
            index,
            sets,
            members,
            named_members,
            ..
        } = table;
        let defs = &mut self.definitions;
        // Definitions no chain uses any more.
        let keep_members: FxHashSet<u32> = members
            .iter()
            .filter_map(|(name, r)| {
                let id = *defs.member_ids.get(name)?;
                let same = defs.members.get(&id).is_some_and(|old| old.text == r.text);
                same.then_some(id)
            })
            .collect();
        let keep_named: FxHashSet<u32> = named_members
            .keys()
            .filter_map(|name| defs.named_ids.get(name).copied())
            .filter(|id| defs.named.contains_key(id))
            .collect();
        let dropped_members: Vec<u32> = defs
            .members
            .keys()
            .filter(|id| !keep_members.contains(id))
            .copied()
            .collect();
        let dropped_named: Vec<u32> = defs
            .named
            .keys()
            .filter(|id| !keep_named.contains(id))
            .copied()
            .collect();
        work.definitions_removed += dropped_members.len() + dropped_named.len();
        for id in &dropped_members {
            defs.members.remove(id);
        }
        for id in &dropped_named {
            defs.named.remove(id);
        }
        if !dropped_members.is_empty() || !dropped_named.is_empty() {
            let gone = |a: &Atom| match *a {
                Atom::Member(n) => dropped_members.contains(&n),
                Atom::Port(n, ..) => dropped_named.contains(&n),
            };
            for entry in &mut self.pods {
                if entry.atoms.iter().any(gone) {
                    entry.atoms.retain(|a| !gone(a));
                    touched.extend(entry.facts.ips.iter().copied());
                }
            }
        }
        // Definitions new to the chains: every pod judged once.
        let mut added = Vec::new();
        for (name, r) in members {
            let id = Definitions::intern(&mut defs.member_names, &mut defs.member_ids, &name);
            if keep_members.contains(&id) {
                continue;
            }
            for i in index.matched(&r) {
                added.push((i, Atom::Member(id)));
            }
            defs.members.insert(id, r);
            work.definitions_added += 1;
        }
        for (name, (destinations, ports)) in named_members {
            let id = Definitions::intern(&mut defs.named_names, &mut defs.named_ids, &name);
            if keep_named.contains(&id) {
                continue;
            }
            let candidates = match &destinations {
                Destinations::All => (0..cluster.pods.len()).collect(),
                Destinations::Of(r) => index.matched(r),
            };
            for i in candidates {
                let Some(pod) = cluster.pods.get(i) else {
                    continue;
                };
                if pod.host_network {
                    continue;
                }
                for atom in port_atoms(id, &ports, pod) {
                    added.push((i, atom));
                }
            }
            defs.named.insert(id, (destinations, ports));
            work.definitions_added += 1;
        }
        let mut grown = FxHashSet::default();
        for (i, atom) in added {
            if let Some(entry) = self.pods.get_mut(i) {
                entry.atoms.push(atom);
                grown.insert(i);
            }
        }
        for i in grown {
            let entry = &mut self.pods[i];
            entry.atoms.sort_unstable();
            entry.atoms.dedup();
            touched.extend(entry.facts.ips.iter().copied());
        }
        // The class sets come empty from the local part; `classify` fills them all.
        ruleset.sets.extend(sets);
        ruleset.classes = std::mem::take(&mut self.ruleset.classes);
        self.ruleset = ruleset;
    }

    /// Recomputes the classes of `touched` addresses, renumbers the classes when the set of
    /// classes changed, and brings the class map and class sets in line; with `refill`, every
    /// class set is filled anew (the local part replaced them).
    fn classify(
        &mut self,
        touched: FxHashSet<IpAddr>,
        refill: bool,
        options: &CompileOptions,
        work: &mut Work,
    ) {
        work.addresses = touched.len();
        let mut removed: Vec<(Vec<Atom>, u16)> = Vec::new();
        let mut fresh: FxHashSet<Vec<Atom>> = FxHashSet::default();
        let mut moved: Vec<(IpAddr, Vec<Atom>)> = Vec::new();
        for ip in &touched {
            let Some(address) = self.addresses.get(ip) else {
                continue;
            };
            let mut atoms: Vec<Atom> = Vec::new();
            for (ns, name) in &address.pods {
                let at = self
                    .pods
                    .binary_search_by(|e| e.key().cmp(&(ns.as_str(), name.as_str())));
                if let Ok(at) = at {
                    atoms.extend(self.pods[at].atoms.iter().copied());
                }
            }
            atoms.sort_unstable();
            atoms.dedup();
            if atoms != address.atoms || address.pods.is_empty() {
                moved.push((*ip, atoms));
            }
        }
        for (ip, atoms) in moved {
            let Some(address) = self.addresses.get_mut(&ip) else {
                continue;
            };
            let before = std::mem::replace(&mut address.atoms, atoms.clone());
            if address.pods.is_empty() {
                self.addresses.remove(&ip);
            }
            if !before.is_empty()
                && let Some(class) = self.classes.get_mut(&before)
            {
                class.count -= 1;
                if class.count == 0 {
                    let id = class.id;
                    self.classes.remove(&before);
                    if !fresh.remove(&before) {
                        removed.push((before, id));
                    }
                }
            }
            if atoms.is_empty() || !self.addresses.contains_key(&ip) {
                self.ruleset.classes.remove(&ip);
                continue;
            }
            let definitions = &self.definitions;
            let class = self.classes.entry(atoms.clone()).or_insert_with(|| {
                fresh.insert(atoms.clone());
                let (hash, text) = class_key(
                    &atoms,
                    |n| definitions.member_names[n as usize].as_str(),
                    |n| definitions.named_names[n as usize].as_str(),
                );
                Class {
                    hash,
                    text,
                    count: 0,
                    id: 0,
                }
            });
            class.count += 1;
        }
        work.classes_changed = removed.len() + fresh.len();
        // Ids of every class, when classes came or went.
        let mut renumbered: Vec<(Vec<Atom>, u16, u16)> = Vec::new();
        if !removed.is_empty() || !fresh.is_empty() {
            let listed: Vec<(&Vec<Atom>, &Class)> = self.classes.iter().collect();
            let keys: Vec<(u64, &str)> = listed
                .iter()
                .map(|(_, c)| (c.hash, c.text.as_str()))
                .collect();
            let ids = assign_ids(&keys, options.class_mask);
            let changes: Vec<(Vec<Atom>, u16, u16)> = listed
                .iter()
                .zip(&ids)
                .filter(|((atoms, class), id)| class.id != **id || fresh.contains(*atoms))
                .map(|((atoms, class), id)| ((*atoms).clone(), class.id, *id))
                .collect();
            for (atoms, _, id) in &changes {
                if let Some(class) = self.classes.get_mut(atoms) {
                    class.id = *id;
                }
            }
            renumbered = changes;
        }
        // Class-map entries: every address of a renumbered class, and the touched ones.
        let renumbered_old: FxHashSet<&Vec<Atom>> = renumbered
            .iter()
            .filter(|(atoms, ..)| !fresh.contains(atoms))
            .map(|(atoms, ..)| atoms)
            .collect();
        let mut unclassified = 0;
        if !renumbered_old.is_empty() {
            for (ip, address) in &self.addresses {
                if renumbered_old.contains(&address.atoms) {
                    touch_entry(
                        &mut self.ruleset.classes,
                        &self.classes,
                        *ip,
                        &address.atoms,
                    );
                }
            }
        }
        for ip in &touched {
            if let Some(address) = self.addresses.get(ip) {
                touch_entry(
                    &mut self.ruleset.classes,
                    &self.classes,
                    *ip,
                    &address.atoms,
                );
            }
        }
        for class in self.classes.values() {
            if class.id == 0 {
                unclassified += class.count;
            }
        }
        self.ruleset.unclassified = unclassified;
        // Class sets.
        if refill {
            for (atoms, class) in &self.classes {
                put(&mut self.ruleset, &self.definitions, atoms, class.id, true);
            }
        } else {
            for (atoms, id) in &removed {
                put(&mut self.ruleset, &self.definitions, atoms, *id, false);
            }
            // Every old id out before any new one goes in: a renumbered class may take the id
            // another one gives up, in a set both are in.
            for (atoms, old, _) in &renumbered {
                if !fresh.contains(atoms) {
                    put(&mut self.ruleset, &self.definitions, atoms, *old, false);
                }
            }
            for (atoms, _, new) in &renumbered {
                put(&mut self.ruleset, &self.definitions, atoms, *new, true);
            }
        }
    }

    /// The guard's known-address sets: every pod address in the guarded CIDRs.
    fn refresh_guard(&mut self, options: &CompileOptions) {
        let cidrs = &options.guard_cidrs;
        for family in Family::ALL {
            let known = self
                .addresses
                .iter()
                .filter(|(ip, address)| {
                    !address.pods.is_empty()
                        && Family::of(ip) == family
                        && cidrs.iter().any(|n| n.contains(*ip))
                })
                .map(|(ip, _)| *ip)
                .collect();
            if let Some(set) = self.ruleset.sets.get_mut(&Guard::known_set(family)) {
                set.elements = SetElements::Addresses(known);
            }
        }
    }
}

/// Sets `ip`'s class-map entry from its atoms' class (none for no class or id 0).
fn touch_entry(
    map: &mut BTreeMap<IpAddr, u16>,
    classes: &FxHashMap<Vec<Atom>, Class>,
    ip: IpAddr,
    atoms: &[Atom],
) {
    match classes.get(atoms).map(|c| c.id) {
        Some(id) if id != 0 => {
            map.insert(ip, id);
        }
        _ => {
            map.remove(&ip);
        }
    }
}

/// Adds (or removes) class `id` to (from) the class set of each of `atoms`.
fn put(ruleset: &mut Ruleset, definitions: &Definitions, atoms: &[Atom], id: u16, add: bool) {
    if id == 0 {
        return;
    }
    for atom in atoms {
        let Some(set) = ruleset.sets.get_mut(definitions.set_name(*atom)) else {
            continue;
        };
        match (&mut set.elements, *atom) {
            (SetElements::Classes(ids), Atom::Member(_)) => {
                if add {
                    ids.insert(id);
                } else {
                    ids.remove(&id);
                }
            }
            (SetElements::ClassPorts(elements), Atom::Port(_, proto, port)) => {
                if add {
                    elements.insert((id, proto, port));
                } else {
                    elements.remove(&(id, proto, port));
                }
            }
            _ => {}
        }
    }
}
