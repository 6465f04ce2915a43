//! NetworkPolicies and label selectors. Quotes are from the NetworkPolicy API reference
//! (networking.k8s.io/v1) unless marked otherwise.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1 as k8s;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{name_of, namespace_of};
use crate::model::{
    NamespaceScope, Operator, Peer, Peers, Policy, PortMatch, PortSpec, Ports, Protocol,
    Requirement, Rule, Selector,
};
use crate::source::Span;
use crate::validate::ip;

/// A NetworkPolicy. Rule spans are left empty; [`super::build_cluster`] fills them in.
pub fn policy(np: &k8s::NetworkPolicy, span: Option<Span>) -> Policy {
    // A missing spec is the zero value in the API server (the Go field is a struct).
    let empty = k8s::NetworkPolicySpec::default();
    let spec = np.spec.as_ref().unwrap_or(&empty);
    let (ingress, egress) = effective_policy_types(spec);
    Policy {
        namespace: namespace_of(&np.metadata),
        name: name_of(&np.metadata),
        // "An empty podSelector matches all pods in this namespace." A missing podSelector
        // decodes to that empty selector (the Go field is not a pointer).
        subject: spec.pod_selector.as_ref().map(selector).unwrap_or_default(),
        ingress: ingress.then(|| {
            spec.ingress
                .iter()
                .flatten()
                .map(|r| rule(r.from.as_deref(), r.ports.as_deref()))
                .collect()
        }),
        egress: egress.then(|| {
            spec.egress
                .iter()
                .flatten()
                .map(|r| rule(r.to.as_deref(), r.ports.as_deref()))
                .collect()
        }),
        span,
    }
}

/// Whether the policy isolates (ingress, egress).
///
/// "If this field is not specified, it will default based on the existence of ingress or egress
/// rules; policies that contain an egress section are assumed to affect egress, and all
/// policies (whether or not they contain an ingress section) are assumed to affect ingress."
/// The defaulter (`SetDefaults_NetworkPolicy`) tests `len(policyTypes) == 0` and
/// `len(egress) != 0`, so an empty list counts as unset and `egress: []` is no egress section.
pub fn effective_policy_types(spec: &k8s::NetworkPolicySpec) -> (bool, bool) {
    match spec.policy_types.as_deref() {
        Some(types) if !types.is_empty() => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        _ => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
    }
}

fn rule(
    peers: Option<&[k8s::NetworkPolicyPeer]>,
    ports: Option<&[k8s::NetworkPolicyPort]>,
) -> Rule {
    Rule {
        // from: "If this field is empty or missing, this rule matches all sources (traffic not
        // restricted by source)." to: "... matches all destinations".
        peers: match peers {
            None | Some([]) => Peers::Any,
            Some(items) => Peers::OneOf(items.iter().filter_map(peer).collect()),
        },
        // ports: "If this field is empty or missing, this rule matches all ports (traffic not
        // restricted by port)."
        ports: match ports {
            None | Some([]) => Ports::Any,
            Some(items) => Ports::OneOf(items.iter().filter_map(port).collect()),
        },
        span: None,
    }
}

fn peer(item: &k8s::NetworkPolicyPeer) -> Option<Peer> {
    match (&item.pod_selector, &item.namespace_selector, &item.ip_block) {
        (None, None, Some(block)) => ip_block(block),
        // namespaceSelector: "if present but empty, it selects all namespaces. If podSelector is
        // also set, then the NetworkPolicyPeer as a whole selects the pods matching podSelector
        // in the namespaces selected by namespaceSelector. Otherwise it selects all pods in the
        // namespaces selected by namespaceSelector."
        (pods, Some(namespaces), None) => Some(Peer::Pods {
            namespaces: NamespaceScope::Matching(selector(namespaces)),
            pods: pods.as_ref().map(selector).unwrap_or_default(),
        }),
        // podSelector: "if present but empty, it selects all pods. ... Otherwise it selects the
        // pods matching podSelector in the policy's own namespace."
        (Some(pods), None, None) => Some(Peer::Pods {
            namespaces: NamespaceScope::Own,
            pods: selector(pods),
        }),
        // An empty item, or ipBlock next to a selector: rejected by validation (P230).
        _ => None,
    }
}

/// ipBlock: "except is a slice of CIDRs that should not be included within an IPBlock".
/// cidr and except are read the way the API server reads them, host bits cleared (Go's
/// `net.ParseCIDR` masks `10.1.2.3/8` to `10.0.0.0/8`, and the API accepts it with a warning).
fn ip_block(block: &k8s::IPBlock) -> Option<Peer> {
    let cidr = ip::parse_cidr(&block.cidr)?.net;
    // An unreadable except entry would widen the block if skipped: drop the whole peer.
    let except = block
        .except
        .iter()
        .flatten()
        .map(|e| ip::parse_cidr(e).map(|c| c.net))
        .collect::<Option<Vec<_>>>()?;
    Some(Peer::IpBlock { cidr, except })
}

fn port(item: &k8s::NetworkPolicyPort) -> Option<PortMatch> {
    // protocol: "If not specified, this field defaults to TCP." Only a missing value is
    // defaulted; anything but TCP/UDP/SCTP was rejected by validation.
    let protocol = match item.protocol.as_deref() {
        None => Protocol::Tcp,
        Some(p) => Protocol::from_api(p)?,
    };
    let port = match (&item.port, item.end_port) {
        // port: "If this field is not provided, this matches all port names and numbers."
        (None, None) => PortSpec::Any,
        // endPort: "This field cannot be defined if the port field is not defined or if the port
        // field is defined as a named (string) port. The endPort must be equal or greater than
        // port." Such items were rejected by validation (P223).
        (None, Some(_)) => return None,
        (Some(IntOrString::Int(first)), end) => {
            let first = port_number(*first)?;
            let last = match end {
                None => first,
                Some(end) => port_number(end).filter(|&last| last >= first)?,
            };
            PortSpec::Range { first, last }
        }
        (Some(IntOrString::String(name)), None) => PortSpec::Named(name.clone()),
        (Some(IntOrString::String(_)), Some(_)) => return None,
    };
    Some(PortMatch { protocol, port })
}

fn port_number(n: i32) -> Option<u16> {
    u16::try_from(n).ok().filter(|&n| n != 0)
}

/// A label selector: "The result of matchLabels and matchExpressions are ANDed. An empty label
/// selector matches all objects." (LabelSelector API reference)
pub fn selector(sel: &LabelSelector) -> Selector {
    Selector {
        match_labels: sel.match_labels.clone().unwrap_or_default(),
        expressions: sel
            .match_expressions
            .iter()
            .flatten()
            .map(requirement)
            .collect(),
    }
}

fn requirement(req: &LabelSelectorRequirement) -> Requirement {
    let values: BTreeSet<String> = req.values.iter().flatten().cloned().collect();
    // "If the operator is In or NotIn, the values array must be non-empty. If the operator is
    // Exists or DoesNotExist, the values array must be empty." Anything else was rejected by
    // validation (P207, P208) and becomes a requirement that matches nothing.
    let nothing = || Operator::In(BTreeSet::new());
    let operator = match req.operator.as_str() {
        "In" if !values.is_empty() => Operator::In(values),
        "NotIn" if !values.is_empty() => Operator::NotIn(values),
        "Exists" if values.is_empty() => Operator::Exists,
        "DoesNotExist" if values.is_empty() => Operator::DoesNotExist,
        _ => nothing(),
    };
    Requirement {
        key: req.key.clone(),
        operator,
    }
}
