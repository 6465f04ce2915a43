//! Looks at the cluster to catch selectors that match nothing, the classic silent mistake.
//!
//! A note is only written when the inputs contain objects of the kind it talks about: explaining
//! a file of policies alone should not flag every selector because no pod was loaded. So pod
//! notes need at least one pod, and namespace notes at least one declared Namespace (namespaces
//! that are only referenced carry nothing but their name label).

use std::borrow::Cow;
use std::net::IpAddr;

use super::words::{self, ByName};
use crate::model::{
    Cluster, Labels, NAMESPACE_NAME_LABEL, NamespaceScope, Peer, Pod, Policy, Protocol, Selector,
};

/// The labels of namespace `name`; an unknown namespace gets the label the API server would
/// give it, as the model does for referenced namespaces.
fn namespace_labels<'a>(cluster: &'a Cluster, name: &str) -> Cow<'a, Labels> {
    match cluster.namespaces.iter().find(|ns| ns.name == name) {
        Some(ns) => Cow::Borrowed(&ns.labels),
        None => Cow::Owned(Labels::from([(
            NAMESPACE_NAME_LABEL.to_owned(),
            name.to_owned(),
        )])),
    }
}

fn in_scope(cluster: &Cluster, scope: &NamespaceScope, own: &str, namespace: &str) -> bool {
    match scope {
        NamespaceScope::Own => namespace == own,
        NamespaceScope::Matching(sel) => sel.matches(&namespace_labels(cluster, namespace)),
    }
}

fn in_block(ip: &IpAddr, cidr: &ipnet::IpNet, except: &[ipnet::IpNet]) -> bool {
    cidr.contains(ip) && !except.iter().any(|e| e.contains(ip))
}

/// The pods of the cluster a peer item matches (ipBlocks match pod IPs too).
pub(super) fn peer_pods<'a>(cluster: &'a Cluster, own: &str, peer: &Peer) -> Vec<&'a Pod> {
    cluster
        .pods
        .iter()
        .filter(|pod| match peer {
            Peer::Pods {
                namespaces: scope,
                pods: sel,
            } => in_scope(cluster, scope, own, &pod.namespace) && sel.matches(&pod.labels),
            Peer::IpBlock { cidr, except } => pod.ips.iter().any(|ip| in_block(ip, cidr, except)),
        })
        .collect()
}

/// The pods a policy applies to: its namespace, its subject selector.
pub(super) fn selected_pods<'a>(cluster: &'a Cluster, policy: &Policy) -> Vec<&'a Pod> {
    cluster
        .pods
        .iter()
        .filter(|pod| pod.namespace == policy.namespace && policy.subject.matches(&pod.labels))
        .collect()
}

/// Whether `pod` declares a container port with this name and protocol; named ports resolve
/// on the destination pod by both.
/// <https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec>
pub(super) fn has_named_port(pod: &Pod, protocol: Protocol, name: &str) -> bool {
    pod.ports
        .iter()
        .any(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
}

/// Why a pods peer (or a policy's subject) matches no pod, if it matches none.
pub(super) fn pods_note(
    cluster: &Cluster,
    scope: &NamespaceScope,
    sel: &Selector,
    own: &str,
) -> Option<String> {
    let peer = Peer::Pods {
        namespaces: scope.clone(),
        pods: sel.clone(),
    };
    if cluster.pods.is_empty() || !peer_pods(cluster, own, &peer).is_empty() {
        return None;
    }
    let namespaces_loaded = cluster.namespaces.iter().any(|ns| ns.declared);
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
pub(super) fn peer_note(cluster: &Cluster, own: &str, peer: &Peer) -> Option<String> {
    match peer {
        Peer::Pods {
            namespaces: scope,
            pods: sel,
        } => pods_note(cluster, scope, sel, own),
        // An ipBlock usually names addresses outside the cluster: matching no pod is normal.
        Peer::IpBlock { .. } => None,
    }
}
