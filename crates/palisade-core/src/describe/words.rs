//! Phrases for the parts of a policy that need no cluster: selectors, namespaces, peers, ports.
//!
//! Every phrase is built to sit after a noun ("pods app=web", "namespaces with label team"), so
//! callers can compose sentences without special cases. Separators are chosen so that a list can
//! never be misread: labels and selector terms are joined with ", ", peers of one rule with " or ",
//! and ports with ", " and a final " and ".

use crate::model::{
    Labels, NAMESPACE_NAME_LABEL, NamespaceScope, Operator, Peer, PortMatch, PortSpec, Ports,
    Requirement, Selector,
};

/// "a", "a and b", "a, b and c".
pub(super) fn join_and(items: &[String]) -> String {
    join_last(items, " and ")
}

/// "a", "a or b", "a, b or c".
pub(super) fn join_or(items: &[String]) -> String {
    join_last(items, " or ")
}

fn join_last(items: &[String], last_sep: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{}{last_sep}{last}", init.join(", ")),
    }
}

/// `key=value`; an empty value is quoted so that `app=""` does not look truncated.
fn label(key: &str, value: &str) -> String {
    if value.is_empty() {
        format!("{key}=\"\"")
    } else {
        format!("{key}={value}")
    }
}

/// Labels as `key=value` joined with ", ", sorted by key; "no labels" when there are none.
pub fn labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return "no labels".to_owned();
    }
    labels
        .iter()
        .map(|(k, v)| label(k, v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One matchExpressions term: "tier in (a, b)", "env not in (dev)", "with label team",
/// "without label legacy".
pub fn requirement(req: &Requirement) -> String {
    let values = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    match &req.operator {
        Operator::In(set) => format!("{} in ({})", req.key, values(set)),
        Operator::NotIn(set) => format!("{} not in ({})", req.key, values(set)),
        Operator::Exists => format!("with label {}", req.key),
        Operator::DoesNotExist => format!("without label {}", req.key),
    }
}

/// A selector's terms joined with ", " (all must hold): matchLabels sorted by key, then the
/// expressions in the order written. The empty selector reads "everything".
pub fn selector(sel: &Selector) -> String {
    if sel.is_empty() {
        return "everything".to_owned();
    }
    sel.match_labels
        .iter()
        .map(|(k, v)| label(k, v))
        .chain(sel.expressions.iter().map(requirement))
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when the selector is a plain set of `key=value` labels, so "has app=web" reads right.
pub(super) fn is_plain_labels(sel: &Selector) -> bool {
    sel.expressions.is_empty() && !sel.match_labels.is_empty()
}

/// A namespaceSelector that only looks at the automatic name label, i.e. names namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ByName {
    In(Vec<String>),
    NotIn(Vec<String>),
}

/// Recognises selectors on `kubernetes.io/metadata.name` alone. The API server sets that label
/// on every namespace to its name, so such a selector is a list of names.
/// <https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name>
pub(super) fn by_name(sel: &Selector) -> Option<ByName> {
    match (sel.match_labels.len(), sel.expressions.as_slice()) {
        (1, []) => sel
            .match_labels
            .get(NAMESPACE_NAME_LABEL)
            .map(|name| ByName::In(vec![name.clone()])),
        (0, [req]) if req.key == NAMESPACE_NAME_LABEL => match &req.operator {
            Operator::In(set) if !set.is_empty() => Some(ByName::In(set.iter().cloned().collect())),
            Operator::NotIn(set) if !set.is_empty() => {
                Some(ByName::NotIn(set.iter().cloned().collect()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Where a pods peer looks: "in production", "in any namespace", "in namespace kube-system",
/// "in namespaces team=ops".
pub fn namespace_scope(scope: &NamespaceScope, own_namespace: &str) -> String {
    match scope {
        NamespaceScope::Own => format!("in {own_namespace}"),
        NamespaceScope::Matching(sel) if sel.is_empty() => "in any namespace".to_owned(),
        NamespaceScope::Matching(sel) => match by_name(sel) {
            Some(ByName::In(names)) => format!("in namespace {}", join_or(&names)),
            Some(ByName::NotIn(names)) => format!("in any namespace except {}", join_and(&names)),
            None => format!("in namespaces {}", selector(sel)),
        },
    }
}

/// "all pods in production", "pods app=web in namespaces team=ops".
pub(super) fn pods(scope: &NamespaceScope, pods: &Selector, own_namespace: &str) -> String {
    let where_ = namespace_scope(scope, own_namespace);
    if pods.is_empty() {
        format!("all pods {where_}")
    } else {
        format!("pods {} {where_}", selector(pods))
    }
}

/// "addresses in 0.0.0.0/0 except 10.0.0.0/8, 172.16.0.0/12".
pub fn ip_block(cidr: &ipnet::IpNet, except: &[ipnet::IpNet]) -> String {
    if except.is_empty() {
        format!("addresses in {cidr}")
    } else {
        let except: Vec<String> = except.iter().map(ToString::to_string).collect();
        format!("addresses in {cidr} except {}", except.join(", "))
    }
}

/// One `from`/`to` item, without any note about the cluster.
pub fn peer(peer: &Peer, own_namespace: &str) -> String {
    match peer {
        Peer::Pods {
            namespaces: scope,
            pods: sel,
        } => pods(scope, sel, own_namespace),
        Peer::IpBlock { cidr, except } => ip_block(cidr, except),
    }
}

/// "TCP 80", "TCP 32000-32768", "TCP port named http", "any UDP port".
pub fn port(pm: &PortMatch) -> String {
    let proto = pm.protocol.as_str();
    match &pm.port {
        PortSpec::Any => format!("any {proto} port"),
        PortSpec::Range { first, last } if first == last => format!("{proto} {first}"),
        PortSpec::Range { first, last } => format!("{proto} {first}-{last}"),
        PortSpec::Named(name) => format!("{proto} port named {name}"),
    }
}

/// "on any port", "on TCP 80 and UDP 53". Repeated items are listed once, in the order written.
pub fn ports(ports: &Ports) -> String {
    match ports {
        Ports::Any => "on any port".to_owned(),
        // The model promises a non-empty list; an empty one would match no port at all.
        Ports::OneOf(list) if list.is_empty() => "on no port".to_owned(),
        Ports::OneOf(list) => {
            let mut items: Vec<String> = Vec::with_capacity(list.len());
            for pm in list {
                let item = port(pm);
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            format!("on {}", join_and(&items))
        }
    }
}
