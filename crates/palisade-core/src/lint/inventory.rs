//! The inventory as the lints ask about it: which namespaces have pods, which pods a peer item
//! matches. Pods are grouped by namespace and labels, and each distinct selector is evaluated
//! once per group, so the cost follows distinct label sets and distinct selectors, not
//! pods x peers (a 10,000-pod cluster has a few hundred of each).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use ipnet::IpNet;

use crate::eval::matching::{ip_block_contains, namespace_labels};
use crate::model::{Cluster, Labels, NamespaceScope, Peer, Policy, Selector};

/// Pods (without hostNetwork) of one namespace sharing one label set.
#[derive(Debug)]
pub(super) struct Group<'a> {
    pub namespace: &'a str,
    pub labels: &'a Labels,
    /// Indices into [`Cluster::pods`].
    pub pods: Vec<usize>,
}

type PodsKey<'a> = (Option<&'a Selector>, &'a str, &'a Selector);
type BlockKey = (IpNet, Vec<IpNet>);

#[derive(Debug)]
pub(super) struct Inventory<'a> {
    cluster: &'a Cluster,
    pub groups: Vec<Group<'a>>,
    /// Group indices per namespace.
    by_namespace: HashMap<&'a str, Vec<usize>>,
    /// Namespaces holding at least one pod of the inventory (hostNetwork pods count: the
    /// namespace was loaded).
    loaded: BTreeSet<&'a str>,
    /// At least one Namespace object was given (not only referenced by name).
    pub namespaces_declared: bool,
    /// hostNetwork pods per namespace.
    host_pods: HashMap<&'a str, Vec<usize>>,
    /// Policy indices per namespace.
    policies: HashMap<&'a str, Vec<usize>>,
    pods_memo: RefCell<HashMap<PodsKey<'a>, Rc<Vec<usize>>>>,
    block_memo: RefCell<HashMap<BlockKey, Rc<Vec<usize>>>>,
}

impl<'a> Inventory<'a> {
    pub fn new(cluster: &'a Cluster) -> Inventory<'a> {
        let mut index: HashMap<(&str, &Labels), usize> = HashMap::new();
        let mut groups: Vec<Group<'a>> = Vec::new();
        let mut by_namespace: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut loaded = BTreeSet::new();
        let mut host_pods: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, pod) in cluster.pods.iter().enumerate() {
            loaded.insert(pod.namespace.as_str());
            if pod.host_network {
                host_pods.entry(pod.namespace.as_str()).or_default().push(i);
                continue;
            }
            let key = (pod.namespace.as_str(), &pod.labels);
            let g = *index.entry(key).or_insert_with(|| {
                groups.push(Group {
                    namespace: &pod.namespace,
                    labels: &pod.labels,
                    pods: Vec::new(),
                });
                by_namespace
                    .entry(pod.namespace.as_str())
                    .or_default()
                    .push(groups.len() - 1);
                groups.len() - 1
            });
            if let Some(group) = groups.get_mut(g) {
                group.pods.push(i);
            }
        }
        let mut policies: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, policy) in cluster.policies.iter().enumerate() {
            policies
                .entry(policy.namespace.as_str())
                .or_default()
                .push(i);
        }
        Inventory {
            cluster,
            policies,
            host_pods,
            groups,
            by_namespace,
            loaded,
            namespaces_declared: cluster.namespaces.iter().any(|ns| ns.declared),
            pods_memo: RefCell::default(),
            block_memo: RefCell::default(),
        }
    }

    /// Pods (without hostNetwork) a policy's podSelector picks, ascending.
    pub fn selected(&self, policy: &Policy) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .groups_in(&policy.namespace, &policy.subject)
            .filter_map(|g| self.groups.get(g))
            .flat_map(|g| g.pods.iter().copied())
            .collect();
        found.sort_unstable();
        found
    }

    /// hostNetwork pods a policy's podSelector picks (by labels; policy does not apply to them).
    pub fn selected_host(&self, policy: &Policy) -> Vec<usize> {
        self.host_pods
            .get(policy.namespace.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| {
                self.cluster
                    .pods
                    .get(i)
                    .is_some_and(|p| policy.subject.matches(&p.labels))
            })
            .collect()
    }

    /// Indices of the policies of `namespace`, ascending.
    pub fn policies_in(&self, namespace: &str) -> &[usize] {
        self.policies.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// The inventory holds pods of `namespace`, so "matches no pod there" means something.
    pub fn is_loaded(&self, namespace: &str) -> bool {
        self.loaded.contains(namespace)
    }

    pub fn has_pods(&self) -> bool {
        !self.loaded.is_empty()
    }

    /// The namespaces `scope` covers, seen from a policy in `own`.
    pub fn scope_namespaces(&self, own: &'a str, scope: &NamespaceScope) -> Vec<&'a str> {
        match scope {
            NamespaceScope::Own => vec![own],
            NamespaceScope::Matching(sel) => self
                .cluster
                .namespaces
                .iter()
                .filter(|ns| sel.matches(&ns.labels))
                .map(|ns| ns.name.as_str())
                .collect(),
        }
    }

    /// Groups of `namespace` whose labels `sel` matches.
    pub fn groups_in(&self, namespace: &str, sel: &Selector) -> impl Iterator<Item = usize> + '_ {
        let sel = sel.clone();
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&g| self.groups.get(g).is_some_and(|g| sel.matches(g.labels)))
    }

    /// Pods (indices, ascending, without hostNetwork pods) that a peer item of a policy in
    /// namespace `own` matches; see [`crate::eval::matching::peer_matches`].
    pub fn peer_pods(&self, own: &'a str, peer: &'a Peer) -> Rc<Vec<usize>> {
        match peer {
            Peer::Pods { namespaces, pods } => {
                let key = match namespaces {
                    NamespaceScope::Own => (None, own, pods),
                    NamespaceScope::Matching(sel) => (Some(sel), "", pods),
                };
                if let Some(hit) = self.pods_memo.borrow().get(&key) {
                    return hit.clone();
                }
                let mut found = Vec::new();
                for ns in self.scope_namespaces(own, namespaces) {
                    for g in self.groups_in(ns, pods) {
                        if let Some(group) = self.groups.get(g) {
                            found.extend(&group.pods);
                        }
                    }
                }
                found.sort_unstable();
                let found = Rc::new(found);
                self.pods_memo.borrow_mut().insert(key, found.clone());
                found
            }
            Peer::IpBlock { cidr, except } => self.block_pods(cidr, except),
        }
    }

    /// Pods (without hostNetwork) with an address in `cidr` minus `except`.
    pub fn block_pods(&self, cidr: &IpNet, except: &[IpNet]) -> Rc<Vec<usize>> {
        let key = (*cidr, except.to_vec());
        if let Some(hit) = self.block_memo.borrow().get(&key) {
            return hit.clone();
        }
        let found: Vec<usize> = self
            .cluster
            .pods
            .iter()
            .enumerate()
            .filter(|(_, pod)| {
                !pod.host_network && pod.ips.iter().any(|ip| ip_block_contains(cidr, except, ip))
            })
            .map(|(i, _)| i)
            .collect();
        let found = Rc::new(found);
        self.block_memo.borrow_mut().insert(key, found.clone());
        found
    }

    /// The labels of namespace `name` (the automatic name label for one only referenced).
    pub fn namespace_labels(&self, name: &str) -> std::borrow::Cow<'a, Labels> {
        namespace_labels(self.cluster, name)
    }
}
