//! Property tests: the fast all-pairs reachability must agree with the exact evaluate() on every
//! ordered pair and every probe, for random small clusters using every feature; and neither may
//! depend on the order of policies (NP#networkpolicy-resource: policies are additive,
//! https://kubernetes.io/docs/concepts/services-networking/network-policies/).

use std::collections::BTreeSet;
use std::net::IpAddr;

use palisade_core::eval::{Endpoint, Probe, SideVerdict, evaluate};
use palisade_core::model::{
    Cluster, ContainerPort, Namespace, NamespaceScope, Operator, Peer, Peers, Pod, Policy,
    PortMatch, PortSpec, Ports, Protocol, Requirement, Rule, Selector,
};
use palisade_core::reach::Reachability;
use palisade_test_support::builders::{ip, labels, mk_cluster, mk_ns, mk_pod, mk_policy, net};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

const NAMESPACES: [&str; 3] = ["a", "b", "c"];
const LABEL_KEYS: [&str; 3] = ["app", "tier", "version"];
const LABEL_VALUES: [&str; 3] = ["x", "y", "z"];
const IPS: [&str; 8] = [
    "10.0.0.1",
    "10.0.0.5",
    "10.0.1.7",
    "192.0.2.9",
    "fd00::1",
    "fd00::2",
    "fd00:1::9",
    "10.0.0.6",
];
const CIDRS: [&str; 7] = [
    "10.0.0.0/24",
    "10.0.0.0/16",
    "0.0.0.0/0",
    "fd00::/64",
    "::/0",
    "10.0.0.4/30",
    "192.0.2.0/24",
];
const EXCEPTS: [&str; 4] = ["10.0.0.0/29", "10.0.0.5/32", "fd00::1/128", "10.0.0.6/31"];
const PORT_NAMES: [&str; 4] = ["http", "dns", "metrics", "nope"];
const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];
const NODES: [Option<&str>; 3] = [None, Some("n1"), Some("n2")];

fn probes() -> Vec<Probe> {
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
    ]
}

fn label_map() -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((0..LABEL_KEYS.len(), 0..LABEL_VALUES.len()), 0..=3)
}

fn to_labels(pairs: &[(usize, usize)]) -> palisade_core::model::Labels {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|&(k, v)| (LABEL_KEYS[k], LABEL_VALUES[v]))
        .collect();
    labels(&pairs)
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
            |(cidr, except)| {
                Peer::IpBlock {
                    cidr: net(cidr),
                    except: except.iter().map(|e| net(e)).collect(),
                }
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

fn policy() -> impl Strategy<Value = (usize, Selector, Option<Vec<Rule>>, Option<Vec<Rule>>)> {
    (0..NAMESPACES.len(), selector(), rules(), rules())
}

fn container_port() -> impl Strategy<Value = ContainerPort> {
    (
        prop::option::of(select(PORT_NAMES[..3].to_vec())),
        select(PROTOCOLS.to_vec()),
        select(vec![53u16, 80, 8080, 5060, 443]),
    )
        .prop_map(|(name, protocol, port)| ContainerPort {
            name: name.map(str::to_string),
            port,
            protocol,
        })
}

/// Namespace index, labels, IPs, hostNetwork, node, container ports.
type PodParts = (
    usize,
    Vec<(usize, usize)>,
    Vec<&'static str>,
    bool,
    Option<&'static str>,
    Vec<ContainerPort>,
);

fn pod() -> impl Strategy<Value = PodParts> {
    (
        0..NAMESPACES.len(),
        label_map(),
        subsequence(IPS.to_vec(), 0..=2),
        prop::bool::weighted(0.15),
        select(NODES.to_vec()),
        prop::collection::vec(container_port(), 0..=3),
    )
}

fn cluster() -> impl Strategy<Value = (Cluster, Vec<IpAddr>)> {
    (
        prop::collection::vec(label_map(), NAMESPACES.len()),
        prop::collection::vec(pod(), 0..=7),
        prop::collection::vec(policy(), 0..=5),
        subsequence(IPS.to_vec(), 0..=2),
    )
        .prop_map(|(ns_labels, pods, policies, externals)| {
            let namespaces: Vec<Namespace> = NAMESPACES
                .iter()
                .zip(&ns_labels)
                .map(|(n, l)| mk_ns(n, |ns| ns.labels.extend(to_labels(l))))
                .collect();
            let pods: Vec<Pod> = pods
                .into_iter()
                .enumerate()
                .map(|(i, (ns, l, ips, host, node, ports))| {
                    mk_pod(NAMESPACES[ns], &format!("p{i}"), |p| {
                        p.labels = to_labels(&l);
                        p.ips = ips.iter().map(|s| ip(s)).collect();
                        p.host_network = host;
                        p.node = node.map(str::to_string);
                        p.ports = ports;
                    })
                })
                .collect();
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
            let externals = externals.iter().map(|s| ip(s)).collect();
            (mk_cluster(namespaces, pods, policies), externals)
        })
}

fn endpoint(cluster: &Cluster, externals: &[IpAddr], i: usize) -> Endpoint {
    if i < cluster.pods.len() {
        Endpoint::Pod(i)
    } else {
        Endpoint::External(externals[i - cluster.pods.len()])
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    /// The key property: classes, atoms, signatures and memos change nothing.
    #[test]
    fn reach_agrees_with_evaluate((cluster, externals) in cluster()) {
        let reach = Reachability::compute(&cluster, &externals);
        prop_assert_eq!(reach.len(), cluster.pods.len() + externals.len());
        for probe in probes() {
            let table = reach.allowed_matrix(probe);
            prop_assert_eq!(table.len(), reach.len());
            prop_assert!(table.iter().all(|row| row.len() == reach.len()));
            for (i, row) in table.iter().enumerate() {
                for (j, &fast) in row.iter().enumerate() {
                    let (from, to) = (endpoint(&cluster, &externals, i), endpoint(&cluster, &externals, j));
                    prop_assert_eq!(reach.endpoint(i), Some(from));
                    let verdict = evaluate(&cluster, from, to, probe);
                    prop_assert_eq!(
                        reach.allowed(i, j, probe), verdict.allowed,
                        "{} -> {} on {}: reach says {}, evaluate {:#?}",
                        reach.endpoint_names()[i], reach.endpoint_names()[j], probe,
                        reach.ports(i, j), verdict
                    );
                    prop_assert_eq!(fast, verdict.allowed, "allowed_matrix {} -> {}", i, j);
                }
            }
        }
    }

    /// Permuting the policies changes no verdict, no port set and no reason (named by policy).
    #[test]
    fn policy_order_does_not_matter(
        (cluster, externals) in cluster(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = cluster.clone();
        // A deterministic Fisher-Yates driven by the generated seed.
        let mut state = seed;
        for i in (1..shuffled.policies.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.policies.swap(i, (state >> 33) as usize % (i + 1));
        }
        let a = Reachability::compute(&cluster, &externals);
        let b = Reachability::compute(&shuffled, &externals);
        prop_assert_eq!(a.class_count(), b.class_count());
        for i in 0..a.len() {
            for j in 0..a.len() {
                prop_assert_eq!(a.ports(i, j), b.ports(i, j), "{} -> {}", i, j);
                for probe in probes() {
                    let (from, to) = (endpoint(&cluster, &externals, i), endpoint(&cluster, &externals, j));
                    let va = evaluate(&cluster, from, to, probe);
                    let vb = evaluate(&shuffled, from, to, probe);
                    prop_assert_eq!(va.allowed, vb.allowed);
                    prop_assert_eq!(reasons(&cluster, &va.egress), reasons(&shuffled, &vb.egress));
                    prop_assert_eq!(reasons(&cluster, &va.ingress), reasons(&shuffled, &vb.ingress));
                }
            }
        }
    }
}

/// A side's reasons with policy indices replaced by names, order-free.
fn reasons(cluster: &Cluster, side: &SideVerdict) -> BTreeSet<String> {
    let name = |i: usize| cluster.policies[i].key();
    match side {
        SideVerdict::Unrestricted(u) => BTreeSet::from([format!("{u:?}")]),
        SideVerdict::Allowed { by } => by
            .iter()
            .map(|r| {
                format!(
                    "allow {} {:?} {} {:?} {:?}",
                    name(r.policy),
                    r.direction,
                    r.rule,
                    r.peer,
                    r.port
                )
            })
            .collect(),
        SideVerdict::Denied {
            isolated_by,
            near_misses,
        } => isolated_by
            .iter()
            .map(|&p| format!("isolated {}", name(p)))
            .chain(
                near_misses
                    .iter()
                    .map(|m| format!("near {} {} {}", name(m.rule.policy), m.rule.rule, m.reason)),
            )
            .collect(),
    }
}
