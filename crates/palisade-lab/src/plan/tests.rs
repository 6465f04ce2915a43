//! Placement and addressing, without the kernel.

use palisade_core::model::{Cluster, Pod};
use palisade_test_support::builders::{ip, ip_block, mk_cluster, mk_pod, mk_policy, ns, pod, rule};

use super::*;

fn config(nodes: usize, externals: &[&str]) -> LabConfig {
    LabConfig {
        nodes,
        externals: externals.iter().map(|e| ip(e)).collect(),
        ..LabConfig::default()
    }
}

fn cluster(pods: Vec<Pod>) -> Cluster {
    mk_cluster(vec![ns("x", &[])], pods, vec![])
}

fn on(node: &str) -> impl FnOnce(&mut Pod) {
    let node = node.to_string();
    move |p| p.node = Some(node)
}

fn nodes_of(plan: &Plan) -> Vec<String> {
    plan.cluster
        .pods
        .iter()
        .map(|p| p.node.clone().unwrap_or_default())
        .collect()
}

#[test]
fn placement_table() {
    struct Case {
        label: &'static str,
        nodes: usize,
        pods: Vec<Pod>,
        want: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            label: "round robin in cluster order",
            nodes: 2,
            pods: vec![
                mk_pod("x", "a", |_| {}),
                mk_pod("x", "b", |_| {}),
                mk_pod("x", "c", |_| {}),
            ],
            want: vec!["node-1", "node-2", "node-1"],
        },
        Case {
            label: "spec.nodeName naming a lab node is kept; round robin skips nobody",
            nodes: 3,
            pods: vec![
                mk_pod("x", "a", on("node-3")),
                mk_pod("x", "b", |_| {}),
                mk_pod("x", "c", |_| {}),
            ],
            want: vec!["node-3", "node-1", "node-2"],
        },
        Case {
            label: "foreign node names map onto lab nodes in sorted order, keeping co-location",
            nodes: 2,
            pods: vec![
                mk_pod("x", "a", on("worker-b")),
                mk_pod("x", "b", on("worker-a")),
                mk_pod("x", "c", on("worker-b")),
                mk_pod("x", "d", on("worker-c")),
            ],
            want: vec!["node-2", "node-1", "node-2", "node-1"],
        },
        Case {
            label: "node-5 does not exist with 2 nodes: it is a foreign name",
            nodes: 2,
            pods: vec![mk_pod("x", "a", on("node-5"))],
            want: vec!["node-1"],
        },
    ];
    for case in cases {
        let plan = plan(&cluster(case.pods), &config(case.nodes, &[])).expect(case.label);
        assert_eq!(nodes_of(&plan), case.want, "{}", case.label);
    }
}

#[test]
fn foreign_node_names_are_reported() {
    let pods = vec![
        mk_pod("x", "a", on("worker-b")),
        mk_pod("x", "b", on("worker-a")),
    ];
    let plan = plan(&cluster(pods), &config(2, &[])).expect("plan");
    assert_eq!(
        plan.node_mapping,
        BTreeMap::from([
            ("worker-a".to_string(), "node-1".to_string()),
            ("worker-b".to_string(), "node-2".to_string()),
        ])
    );
}

#[test]
fn status_ips_are_kept_and_the_rest_allocated_per_node() {
    let pods = vec![
        pod("x", "a", &[], ""),
        pod("x", "b", &[], "10.9.0.7"),
        pod("x", "c", &[], ""),
        pod("x", "d", &[], ""),
    ];
    let plan = plan(&cluster(pods), &config(2, &[])).expect("plan");
    let ips: Vec<Vec<IpAddr>> = plan.cluster.pods.iter().map(|p| p.ips.clone()).collect();
    assert_eq!(
        ips,
        vec![
            vec![ip("10.244.1.2")],
            vec![ip("10.9.0.7")],
            vec![ip("10.244.1.3")],
            vec![ip("10.244.2.2")],
        ]
    );
    assert_eq!(
        plan.families,
        Families {
            v4: true,
            v6: false
        }
    );
    assert_eq!(plan.nodes[0].ips, vec![ip("10.243.1.1")]);
    assert_eq!(plan.nodes[1].pods, vec![1, 3]);
}

#[test]
fn allocation_skips_addresses_already_taken() {
    let pods = vec![
        pod("x", "a", &[], "10.244.1.2"),
        pod("x", "b", &[], ""),
        pod("x", "c", &[], ""),
    ];
    let plan = plan(&cluster(pods), &config(1, &[])).expect("plan");
    assert_eq!(plan.cluster.pods[1].ips, vec![ip("10.244.1.3")]);
    assert_eq!(plan.cluster.pods[2].ips, vec![ip("10.244.1.4")]);
}

#[test]
fn ipv6_only_clusters_allocate_ipv6_only() {
    let pods = vec![pod("x", "a", &[], "fd00:0:0:1::10"), pod("x", "b", &[], "")];
    let plan = plan(&cluster(pods), &config(2, &["2001:db8::10"])).expect("plan");
    assert_eq!(
        plan.families,
        Families {
            v4: false,
            v6: true
        }
    );
    assert_eq!(plan.cluster.pods[1].ips, vec![ip("fd00:244:2::2")]);
    assert_eq!(plan.nodes[0].ips, vec![ip("fd00:243:1::1")]);
}

#[test]
fn an_ipv6_ip_block_makes_allocated_pods_dual_stack() {
    let policy = mk_policy("x", "p", |p| {
        p.ingress = Some(vec![rule(vec![ip_block("2001:db8::/64", &[])], vec![])]);
    });
    let c = mk_cluster(
        vec![ns("x", &[])],
        vec![pod("x", "a", &[], "")],
        vec![policy],
    );
    let plan = plan(&c, &config(1, &[])).expect("plan");
    assert_eq!(plan.families, Families { v4: true, v6: true });
    assert_eq!(
        plan.cluster.pods[0].ips,
        vec![ip("10.244.1.2"), ip("fd00:244:1::2")]
    );
}

#[test]
fn host_network_pods_use_their_nodes_addresses() {
    let pods = vec![
        mk_pod("x", "agent", |p| {
            p.host_network = true;
            p.node = Some("node-2".into());
        }),
        mk_pod("x", "web", |_| {}),
        mk_pod("x", "stated", |p| {
            p.host_network = true;
            p.node = Some("node-1".into());
            p.ips = vec![ip("192.168.50.1")];
        }),
    ];
    let plan = plan(&cluster(pods), &config(2, &[])).expect("plan");
    let endpoint = |name: &str| {
        plan.endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no endpoint {name}"))
    };
    assert_eq!(endpoint("x/agent").ips, plan.nodes[1].ips);
    assert_eq!(
        endpoint("x/agent").placement,
        Placement::HostNetwork { node: 1 }
    );
    // A hostNetwork pod's stated IP becomes its node's address.
    assert_eq!(plan.nodes[0].ips, vec![ip("192.168.50.1")]);
    assert_eq!(
        endpoint("x/stated").placement,
        Placement::HostNetwork { node: 0 }
    );
    // Round robin: `web` is the only unplaced pod and goes to node-1.
    assert_eq!(endpoint("x/web").placement, Placement::Pod { node: 0 });
}

#[test]
fn externals_follow_the_pods_in_the_order_given() {
    let plan = plan(
        &cluster(vec![pod("x", "a", &[], "")]),
        &config(2, &["203.0.113.9", "192.0.2.10"]),
    )
    .expect("plan");
    let names: Vec<&str> = plan.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["x/a", "203.0.113.9", "192.0.2.10"]);
    assert_eq!(
        plan.endpoints[2].placement,
        Placement::External { index: 1 }
    );
}

#[test]
fn layouts_the_lab_cannot_build_are_refused_with_the_culprit() {
    struct Case {
        label: &'static str,
        pods: Vec<Pod>,
        externals: Vec<&'static str>,
        nodes: usize,
        message: &'static str,
    }
    let cases = vec![
        Case {
            label: "two pods, one IP",
            pods: vec![
                pod("x", "a", &[], "10.0.0.1"),
                pod("x", "b", &[], "10.0.0.1"),
            ],
            externals: vec![],
            nodes: 2,
            message: "pod x/b and pod x/a both use address 10.0.0.1",
        },
        Case {
            label: "an external with a pod's IP",
            pods: vec![pod("x", "a", &[], "10.0.0.1")],
            externals: vec!["10.0.0.1"],
            nodes: 2,
            message: "external 10.0.0.1 and pod x/a both use address 10.0.0.1",
        },
        Case {
            label: "the same external twice",
            pods: vec![],
            externals: vec!["192.0.2.10", "192.0.2.10"],
            nodes: 2,
            message: "external 192.0.2.10 and external 192.0.2.10 both use address 192.0.2.10",
        },
        Case {
            label: "link-local pod IP collides with the gateways",
            pods: vec![pod("x", "a", &[], "169.254.1.1")],
            externals: vec![],
            nodes: 2,
            message: "pod x/a: address 169.254.1.1 is link-local",
        },
        Case {
            label: "loopback external",
            pods: vec![],
            externals: vec!["127.0.0.1"],
            nodes: 2,
            message: "external 127.0.0.1: address 127.0.0.1 is loopback",
        },
        Case {
            label: "no nodes",
            pods: vec![],
            externals: vec![],
            nodes: 0,
            message: "--nodes must be between 1 and",
        },
        Case {
            label: "hostNetwork pods on different nodes with one IP",
            pods: vec![
                mk_pod("x", "h1", |p| {
                    p.host_network = true;
                    p.node = Some("node-1".into());
                    p.ips = vec![ip("192.168.9.9")];
                }),
                mk_pod("x", "h2", |p| {
                    p.host_network = true;
                    p.node = Some("node-2".into());
                    p.ips = vec![ip("192.168.9.9")];
                }),
            ],
            externals: vec![],
            nodes: 2,
            message: "node node-2 and node node-1 both use address 192.168.9.9",
        },
    ];
    for case in cases {
        let err = plan(&cluster(case.pods), &config(case.nodes, &case.externals))
            .err()
            .unwrap_or_else(|| panic!("{}: must be refused", case.label));
        assert!(
            matches!(err, LabError::Config(_)),
            "{}: {err:?}",
            case.label
        );
        assert!(
            err.to_string().contains(case.message),
            "{}: {err}",
            case.label
        );
    }
}

#[test]
fn more_pods_than_a_node_range_holds_asks_for_more_nodes() {
    let pods: Vec<Pod> = (0..300)
        .map(|i| mk_pod("x", &format!("p{i:03}"), |_| {}))
        .collect();
    let err = plan(&cluster(pods), &config(1, &[])).expect_err("300 pods on one node");
    assert!(err.to_string().contains("use more --nodes"), "{err}");
}
