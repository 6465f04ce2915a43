//! The primitive questions of NetworkPolicy semantics, each answered for one object: does a
//! policy select a pod, does a peer item match an endpoint, does a port item match a probe.
//!
//! ```text
//!   selects(policy, pod)                       subject: own namespace + podSelector
//!   isolating_policies(cluster, pod, dir)      selected + dir in effective policyTypes
//!   peer_matches(cluster, policy, peer, ep)    podSelector / namespaceSelector / ipBlock
//!   port_matches(cluster, port, dest, probe)   protocol + number, range, or named port on dest
//! ```
//!
//! These are the exact (slow) definitions: [`super::evaluate`] is built on them, the fast
//! all-pairs computation in [`crate::reach`] is tested against them, and the node compiler can
//! use them to decide which pods a rule covers.

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{
    Cluster, Direction, Labels, NAMESPACE_NAME_LABEL, NamespaceScope, Peer, Peers, Pod, Policy,
    PortMatch, PortSpec, Ports,
};

use super::{Endpoint, Probe};

/// Whether `policy`'s `podSelector` picks `pod`: a policy only ever applies to pods of its own
/// namespace (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource>).
///
/// Purely a label question: a hostNetwork pod can be "selected" here, yet
/// [`isolating_policies`] ignores it because policy does not apply to such pods.
pub fn selects(policy: &Policy, pod: &Pod) -> bool {
    policy.namespace == pod.namespace && policy.subject.matches(&pod.labels)
}

/// The policies (indices into [`Cluster::policies`], ascending) that isolate pod `pod` in
/// `direction`: they select it and have the direction in their effective policyTypes
/// (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation>).
/// Empty for hostNetwork pods and for an index out of range.
pub fn isolating_policies(cluster: &Cluster, pod: usize, direction: Direction) -> Vec<usize> {
    let Some(pod) = cluster.pods.get(pod) else {
        return Vec::new();
    };
    if pod.host_network {
        return Vec::new();
    }
    cluster
        .policies
        .iter()
        .enumerate()
        .filter(|(_, policy)| policy.rules(direction).is_some() && selects(policy, pod))
        .map(|(i, _)| i)
        .collect()
}

/// The labels of namespace `name`. A namespace the cluster does not list gets the label the API
/// server puts on every namespace, so `kubernetes.io/metadata.name` selectors still work.
pub fn namespace_labels<'a>(cluster: &'a Cluster, name: &str) -> Cow<'a, Labels> {
    match cluster.namespaces.iter().find(|ns| ns.name == name) {
        Some(ns) => Cow::Borrowed(&ns.labels),
        None => Cow::Owned(Labels::from([(
            NAMESPACE_NAME_LABEL.to_string(),
            name.to_string(),
        )])),
    }
}

/// The pod behind an endpoint, if it is one.
pub fn endpoint_pod(cluster: &Cluster, endpoint: Endpoint) -> Option<&Pod> {
    match endpoint {
        Endpoint::Pod(i) => cluster.pods.get(i),
        Endpoint::External(_) => None,
    }
}

/// The pod behind an endpoint if it takes part in pod-level policy (a pod without hostNetwork).
/// hostNetwork pods share their node's network: as a peer they are node traffic, so pod and
/// namespace selectors never match them and named ports are never resolved on them
/// (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-and-hostnetwork-pods>,
/// the common implementation the page describes).
pub fn policy_pod(cluster: &Cluster, endpoint: Endpoint) -> Option<&Pod> {
    endpoint_pod(cluster, endpoint).filter(|pod| !pod.host_network)
}

/// The addresses of an endpoint: every IP of a pod (none when it has no address yet), or the
/// external address.
pub fn endpoint_ips(cluster: &Cluster, endpoint: Endpoint) -> Cow<'_, [IpAddr]> {
    match endpoint {
        Endpoint::Pod(i) => match cluster.pods.get(i) {
            Some(pod) => Cow::Borrowed(pod.ips.as_slice()),
            None => Cow::Owned(Vec::new()),
        },
        Endpoint::External(ip) => Cow::Owned(vec![ip]),
    }
}

/// `cidr` minus every `except` entry. An address of the other IP family is never inside.
pub fn ip_block_contains(cidr: &IpNet, except: &[IpNet], ip: &IpAddr) -> bool {
    cidr.contains(ip) && !except.iter().any(|e| e.contains(ip))
}

/// Whether one `from`/`to` item of `policy` matches `endpoint`
/// (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors>):
///
/// - podSelector alone: pods of the policy's namespace; namespaceSelector alone: every pod of
///   the matching namespaces; both in one item: pods matching both. Never a non-pod address nor
///   a hostNetwork pod.
/// - ipBlock: an address in `cidr` and in no `except`. It matches pod IPs too. A pod with
///   several IPs (dual stack) matches if ANY of them is in the block, because a connection
///   from or to that pod may use any of its addresses; a pod without an IP matches no ipBlock.
pub fn peer_matches(cluster: &Cluster, policy: &Policy, peer: &Peer, endpoint: Endpoint) -> bool {
    match peer {
        Peer::Pods { namespaces, pods } => {
            let Some(pod) = policy_pod(cluster, endpoint) else {
                return false;
            };
            let namespace_ok = match namespaces {
                NamespaceScope::Own => pod.namespace == policy.namespace,
                NamespaceScope::Matching(selector) => {
                    selector.matches(&namespace_labels(cluster, &pod.namespace))
                }
            };
            namespace_ok && pods.matches(&pod.labels)
        }
        Peer::IpBlock { cidr, except } => endpoint_ips(cluster, endpoint)
            .iter()
            .any(|ip| ip_block_contains(cidr, except, ip)),
    }
}

/// The items of a rule's `from`/`to` that match `endpoint`: `[None]` when the rule names no
/// peers (everything matches), else the indices of the matching items.
pub fn matching_peers(
    cluster: &Cluster,
    policy: &Policy,
    peers: &Peers,
    endpoint: Endpoint,
) -> Vec<Option<usize>> {
    match peers {
        Peers::Any => vec![None],
        Peers::OneOf(items) => items
            .iter()
            .enumerate()
            .filter(|(_, peer)| peer_matches(cluster, policy, peer, endpoint))
            .map(|(i, _)| Some(i))
            .collect(),
    }
}

/// Whether one `ports` item matches `probe` towards destination `dest`. A named port is looked
/// up on the destination pod by name AND protocol, so it never matches a non-pod address
/// (<https://kubernetes.io/docs/reference/kubernetes-api/networking/network-policy-v1/#NetworkPolicySpec>,
/// `NetworkPolicyPort.port`).
pub fn port_matches(cluster: &Cluster, item: &PortMatch, dest: Endpoint, probe: Probe) -> bool {
    if item.protocol != probe.protocol {
        return false;
    }
    match &item.port {
        PortSpec::Any => true,
        PortSpec::Range { first, last } => (*first..=*last).contains(&probe.port),
        PortSpec::Named(name) => {
            resolve_named_port(cluster, dest, name, item).contains(&probe.port)
        }
    }
}

/// The numbers a named port stands for on `dest` (usually one; empty when the destination is
/// not a policy pod or declares no such name for the item's protocol).
pub fn resolve_named_port(
    cluster: &Cluster,
    dest: Endpoint,
    name: &str,
    item: &PortMatch,
) -> Vec<u16> {
    let Some(pod) = policy_pod(cluster, dest) else {
        return Vec::new();
    };
    let mut ports: Vec<u16> = pod
        .ports
        .iter()
        .filter(|cp| cp.protocol == item.protocol && cp.name.as_deref() == Some(name))
        .map(|cp| cp.port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The items of a rule's `ports` that match: `[None]` when the rule names no ports (every port
/// of every protocol), else the indices of the matching items.
pub fn matching_ports(
    cluster: &Cluster,
    ports: &Ports,
    dest: Endpoint,
    probe: Probe,
) -> Vec<Option<usize>> {
    match ports {
        Ports::Any => vec![None],
        Ports::OneOf(items) => items
            .iter()
            .enumerate()
            .filter(|(_, item)| port_matches(cluster, item, dest, probe))
            .map(|(i, _)| Some(i))
            .collect(),
    }
}

/// Traffic between a pod and its own node is always allowed
/// (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#what-you-can-t-do-with-network-policies-at-least-not-yet>:
/// pods cannot block access from their resident node). A hostNetwork pod IS node traffic, so a
/// pair where one side is a hostNetwork pod and both pods run on the same known node is exempt.
/// Pods without a node name are never assumed to share one.
pub fn same_node_host_traffic(cluster: &Cluster, a: Endpoint, b: Endpoint) -> bool {
    let (Some(a), Some(b)) = (endpoint_pod(cluster, a), endpoint_pod(cluster, b)) else {
        return false;
    };
    (a.host_network || b.host_network) && a.node.is_some() && a.node == b.node
}
