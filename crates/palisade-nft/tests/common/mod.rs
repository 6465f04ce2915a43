//! Shared by the palisade-nft tests: random small clusters, and the check that a compiled
//! ruleset, run through the interpreter, decides every connection the way `evaluate()` does.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::IpAddr;

use palisade_core::eval::{Endpoint, Probe, evaluate, same_node_host_traffic};
use palisade_core::model::{
    Cluster, ContainerPort, Namespace, NamespaceScope, Operator, Peer, Peers, Pod, Policy,
    PortMatch, PortSpec, Ports, Protocol, Requirement, Rule, Selector,
};
use palisade_nft::{Decision, Packet, Ruleset, Transport, compile};
use palisade_test_support::builders as b;
use palisade_test_support::builders::{ip, labels, mk_cluster, mk_ns, mk_pod, mk_policy, net};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

pub mod kernel;

pub const NODES: [&str; 2] = ["n1", "n2"];
const NAMESPACES: [&str; 3] = ["a", "b", "c"];
const LABEL_KEYS: [&str; 3] = ["app", "tier", "version"];
const LABEL_VALUES: [&str; 3] = ["x", "y", "z"];
/// Every address is used at most once (pods and non-pods alike): the dataplane tells endpoints
/// apart by address only, as a real cluster's pod network does.
const IPS: [&str; 16] = [
    "10.0.0.1",
    "10.0.0.5",
    "10.0.0.6",
    "10.0.0.7",
    "10.0.1.7",
    "10.0.0.200",
    "192.0.2.9",
    "192.0.2.200",
    "172.16.0.1",
    "10.1.0.1",
    "fd00::1",
    "fd00::2",
    "fd00::8000:0:0:1",
    "fd00:1::9",
    "2001:db8::1",
    "fd00::5",
];
const CIDRS: [&str; 8] = [
    "10.0.0.0/24",
    "10.0.0.0/16",
    "0.0.0.0/0",
    "fd00::/64",
    "::/0",
    "10.0.0.4/30",
    "192.0.2.0/24",
    "fd00::/16",
];
const EXCEPTS: [&str; 5] = [
    "10.0.0.0/29",
    "10.0.0.5/32",
    "fd00::1/128",
    "10.0.0.6/31",
    "fd00::8000:0:0:0/65",
];
const PORT_NAMES: [&str; 4] = ["http", "dns", "metrics", "nope"];
const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

pub fn probes() -> Vec<Probe> {
    let p = |protocol, port| Probe { protocol, port };
    vec![
        p(Protocol::Tcp, 80),
        p(Protocol::Tcp, 8080),
        p(Protocol::Tcp, 443),
        p(Protocol::Tcp, 0),
        p(Protocol::Udp, 53),
        p(Protocol::Udp, 80),
        p(Protocol::Sctp, 80),
        p(Protocol::Sctp, 5060),
        p(Protocol::Tcp, 65535),
        p(Protocol::Udp, 8081),
    ]
}

fn to_labels(pairs: &[(usize, usize)]) -> palisade_core::model::Labels {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|&(k, v)| (LABEL_KEYS[k], LABEL_VALUES[v]))
        .collect();
    labels(&pairs)
}

fn label_map() -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((0..LABEL_KEYS.len(), 0..LABEL_VALUES.len()), 0..=3)
}

fn selector() -> impl Strategy<Value = Selector> {
    let requirement = (
        0..LABEL_KEYS.len(),
        0..4usize,
        subsequence(LABEL_VALUES.to_vec(), 1..=2),
    )
        .prop_map(|(k, op, values)| {
            let values: BTreeSet<String> = values.iter().map(|v| v.to_string()).collect();
            Requirement {
                key: LABEL_KEYS[k].to_string(),
                operator: match op {
                    0 => Operator::In(values),
                    1 => Operator::NotIn(values),
                    2 => Operator::Exists,
                    _ => Operator::DoesNotExist,
                },
            }
        });
    (
        prop::collection::vec((0..LABEL_KEYS.len(), 0..LABEL_VALUES.len()), 0..=2),
        prop::collection::vec(requirement, 0..=1),
    )
        .prop_map(|(pairs, expressions)| Selector {
            match_labels: to_labels(&pairs),
            expressions,
        })
}

fn ns_selector() -> impl Strategy<Value = Selector> {
    prop_oneof![
        Just(Selector::everything()),
        select(NAMESPACES.to_vec()).prop_map(|n| Selector {
            match_labels: labels(&[("kubernetes.io/metadata.name", n)]),
            expressions: vec![],
        }),
        selector(),
    ]
}

fn peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        selector().prop_map(|pods| Peer::Pods {
            namespaces: NamespaceScope::Own,
            pods
        }),
        (ns_selector(), selector()).prop_map(|(ns, pods)| Peer::Pods {
            namespaces: NamespaceScope::Matching(ns),
            pods,
        }),
        ns_selector().prop_map(|ns| Peer::Pods {
            namespaces: NamespaceScope::Matching(ns),
            pods: Selector::everything(),
        }),
        (select(CIDRS.to_vec()), subsequence(EXCEPTS.to_vec(), 0..=2)).prop_map(
            |(cidr, except)| Peer::IpBlock {
                cidr: net(cidr),
                except: except.iter().map(|e| net(e)).collect(),
            }
        ),
    ]
}

fn port_match() -> impl Strategy<Value = PortMatch> {
    let spec = prop_oneof![
        Just(PortSpec::Any),
        select(vec![53u16, 80, 443, 8080, 5060, 0, 65535])
            .prop_map(|p| PortSpec::Range { first: p, last: p }),
        (0u16..100, 0u16..9000).prop_map(|(a, len)| PortSpec::Range {
            first: a,
            last: a.saturating_add(len)
        }),
        select(PORT_NAMES.to_vec()).prop_map(|n| PortSpec::Named(n.to_string())),
    ];
    (select(PROTOCOLS.to_vec()), spec).prop_map(|(protocol, port)| PortMatch { protocol, port })
}

fn rule() -> impl Strategy<Value = Rule> {
    let peers = prop_oneof![
        1 => Just(Peers::Any),
        3 => prop::collection::vec(peer(), 1..=3).prop_map(Peers::OneOf),
    ];
    let ports = prop_oneof![
        1 => Just(Ports::Any),
        2 => prop::collection::vec(port_match(), 1..=3).prop_map(Ports::OneOf),
    ];
    (peers, ports).prop_map(|(peers, ports)| Rule {
        peers,
        ports,
        span: None,
    })
}

fn rules() -> impl Strategy<Value = Option<Vec<Rule>>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(vec![])),
        3 => prop::collection::vec(rule(), 1..=2).prop_map(Some),
    ]
}

fn container_port() -> impl Strategy<Value = ContainerPort> {
    (
        prop::option::of(select(PORT_NAMES[..3].to_vec())),
        select(PROTOCOLS.to_vec()),
        select(vec![53u16, 80, 8080, 5060, 443, 8081]),
    )
        .prop_map(|(name, protocol, port)| ContainerPort {
            name: name.map(str::to_string),
            port,
            protocol,
        })
}

/// Namespace, labels, address count, hostNetwork, node, container ports.
type PodParts = (
    usize,
    Vec<(usize, usize)>,
    usize,
    bool,
    Option<&'static str>,
    Vec<ContainerPort>,
);

fn pod() -> impl Strategy<Value = PodParts> {
    (
        0..NAMESPACES.len(),
        label_map(),
        prop_oneof![1 => Just(0usize), 5 => Just(1usize), 2 => Just(2usize)],
        prop::bool::weighted(0.15),
        select(vec![None, Some(NODES[0]), Some(NODES[1])]),
        prop::collection::vec(container_port(), 0..=3),
    )
}

/// A small cluster using every feature, and non-pod addresses; addresses are all distinct.
pub fn cluster() -> impl Strategy<Value = (Cluster, Vec<IpAddr>)> {
    (
        prop::collection::vec(label_map(), NAMESPACES.len()),
        prop::collection::vec(pod(), 0..=7),
        prop::collection::vec((0..NAMESPACES.len(), selector(), rules(), rules()), 0..=5),
        Just(IPS.to_vec()).prop_shuffle(),
        0..=2usize,
    )
        .prop_map(|(ns_labels, pods, policies, pool, external_count)| {
            let mut pool = pool.into_iter().map(ip);
            let namespaces: Vec<Namespace> = NAMESPACES
                .iter()
                .zip(&ns_labels)
                .map(|(n, l)| mk_ns(n, |ns| ns.labels.extend(to_labels(l))))
                .collect();
            let pods: Vec<Pod> = pods
                .into_iter()
                .enumerate()
                .map(|(i, (ns, l, count, host, node, ports))| {
                    let ips: Vec<IpAddr> = pool.by_ref().take(count).collect();
                    mk_pod(NAMESPACES[ns], &format!("p{i}"), |p| {
                        p.labels = to_labels(&l);
                        p.ips = ips;
                        p.host_network = host;
                        p.node = node.map(str::to_string);
                        p.ports = ports;
                    })
                })
                .collect();
            let externals: Vec<IpAddr> = pool.take(external_count).collect();
            let policies: Vec<Policy> = policies
                .into_iter()
                .enumerate()
                .map(|(i, (ns, subject, ingress, egress))| {
                    mk_policy(NAMESPACES[ns], &format!("q{i}"), |p| {
                        p.subject = subject;
                        p.ingress = ingress;
                        p.egress = egress;
                    })
                })
                .collect();
            (mk_cluster(namespaces, pods, policies), externals)
        })
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
    let rulesets: Vec<(String, Ruleset)> = nodes
        .iter()
        .map(|n| (n.to_string(), compile(cluster, n)))
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
    for (name, chain) in &rs.chains {
        for rule in &chain.rules {
            for m in &rule.matches {
                let (family, set, kind) = match m {
                    Match::Address { family, set, .. } => (family, set, None),
                    Match::AddressPort { family, set } => {
                        (family, set, Some(SetKind::AddressPorts))
                    }
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
                    None => s.elements.kind() != SetKind::AddressPorts,
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
