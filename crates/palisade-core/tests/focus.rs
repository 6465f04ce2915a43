//! `--from` / `--to` over a small cluster: which pods each focus form picks, workload replicas
//! found by their controller and not by a shared name prefix, and `pods()` agreeing with
//! `matches_pod()` on every focus.

use palisade_core::focus::Focus;
use palisade_core::model::{Cluster, Owner, Pod};
use palisade_test_support::builders::*;

/// A Deployment replica as the ReplicaSet controller creates it: named `RS-xxxxx`, labelled
/// with the template hash, owned by the ReplicaSet `DEPLOYMENT-HASH`.
fn replica(namespace: &str, deployment: &str, hash: &str, suffix: &str, address: &str) -> Pod {
    mk_pod(namespace, &format!("{deployment}-{hash}-{suffix}"), |p| {
        p.labels = labels(&[("app", deployment), ("pod-template-hash", hash)]);
        p.ips = vec![ip(address)];
        p.owner = Some(Owner {
            kind: "ReplicaSet".into(),
            name: format!("{deployment}-{hash}"),
        });
    })
}

fn shop() -> Cluster {
    mk_cluster(
        vec![ns("shop", &[("team", "web")]), ns("payments", &[])],
        vec![
            // A bare pod that shares its name with the Deployment below.
            pod("shop", "web", &[("app", "web"), ("tier", "fe")], "10.0.1.1"),
            replica("shop", "web", "5d8f7c9b6d", "q7x2m", "10.0.1.2"),
            replica("shop", "web", "5d8f7c9b6d", "z9k4p", "10.0.1.3"),
            pod("shop", "account", &[("app", "account")], "10.0.1.10"),
            // Replicas of `account-query` known by their labels only (no owner references).
            pod(
                "shop",
                "account-query-7d9f8c6b5-x2x4k",
                &[("app", "account-query"), ("pod-template-hash", "7d9f8c6b5")],
                "10.0.1.11",
            ),
            pod(
                "shop",
                "account-query-7d9f8c6b5-abcde",
                &[("app", "account-query"), ("pod-template-hash", "7d9f8c6b5")],
                "10.0.1.12",
            ),
            // A namespace whose name starts with another's.
            pod("shop-two", "web", &[("app", "web")], "10.0.3.1"),
            mk_pod("payments", "db-0", |p| {
                p.labels = labels(&[("app", "db"), ("tier", "data")]);
                p.ips = vec![ip("10.0.2.1"), ip("fd00::2:1")];
                p.owner = Some(Owner {
                    kind: "StatefulSet".into(),
                    name: "db".into(),
                });
            }),
            mk_pod("payments", "db-1", |p| {
                p.labels = labels(&[("app", "db"), ("tier", "data")]);
                p.ips = vec![ip("10.0.2.2")];
                p.owner = Some(Owner {
                    kind: "StatefulSet".into(),
                    name: "db".into(),
                });
            }),
            // No labels and no address yet.
            pod("payments", "debug", &[], ""),
        ],
        vec![],
    )
}

fn picked(cluster: &Cluster, focus: &Focus) -> Vec<String> {
    focus
        .pods(cluster)
        .into_iter()
        .map(|i| cluster.pods[i].key())
        .collect()
}

#[test]
fn each_form_picks_its_pods() {
    let cluster = shop();
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "every pod",
            "*",
            vec![
                "payments/db-0",
                "payments/db-1",
                "payments/debug",
                "shop/account",
                "shop/account-query-7d9f8c6b5-abcde",
                "shop/account-query-7d9f8c6b5-x2x4k",
                "shop/web",
                "shop/web-5d8f7c9b6d-q7x2m",
                "shop/web-5d8f7c9b6d-z9k4p",
                "shop-two/web",
            ],
        ),
        (
            "a namespace, not the one sharing its prefix",
            "shop-two/*",
            vec!["shop-two/web"],
        ),
        (
            "pod name and workload name both match",
            "shop/web",
            vec![
                "shop/web",
                "shop/web-5d8f7c9b6d-q7x2m",
                "shop/web-5d8f7c9b6d-z9k4p",
            ],
        ),
        (
            "account is not account-query",
            "shop/account",
            vec!["shop/account"],
        ),
        (
            "deployment replicas from labels alone",
            "shop/account-query",
            vec![
                "shop/account-query-7d9f8c6b5-abcde",
                "shop/account-query-7d9f8c6b5-x2x4k",
            ],
        ),
        (
            "one replica by its pod name",
            "shop/web-5d8f7c9b6d-q7x2m",
            vec!["shop/web-5d8f7c9b6d-q7x2m"],
        ),
        (
            "statefulset by owner",
            "payments/db",
            vec!["payments/db-0", "payments/db-1"],
        ),
        ("statefulset pod", "payments/db-1", vec!["payments/db-1"]),
        ("no such pod or workload", "payments/web", vec![]),
        ("no such namespace", "nowhere/*", vec![]),
        (
            "selector in every namespace",
            "app=web",
            vec![
                "shop/web",
                "shop/web-5d8f7c9b6d-q7x2m",
                "shop/web-5d8f7c9b6d-z9k4p",
                "shop-two/web",
            ],
        ),
        (
            "selector in one namespace",
            "shop:app=web,tier=fe",
            vec!["shop/web"],
        ),
        (
            "set-based selector",
            "shop:app in (account,account-query),!pod-template-hash",
            vec!["shop/account"],
        ),
        (
            "!= also picks pods without the key",
            "payments:app!=db",
            vec!["payments/debug"],
        ),
        (
            "notin also picks pods without the key",
            "payments:tier notin (data)",
            vec!["payments/debug"],
        ),
        (
            "exists",
            "*:pod-template-hash",
            vec![
                "shop/account-query-7d9f8c6b5-abcde",
                "shop/account-query-7d9f8c6b5-x2x4k",
                "shop/web-5d8f7c9b6d-q7x2m",
                "shop/web-5d8f7c9b6d-z9k4p",
            ],
        ),
        ("address", "10.0.1.10", vec!["shop/account"]),
        (
            "cidr",
            "10.0.2.0/24",
            vec!["payments/db-0", "payments/db-1"],
        ),
        (
            "ipv6 cidr, any of a pod's addresses",
            "fd00::/64",
            vec!["payments/db-0"],
        ),
    ];
    for (label, spec, want) in cases {
        let focus = Focus::parse(spec).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(picked(&cluster, &focus), want, "{label}: {spec}");
    }
}

/// `pods()` narrows by namespace; it must still pick exactly what `matches_pod()` picks.
#[test]
fn pods_agrees_with_matches_pod() {
    let cluster = shop();
    let specs = [
        "*",
        "shop/*",
        "shop-two/*",
        "payments/*",
        "a/*",
        "zzz/*",
        "shop/web",
        "shop/account",
        "shop-two/web",
        "payments/db",
        "app=web",
        "shop:app=web",
        "payments:!app",
        "zzz:app",
        "*:tier",
        "10.0.0.0/8",
        "::/0",
    ];
    for spec in specs {
        let focus = Focus::parse(spec).expect(spec);
        let want: Vec<usize> = (0..cluster.pods.len())
            .filter(|&i| focus.matches_pod(&cluster, i))
            .collect();
        assert_eq!(focus.pods(&cluster), want, "{spec}");
    }
}

#[test]
fn externals_match_only_address_focuses() {
    let cluster = shop();
    let external = ip("10.0.1.200");
    for (spec, want) in [
        ("10.0.1.0/24", true),
        ("10.0.1.200", true),
        ("10.0.2.0/24", false),
        ("*", false),
        ("shop/*", false),
        ("app=web", false),
        ("shop/web", false),
    ] {
        let focus = Focus::parse(spec).expect(spec);
        assert_eq!(focus.matches_ip(external), want, "{spec}");
    }
    // An index past the pods is no pod.
    assert!(!Focus::All.matches_pod(&cluster, cluster.pods.len()));
}
