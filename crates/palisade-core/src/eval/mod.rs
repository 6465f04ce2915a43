//! Evaluation of one connection: which side isolates, which rule allows, and why.
//!
//! ```text
//!   evaluate(cluster, from, to, probe) -> Verdict
//!     1. from == to (a pod)              -> allowed, SamePod on both sides
//!     2. hostNetwork pod <-> pod, same node -> allowed (node traffic), HostNetwork / OwnNode
//!     3. egress side  = side(from, peer = to)    ┐ each: NotAPod | HostNetwork | NotIsolated
//!     4. ingress side = side(to,   peer = from)  ┘       | Allowed{rules} | Denied{policies, near misses}
//!     allowed = egress allows && ingress allows
//! ```
//!
//! The order above is the order of evaluators: the first two decide alone; otherwise both sides
//! must allow (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation>).
//! Policies are additive: a side allows iff some rule of some isolating policy matches both the
//! peer and the port, so policy order never matters. This is the exact, slow path; the
//! primitives live in [`matching`], the wording of reasons in [`explain`].

pub mod explain;
pub mod matching;
pub mod ports;
mod sides;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::model::{Cluster, Direction, Peer, Peers, Protocol};
pub use matching::{
    endpoint_ips, ip_block_contains, isolating_policies, matching_peers, matching_ports,
    namespace_labels, peer_matches, policy_pod, port_matches, resolve_named_port,
    same_node_host_traffic, selects,
};
pub use ports::PortSet;
pub use sides::side_ports;

/// One side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Index into [`Cluster::pods`].
    Pod(usize),
    /// A non-pod address.
    External(IpAddr),
}

/// A connection attempt to a numeric port (`tcp/80`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Probe {
    pub protocol: Protocol,
    pub port: u16,
}

impl fmt::Display for Probe {
    /// `TCP 80`, the notation [`PortSet`] uses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.protocol, self.port)
    }
}

impl FromStr for Probe {
    type Err = String;

    /// `tcp/80`, `UDP/53`, `sctp/9` (protocol case-insensitive, port 0-65535).
    fn from_str(s: &str) -> Result<Probe, String> {
        let (protocol, port) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid probe `{s}`: expected PROTOCOL/PORT, e.g. tcp/80"))?;
        let protocol = Protocol::from_api(&protocol.to_ascii_uppercase())
            .ok_or_else(|| format!("invalid probe `{s}`: protocol must be tcp, udp or sctp"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("invalid probe `{s}`: port must be a number from 0 to 65535"))?;
        Ok(Probe { protocol, port })
    }
}

/// The answer to "may `from` open a connection to `to` on `probe`?", with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The source's side (its egress policies).
    pub egress: SideVerdict,
    /// The destination's side (its ingress policies).
    pub ingress: SideVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideVerdict {
    /// This side imposes nothing, for the given reason.
    Unrestricted(Unrestricted),
    /// Policies isolate this side and these rules allow the connection.
    Allowed { by: Vec<RuleRef> },
    /// These policies (indices into [`Cluster::policies`]) isolate this side and none of their
    /// rules allows the connection; `near_misses` explains the rules that came closest.
    Denied {
        isolated_by: Vec<usize>,
        near_misses: Vec<NearMiss>,
    },
}

impl SideVerdict {
    /// Whether this side lets the connection through.
    pub fn allows(&self) -> bool {
        !matches!(self, SideVerdict::Denied { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrestricted {
    /// No policy in the pod's namespace selects it for this direction.
    NotIsolated,
    /// The endpoint is not a pod: a non-pod side imposes nothing.
    NotAPod,
    /// hostNetwork pods are not subject to NetworkPolicy.
    HostNetwork,
    /// A pod may always reach itself.
    SamePod,
    /// The other side is a hostNetwork pod on this pod's node: traffic between a pod and its
    /// own node is always allowed.
    OwnNode,
}

/// One rule of one policy, and the peer and port items of it that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleRef {
    /// Index into [`Cluster::policies`].
    pub policy: usize,
    pub direction: Direction,
    /// Index into the policy's rules for `direction`.
    pub rule: usize,
    /// Index of the matching `from`/`to` item; `None` when the rule has no peers (all match).
    pub peer: Option<usize>,
    /// Index of the matching `ports` item; `None` when the rule has no ports (all match).
    pub port: Option<usize>,
}

/// A rule that did not allow the connection, and what was missing.
///
/// Two kinds are reported: the peer matched but the port did not (`rule.peer` names the
/// matching item, `rule.port` is `None`), or the port matched but no peer item did
/// (`rule.port` names the matching item, `rule.peer` is `None`). Rules that miss on both
/// counts are not near misses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub rule: RuleRef,
    /// e.g. "the peer matches but the rule allows only TCP 5432".
    pub reason: String,
}

/// Decides one connection with every reason. Exact, slow path: used by `why` and as the oracle
/// the fast all-pairs computation in [`crate::reach`] is tested against.
///
/// A pod index out of range is treated as a non-pod endpoint without an address.
pub fn evaluate(cluster: &Cluster, from: Endpoint, to: Endpoint, probe: Probe) -> Verdict {
    if let Endpoint::Pod(i) = from
        && from == to
        && i < cluster.pods.len()
    {
        let side = SideVerdict::Unrestricted(Unrestricted::SamePod);
        return Verdict {
            allowed: true,
            egress: side.clone(),
            ingress: side,
        };
    }
    if same_node_host_traffic(cluster, from, to) {
        let side = |ep| {
            let host = matching::endpoint_pod(cluster, ep).is_some_and(|p| p.host_network);
            SideVerdict::Unrestricted(if host {
                Unrestricted::HostNetwork
            } else {
                Unrestricted::OwnNode
            })
        };
        return Verdict {
            allowed: true,
            egress: side(from),
            ingress: side(to),
        };
    }
    let egress = side(cluster, Direction::Egress, from, to, to, probe);
    let ingress = side(cluster, Direction::Ingress, to, from, to, probe);
    Verdict {
        allowed: egress.allows() && ingress.allows(),
        egress,
        ingress,
    }
}

/// One side: `subject` is the pod whose policies decide, `peer` the other end, `dest` the
/// destination (where ports, named ones included, are resolved).
fn side(
    cluster: &Cluster,
    direction: Direction,
    subject: Endpoint,
    peer: Endpoint,
    dest: Endpoint,
    probe: Probe,
) -> SideVerdict {
    let pod_index = match subject {
        Endpoint::Pod(i) if i < cluster.pods.len() => i,
        _ => return SideVerdict::Unrestricted(Unrestricted::NotAPod),
    };
    if cluster.pods.get(pod_index).is_some_and(|p| p.host_network) {
        return SideVerdict::Unrestricted(Unrestricted::HostNetwork);
    }
    let isolated_by = isolating_policies(cluster, pod_index, direction);
    if isolated_by.is_empty() {
        return SideVerdict::Unrestricted(Unrestricted::NotIsolated);
    }
    let mut by = Vec::new();
    let mut near_misses = Vec::new();
    for &policy_index in &isolated_by {
        let Some(policy) = cluster.policies.get(policy_index) else {
            continue;
        };
        for (rule_index, rule) in policy
            .rules(direction)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let peers = matching_peers(cluster, policy, &rule.peers, peer);
            let ports = matching_ports(cluster, &rule.ports, dest, probe);
            let base = RuleRef {
                policy: policy_index,
                direction,
                rule: rule_index,
                peer: None,
                port: None,
            };
            match (peers.first(), ports.first()) {
                (Some(_), Some(_)) => {
                    for &p in &peers {
                        for &q in &ports {
                            by.push(RuleRef {
                                peer: p,
                                port: q,
                                ..base
                            });
                        }
                    }
                }
                (Some(&p), None) => near_misses.push(NearMiss {
                    rule: RuleRef { peer: p, ..base },
                    reason: reasons::port_missed(
                        cluster, policy, rule, direction, peer, dest, p, probe,
                    ),
                }),
                (None, Some(&q)) => near_misses.push(NearMiss {
                    rule: RuleRef { port: q, ..base },
                    reason: reasons::peer_missed(cluster, policy, rule, direction, peer, probe),
                }),
                (None, None) => {}
            }
        }
    }
    if by.is_empty() {
        SideVerdict::Denied {
            isolated_by,
            near_misses,
        }
    } else {
        by.sort_unstable();
        SideVerdict::Allowed { by }
    }
}

/// The sentences of near misses.
mod reasons {
    use super::*;
    use crate::model::{NamespaceScope, Policy, Rule};

    fn role(direction: Direction) -> &'static str {
        match direction {
            Direction::Ingress => "source",
            Direction::Egress => "destination",
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn port_missed(
        cluster: &Cluster,
        policy: &Policy,
        rule: &Rule,
        direction: Direction,
        peer: Endpoint,
        dest: Endpoint,
        matched: Option<usize>,
        probe: Probe,
    ) -> String {
        let allowed = explain::ports(cluster, &rule.ports, dest);
        let who = explain::endpoint(cluster, peer);
        let matched = match (&rule.peers, matched) {
            (Peers::OneOf(items), Some(i)) => items.get(i),
            _ => None,
        };
        match matched {
            Some(item) => format!(
                "the {} {who} matches {}, but this rule allows only {allowed}, not {probe}",
                role(direction),
                explain::peer(policy, item)
            ),
            None => format!(
                "this rule accepts every {} but allows only {allowed}, not {probe}",
                role(direction)
            ),
        }
    }

    pub(super) fn peer_missed(
        cluster: &Cluster,
        policy: &Policy,
        rule: &Rule,
        direction: Direction,
        peer: Endpoint,
        probe: Probe,
    ) -> String {
        let who = explain::endpoint(cluster, peer);
        let Peers::OneOf(items) = &rule.peers else {
            // Unreachable: a rule without peers matches every peer.
            return format!(
                "{probe} matches this rule but the {} does not",
                role(direction)
            );
        };
        let described: Vec<String> = items.iter().map(|i| explain::peer(policy, i)).collect();
        let mut s = format!(
            "{probe} matches this rule's ports, but the {} {who} is none of: {}",
            role(direction),
            described.join("; ")
        );
        if let Some(hint) = hint(cluster, policy, items, peer) {
            s.push_str(" (");
            s.push_str(&hint);
            s.push(')');
        }
        s
    }

    /// The most likely reason a peer item was expected to match and did not.
    fn hint(cluster: &Cluster, policy: &Policy, items: &[Peer], peer: Endpoint) -> Option<String> {
        let has_selector = items.iter().any(|i| matches!(i, Peer::Pods { .. }));
        let has_block = items.iter().any(|i| matches!(i, Peer::IpBlock { .. }));
        let pod = matching::endpoint_pod(cluster, peer);
        let who = explain::endpoint(cluster, peer);
        match pod {
            None if has_selector => {
                return Some(
                    "pod and namespace selectors never match a non-pod address".to_string(),
                );
            }
            Some(p) if p.host_network && has_selector => {
                return Some(format!(
                    "{who} uses hostNetwork: it counts as node traffic, which only an ipBlock can match"
                ));
            }
            Some(p) if p.ips.is_empty() && has_block => {
                return Some(format!("{who} has no IP, so no ipBlock can match it"));
            }
            _ => {}
        }
        for item in items {
            let Peer::Pods { namespaces, pods } = item else {
                continue;
            };
            match namespaces {
                NamespaceScope::Own => {
                    if let Some(p) = pod
                        && p.namespace != policy.namespace
                        && pods.matches(&p.labels)
                    {
                        return Some(format!(
                            "a podSelector without a namespaceSelector only matches pods in namespace {}",
                            policy.namespace
                        ));
                    }
                }
                NamespaceScope::Matching(sel) => {
                    let any_ns = cluster.namespaces.iter().any(|ns| sel.matches(&ns.labels));
                    if !any_ns {
                        return Some(format!("no namespace matches {}", explain::selector(sel)));
                    }
                }
            }
        }
        None
    }
}
