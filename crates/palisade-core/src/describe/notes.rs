//! Looks at the cluster to catch selectors that match nothing, the classic silent mistake.
//!
//! A note is only written when the inputs contain objects of the kind it talks about: explaining
//! a file of policies alone should not flag every selector because no pod was loaded. So pod
//! notes need at least one pod, and namespace notes at least one declared Namespace (namespaces
//! that are only referenced carry nothing but their name label).

use super::Describer;
use super::words::{self, ByName};
use crate::model::{NamespaceScope, Peer, Peers, Pod, Policy, Protocol, Selector};

/// `namespaceSelector` of a scope, `None` for the policy's own namespace.
fn namespace_selector(scope: &NamespaceScope) -> Option<&Selector> {
    match scope {
        NamespaceScope::Own => None,
        NamespaceScope::Matching(sel) => Some(sel),
    }
}

/// Whether some pod of the cluster (hostNetwork pods included: their labels match) is matched
/// by a pods peer of a policy in `own`.
fn matches_a_pod<'a>(
    d: &Describer<'a>,
    own: &'a str,
    namespaces: Option<&'a Selector>,
    pods: &'a Selector,
) -> bool {
    !d.inv.pods_groups(own, namespaces, pods).is_empty()
}

/// The groups of pods a policy applies to: its namespace, its subject selector.
pub(super) fn selected_groups<'a>(d: &Describer<'a>, policy: &'a Policy) -> Vec<usize> {
    d.inv
        .pods_groups(&policy.namespace, None, &policy.subject)
        .to_vec()
}

/// Whether `pod` declares a container port with this name and protocol; named ports resolve
/// on the destination pod by both.
/// <https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec>
pub(super) fn has_named_port(pod: &Pod, protocol: Protocol, name: &str) -> bool {
    pod.ports
        .iter()
        .any(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
}

/// Whether some pod of `groups` declares the named port.
pub(super) fn groups_have_port(
    d: &Describer<'_>,
    groups: &[usize],
    protocol: Protocol,
    name: &str,
) -> bool {
    groups.iter().any(|&g| {
        d.inv
            .groups
            .get(g)
            .is_some_and(|g| g.named_ports.contains(&(protocol, name)))
    })
}

/// Whether some pod the peers of a rule of a policy in `own` match (ipBlocks match pod IPs
/// too) declares the named port.
pub(super) fn destination_has_port<'a>(
    d: &Describer<'a>,
    own: &'a str,
    peers: &'a Peers,
    protocol: Protocol,
    name: &'a str,
) -> bool {
    let list = match peers {
        Peers::Any => return d.named_ports.contains(&(protocol, name)),
        Peers::OneOf(list) => list,
    };
    list.iter().any(|peer| match peer {
        Peer::Pods {
            namespaces: scope,
            pods: sel,
        } => {
            let groups = d.inv.pods_groups(own, namespace_selector(scope), sel);
            groups_have_port(d, &groups, protocol, name)
        }
        Peer::IpBlock { cidr, except } => {
            let key = (cidr, except.as_slice(), protocol, name);
            if let Some(&hit) = d.block_ports.borrow().get(&key) {
                return hit;
            }
            let hit = d
                .inv
                .block_pods_all(cidr, except)
                .iter()
                .filter_map(|&i| d.cluster.pods.get(i))
                .any(|pod| has_named_port(pod, protocol, name));
            d.block_ports.borrow_mut().insert(key, hit);
            hit
        }
    })
}

/// Why a pods peer (or a policy's subject) matches no pod, if it matches none.
pub(super) fn pods_note<'a>(
    d: &Describer<'a>,
    scope: &'a NamespaceScope,
    sel: &'a Selector,
    own: &'a str,
) -> Option<String> {
    let cluster = d.cluster;
    if cluster.pods.is_empty() || matches_a_pod(d, own, namespace_selector(scope), sel) {
        return None;
    }
    let namespaces_loaded = d.inv.namespaces_declared;
    let where_ = match scope {
        NamespaceScope::Own => format!("in {own}"),
        NamespaceScope::Matching(ns_sel) => {
            let any_namespace = cluster
                .namespaces
                .iter()
                .any(|ns| ns_sel.matches(&ns.labels));
            if !any_namespace {
                return namespaces_loaded.then(|| namespace_note(ns_sel));
            }
            match words::by_name(ns_sel) {
                _ if ns_sel.is_empty() => "in any namespace".to_owned(),
                Some(ByName::In(names)) if names.len() == 1 => format!("in {}", names.join("")),
                _ => "in those namespaces".to_owned(),
            }
        }
    };
    Some(if sel.is_empty() {
        format!("there are no pods {where_}")
    } else if words::is_plain_labels(sel) {
        format!("no pod {where_} has {}", words::selector(sel))
    } else {
        format!("no such pod {where_}")
    })
}

fn namespace_note(sel: &Selector) -> String {
    match words::by_name(sel) {
        Some(ByName::In(names)) => format!("there is no namespace {}", words::join_or(&names)),
        _ if words::is_plain_labels(sel) => format!("no namespace has {}", words::selector(sel)),
        _ => "no such namespace".to_owned(),
    }
}

/// The note for one peer item, if any.
pub(super) fn peer_note<'a>(d: &Describer<'a>, own: &'a str, peer: &'a Peer) -> Option<String> {
    match peer {
        Peer::Pods {
            namespaces: scope,
            pods: sel,
        } => pods_note(d, scope, sel, own),
        // An ipBlock usually names addresses outside the cluster: matching no pod is normal.
        Peer::IpBlock { .. } => None,
    }
}
