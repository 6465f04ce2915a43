//! The cluster index: Namespaces, Pods and NetworkPolicies from the Kubernetes API, and the
//! cluster they make.
//!
//! ```text
//!   watcher::Event<K> ──event()──> apply / delete           (one object)
//!                                  Init, InitApply*, InitDone (a relist, buffered, then swapped)
//!        │ objects::{namespace,pod,policy}: converted once per resourceVersion
//!        v
//!   entries by identity (pods by uid) ──resolve──> one unit per object ──Merged──> Cluster
//! ```
//!
//! A plain struct with apply / delete / reset per kind, so tests drive it directly and the
//! watch streams are only an adapter. The whole cluster is kept (peers can be anywhere); the
//! compiler picks this node's pods.
//!
//! Rules, each pinned by a test in `tests/cluster_index.rs`:
//!
//! - A relist (`Init`, `InitApply`..., `InitDone`) is buffered and replaces the kind's objects
//!   at `InitDone` in one step: objects not listed leave then, and nothing half-listed is ever
//!   in the cluster. A kind counts as synced from its first `InitDone`.
//! - Pods without an IP are kept, without an address: the compiler lists them as pending.
//!   Finished pods (phase Succeeded or Failed) leave. hostNetwork pods are kept as converted;
//!   the compiler does not police them.
//! - Pods are keyed by uid. Two pods may claim one name (a StatefulSet pod deleted and created
//!   again, events crossing) or one address (an IP released and reused before the old pod's
//!   deletion arrives): the most recent claim wins, ranked by creationTimestamp, then by the
//!   order the index saw the claims, then by uid. The loser keeps nothing of it: a pod that
//!   loses its name is left out, one that loses an address is kept without it. Each address
//!   thus stands for exactly one pod, so no pod's rules or peer rights follow an address to
//!   another pod.
//! - Objects that fail validation: see [`super::objects`] (policies: last good version, else a
//!   quarantine isolating their pods). Each is reported once per version as a [`Rejection`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::watcher::Event;
use palisade_core::model::{Cluster, Pod, Policy};

use super::merged::{FileModel, Merged};
use super::objects::{
    self, Effect, Incoming, Key, Kind, NsIn, PodIn, PolicyIn, Rejection, Versioned,
};

#[derive(Debug)]
struct NsEntry {
    rv: Option<String>,
}

#[derive(Debug)]
struct PodEntry {
    rv: Option<String>,
    created: Option<Time>,
    /// When the index first saw this uid: ranks claims on its name.
    seen: u64,
    /// When the index first saw this pod claim each of its addresses.
    claims: BTreeMap<IpAddr, u64>,
    model: Pod,
}

#[derive(Debug)]
enum PolicyState {
    Good,
    KeptLastGood,
    Quarantined,
}

#[derive(Debug)]
struct PolicyEntry {
    rv: Option<String>,
    /// What stands in force: the current version, the last good one, or the quarantine.
    in_force: Policy,
    state: PolicyState,
}

/// Namespaces, pods and policies from the API, and the cluster they make. See the module doc.
#[derive(Debug)]
pub struct ClusterIndex {
    node: String,
    namespaces: BTreeMap<String, NsEntry>,
    pods: BTreeMap<String, PodEntry>,
    policies: BTreeMap<(String, String), PolicyEntry>,
    /// Pod (namespace, name) -> uids claiming it.
    by_name: BTreeMap<(String, String), BTreeSet<String>>,
    /// Address -> uids claiming it.
    by_ip: HashMap<IpAddr, BTreeSet<String>>,
    /// What each object contributes to the cluster, after resolution.
    units: BTreeMap<Key, FileModel>,
    merged: Merged,
    /// Per kind: the relist in progress, buffered until its `InitDone`.
    relists: [Option<Vec<Incoming>>; 3],
    synced: [bool; 3],
    revision: u64,
    /// Orders first sightings and address claims.
    clock: u64,
    /// Local pods with an address whose rules are not in force yet, and since when.
    awaiting: BTreeMap<String, Instant>,
    rejections: Vec<Rejection>,
}

impl ClusterIndex {
    /// An empty index for an agent on `node` (whose pods' enforcement delay it measures).
    pub fn new(node: impl Into<String>) -> ClusterIndex {
        ClusterIndex {
            node: node.into(),
            namespaces: BTreeMap::new(),
            pods: BTreeMap::new(),
            policies: BTreeMap::new(),
            by_name: BTreeMap::new(),
            by_ip: HashMap::new(),
            units: BTreeMap::new(),
            merged: Merged::default(),
            relists: [None, None, None],
            synced: [false; 3],
            revision: 0,
            clock: 0,
            awaiting: BTreeMap::new(),
            rejections: Vec::new(),
        }
    }

    /// Takes one watcher event for Pods. Returns whether the cluster changed.
    pub fn pod_event(&mut self, event: &Event<core::Pod>) -> bool {
        self.event(Kind::Pod, event, objects::pod_key, |index, pod| {
            let (incoming, rejected) = objects::pod(pod);
            index.report(rejected);
            Incoming::Pod(incoming)
        })
    }

    /// Takes one watcher event for Namespaces. Returns whether the cluster changed.
    pub fn namespace_event(&mut self, event: &Event<core::Namespace>) -> bool {
        self.event(
            Kind::Namespace,
            event,
            objects::namespace_key,
            |index, ns| {
                let (incoming, rejected) = objects::namespace(ns);
                index.report(rejected);
                Incoming::Namespace(incoming)
            },
        )
    }

    /// Takes one watcher event for NetworkPolicies. Returns whether the cluster changed.
    pub fn policy_event(&mut self, event: &Event<net::NetworkPolicy>) -> bool {
        self.event(
            Kind::NetworkPolicy,
            event,
            objects::policy_key,
            |index, np| {
                let (incoming, rejected) = objects::policy(np);
                // Whether a last good version stays is only known against the entry.
                let rejected = rejected.map(|mut r| {
                    let key = (incoming.namespace.clone(), incoming.name.clone());
                    if index
                        .policies
                        .get(&key)
                        .is_some_and(|e| !matches!(e.state, PolicyState::Quarantined))
                    {
                        r.effect = Effect::KeptLastGood;
                    }
                    r
                });
                index.report(rejected);
                Incoming::Policy(incoming)
            },
        )
    }

    pub fn apply_pod(&mut self, pod: &core::Pod) -> bool {
        self.pod_event(&Event::Apply(pod.clone()))
    }

    pub fn delete_pod(&mut self, pod: &core::Pod) -> bool {
        self.remove(&objects::pod_key(pod))
    }

    pub fn apply_namespace(&mut self, ns: &core::Namespace) -> bool {
        self.namespace_event(&Event::Apply(ns.clone()))
    }

    pub fn delete_namespace(&mut self, ns: &core::Namespace) -> bool {
        self.remove(&objects::namespace_key(ns))
    }

    pub fn apply_policy(&mut self, np: &net::NetworkPolicy) -> bool {
        self.policy_event(&Event::Apply(np.clone()))
    }

    pub fn delete_policy(&mut self, np: &net::NetworkPolicy) -> bool {
        self.remove(&objects::policy_key(np))
    }

    /// Replaces every pod with `pods`, as a relist does.
    pub fn reset_pods(&mut self, pods: &[core::Pod]) -> bool {
        reset(pods, |event| self.pod_event(&event))
    }

    /// Replaces every namespace with `namespaces`, as a relist does.
    pub fn reset_namespaces(&mut self, namespaces: &[core::Namespace]) -> bool {
        reset(namespaces, |event| self.namespace_event(&event))
    }

    /// Replaces every policy with `policies`, as a relist does.
    pub fn reset_policies(&mut self, policies: &[net::NetworkPolicy]) -> bool {
        reset(policies, |event| self.policy_event(&event))
    }

    fn event<K: Versioned>(
        &mut self,
        kind: Kind,
        event: &Event<K>,
        key: impl Fn(&K) -> Key,
        convert: impl FnOnce(&mut Self, &K) -> Incoming,
    ) -> bool {
        match event {
            Event::Apply(object) => {
                let incoming = self.incoming(object, key(object), convert);
                self.put(incoming)
            }
            Event::Delete(object) => self.remove(&key(object)),
            Event::Init => {
                // A relist that restarts drops what the previous one buffered.
                self.relists[kind.slot()] = Some(Vec::new());
                false
            }
            Event::InitApply(object) => {
                let incoming = self.incoming(object, key(object), convert);
                // An InitApply without its Init still must not be enforced half-listed.
                self.relists[kind.slot()]
                    .get_or_insert_with(Vec::new)
                    .push(incoming);
                false
            }
            Event::InitDone => self.finish_relist(kind),
        }
    }

    /// Converts `object` unless the index holds its resourceVersion already.
    fn incoming<K: Versioned>(
        &mut self,
        object: &K,
        key: Key,
        convert: impl FnOnce(&mut Self, &K) -> Incoming,
    ) -> Incoming {
        let held = match &key {
            Key::Namespace(name) => self.namespaces.get(name).map(|e| e.rv.as_deref()),
            Key::Pod(uid) => self.pods.get(uid).map(|e| e.rv.as_deref()),
            Key::Policy(ns, name) => self
                .policies
                .get(&(ns.clone(), name.clone()))
                .map(|e| e.rv.as_deref()),
        };
        match (held, object.resource_version()) {
            (Some(Some(held)), Some(rv)) if held == rv => Incoming::Same(key),
            _ => convert(self, object),
        }
    }

    fn finish_relist(&mut self, kind: Kind) -> bool {
        let listed = self.relists[kind.slot()].take().unwrap_or_default();
        let keep: BTreeSet<Key> = listed.iter().map(Incoming::key).collect();
        let gone: Vec<Key> = self.keys(kind).filter(|key| !keep.contains(key)).collect();
        let mut changed = false;
        // Removals first, so a pod created again under its old name meets no stale claim.
        for key in gone {
            changed |= self.remove(&key);
        }
        for incoming in listed {
            changed |= self.put(incoming);
        }
        self.synced[kind.slot()] = true;
        changed
    }

    fn keys(&self, kind: Kind) -> Box<dyn Iterator<Item = Key> + '_> {
        match kind {
            Kind::Namespace => Box::new(self.namespaces.keys().cloned().map(Key::Namespace)),
            Kind::Pod => Box::new(self.pods.keys().cloned().map(Key::Pod)),
            Kind::NetworkPolicy => Box::new(
                self.policies
                    .keys()
                    .map(|(ns, name)| Key::Policy(ns.clone(), name.clone())),
            ),
        }
    }

    fn report(&mut self, rejected: Option<Rejection>) {
        if let Some(r) = rejected {
            tracing::warn!(
                kind = r.kind.as_str(),
                object = %r.object,
                reason = r.reason,
                effect = r.effect.as_str(),
                "object failed validation:\n{}",
                r.message
            );
            self.rejections.push(r);
        }
    }

    fn put(&mut self, incoming: Incoming) -> bool {
        match incoming {
            Incoming::Same(_) => false,
            Incoming::Namespace(ns) => self.put_namespace(ns),
            Incoming::Pod(pod) => self.put_pod(pod),
            Incoming::Policy(policy) => self.put_policy(policy),
        }
    }

    fn remove(&mut self, key: &Key) -> bool {
        match key {
            Key::Namespace(name) => {
                self.namespaces.remove(name);
                self.set_unit(key.clone(), None)
            }
            Key::Pod(uid) => self.remove_pod(uid),
            Key::Policy(ns, name) => {
                self.policies.remove(&(ns.clone(), name.clone()));
                self.set_unit(key.clone(), None)
            }
        }
    }

    fn put_namespace(&mut self, ns: NsIn) -> bool {
        let key = Key::Namespace(ns.name.clone());
        let unit = unit(Cluster {
            namespaces: vec![ns.model.clone()],
            ..Cluster::default()
        });
        self.namespaces.insert(ns.name, NsEntry { rv: ns.rv });
        self.set_unit(key, Some(unit))
    }

    fn put_policy(&mut self, incoming: PolicyIn) -> bool {
        let id = (incoming.namespace, incoming.name);
        let key = Key::Policy(id.0.clone(), id.1.clone());
        let entry = match (incoming.converted, self.policies.remove(&id)) {
            (Ok(policy), _) => PolicyEntry {
                rv: incoming.rv,
                in_force: policy,
                state: PolicyState::Good,
            },
            (
                Err(_),
                Some(PolicyEntry {
                    in_force,
                    state: PolicyState::Good | PolicyState::KeptLastGood,
                    ..
                }),
            ) => PolicyEntry {
                rv: incoming.rv,
                in_force,
                state: PolicyState::KeptLastGood,
            },
            (Err(quarantine), _) => PolicyEntry {
                rv: incoming.rv,
                in_force: quarantine,
                state: PolicyState::Quarantined,
            },
        };
        let unit = unit(Cluster {
            policies: vec![entry.in_force.clone()],
            ..Cluster::default()
        });
        self.policies.insert(id, entry);
        self.set_unit(key, Some(unit))
    }

    fn put_pod(&mut self, incoming: PodIn) -> bool {
        if incoming.terminal {
            // "Succeeded"/"Failed": the pod's IP is released and may be reused at once.
            return self.remove_pod(&incoming.uid);
        }
        let uid = incoming.uid;
        let mut affected = self.unlink(&uid);
        let previous = self.pods.remove(&uid);
        let had_address = previous.as_ref().is_some_and(|e| !e.model.ips.is_empty());
        let seen = previous.as_ref().map_or_else(|| self.tick(), |e| e.seen);
        let mut claims = BTreeMap::new();
        for ip in &incoming.model.ips {
            let at = previous
                .as_ref()
                .and_then(|e| e.claims.get(ip).copied())
                .unwrap_or_else(|| self.tick());
            claims.insert(*ip, at);
        }
        let local = self.is_local(&incoming.model);
        if local && !had_address && !incoming.model.ips.is_empty() && self.synced(Kind::Pod) {
            // Pods of the first list were enforced by the previous run (or are now, at start):
            // only pods new to a running agent have a window to measure.
            self.awaiting
                .entry(uid.clone())
                .or_insert_with(Instant::now);
        }
        self.pods.insert(
            uid.clone(),
            PodEntry {
                rv: incoming.rv,
                created: incoming.created,
                seen,
                claims,
                model: incoming.model,
            },
        );
        affected.extend(self.link(&uid));
        affected.insert(uid);
        self.refresh(affected)
    }

    fn remove_pod(&mut self, uid: &str) -> bool {
        let affected = self.unlink(uid);
        self.pods.remove(uid);
        self.awaiting.remove(uid);
        let mut changed = self.set_unit(Key::Pod(uid.to_string()), None);
        changed |= self.refresh(affected);
        changed
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn is_local(&self, pod: &Pod) -> bool {
        pod.node.as_deref() == Some(self.node.as_str()) && !pod.host_network
    }

    /// Takes `uid` out of the claim tables; returns the other claimants of its name and
    /// addresses.
    fn unlink(&mut self, uid: &str) -> BTreeSet<String> {
        let mut affected = BTreeSet::new();
        let Some(entry) = self.pods.get(uid) else {
            return affected;
        };
        let name = (entry.model.namespace.clone(), entry.model.name.clone());
        if let Some(uids) = self.by_name.get_mut(&name) {
            uids.remove(uid);
            affected.extend(uids.iter().cloned());
            if uids.is_empty() {
                self.by_name.remove(&name);
            }
        }
        for ip in &entry.model.ips {
            if let Some(uids) = self.by_ip.get_mut(ip) {
                uids.remove(uid);
                affected.extend(uids.iter().cloned());
                if uids.is_empty() {
                    self.by_ip.remove(ip);
                }
            }
        }
        affected
    }

    /// Puts `uid` into the claim tables; returns the other claimants.
    fn link(&mut self, uid: &str) -> BTreeSet<String> {
        let mut affected = BTreeSet::new();
        let Some(entry) = self.pods.get(uid) else {
            return affected;
        };
        let name = (entry.model.namespace.clone(), entry.model.name.clone());
        let uids = self.by_name.entry(name).or_default();
        affected.extend(uids.iter().cloned());
        uids.insert(uid.to_string());
        for ip in &entry.model.ips {
            let uids = self.by_ip.entry(*ip).or_default();
            affected.extend(uids.iter().cloned());
            uids.insert(uid.to_string());
        }
        affected
    }

    /// The pod as it goes into the cluster: `None` when another pod holds its name, and only
    /// with the addresses it holds.
    fn resolved(&self, uid: &str) -> Option<Pod> {
        let entry = self.pods.get(uid)?;
        let name = (entry.model.namespace.clone(), entry.model.name.clone());
        let name_holder = self.by_name.get(&name)?.iter().max_by(|a, b| {
            let rank = |u: &String| self.pods.get(u).map(|e| (e.created.clone(), e.seen));
            rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
        })?;
        if name_holder != uid {
            return None;
        }
        let mut pod = entry.model.clone();
        pod.ips.retain(|ip| self.address_holder(ip) == Some(uid));
        Some(pod)
    }

    fn address_holder(&self, ip: &IpAddr) -> Option<&str> {
        let rank = |u: &String| {
            self.pods
                .get(u)
                .map(|e| (e.created.clone(), e.claims.get(ip).copied()))
        };
        self.by_ip
            .get(ip)?
            .iter()
            .max_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)))
            .map(String::as_str)
    }

    fn refresh(&mut self, uids: BTreeSet<String>) -> bool {
        let mut changed = false;
        for uid in uids {
            let pod = self.resolved(&uid);
            let unit = pod.map(|pod| {
                unit(Cluster {
                    pods: vec![pod],
                    ..Cluster::default()
                })
            });
            changed |= self.set_unit(Key::Pod(uid), unit);
        }
        changed
    }

    /// Puts `unit` in force for `key`; returns whether that changed anything.
    fn set_unit(&mut self, key: Key, unit: Option<FileModel>) -> bool {
        let before = match &unit {
            Some(unit) => self.units.insert(key, unit.clone()),
            None => self.units.remove(&key),
        };
        if before.as_ref().map(|b| &b.0.namespaces) == unit.as_ref().map(|u| &u.0.namespaces)
            && before.as_ref().map(|b| &b.0.pods) == unit.as_ref().map(|u| &u.0.pods)
            && before.as_ref().map(|b| &b.0.policies) == unit.as_ref().map(|u| &u.0.policies)
        {
            return false;
        }
        self.merged
            .changed(before.unwrap_or_default(), unit.unwrap_or_default());
        self.revision += 1;
        true
    }

    /// Whether `kind` has finished its first list.
    pub fn synced(&self, kind: Kind) -> bool {
        self.synced[kind.slot()]
    }

    /// Whether every kind has finished its first list: only then is the cluster complete
    /// enough to enforce.
    pub fn all_synced(&self) -> bool {
        self.synced.iter().all(|s| *s)
    }

    /// Whether a relist of `kind` is in progress.
    pub fn relisting(&self, kind: Kind) -> bool {
        self.relists[kind.slot()].is_some()
    }

    /// Changes whenever the cluster changes; equal revisions mean equal clusters.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// The cluster of every object in force, updated in place since the last call.
    pub fn cluster(&mut self) -> &Cluster {
        let units = &self.units;
        self.merged
            .get(units.values(), || (rebuild(units), Vec::new()))
            .0
    }

    /// [`ClusterIndex::cluster`], and what changed in it since the last call of this one.
    pub fn cluster_and_changes(&mut self) -> (&Cluster, palisade_nft::Changes) {
        let units = &self.units;
        let (cluster, _, changes) = self
            .merged
            .get_and_take(units.values(), || (rebuild(units), Vec::new()));
        (cluster, changes)
    }

    /// The same cluster built from scratch: what [`ClusterIndex::cluster`] must equal.
    pub fn rebuilt(&self) -> Cluster {
        rebuild(&self.units)
    }

    /// Objects that failed validation since the last call, oldest first.
    pub fn take_rejections(&mut self) -> Vec<Rejection> {
        std::mem::take(&mut self.rejections)
    }

    /// Objects held per kind (namespaces, pods, policies), whether in the cluster or not.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.namespaces.len(), self.pods.len(), self.policies.len())
    }

    /// Policies whose current version failed validation (a last good version or a quarantine
    /// stands in for them).
    pub fn policies_not_as_written(&self) -> usize {
        self.policies
            .values()
            .filter(|e| !matches!(e.state, PolicyState::Good))
            .count()
    }

    /// Local pods (on this node, not hostNetwork) not enforced yet: those without an address,
    /// and those with one whose rules are not in force ([`ClusterIndex::enforced`]).
    pub fn pending_local_pods(&self) -> usize {
        let without_address = self
            .pods
            .values()
            .filter(|e| self.is_local(&e.model) && e.model.ips.is_empty())
            .count();
        without_address + self.awaiting.len()
    }

    /// The cluster of the last [`ClusterIndex::cluster`] call is in force as of `now`: returns
    /// how long each local pod that got an address since the first list waited for its rules.
    /// Pods that hold none of their addresses yet keep waiting.
    pub fn enforced(&mut self, now: Instant) -> Vec<Duration> {
        let ready: Vec<String> = self
            .awaiting
            .keys()
            .filter(|uid| {
                self.units
                    .get(&Key::Pod((*uid).clone()))
                    .is_some_and(|u| u.0.pods.iter().any(|p| !p.ips.is_empty()))
            })
            .cloned()
            .collect();
        ready
            .iter()
            .filter_map(|uid| self.awaiting.remove(uid))
            .map(|since| now.saturating_duration_since(since))
            .collect()
    }
}

/// The events of a relist listing `objects`.
fn reset<K: Clone>(objects: &[K], mut event: impl FnMut(Event<K>) -> bool) -> bool {
    let mut changed = event(Event::Init);
    for object in objects {
        changed |= event(Event::InitApply(object.clone()));
    }
    changed | event(Event::InitDone)
}

fn unit(cluster: Cluster) -> FileModel {
    Arc::new((cluster, Vec::new()))
}

/// Every unit side by side, sorted. Units never clash (one per identity after resolution).
fn rebuild(units: &BTreeMap<Key, FileModel>) -> Cluster {
    let mut cluster = Cluster::default();
    for unit in units.values() {
        cluster.namespaces.extend(unit.0.namespaces.iter().cloned());
        cluster.pods.extend(unit.0.pods.iter().cloned());
        cluster.policies.extend(unit.0.policies.iter().cloned());
    }
    cluster.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    cluster
        .pods
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
}
