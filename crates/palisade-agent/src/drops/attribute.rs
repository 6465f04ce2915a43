//! A logged packet -> a [`DropEvent`]: who sent it, to whom, and which policies dropped it.
//!
//! ```text
//!   prefix "palisade in-prod-allow-db-.." ─parse_log_prefix─> direction, chain (or the guard)
//!   src, dst ─View::endpoint─> pod (ns/name) or address
//!   evaluate(cluster, src, dst, probe) ─> the policed side: Denied { isolated_by, near_misses }
//!                                          -> policies, and why each rule missed
//! ```
//!
//! The kernel decided with the ruleset in force; the agent explains with the cluster that
//! ruleset was compiled from, through the same `evaluate` that `palisade why` uses, so the two
//! always tell the same story. When the view has moved on since (the drop predates a change),
//! the event says so instead of inventing a reason.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use palisade_core::eval::{Endpoint, Probe, SideVerdict, evaluate, isolating_policies};
use palisade_core::model::{Cluster, Direction, Protocol};
use palisade_nft::{Ruleset, parse_log_prefix};

use super::nflog::{LoggedPacket, protocol_name};

/// The cluster and ruleset in force, with pod addresses indexed.
///
/// The index is built on first use, by the thread that attributes a drop, not by the agent
/// when it hands a new view over after every pass: that keeps a pass's cost independent of
/// the number of pods, and a view no drop asks about is never indexed.
#[derive(Debug, Clone)]
pub struct View {
    cluster: Arc<Cluster>,
    ruleset: Option<Arc<Ruleset>>,
    by_ip: OnceLock<HashMap<IpAddr, usize>>,
}

impl View {
    pub fn new(cluster: Arc<Cluster>, ruleset: Option<Arc<Ruleset>>) -> View {
        View {
            cluster,
            ruleset,
            by_ip: OnceLock::new(),
        }
    }

    fn by_ip(&self) -> &HashMap<IpAddr, usize> {
        self.by_ip.get_or_init(|| {
            let cluster = &self.cluster;
            let mut by_ip = HashMap::new();
            for (i, pod) in cluster.pods.iter().enumerate() {
                // A hostNetwork pod carries its node's address; a pod network pod owns its own.
                for ip in &pod.ips {
                    let slot = by_ip.entry(*ip).or_insert(i);
                    if cluster.pods.get(*slot).is_some_and(|p| p.host_network) && !pod.host_network
                    {
                        *slot = i;
                    }
                }
            }
            by_ip
        })
    }

    pub fn ruleset(&self) -> Option<&Ruleset> {
        self.ruleset.as_deref()
    }

    fn endpoint(&self, ip: IpAddr) -> Endpoint {
        match self.by_ip().get(&ip) {
            Some(&i) => Endpoint::Pod(i),
            None => Endpoint::External(ip),
        }
    }

    fn name(&self, endpoint: Endpoint) -> (String, Option<String>) {
        match endpoint {
            Endpoint::Pod(i) => match self.cluster.pods.get(i) {
                Some(pod) => (pod.key(), Some(pod.namespace.clone())),
                None => (String::new(), None),
            },
            Endpoint::External(ip) => (ip.to_string(), None),
        }
    }

    fn policy_key(&self, index: usize) -> Option<String> {
        self.cluster.policies.get(index).map(|p| p.key())
    }
}

/// One dropped packet, explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropEvent {
    /// Egress: the source pod's policies dropped it; ingress: the destination pod's.
    pub direction: Direction,
    /// `namespace/name` of the source pod, or its address.
    pub src: String,
    pub src_ip: IpAddr,
    pub dst: String,
    pub dst_ip: IpAddr,
    pub protocol: String,
    pub port: Option<u16>,
    /// Namespace of the policed pod (empty when it is no known pod).
    pub namespace: String,
    /// The policies (`namespace/name`) isolating the policed pod with no rule matching.
    pub policies: Vec<String>,
    /// Why the closest rules did not match (evaluate's near misses).
    pub reasons: Vec<String>,
    /// Dropped by the fail-closed guard (an address no known pod owns, while an isolated
    /// pod is pending).
    pub guard: bool,
    /// The chain that dropped it.
    pub chain: String,
    /// Set when the agent's view does not explain the drop.
    pub note: Option<String>,
}

impl DropEvent {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "direction": self.direction.as_str(),
            "src": self.src,
            "src_ip": self.src_ip.to_string(),
            "dst": self.dst,
            "dst_ip": self.dst_ip.to_string(),
            "protocol": self.protocol,
            "port": self.port,
            "namespace": self.namespace,
            "policies": self.policies,
            "reasons": self.reasons,
            "guard": self.guard,
            "chain": self.chain,
            "note": self.note,
        })
    }
}

fn probe(packet: &LoggedPacket) -> Option<Probe> {
    let protocol = match packet.protocol {
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        132 => Protocol::Sctp,
        _ => return None,
    };
    Some(Probe {
        protocol,
        port: packet.port?,
    })
}

/// Explains `packet`; `None` when its prefix is not palisade's.
pub fn attribute(view: &View, packet: &LoggedPacket) -> Option<DropEvent> {
    let source = parse_log_prefix(&packet.prefix)?;
    let from = view.endpoint(packet.src);
    let to = view.endpoint(packet.dst);
    let (src, src_ns) = view.name(from);
    let (dst, dst_ns) = view.name(to);
    let (policed, namespace) = match source.direction {
        Direction::Egress => (from, src_ns),
        Direction::Ingress => (to, dst_ns),
    };
    let mut event = DropEvent {
        direction: source.direction,
        src,
        src_ip: packet.src,
        dst,
        dst_ip: packet.dst,
        protocol: protocol_name(packet.protocol),
        port: packet.port,
        namespace: namespace.unwrap_or_default(),
        policies: Vec::new(),
        reasons: Vec::new(),
        guard: source.guard,
        chain: source.chain,
        note: None,
    };
    if source.guard {
        let pending = view
            .ruleset()
            .and_then(|r| r.guard.as_ref())
            .map(|g| g.pending_isolated.join(", "))
            .unwrap_or_default();
        event.note = Some(format!(
            "fail-closed guard: no known pod owns this pod-CIDR address while isolated pods are pending ({pending})"
        ));
        return Some(event);
    }
    let Endpoint::Pod(pod) = policed else {
        event.note = Some("the policed address is no pod of the agent's current view".into());
        return Some(event);
    };
    let side = probe(packet).map(|probe| {
        let verdict = evaluate(&view.cluster, from, to, probe);
        match source.direction {
            Direction::Egress => verdict.egress,
            Direction::Ingress => verdict.ingress,
        }
    });
    match side {
        Some(SideVerdict::Denied {
            isolated_by,
            near_misses,
        }) => {
            event.policies = isolated_by
                .iter()
                .filter_map(|&i| view.policy_key(i))
                .collect();
            event.reasons = near_misses
                .iter()
                .map(|m| {
                    let policy = view.policy_key(m.rule.policy).unwrap_or_default();
                    format!(
                        "{policy} {}[{}]: {}",
                        m.rule.direction.as_str(),
                        m.rule.rule,
                        m.reason
                    )
                })
                .collect();
        }
        other => {
            // No port to evaluate (ICMP...), or the view allows it now: name the isolating
            // policies, which is what the chain that dropped it was built from.
            event.policies = isolating_policies(&view.cluster, pod, source.direction)
                .into_iter()
                .filter_map(|i| view.policy_key(i))
                .collect();
            if other.is_some() {
                event.note = Some(
                    "the agent's current view allows this connection: the drop predates a change"
                        .into(),
                );
            }
        }
    }
    event.policies.sort();
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_test_support::builders as b;

    fn cluster() -> Cluster {
        b::mk_cluster(
            vec![b::ns("prod", &[])],
            vec![
                b::mk_pod("prod", "web", |p| {
                    p.labels = b::labels(&[("app", "web")]);
                    p.ips = vec![b::ip("10.0.1.1")];
                    p.node = Some("n1".into());
                }),
                b::mk_pod("prod", "db", |p| {
                    p.labels = b::labels(&[("app", "db")]);
                    p.ips = vec![b::ip("10.0.1.2")];
                    p.node = Some("n1".into());
                }),
            ],
            vec![
                b::mk_policy("prod", "default-deny", |p| {
                    p.ingress = Some(vec![]);
                }),
                b::mk_policy("prod", "db-from-web", |p| {
                    p.subject = b::sel(&[("app", "db")]);
                    p.ingress = Some(vec![b::rule(
                        vec![b::pods(b::sel(&[("app", "web")]))],
                        vec![b::tcp(5432)],
                    )]);
                }),
            ],
        )
    }

    fn packet(prefix: &str, src: &str, dst: &str, protocol: u8, port: Option<u16>) -> LoggedPacket {
        LoggedPacket {
            prefix: prefix.into(),
            src: b::ip(src),
            dst: b::ip(dst),
            protocol,
            port,
        }
    }

    #[test]
    fn drops_name_pods_policies_and_reasons() {
        let cluster = Arc::new(cluster());
        let view = View::new(cluster, None);
        // web -> db on the wrong port: both policies isolate db, db-from-web nearly matched.
        let e = attribute(
            &view,
            &packet(
                "palisade in-prod-x-0123456789",
                "10.0.1.1",
                "10.0.1.2",
                6,
                Some(80),
            ),
        )
        .expect("ours");
        assert_eq!(e.direction, Direction::Ingress);
        assert_eq!((e.src.as_str(), e.dst.as_str()), ("prod/web", "prod/db"));
        assert_eq!(e.namespace, "prod");
        assert_eq!(e.policies, ["prod/db-from-web", "prod/default-deny"]);
        assert!(
            e.reasons
                .iter()
                .any(|r| r.starts_with("prod/db-from-web ingress[0]: ")),
            "{:?}",
            e.reasons
        );
        assert_eq!(e.note, None);

        // An external source, ICMP: no port to evaluate, the isolating policies are named.
        let e = attribute(
            &view,
            &packet(
                "palisade in-prod-x-0123456789",
                "192.0.2.7",
                "10.0.1.1",
                1,
                None,
            ),
        )
        .expect("ours");
        assert_eq!(e.src, "192.0.2.7");
        assert_eq!(e.protocol, "icmp");
        assert_eq!(e.policies, ["prod/default-deny"]);

        // web -> db on 5432 is allowed by the current view: said, not hidden.
        let e = attribute(
            &view,
            &packet(
                "palisade in-prod-x-0123456789",
                "10.0.1.1",
                "10.0.1.2",
                6,
                Some(5432),
            ),
        )
        .expect("ours");
        assert!(e.note.is_some_and(|n| n.contains("predates")));

        // Someone else's prefix is not ours to explain.
        assert_eq!(
            attribute(&view, &packet("other", "10.0.1.1", "10.0.1.2", 6, Some(1))),
            None
        );
    }
}
