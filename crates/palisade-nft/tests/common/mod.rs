//! Shared by the palisade-nft tests: random small clusters, and the check that a compiled
//! ruleset, run through the interpreter, decides every connection the way `evaluate()` does.

#![allow(dead_code)]

use std::net::IpAddr;

use palisade_core::eval::{Endpoint, Probe, evaluate, same_node_host_traffic};
use palisade_core::model::{Cluster, Pod, Protocol};
use palisade_nft::{Decision, Packet, Ruleset, Transport};
use palisade_test_support::builders as b;
use proptest::prelude::*;

pub mod kernel;

#[allow(unused_imports)] // not every test binary uses both
pub use palisade_test_support::arbitrary::{NODES, probes};

/// A small random cluster with distinct addresses (the dataplane tells endpoints apart by address).
pub fn cluster() -> impl Strategy<Value = (Cluster, Vec<IpAddr>)> {
    palisade_test_support::arbitrary::cluster(palisade_test_support::arbitrary::Addresses::Distinct)
}

fn endpoints(cluster: &Cluster, externals: &[IpAddr]) -> Vec<Endpoint> {
    (0..cluster.pods.len())
        .map(Endpoint::Pod)
        .chain(externals.iter().map(|&ip| Endpoint::External(ip)))
        .collect()
}

fn addresses(cluster: &Cluster, e: Endpoint) -> Vec<IpAddr> {
    match e {
        Endpoint::Pod(i) => cluster.pods[i].ips.clone(),
        Endpoint::External(ip) => vec![ip],
    }
}

fn name(cluster: &Cluster, e: Endpoint) -> String {
    match e {
        Endpoint::Pod(i) => cluster.pods[i].key(),
        Endpoint::External(ip) => ip.to_string(),
    }
}

/// A pod this node polices: scheduled here, not hostNetwork.
fn local(cluster: &Cluster, e: Endpoint, node: &str) -> bool {
    match e {
        Endpoint::Pod(i) => {
            let p = &cluster.pods[i];
            p.node.as_deref() == Some(node) && !p.host_network
        }
        Endpoint::External(_) => false,
    }
}

/// Nodes that see a connection in their forward hook: the node of each side that is a pod
/// subject to policy (hostNetwork traffic leaves through output and arrives through input).
fn forwarding_nodes(cluster: &Cluster, from: Endpoint, to: Endpoint) -> Option<Vec<String>> {
    let mut nodes = Vec::new();
    for e in [from, to] {
        if let Endpoint::Pod(i) = e {
            let p = &cluster.pods[i];
            if p.host_network {
                continue;
            }
            // A pod on no node is enforced nowhere: the composition cannot be checked.
            nodes.push(p.node.clone()?);
        }
    }
    nodes.dedup();
    Some(nodes)
}

/// Checks that on every node the compiled ruleset decides each connection like `evaluate()`:
///
/// - per node: a node enforces the egress side of its local sources and the ingress side of
///   its local destinations, and accepts everything else;
/// - across nodes: a connection gets through iff every node it crosses accepts it, which must
///   equal `evaluate().allowed` whenever every policed pod side is on a node.
///
/// Connections that never cross a forward hook are skipped: a pod to itself, and pod <-> a
/// hostNetwork pod of its own node (node traffic uses the input/output hooks).
pub fn check_agreement(
    cluster: &Cluster,
    externals: &[IpAddr],
    nodes: &[&str],
    probes: &[Probe],
) -> Result<(), String> {
    check_agreement_with(
        cluster,
        externals,
        nodes,
        probes,
        &palisade_nft::CompileOptions::default(),
    )
}

/// [`check_agreement`] for rulesets compiled with `options` (which must not arm a guard).
pub fn check_agreement_with(
    cluster: &Cluster,
    externals: &[IpAddr],
    nodes: &[&str],
    probes: &[Probe],
    options: &palisade_nft::CompileOptions,
) -> Result<(), String> {
    let rulesets: Vec<(String, Ruleset)> = nodes
        .iter()
        .map(|n| {
            (
                n.to_string(),
                palisade_nft::compile_with(cluster, n, options),
            )
        })
        .collect();
    for (node, rs) in &rulesets {
        check_structure(rs).map_err(|e| format!("node {node}: {e}"))?;
        let pending: Vec<String> = cluster
            .pods
            .iter()
            .filter(|p| p.node.as_deref() == Some(node) && !p.host_network && p.ips.is_empty())
            .map(Pod::key)
            .collect();
        if rs.pending_pods != pending {
            return Err(format!(
                "node {node}: pending {:?}, want {pending:?}",
                rs.pending_pods
            ));
        }
    }
    let all = endpoints(cluster, externals);
    for &from in &all {
        for &to in &all {
            if from == to || same_node_host_traffic(cluster, from, to) {
                continue;
            }
            for &probe in probes {
                let verdict = evaluate(cluster, from, to, probe);
                let crossing = forwarding_nodes(cluster, from, to);
                for src in addresses(cluster, from) {
                    for dst in addresses(cluster, to) {
                        if (src.is_ipv4()) != (dst.is_ipv4()) {
                            continue;
                        }
                        let packet = Packet {
                            src,
                            dst,
                            transport: Transport::Port(probe),
                        };
                        let label = || {
                            format!(
                                "{} ({src}) -> {} ({dst}) on {probe}",
                                name(cluster, from),
                                name(cluster, to)
                            )
                        };
                        let mut through = true;
                        for (node, rs) in &rulesets {
                            let decided = rs.decide(&packet) == Decision::Accept;
                            through &= decided;
                            let want = (!local(cluster, from, node) || verdict.egress.allows())
                                && (!local(cluster, to, node) || verdict.ingress.allows());
                            if decided != want {
                                return Err(format!(
                                    "node {node}: {}: ruleset says {decided}, evaluate's sides say {want}\n{verdict:#?}\n{}",
                                    label(),
                                    rs.to_nft()
                                ));
                            }
                        }
                        if let Some(crossing) = &crossing
                            && crossing.iter().all(|n| nodes.contains(&n.as_str()))
                            && through != verdict.allowed
                        {
                            return Err(format!(
                                "{}: nodes {crossing:?} let it through: {through}, evaluate: {}",
                                label(),
                                verdict.allowed
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Every reference resolves, with the right type: a broken reference would fail to load.
pub fn check_structure(rs: &Ruleset) -> Result<(), String> {
    use palisade_nft::{Family, Match, SetKind};
    for (ip, entry) in rs.egress.iter().chain(&rs.ingress) {
        if !rs.chains.contains_key(&entry.chain) {
            return Err(format!("{ip} jumps to missing chain {}", entry.chain));
        }
    }
    if rs.classes.values().any(|id| *id == 0) {
        return Err("an address has class 0, which is no class".to_string());
    }
    for (name, chain) in &rs.chains {
        for rule in &chain.rules {
            for m in &rule.matches {
                let (family, set, kind) = match m {
                    Match::Address { family, set, .. } => (family, set, None),
                    Match::AddressPort { family, set } => {
                        (family, set, Some(SetKind::AddressPorts))
                    }
                    Match::Class { set } => (&Family::V4, set, Some(SetKind::Classes)),
                    Match::ClassPort { set } => (&Family::V4, set, Some(SetKind::ClassPorts)),
                    Match::Ports(ports) => {
                        if ports.is_all() || ports.is_empty() {
                            return Err(format!("{name}: port match of everything or nothing"));
                        }
                        continue;
                    }
                };
                let Some(s) = rs.sets.get(set) else {
                    return Err(format!("{name} reads missing set {set}"));
                };
                let kind_ok = match kind {
                    Some(k) => s.elements.kind() == k,
                    None => matches!(s.elements.kind(), SetKind::Addresses | SetKind::Intervals),
                };
                if s.family != *family || !kind_ok {
                    return Err(format!("{name} reads {set} with the wrong type"));
                }
            }
        }
    }
    for (name, set) in &rs.sets {
        let family_ok = |ip: &IpAddr| Family::of(ip) == set.family;
        let ok = match &set.elements {
            palisade_nft::SetElements::Addresses(a) => a.iter().all(family_ok),
            palisade_nft::SetElements::AddressPorts(a) => a.iter().all(|(ip, _, _)| family_ok(ip)),
            palisade_nft::SetElements::Classes(c) => !c.contains(&0),
            palisade_nft::SetElements::ClassPorts(c) => c.iter().all(|(id, _, _)| *id != 0),
            palisade_nft::SetElements::Intervals(r) => {
                r.iter()
                    .all(|x| family_ok(&x.first) && family_ok(&x.last) && x.first <= x.last)
                    && r.windows(2).all(|w| w[0].last < w[1].first)
            }
        };
        if !ok {
            return Err(format!("set {name} has malformed elements"));
        }
    }
    Ok(())
}

/// A small cluster using most features: the example of the report and the kernel golden test.
pub fn example() -> Cluster {
    b::mk_cluster(
        vec![
            b::ns("production", &[("env", "prod")]),
            b::ns("monitoring", &[]),
        ],
        vec![
            b::mk_pod("production", "web-1", |p| {
                p.labels = b::labels(&[("app", "web")]);
                p.ips = vec![b::ip("10.0.1.1"), b::ip("fd00::1:1")];
                p.node = Some("n1".into());
                p.ports = vec![b::cport("http", Protocol::Tcp, 8080)];
            }),
            b::mk_pod("production", "web-2", |p| {
                p.labels = b::labels(&[("app", "web")]);
                p.ips = vec![b::ip("10.0.2.1")];
                p.node = Some("n2".into());
                p.ports = vec![b::cport("http", Protocol::Tcp, 8080)];
            }),
            b::mk_pod("production", "db-1", |p| {
                p.labels = b::labels(&[("app", "db")]);
                p.ips = vec![b::ip("10.0.1.2")];
                p.node = Some("n1".into());
                p.ports = vec![b::cport("pg", Protocol::Tcp, 5432)];
            }),
            b::mk_pod("production", "db-2", |p| {
                p.labels = b::labels(&[("app", "db")]);
                p.node = Some("n1".into());
            }),
            b::mk_pod("monitoring", "prometheus", |p| {
                p.labels = b::labels(&[("app", "prometheus")]);
                p.ips = vec![b::ip("10.0.2.9")];
                p.node = Some("n2".into());
            }),
        ],
        vec![
            b::mk_policy("production", "default-deny", |p| {
                p.egress = Some(vec![]);
            }),
            b::mk_policy("production", "allow-web", |p| {
                p.subject = b::sel(&[("app", "web")]);
                p.ingress = Some(vec![
                    b::rule(
                        vec![],
                        vec![b::tcp(8080), b::port_range(Protocol::Tcp, 9000, 9100)],
                    ),
                    b::rule(
                        vec![b::namespaces(b::sel(&[(
                            "kubernetes.io/metadata.name",
                            "monitoring",
                        )]))],
                        vec![b::named(Protocol::Tcp, "http")],
                    ),
                ]);
                p.egress = Some(vec![
                    b::rule(
                        vec![b::pods(b::sel(&[("app", "db")]))],
                        vec![b::named(Protocol::Tcp, "pg"), b::udp(53)],
                    ),
                    b::rule(
                        vec![b::ip_block("0.0.0.0/0", &["10.0.0.0/8"])],
                        vec![b::tcp(443)],
                    ),
                ]);
            }),
            b::mk_policy("production", "allow-db", |p| {
                p.subject = b::sel(&[("app", "db")]);
                p.ingress = Some(vec![b::rule(
                    vec![b::pods(b::sel(&[("app", "web")]))],
                    vec![b::tcp(5432), b::any_port(Protocol::Sctp)],
                )]);
            }),
        ],
    )
}
