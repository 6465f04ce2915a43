//! Short phrases for verdict reasons: selectors, peers, ports and endpoints in plain words.
//!
//! Used by the near-miss sentences of [`super::evaluate`]; kept public so `why` and `explain`
//! print objects the same way.

use std::fmt::Write as _;

use crate::model::{
    Cluster, NamespaceScope, Operator, Peer, Policy, PortMatch, PortSpec, Ports, Selector,
};

use super::matching::{policy_pod, resolve_named_port};
use super::{Endpoint, PortSet};

/// A selector in kubectl's notation: `app=web,tier in (api,db),!legacy`; empty for the empty
/// selector (callers say "every pod" / "every namespace" instead).
pub fn selector(sel: &Selector) -> String {
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for req in &sel.expressions {
        let key = &req.key;
        parts.push(match &req.operator {
            Operator::In(values) => format!("{key} in ({})", join(values)),
            Operator::NotIn(values) => format!("{key} notin ({})", join(values)),
            Operator::Exists => key.clone(),
            Operator::DoesNotExist => format!("!{key}"),
        });
    }
    parts.join(",")
}

fn join<'a>(values: impl IntoIterator<Item = &'a String>) -> String {
    values
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// One `from`/`to` item of `policy`, e.g. "pods matching app=web in namespace prod".
pub fn peer(policy: &Policy, peer: &Peer) -> String {
    match peer {
        Peer::Pods { namespaces, pods } => {
            let who = if pods.is_empty() {
                "every pod".to_string()
            } else {
                format!("pods matching {}", selector(pods))
            };
            match namespaces {
                NamespaceScope::Own => format!("{who} in namespace {}", policy.namespace),
                NamespaceScope::Matching(ns) if ns.is_empty() => {
                    format!("{who} in every namespace")
                }
                NamespaceScope::Matching(ns) => {
                    format!("{who} in namespaces matching {}", selector(ns))
                }
            }
        }
        Peer::IpBlock { cidr, except } => {
            let mut s = format!("addresses in {cidr}");
            if !except.is_empty() {
                let except: Vec<String> = except.iter().map(ToString::to_string).collect();
                let _ = write!(s, " except {}", except.join(", "));
            }
            s
        }
    }
}

/// The name of an endpoint as every output shows it: `namespace/name` or the address.
pub fn endpoint(cluster: &Cluster, endpoint: Endpoint) -> String {
    match endpoint {
        Endpoint::Pod(i) => cluster
            .pods
            .get(i)
            .map_or_else(|| format!("pod #{i}"), |p| p.key()),
        Endpoint::External(ip) => ip.to_string(),
    }
}

/// A rule's `ports` towards `dest`, with named ports resolved: "TCP 5432, TCP port \"http\"
/// (8080 on prod/web)".
pub fn ports(cluster: &Cluster, ports: &Ports, dest: Endpoint) -> String {
    let Ports::OneOf(items) = ports else {
        return "every port".to_string();
    };
    let parts: Vec<String> = items
        .iter()
        .map(|item| port_item(cluster, item, dest))
        .collect();
    parts.join(", ")
}

fn port_item(cluster: &Cluster, item: &PortMatch, dest: Endpoint) -> String {
    let protocol = item.protocol;
    match &item.port {
        PortSpec::Any => format!("every {protocol} port"),
        PortSpec::Range { first, last } => PortSet::range(protocol, *first, *last).to_string(),
        PortSpec::Named(name) => {
            let resolved = resolve_named_port(cluster, dest, name, item);
            let dest_name = endpoint(cluster, dest);
            if resolved.is_empty() {
                if policy_pod(cluster, dest).is_some() {
                    format!("{protocol} port \"{name}\" (not declared by {dest_name})")
                } else {
                    format!(
                        "{protocol} port \"{name}\" (a named port never matches {dest_name}, which is not a policy pod)"
                    )
                }
            } else {
                let numbers: Vec<String> = resolved.iter().map(ToString::to_string).collect();
                format!(
                    "{protocol} port \"{name}\" ({} on {dest_name})",
                    numbers.join(",")
                )
            }
        }
    }
}
