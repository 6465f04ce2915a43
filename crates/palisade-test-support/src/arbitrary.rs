//! proptest strategies for small random clusters that use every NetworkPolicy feature.
//!
//! Shared by the property tests that check one implementation against another: the class-based
//! reachability and the compiled nftables ruleset are both compared with `eval::evaluate` on
//! clusters from [`cluster`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use palisade_core::eval::Probe;
use palisade_core::model::{
    Cluster, ContainerPort, Namespace, NamespaceScope, Operator, Peer, Peers, Pod, Policy,
    PortMatch, PortSpec, Ports, Protocol, Requirement, Rule, Selector,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

use crate::builders::{ip, labels, mk_cluster, mk_ns, mk_pod, mk_policy, net};

/// Nodes pods may be placed on (a pod may also have no node).
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

/// Whether two endpoints may share an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// Every address is used at most once, as on a real pod network (what a dataplane needs:
    /// it tells endpoints apart by address only).
    Distinct,
    /// Addresses may repeat across endpoints, to stress the engine's matching by address.
    MayRepeat,
}

/// A small cluster using every feature (selectors with every operator, AND/OR peers, ipBlock
/// with except, named ports, endPort ranges, SCTP, hostNetwork, IPv6, nodes), and up to two
/// non-pod addresses.
pub fn cluster(addresses: Addresses) -> impl Strategy<Value = (Cluster, Vec<IpAddr>)> {
    (
        prop::collection::vec(label_map(), NAMESPACES.len()),
        prop::collection::vec(pod(), 0..=7),
        prop::collection::vec((0..NAMESPACES.len(), selector(), rules(), rules()), 0..=5),
        Just(IPS.to_vec()).prop_shuffle(),
        0..=2usize,
        // One start offset per endpoint: up to 7 pods and 2 externals.
        prop::collection::vec(0..IPS.len(), 9),
    )
        .prop_map(
            move |(ns_labels, pods, policies, pool, external_count, offsets)| {
                let mut cursor = 0usize;
                let mut endpoint = 0usize;
                // Distinct: every endpoint takes the next unused addresses of the shuffled pool.
                // MayRepeat: every endpoint starts at its own random offset, so addresses recur.
                let mut take = |n: usize| -> Vec<IpAddr> {
                    let start = match addresses {
                        Addresses::Distinct => cursor,
                        Addresses::MayRepeat => offsets[endpoint % offsets.len()],
                    };
                    cursor += n;
                    endpoint += 1;
                    pool.iter()
                        .cycle()
                        .skip(start)
                        .take(n.min(pool.len()))
                        .map(|s| ip(s))
                        .collect()
                };
                let namespaces: Vec<Namespace> = NAMESPACES
                    .iter()
                    .zip(&ns_labels)
                    .map(|(n, l)| mk_ns(n, |ns| ns.labels.extend(to_labels(l))))
                    .collect();
                let pods: Vec<Pod> = pods
                    .into_iter()
                    .enumerate()
                    .map(|(i, (ns, l, count, host, node, ports))| {
                        let ips = take(count);
                        mk_pod(NAMESPACES[ns], &format!("p{i}"), |p| {
                            p.labels = to_labels(&l);
                            p.ips = ips;
                            p.host_network = host;
                            p.node = node.map(str::to_string);
                            p.ports = ports;
                        })
                    })
                    .collect();
                let externals = take(external_count);
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
            },
        )
}
