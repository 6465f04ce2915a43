//! The cluster as the lints and the descriptions ask about it: which namespaces have pods,
//! which pods a policy or a peer item matches, which named ports they declare.
//!
//! ```text
//!   Inventory ─┬─ groups: pods of one namespace with one label set and one hostNetwork flag
//!              │            └─ their named container ports
//!              ├─ namespace labels by name, policies by namespace
//!              ├─ namespaces by label (key, value): declared ones, and those holding pods
//!              └─ memos: selector -> groups, ipBlock -> pods
//! ```
//!
//! Each distinct selector is evaluated once per group, so the cost follows distinct label sets
//! and distinct selectors, not pods x peers (a 10,000-pod cluster has a few hundred of each).
//! A namespaceSelector with `matchLabels` is tried only on the namespaces carrying its first
//! pair, so naming one namespace costs one lookup, not one match per namespace.
//!
//! hostNetwork pods get groups of their own: NetworkPolicy does not apply to them, so the lints
//! leave them out of everything a policy selects or reaches, but their labels still match
//! selectors, which the descriptions report as written.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use ipnet::IpNet;

use crate::eval::matching::ip_block_contains;
use crate::model::{
    Cluster, Labels, NAMESPACE_NAME_LABEL, Namespace, NamespaceScope, Peer, Policy, Protocol,
    Selector,
};

/// Pods of one namespace sharing one label set and one hostNetwork flag.
#[derive(Debug)]
pub(crate) struct Group<'a> {
    pub namespace: &'a str,
    pub labels: &'a Labels,
    pub host_network: bool,
    /// Indices into [`Cluster::pods`], ascending.
    pub pods: Vec<usize>,
    /// The named container ports some member declares.
    pub named_ports: BTreeSet<(Protocol, &'a str)>,
}

/// A pods peer as a memo key: (namespaceSelector, own namespace when there is none, podSelector).
type PodsKey<'a> = (Option<&'a Selector>, &'a str, &'a Selector);
/// An ipBlock, and whether hostNetwork pods count.
type BlockKey = (IpNet, Vec<IpNet>, bool);

#[derive(Debug)]
pub(crate) struct Inventory<'a> {
    cluster: &'a Cluster,
    /// Every pod is in exactly one group; ordered by first member.
    pub groups: Vec<Group<'a>>,
    /// Group indices per namespace, ascending.
    by_namespace: BTreeMap<&'a str, Vec<usize>>,
    /// The labels of every namespace listed in the cluster or holding a pod.
    namespace_labels: HashMap<&'a str, Cow<'a, Labels>>,
    /// Namespaces holding pods, by label key, then value (ascending names).
    pod_namespaces_by_label: LabelIndex<&'a str>,
    /// Positions in `cluster.namespaces`, by label key, then value (ascending).
    namespaces_by_label: LabelIndex<usize>,
    /// At least one Namespace object was given (not only referenced by name).
    pub namespaces_declared: bool,
    /// Policy indices per namespace, ascending.
    policies: HashMap<&'a str, Vec<usize>>,
    groups_memo: RefCell<HashMap<PodsKey<'a>, Rc<[usize]>>>,
    pods_memo: RefCell<HashMap<PodsKey<'a>, Rc<Vec<usize>>>>,
    block_memo: RefCell<HashMap<BlockKey, Rc<Vec<usize>>>>,
}

impl<'a> Inventory<'a> {
    pub fn new(cluster: &'a Cluster) -> Inventory<'a> {
        let mut index: HashMap<(&str, &Labels, bool), usize> = HashMap::new();
        let mut groups: Vec<Group<'a>> = Vec::new();
        let mut by_namespace: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, pod) in cluster.pods.iter().enumerate() {
            let key = (pod.namespace.as_str(), &pod.labels, pod.host_network);
            let g = *index.entry(key).or_insert_with(|| {
                groups.push(Group {
                    namespace: &pod.namespace,
                    labels: &pod.labels,
                    host_network: pod.host_network,
                    pods: Vec::new(),
                    named_ports: BTreeSet::new(),
                });
                by_namespace
                    .entry(pod.namespace.as_str())
                    .or_default()
                    .push(groups.len() - 1);
                groups.len() - 1
            });
            if let Some(group) = groups.get_mut(g) {
                group.pods.push(i);
                group.named_ports.extend(
                    pod.ports
                        .iter()
                        .filter_map(|p| Some((p.protocol, p.name.as_deref()?))),
                );
            }
        }
        let mut namespace_labels: HashMap<&str, Cow<'a, Labels>> = cluster
            .namespaces
            .iter()
            .map(|ns| (ns.name.as_str(), Cow::Borrowed(&ns.labels)))
            .collect();
        for &ns in by_namespace.keys() {
            namespace_labels
                .entry(ns)
                .or_insert_with(|| Cow::Owned(name_label(ns)));
        }
        let namespaces_by_label = LabelIndex::new(
            cluster
                .namespaces
                .iter()
                .enumerate()
                .map(|(i, ns)| (i, &ns.labels)),
        );
        let pod_namespaces_by_label = LabelIndex::new(
            by_namespace
                .keys()
                .filter_map(|&ns| Some((ns, namespace_labels.get(ns)?.as_ref()))),
        );
        let mut policies: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, policy) in cluster.policies.iter().enumerate() {
            policies
                .entry(policy.namespace.as_str())
                .or_default()
                .push(i);
        }
        Inventory {
            cluster,
            groups,
            by_namespace,
            namespace_labels,
            pod_namespaces_by_label,
            namespaces_by_label,
            namespaces_declared: cluster.namespaces.iter().any(|ns| ns.declared),
            policies,
            groups_memo: RefCell::default(),
            pods_memo: RefCell::default(),
            block_memo: RefCell::default(),
        }
    }

    /// Pods (without hostNetwork) a policy's podSelector picks, ascending.
    pub fn selected(&self, policy: &Policy) -> Vec<usize> {
        self.selected_where(policy, false)
    }

    /// hostNetwork pods a policy's podSelector picks (by labels; policy does not apply to them).
    pub fn selected_host(&self, policy: &Policy) -> Vec<usize> {
        self.selected_where(policy, true)
    }

    fn selected_where(&self, policy: &Policy, host_network: bool) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .matching_groups(&policy.namespace, &policy.subject)
            .filter_map(|g| self.groups.get(g))
            .filter(|g| g.host_network == host_network)
            .flat_map(|g| g.pods.iter().copied())
            .collect();
        found.sort_unstable();
        found
    }

    /// Indices of the policies of `namespace`, ascending.
    pub fn policies_in(&self, namespace: &str) -> &[usize] {
        self.policies.get(namespace).map_or(&[], Vec::as_slice)
    }

    /// The inventory holds pods of `namespace`, so "matches no pod there" means something.
    pub fn is_loaded(&self, namespace: &str) -> bool {
        self.by_namespace.contains_key(namespace)
    }

    pub fn has_pods(&self) -> bool {
        !self.by_namespace.is_empty()
    }

    /// The namespaces `scope` covers, seen from a policy in `own`.
    pub fn scope_namespaces(&self, own: &'a str, scope: &NamespaceScope) -> Vec<&'a str> {
        match scope {
            NamespaceScope::Own => vec![own],
            NamespaceScope::Matching(sel) => {
                let namespaces = &self.cluster.namespaces;
                // The index keeps positions ascending, so the order stays the cluster's.
                let candidates: Vec<&Namespace> = match self.namespaces_by_label.candidates(sel) {
                    Some(positions) => positions
                        .iter()
                        .filter_map(|&i| namespaces.get(i))
                        .collect(),
                    None => namespaces.iter().collect(),
                };
                candidates
                    .into_iter()
                    .filter(|ns| sel.matches(&ns.labels))
                    .map(|ns| ns.name.as_str())
                    .collect()
            }
        }
    }

    /// Groups of `namespace` whose labels `sel` matches, hostNetwork groups included.
    pub fn matching_groups<'s>(
        &'s self,
        namespace: &str,
        sel: &'s Selector,
    ) -> impl Iterator<Item = usize> + 's {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&g| self.groups.get(g).is_some_and(|g| sel.matches(g.labels)))
    }

    /// Groups of `namespace` (without hostNetwork) whose labels `sel` matches.
    pub fn groups_in<'s>(
        &'s self,
        namespace: &str,
        sel: &'s Selector,
    ) -> impl Iterator<Item = usize> + 's {
        self.matching_groups(namespace, sel)
            .filter(|&g| self.groups.get(g).is_some_and(|g| !g.host_network))
    }

    /// Groups (ascending, hostNetwork groups included) whose pods a pods peer of a policy in
    /// `own` matches: `namespaces` is its namespaceSelector, `None` for the policy's own
    /// namespace; see [`crate::eval::matching::peer_matches`].
    pub fn pods_groups(
        &self,
        own: &'a str,
        namespaces: Option<&'a Selector>,
        pods: &'a Selector,
    ) -> Rc<[usize]> {
        let key = (
            namespaces,
            if namespaces.is_some() { "" } else { own },
            pods,
        );
        if let Some(hit) = self.groups_memo.borrow().get(&key) {
            return hit.clone();
        }
        let mut found: Vec<usize> = match namespaces {
            None => self.matching_groups(own, pods).collect(),
            Some(ns_sel) => self
                .pod_namespaces_matching(ns_sel)
                .into_iter()
                .flat_map(|ns| self.matching_groups(ns, pods))
                .collect(),
        };
        found.sort_unstable();
        let found: Rc<[usize]> = found.into();
        self.groups_memo.borrow_mut().insert(key, found.clone());
        found
    }

    /// Pods (indices, ascending, without hostNetwork pods) that a peer item of a policy in
    /// namespace `own` matches; see [`crate::eval::matching::peer_matches`].
    pub fn peer_pods(&self, own: &'a str, peer: &'a Peer) -> Rc<Vec<usize>> {
        match peer {
            Peer::Pods { namespaces, pods } => {
                let ns_sel = match namespaces {
                    NamespaceScope::Own => None,
                    NamespaceScope::Matching(sel) => Some(sel),
                };
                let key = (ns_sel, if ns_sel.is_some() { "" } else { own }, pods);
                if let Some(hit) = self.pods_memo.borrow().get(&key) {
                    return hit.clone();
                }
                let mut found: Vec<usize> = self
                    .pods_groups(own, ns_sel, pods)
                    .iter()
                    .filter_map(|&g| self.groups.get(g))
                    .filter(|g| !g.host_network)
                    .flat_map(|g| g.pods.iter().copied())
                    .collect();
                found.sort_unstable();
                let found = Rc::new(found);
                self.pods_memo.borrow_mut().insert(key, found.clone());
                found
            }
            Peer::IpBlock { cidr, except } => self.block_pods(cidr, except),
        }
    }

    /// Pods (ascending, without hostNetwork) with an address in `cidr` minus `except`.
    pub fn block_pods(&self, cidr: &IpNet, except: &[IpNet]) -> Rc<Vec<usize>> {
        self.block_pods_where(cidr, except, false)
    }

    /// Pods (ascending, hostNetwork pods included) with an address in `cidr` minus `except`.
    pub fn block_pods_all(&self, cidr: &IpNet, except: &[IpNet]) -> Rc<Vec<usize>> {
        self.block_pods_where(cidr, except, true)
    }

    fn block_pods_where(&self, cidr: &IpNet, except: &[IpNet], host: bool) -> Rc<Vec<usize>> {
        let key = (*cidr, except.to_vec(), host);
        if let Some(hit) = self.block_memo.borrow().get(&key) {
            return hit.clone();
        }
        let found: Vec<usize> = self
            .cluster
            .pods
            .iter()
            .enumerate()
            .filter(|(_, pod)| {
                (host || !pod.host_network)
                    && pod.ips.iter().any(|ip| ip_block_contains(cidr, except, ip))
            })
            .map(|(i, _)| i)
            .collect();
        let found = Rc::new(found);
        self.block_memo.borrow_mut().insert(key, found.clone());
        found
    }

    /// The labels of namespace `name`; an unknown namespace gets the label the API server would
    /// give it, as the model does for referenced namespaces.
    /// Namespaces holding pods whose labels `sel` matches. A selector with `matchLabels`
    /// can only match namespaces carrying its first pair, so only those are tried: on a
    /// cluster of hundreds of namespaces, peers that pick one namespace by name are most of
    /// the peers, and trying every namespace for each was most of `check`'s lint time.
    fn pod_namespaces_matching(&self, sel: &Selector) -> Vec<&'a str> {
        let matches = |ns: &&'a str| sel.matches(&self.namespace_labels(ns));
        match self.pod_namespaces_by_label.candidates(sel) {
            Some(names) => names.iter().copied().filter(matches).collect(),
            None => self.by_namespace.keys().copied().filter(matches).collect(),
        }
    }

    pub fn namespace_labels(&self, name: &str) -> Cow<'_, Labels> {
        match self.namespace_labels.get(name) {
            Some(labels) => Cow::Borrowed(labels.as_ref()),
            None => Cow::Owned(name_label(name)),
        }
    }
}

/// label key -> label value -> the namespaces (names or positions) carrying that label, in
/// the order given.
#[derive(Debug)]
struct LabelIndex<T>(HashMap<String, HashMap<String, Vec<T>>>);

impl<T: Copy> LabelIndex<T> {
    fn new<'l>(namespaces: impl Iterator<Item = (T, &'l Labels)>) -> LabelIndex<T> {
        let mut index: HashMap<String, HashMap<String, Vec<T>>> = HashMap::new();
        for (namespace, labels) in namespaces {
            for (key, value) in labels {
                index
                    .entry(key.clone())
                    .or_default()
                    .entry(value.clone())
                    .or_default()
                    .push(namespace);
            }
        }
        LabelIndex(index)
    }

    /// The only namespaces `sel` can match, when it has `matchLabels`: those carrying its
    /// first pair (it requires them all). `None` when it has none, and any may match.
    fn candidates(&self, sel: &Selector) -> Option<&[T]> {
        let (key, value) = sel.match_labels.iter().next()?;
        Some(
            self.0
                .get(key.as_str())
                .and_then(|values| values.get(value.as_str()))
                .map_or(&[][..], Vec::as_slice),
        )
    }
}

fn name_label(name: &str) -> Labels {
    Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Operator, Requirement};

    const CLUSTER: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x, env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: c, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: d}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: b, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: c}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: e, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.4}
";

    fn selector(pairs: &[(&str, &str)], expressions: Vec<Requirement>) -> Selector {
        Selector {
            match_labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            expressions,
        }
    }

    /// The label indexes only narrow the namespaces tried: every kind of namespaceSelector
    /// finds exactly the namespaces (declared, or holding pods) and pod groups that trying
    /// every namespace finds, in the same order.
    #[test]
    fn namespace_label_indexes_find_what_a_scan_finds() {
        let analysis = crate::analyze_text("cluster.yaml", CLUSTER);
        assert_eq!(analysis.error_count(), 0, "{:#?}", analysis.diagnostics);
        let cluster = &analysis.cluster;
        let inv = Inventory::new(cluster);
        let requirement = |key: &str, operator| Requirement {
            key: key.to_string(),
            operator,
        };
        let selectors = [
            selector(&[], vec![]),
            selector(&[("team", "x")], vec![]),
            selector(&[("team", "x"), ("env", "prod")], vec![]),
            selector(&[("env", "prod"), ("team", "x")], vec![]),
            selector(&[("env", "prod")], vec![]),
            selector(&[("team", "y")], vec![]),
            selector(&[("nosuch", "x")], vec![]),
            selector(&[(NAMESPACE_NAME_LABEL, "e")], vec![]),
            selector(&[(NAMESPACE_NAME_LABEL, "d")], vec![]),
            selector(
                &[],
                vec![requirement("team", Operator::In(["x".to_string()].into()))],
            ),
            selector(
                &[("team", "x")],
                vec![requirement("env", Operator::DoesNotExist)],
            ),
        ];
        let everything = Selector::everything();
        let mut found_some = 0;
        for sel in &selectors {
            let scanned: Vec<&str> = cluster
                .namespaces
                .iter()
                .filter(|ns| sel.matches(&ns.labels))
                .map(|ns| ns.name.as_str())
                .collect();
            let scope = NamespaceScope::Matching(sel.clone());
            assert_eq!(inv.scope_namespaces("a", &scope), scanned, "{sel:?}");

            let mut groups: Vec<usize> = inv
                .by_namespace
                .keys()
                .filter(|ns| sel.matches(&inv.namespace_labels(ns)))
                .flat_map(|ns| inv.matching_groups(ns, &everything))
                .collect();
            groups.sort_unstable();
            assert_eq!(
                &*inv.pods_groups("a", Some(sel), &everything),
                groups.as_slice(),
                "{sel:?}"
            );
            found_some += usize::from(!groups.is_empty());
        }
        assert!(
            found_some >= 6,
            "the cases must find something: {found_some}"
        );
    }
}
