//! Diffs between rulesets: applying `diff(a, b)` to `a` gives exactly `b`; pod churn becomes
//! element commands only; policy changes add and remove whole chains and sets; only an in-place
//! change of a chain or set falls back to replacing the table.

mod common;

use std::net::IpAddr;

use common::{NODES, cluster};
use palisade_core::model::{Cluster, Pod};
use palisade_nft::{Ruleset, compile, diff};
use palisade_test_support::builders::{
    ip, labels, mk_cluster, mk_pod, mk_policy, pods, rule, sel, tcp,
};
use proptest::prelude::*;

/// One change to a cluster, as churn and edits produce them.
#[derive(Debug, Clone)]
enum Edit {
    RemovePod(usize),
    /// A replica: a copy of a pod under a new name and a fresh address.
    AddReplica(usize),
    NewAddress(usize),
    DropAddresses(usize),
    Relabel(usize),
    MoveNode(usize),
    RemovePolicy(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..8usize).prop_map(Edit::RemovePod),
        (0..8usize).prop_map(Edit::AddReplica),
        (0..8usize).prop_map(Edit::NewAddress),
        (0..8usize).prop_map(Edit::DropAddresses),
        (0..8usize).prop_map(Edit::Relabel),
        (0..8usize).prop_map(Edit::MoveNode),
        (0..6usize).prop_map(Edit::RemovePolicy),
    ]
}

/// Addresses no generated cluster uses, one per call.
fn fresh(n: &mut u8, like: Option<&IpAddr>) -> IpAddr {
    *n += 1;
    match like {
        Some(IpAddr::V6(_)) => ip(&format!("fd77::{n}")),
        _ => ip(&format!("10.77.0.{n}")),
    }
}

fn apply_edits(cluster: &Cluster, edits: &[Edit]) -> Cluster {
    let mut c = cluster.clone();
    let mut n = 0u8;
    for e in edits {
        let len = c.pods.len();
        match *e {
            Edit::RemovePod(i) if i < len => {
                c.pods.remove(i);
            }
            Edit::AddReplica(i) if i < len => {
                let mut p: Pod = c.pods[i].clone();
                p.name = format!("{}-r{n}", p.name);
                p.ips = p.ips.iter().map(|a| fresh(&mut n, Some(a))).collect();
                c.pods.push(p);
            }
            Edit::NewAddress(i) if i < len => {
                let first = c.pods[i].ips.first().copied();
                c.pods[i].ips = vec![fresh(&mut n, first.as_ref())];
            }
            Edit::DropAddresses(i) if i < len => c.pods[i].ips.clear(),
            Edit::Relabel(i) if i < len => {
                c.pods[i].labels = labels(&[("app", "x"), ("tier", "z")]);
            }
            Edit::MoveNode(i) if i < len => {
                let p = &mut c.pods[i];
                p.node = match p.node.as_deref() {
                    Some("n1") => Some("n2".to_string()),
                    _ => Some("n1".to_string()),
                };
            }
            Edit::RemovePolicy(i) if i < c.policies.len() => {
                c.policies.remove(i);
            }
            _ => {}
        }
    }
    mk_cluster(c.namespaces, c.pods, c.policies)
}

/// What the kernel holds: everything but the bookkeeping.
fn kernel_part(rs: &Ruleset) -> impl PartialEq + std::fmt::Debug + '_ {
    (&rs.egress, &rs.ingress, &rs.chains, &rs.sets, &rs.classes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn applying_the_diff_gives_the_new_ruleset(
        (before, _) in cluster(),
        edits in prop::collection::vec(edit(), 0..=4),
    ) {
        let after = apply_edits(&before, &edits);
        for node in NODES {
            let (a, b) = (compile(&before, node), compile(&after, node));
            let d = diff(&a, &b);
            prop_assert_eq!(&d.apply(&a), &b, "{:?}\n{}", edits, d.to_nft());
            // Names come from content and definitions: nothing ever changes in place.
            prop_assert!(!d.is_replacement(), "{:?}\n{}", edits, d.to_nft());
            prop_assert_eq!(d.is_empty(), kernel_part(&a) == kernel_part(&b));
            prop_assert!(diff(&b, &b).is_empty());
        }
    }
}

fn web(name: &str, node: &str, address: &str) -> Pod {
    mk_pod("prod", name, |p| {
        p.labels = labels(&[("app", "web")]);
        p.ips = vec![ip(address)];
        p.node = Some(node.to_string());
    })
}

fn base(members: Vec<Pod>, port: u16) -> Cluster {
    mk_cluster(
        vec![],
        members,
        vec![
            mk_policy("prod", "web-in", |p| {
                p.subject = sel(&[("app", "web")]);
                p.ingress = Some(vec![rule(
                    vec![pods(sel(&[("app", "web")]))],
                    vec![tcp(port)],
                )]);
            }),
            mk_policy("prod", "deny-egress", |p| {
                p.ingress = None;
                p.egress = Some(vec![]);
            }),
        ],
    )
}

/// Which nft commands a script uses (first two words of each command line).
fn commands(script: &str) -> Vec<String> {
    let mut out: Vec<String> = script
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('\t') && *l != "}")
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn pod_churn_is_element_updates_only() {
    let start = vec![
        web("web-1", "n1", "10.0.1.1"),
        web("web-2", "n2", "10.0.2.1"),
    ];
    let cases: Vec<(&str, Vec<Pod>)> = vec![
        (
            "replica added on this node",
            vec![
                web("web-1", "n1", "10.0.1.1"),
                web("web-2", "n2", "10.0.2.1"),
                web("web-3", "n1", "10.0.1.3"),
            ],
        ),
        (
            "replica added elsewhere",
            vec![
                web("web-1", "n1", "10.0.1.1"),
                web("web-2", "n2", "10.0.2.1"),
                web("web-3", "n2", "10.0.2.3"),
            ],
        ),
        ("remote pod removed", vec![web("web-1", "n1", "10.0.1.1")]),
        (
            "address changed",
            vec![
                web("web-1", "n1", "10.0.1.7"),
                web("web-2", "n2", "10.0.2.1"),
            ],
        ),
        (
            "pod renamed at the same address",
            vec![
                web("web-9", "n1", "10.0.1.1"),
                web("web-2", "n2", "10.0.2.1"),
            ],
        ),
    ];
    let old = compile(&base(start, 80), "n1");
    for (label, pods) in cases {
        let new = compile(&base(pods, 80), "n1");
        let d = diff(&old, &new);
        assert!(!d.is_empty() && !d.is_replacement(), "{label}");
        let stats = d.stats();
        assert_eq!(
            (
                stats.chains_added,
                stats.chains_removed,
                stats.sets_added,
                stats.sets_removed
            ),
            (0, 0, 0, 0),
            "{label}"
        );
        let script = d.to_nft();
        for command in commands(&script) {
            assert!(
                command == "add element" || command == "delete element",
                "{label}: {command}\n{script}"
            );
        }
        assert_eq!(d.apply(&old), new, "{label}");
    }
}

#[test]
fn policy_change_swaps_chains_without_reload() {
    let pods = vec![
        web("web-1", "n1", "10.0.1.1"),
        web("web-2", "n2", "10.0.2.1"),
    ];
    let old = compile(&base(pods.clone(), 80), "n1");
    let new = compile(&base(pods, 8080), "n1");
    let d = diff(&old, &new);
    assert!(!d.is_replacement());
    let stats = d.stats();
    assert_eq!((stats.chains_added, stats.chains_removed), (1, 1));
    let script = d.to_nft();
    let add_chain = script.find("add chain").unwrap_or(usize::MAX);
    let add_element = script.find("add element").unwrap_or(usize::MAX);
    let delete_chain = script.find("delete chain").unwrap_or(usize::MAX);
    assert!(
        add_chain < add_element && add_element < delete_chain,
        "a chain exists before map elements jump to it, and is deleted after:\n{script}"
    );
    assert_eq!(d.apply(&old), new);
}

#[test]
fn in_place_changes_replace_the_table() {
    let pods = vec![
        web("web-1", "n1", "10.0.1.1"),
        web("web-2", "n2", "10.0.2.1"),
    ];
    let old = compile(&base(pods, 80), "n1");
    let mut new = old.clone();
    let (name, set) = new
        .sets
        .iter_mut()
        .next()
        .unwrap_or_else(|| panic!("no set"));
    set.comment.push_str(" (edited)");
    let name = name.clone();
    let d = diff(&old, &new);
    assert!(d.is_replacement(), "set {name} changed its declaration");
    assert_eq!(d.to_nft(), new.to_nft());
    assert_eq!(d.apply(&old), new);

    let mut new = old.clone();
    let chain = new
        .chains
        .values_mut()
        .next()
        .unwrap_or_else(|| panic!("no chain"));
    chain.rules.remove(0);
    assert!(diff(&old, &new).is_replacement(), "chain changed in place");
}

#[test]
fn empty_diff_is_a_comment() {
    let old = compile(&base(vec![web("web-1", "n1", "10.0.1.1")], 80), "n1");
    let d = diff(&old, &old);
    assert!(d.is_empty());
    assert!(
        d.to_nft().lines().all(|l| l.starts_with('#')),
        "{}",
        d.to_nft()
    );
}
