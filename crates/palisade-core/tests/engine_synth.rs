//! The synthetic generator behind the benchmarks: deterministic, exactly the requested sizes,
//! every policy feature present, a realistic number of equivalence classes, and reachability
//! over it agrees with evaluate() on every pair.

use palisade_core::eval::{Endpoint, Probe, evaluate};
use palisade_core::model::{Cluster, NamespaceScope, Peer, Peers, PortSpec, Ports, Protocol};
use palisade_core::reach::Reachability;
use palisade_test_support::synth::{SynthParams, generate};

fn params(pods: usize, namespaces: usize, policies: usize, seed: u64) -> SynthParams {
    SynthParams {
        namespaces,
        pods,
        policies,
        seed,
    }
}

fn same(a: &Cluster, b: &Cluster) -> bool {
    a.namespaces == b.namespaces && a.pods == b.pods && a.policies == b.policies
}

#[test]
fn deterministic_and_exact_sizes() {
    let p = params(1_000, 5, 300, 7);
    let a = generate(p);
    assert!(same(&a, &generate(p)), "same parameters, same cluster");
    assert!(
        !same(&a, &generate(params(1_000, 5, 300, 8))),
        "the seed matters"
    );
    assert_eq!(
        (a.pods.len(), a.namespaces.len(), a.policies.len()),
        (1_000, 5, 300)
    );
    let small = generate(params(3, 1, 2, 1));
    assert_eq!((small.pods.len(), small.policies.len()), (3, 2));
    let empty = generate(params(0, 0, 0, 1));
    assert!(empty.pods.is_empty() && empty.policies.is_empty());
}

#[test]
fn every_feature_appears() {
    let c = generate(params(2_000, 10, 600, 1));
    let rules = || {
        c.policies
            .iter()
            .flat_map(|p| p.ingress.iter().flatten().chain(p.egress.iter().flatten()))
    };
    let peers = || {
        rules().flat_map(|r| match &r.peers {
            Peers::OneOf(items) => items.clone(),
            Peers::Any => Vec::new(),
        })
    };
    let ports = || {
        rules().flat_map(|r| match &r.ports {
            Ports::OneOf(items) => items.clone(),
            Ports::Any => Vec::new(),
        })
    };
    let features: Vec<(&str, bool)> = vec![
        ("hostNetwork pod", c.pods.iter().any(|p| p.host_network)),
        ("pod without IP", c.pods.iter().any(|p| p.ips.is_empty())),
        (
            "dual-stack pod",
            c.pods.iter().any(|p| p.ips.iter().any(|i| i.is_ipv6())),
        ),
        (
            "named container port",
            c.pods
                .iter()
                .any(|p| p.ports.iter().any(|cp| cp.name.is_some())),
        ),
        (
            "default deny ingress",
            c.policies
                .iter()
                .any(|p| p.subject.is_empty() && p.ingress.as_ref().is_some_and(Vec::is_empty)),
        ),
        (
            "default deny egress",
            c.policies
                .iter()
                .any(|p| p.egress.as_ref().is_some_and(Vec::is_empty)),
        ),
        (
            "matchExpressions",
            c.policies.iter().any(|p| !p.subject.expressions.is_empty()),
        ),
        ("rule without peers", rules().any(|r| r.peers == Peers::Any)),
        ("rule without ports", rules().any(|r| r.ports == Ports::Any)),
        (
            "podSelector alone",
            peers().any(|p| {
                matches!(
                    p,
                    Peer::Pods {
                        namespaces: NamespaceScope::Own,
                        ..
                    }
                )
            }),
        ),
        (
            "namespaceSelector",
            peers().any(|p| {
                matches!(
                    p,
                    Peer::Pods {
                        namespaces: NamespaceScope::Matching(_),
                        ..
                    }
                )
            }),
        ),
        (
            "ipBlock with except",
            peers().any(|p| matches!(&p, Peer::IpBlock { except, .. } if !except.is_empty())),
        ),
        (
            "IPv6 ipBlock",
            peers().any(
                |p| matches!(&p, Peer::IpBlock { cidr, .. } if matches!(cidr, ipnet::IpNet::V6(_))),
            ),
        ),
        (
            "named port",
            ports().any(|p| matches!(p.port, PortSpec::Named(_))),
        ),
        (
            "endPort",
            ports().any(|p| matches!(p.port, PortSpec::Range { first, last } if first < last)),
        ),
        ("SCTP", ports().any(|p| p.protocol == Protocol::Sctp)),
        ("UDP", ports().any(|p| p.protocol == Protocol::Udp)),
    ];
    let missing: Vec<&str> = features
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    assert!(missing.is_empty(), "missing features: {missing:?}");
}

#[test]
fn classes_are_a_realistic_middle() {
    let c = generate(params(2_000, 10, 600, 1));
    let reach = Reachability::compute(&c, &[]);
    let classes = reach.class_count();
    // Replicas collapse (far fewer classes than pods), deployments do not (far more than namespaces).
    assert!(
        (100..=1_000).contains(&classes),
        "{classes} classes for 2000 pods: {:?}",
        reach.stats()
    );
}

#[test]
fn reach_agrees_with_evaluate_on_a_synthetic_cluster() {
    let c = generate(params(150, 5, 90, 3));
    let reach = Reachability::compute(&c, &[]);
    let probes = [
        Probe {
            protocol: Protocol::Tcp,
            port: 8080,
        },
        Probe {
            protocol: Protocol::Tcp,
            port: 5432,
        },
        Probe {
            protocol: Protocol::Udp,
            port: 53,
        },
        Probe {
            protocol: Protocol::Sctp,
            port: 5060,
        },
    ];
    let mut allowed = 0usize;
    for probe in probes {
        let table = reach.allowed_matrix(probe);
        for (i, row) in table.iter().enumerate() {
            for (j, &fast) in row.iter().enumerate() {
                let exact = evaluate(&c, Endpoint::Pod(i), Endpoint::Pod(j), probe).allowed;
                allowed += usize::from(exact);
                assert_eq!(
                    fast,
                    exact,
                    "{} -> {} {probe}",
                    c.pods[i].key(),
                    c.pods[j].key()
                );
            }
        }
    }
    let total = probes.len() * c.pods.len() * c.pods.len();
    assert!(
        allowed > total / 50 && allowed < total,
        "a mix of allowed and denied: {allowed}/{total}"
    );
}
