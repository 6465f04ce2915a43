//! palisade's own model of a cluster: the only types the engine sees.
//!
//! ```text
//!   Cluster ─┬─ Namespace (name, labels)
//!            ├─ Pod ──────── namespace, labels, ips, ports (named container ports), node,
//!            │                 owner (its controller, from ownerReferences)
//!            └─ Policy ───── namespace, subject: Selector
//!                  ├─ ingress: Option<Vec<Rule>>   None = this policy does not isolate ingress
//!                  └─ egress:  Option<Vec<Rule>>   Some(vec![]) = isolates and allows nothing
//!                        Rule ── peers: Peers (Any | OneOf(Peer...)), ports: Ports (Any | OneOf(PortMatch...))
//!                                   Peer ── Pods { namespaces: Own | Matching(Selector), pods: Selector }
//!                                         └ IpBlock { cidr, except }
//! ```
//!
//! Kubernetes objects are converted into these types once, in [`convert`], where every API
//! default is spelled out. Nothing downstream of this module knows about k8s-openapi.

pub mod convert;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::source::Span;

pub type Labels = BTreeMap<String, String>;

/// The whole inventory the engine reasons about.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Sorted by name; includes namespaces that were only referenced (with the automatic
    /// `kubernetes.io/metadata.name` label).
    pub namespaces: Vec<Namespace>,
    /// Sorted by (namespace, name).
    pub pods: Vec<Pod>,
    /// Sorted by (namespace, name).
    pub policies: Vec<Policy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
    /// False when the namespace was only referenced by another object.
    pub declared: bool,
    pub span: Option<Span>,
}

/// Where a pod came from: a Pod object or the template of a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodOrigin {
    Pod,
    /// e.g. `Deployment`; the pod stands for every replica of the workload.
    Template {
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    /// From `status.podIPs` (or `status.podIP`); empty when the pod has no address yet.
    pub ips: Vec<IpAddr>,
    pub node: Option<String>,
    /// hostNetwork pods are not subject to NetworkPolicy.
    pub host_network: bool,
    pub ports: Vec<ContainerPort>,
    pub origin: PodOrigin,
    /// The controller that manages the pod, from `metadata.ownerReferences`, followed up the
    /// chain as far as the input shows it (a ReplicaSet given in the input with its own
    /// Deployment owner stands for that Deployment). `None` for a pod without a controller
    /// and for a workload template.
    pub owner: Option<Owner>,
    pub span: Option<Span>,
}

/// A controller, as an owner reference names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `ReplicaSet`, `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`...
    pub kind: String,
    pub name: String,
}

impl Pod {
    /// `namespace/name`, the way endpoints are named in every output.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The API spelling (`TCP`, `UDP`, `SCTP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    /// Parses the API spelling, which is case-sensitive.
    pub fn from_api(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    /// Pods of `namespace` this policy applies to.
    pub subject: Selector,
    /// `Some` iff `Ingress` is in the effective policyTypes.
    pub ingress: Option<Vec<Rule>>,
    /// `Some` iff `Egress` is in the effective policyTypes.
    pub egress: Option<Vec<Rule>>,
    pub span: Option<Span>,
}

impl Policy {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn rules(&self, direction: Direction) -> Option<&[Rule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// One element of `spec.ingress` or `spec.egress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The `from` (ingress) or `to` (egress) list.
    pub peers: Peers,
    pub ports: Ports,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// `from`/`to` missing or empty: every source/destination, pods and non-pods.
    Any,
    /// Non-empty list: a peer matches if any item matches.
    OneOf(Vec<Peer>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// podSelector and/or namespaceSelector. Never matches a non-pod address.
    Pods {
        namespaces: NamespaceScope,
        pods: Selector,
    },
    /// Addresses in `cidr` but in none of `except`. Matches pod IPs too.
    IpBlock { cidr: IpNet, except: Vec<IpNet> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// No namespaceSelector: the policy's own namespace.
    Own,
    /// A namespaceSelector (the empty selector means every namespace).
    Matching(Selector),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ports {
    /// `ports` missing or empty: every port of every protocol.
    Any,
    /// Non-empty list: matches if any item matches.
    OneOf(Vec<PortMatch>),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortMatch {
    pub protocol: Protocol,
    pub port: PortSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortSpec {
    /// No `port`: every port of the protocol.
    Any,
    /// `port` (and `endPort`, inclusive); `first == last` for a single port.
    Range { first: u16, last: u16 },
    /// A named port, resolved on the destination pod by name and protocol.
    Named(String),
}

/// A label selector: `match_labels` AND every expression.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Selector {
    pub match_labels: Labels,
    pub expressions: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    In(BTreeSet<String>),
    /// Also matches objects that lack the key.
    NotIn(BTreeSet<String>),
    Exists,
    /// Matches objects that lack the key.
    DoesNotExist,
}

impl Selector {
    /// The empty selector, which matches everything.
    pub fn everything() -> Selector {
        Selector::default()
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.expressions.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match &self.operator {
            Operator::In(values) => value.is_some_and(|v| values.contains(v)),
            Operator::NotIn(values) => value.is_none_or(|v| !values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// The label the API server puts on every namespace.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
