//! Builders for model objects, in the style of kube-network-policies' test helpers: a
//! constructor with sensible defaults plus a tweak closure that changes only what a test is
//! about.
//!
//! ```text
//!   mk_cluster(vec![mk_ns("prod", |n| n.labels.extend(labels(&[("env", "prod")])))],
//!              vec![pod("prod", "web", &[("app", "web")], "10.0.0.1")],
//!              vec![mk_policy("prod", "allow-web", |p| {
//!                  p.subject = sel(&[("app", "web")]);
//!                  p.ingress = Some(vec![rule(vec![pods(sel(&[("app", "api")]))], vec![tcp(80)])]);
//!              })])
//! ```

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use palisade_core::model::{
    Cluster, ContainerPort, Labels, NAMESPACE_NAME_LABEL, Namespace, NamespaceScope, Operator,
    Peer, Peers, Pod, PodOrigin, Policy, PortMatch, PortSpec, Ports, Protocol, Requirement, Rule,
    Selector,
};

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("bad IP literal {s:?}: {e}"))
}

pub fn net(s: &str) -> IpNet {
    s.parse()
        .unwrap_or_else(|e| panic!("bad CIDR literal {s:?}: {e}"))
}

/// A declared namespace with the `kubernetes.io/metadata.name` label the API server adds.
pub fn mk_ns(name: &str, tweak: impl FnOnce(&mut Namespace)) -> Namespace {
    let mut ns = Namespace {
        name: name.to_string(),
        labels: labels(&[(NAMESPACE_NAME_LABEL, name)]),
        declared: true,
        span: None,
    };
    tweak(&mut ns);
    ns
}

/// A namespace with extra labels.
pub fn ns(name: &str, extra: &[(&str, &str)]) -> Namespace {
    mk_ns(name, |n| n.labels.extend(labels(extra)))
}

/// A pod with no labels, no IP, no ports, not hostNetwork, no node.
pub fn mk_pod(namespace: &str, name: &str, tweak: impl FnOnce(&mut Pod)) -> Pod {
    let mut pod = Pod {
        namespace: namespace.to_string(),
        name: name.to_string(),
        labels: Labels::new(),
        ips: Vec::new(),
        node: None,
        host_network: false,
        ports: Vec::new(),
        origin: PodOrigin::Pod,
        owner: None,
        span: None,
    };
    tweak(&mut pod);
    pod
}

/// A pod with labels and one IP (`""` for none).
pub fn pod(namespace: &str, name: &str, pairs: &[(&str, &str)], address: &str) -> Pod {
    mk_pod(namespace, name, |p| {
        p.labels = labels(pairs);
        if !address.is_empty() {
            p.ips = vec![ip(address)];
        }
    })
}

/// A declared container port.
pub fn cport(name: &str, protocol: Protocol, port: u16) -> ContainerPort {
    ContainerPort {
        name: (!name.is_empty()).then(|| name.to_string()),
        port,
        protocol,
    }
}

/// A policy as an empty `spec` gives it: selects every pod of its namespace and isolates
/// ingress with no rules (policyTypes defaults to Ingress).
pub fn mk_policy(namespace: &str, name: &str, tweak: impl FnOnce(&mut Policy)) -> Policy {
    let mut policy = Policy {
        namespace: namespace.to_string(),
        name: name.to_string(),
        subject: Selector::everything(),
        ingress: Some(Vec::new()),
        egress: None,
        span: None,
    };
    tweak(&mut policy);
    policy
}

/// `matchLabels` only.
pub fn sel(pairs: &[(&str, &str)]) -> Selector {
    Selector {
        match_labels: labels(pairs),
        expressions: Vec::new(),
    }
}

/// A selector with `matchLabels` and `matchExpressions`.
pub fn sel_expr(pairs: &[(&str, &str)], expressions: Vec<Requirement>) -> Selector {
    Selector {
        match_labels: labels(pairs),
        expressions,
    }
}

fn values(vs: &[&str]) -> BTreeSet<String> {
    vs.iter().map(|v| v.to_string()).collect()
}

pub fn key_in(key: &str, vs: &[&str]) -> Requirement {
    Requirement {
        key: key.to_string(),
        operator: Operator::In(values(vs)),
    }
}

pub fn key_not_in(key: &str, vs: &[&str]) -> Requirement {
    Requirement {
        key: key.to_string(),
        operator: Operator::NotIn(values(vs)),
    }
}

pub fn exists(key: &str) -> Requirement {
    Requirement {
        key: key.to_string(),
        operator: Operator::Exists,
    }
}

pub fn does_not_exist(key: &str) -> Requirement {
    Requirement {
        key: key.to_string(),
        operator: Operator::DoesNotExist,
    }
}

/// `podSelector` alone: pods of the policy's namespace.
pub fn pods(selector: Selector) -> Peer {
    Peer::Pods {
        namespaces: NamespaceScope::Own,
        pods: selector,
    }
}

/// `namespaceSelector` alone: every pod of the matching namespaces.
pub fn namespaces(selector: Selector) -> Peer {
    Peer::Pods {
        namespaces: NamespaceScope::Matching(selector),
        pods: Selector::everything(),
    }
}

/// `namespaceSelector` and `podSelector` in ONE item: pods matching both.
pub fn pods_in(namespaces: Selector, pods: Selector) -> Peer {
    Peer::Pods {
        namespaces: NamespaceScope::Matching(namespaces),
        pods,
    }
}

pub fn ip_block(cidr: &str, except: &[&str]) -> Peer {
    Peer::IpBlock {
        cidr: net(cidr),
        except: except.iter().map(|e| net(e)).collect(),
    }
}

pub fn port(protocol: Protocol, number: u16) -> PortMatch {
    PortMatch {
        protocol,
        port: PortSpec::Range {
            first: number,
            last: number,
        },
    }
}

pub fn tcp(number: u16) -> PortMatch {
    port(Protocol::Tcp, number)
}

pub fn udp(number: u16) -> PortMatch {
    port(Protocol::Udp, number)
}

pub fn sctp(number: u16) -> PortMatch {
    port(Protocol::Sctp, number)
}

/// `port` + `endPort`.
pub fn port_range(protocol: Protocol, first: u16, last: u16) -> PortMatch {
    PortMatch {
        protocol,
        port: PortSpec::Range { first, last },
    }
}

/// A `ports` item with a protocol and no port: every port of the protocol.
pub fn any_port(protocol: Protocol) -> PortMatch {
    PortMatch {
        protocol,
        port: PortSpec::Any,
    }
}

pub fn named(protocol: Protocol, name: &str) -> PortMatch {
    PortMatch {
        protocol,
        port: PortSpec::Named(name.to_string()),
    }
}

/// A rule; an empty list stands for a missing field (every peer / every port).
pub fn rule(peers: Vec<Peer>, ports: Vec<PortMatch>) -> Rule {
    Rule {
        peers: if peers.is_empty() {
            Peers::Any
        } else {
            Peers::OneOf(peers)
        },
        ports: if ports.is_empty() {
            Ports::Any
        } else {
            Ports::OneOf(ports)
        },
        span: None,
    }
}

/// A cluster as the converter would produce it: sorted, and with every namespace named by a
/// pod or policy present (undeclared ones get only the automatic name label).
pub fn mk_cluster(namespaces: Vec<Namespace>, pods: Vec<Pod>, policies: Vec<Policy>) -> Cluster {
    let mut cluster = Cluster {
        namespaces,
        pods,
        policies,
    };
    let named: Vec<String> = cluster
        .pods
        .iter()
        .map(|p| p.namespace.clone())
        .chain(cluster.policies.iter().map(|p| p.namespace.clone()))
        .collect();
    for name in named {
        if !cluster.namespaces.iter().any(|n| n.name == name) {
            let mut ns = mk_ns(&name, |_| {});
            ns.declared = false;
            cluster.namespaces.push(ns);
        }
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
