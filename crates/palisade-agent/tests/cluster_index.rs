//! The cluster index driven by watcher events, checked through what matters: the ruleset
//! `palisade_nft::compile` makes for node `node-a` from the index's cluster, and what that
//! ruleset does to packets (`Ruleset::decide`). No API server, no kernel.

mod k8s;

use std::time::{Duration, Instant};

use k8s::{NODE, allow_from, at, bump, decide, ip, mk_ns, mk_pod, set_ip};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::watcher::Event;
use palisade_agent::index::{ClusterIndex, Effect, Kind};
use palisade_nft::{Decision, Ruleset};

const ACCEPT: Decision = Decision::Accept;
const DROP: Decision = Decision::Drop;

fn ruleset(index: &mut ClusterIndex) -> Ruleset {
    let cluster = index.cluster();
    palisade_nft::compile(cluster, NODE)
}

/// The incremental cluster must equal the one built from scratch after every step.
fn check_consistent(index: &mut ClusterIndex) {
    let rebuilt = index.rebuilt();
    let cluster = index.cluster();
    assert_eq!(cluster.namespaces, rebuilt.namespaces, "namespaces");
    assert_eq!(cluster.pods, rebuilt.pods, "pods");
    assert_eq!(cluster.policies, rebuilt.policies, "policies");
}

/// db (local, 10.0.1.10) admits TCP 5432 from app=web only; web is local (10.0.1.11), cache
/// (10.0.2.10) lives on another node.
fn shop() -> (Vec<Namespace>, Vec<Pod>, Vec<NetworkPolicy>) {
    (
        vec![mk_ns("shop", &[("team", "shop")])],
        vec![
            mk_pod(
                "shop",
                "db",
                "uid-db",
                &[("app", "db")],
                NODE,
                Some("10.0.1.10"),
                |_| {},
            ),
            mk_pod(
                "shop",
                "web",
                "uid-web",
                &[("app", "web")],
                NODE,
                Some("10.0.1.11"),
                |_| {},
            ),
            mk_pod(
                "shop",
                "cache",
                "uid-cache",
                &[("app", "cache")],
                "node-b",
                Some("10.0.2.10"),
                |_| {},
            ),
        ],
        vec![allow_from(
            "shop",
            "db",
            &[("app", "db")],
            &[("app", "web")],
            None,
            5432,
        )],
    )
}

fn synced_shop() -> ClusterIndex {
    let (namespaces, pods, policies) = shop();
    let mut index = ClusterIndex::new(NODE);
    index.reset_namespaces(&namespaces);
    index.reset_pods(&pods);
    index.reset_policies(&policies);
    assert!(index.all_synced());
    index
}

#[test]
fn a_relist_is_enforced_only_when_done_and_drops_what_it_did_not_list() {
    let (namespaces, pods, policies) = shop();
    let mut index = ClusterIndex::new(NODE);
    index.reset_namespaces(&namespaces);
    index.reset_pods(&pods);
    // The policy list is under way: nothing of it may show (it would be enforced half-listed).
    assert!(!index.policy_event(&Event::Init));
    assert!(!index.policy_event(&Event::InitApply(policies[0].clone())));
    assert!(!index.all_synced(), "policies not listed yet");
    assert!(
        index.cluster().policies.is_empty(),
        "buffered until InitDone"
    );
    assert!(index.policy_event(&Event::InitDone));
    assert!(index.all_synced());
    let rules = ruleset(&mut index);
    assert_eq!(
        decide(&rules, "10.0.1.11", "10.0.1.10", 5432),
        ACCEPT,
        "web -> db"
    );
    assert_eq!(
        decide(&rules, "10.0.2.10", "10.0.1.10", 5432),
        DROP,
        "cache -> db"
    );

    // A relist after a watch desync (410 Gone): the policy is not listed again, web's pod is.
    let revision = index.revision();
    index.policy_event(&Event::Init);
    index.pod_event(&Event::Init);
    for pod in &pods {
        index.pod_event(&Event::InitApply(pod.clone()));
    }
    assert_eq!(index.revision(), revision, "nothing changes mid-relist");
    let rules = ruleset(&mut index);
    assert_eq!(
        decide(&rules, "10.0.2.10", "10.0.1.10", 5432),
        DROP,
        "the policy stays in force while its kind relists"
    );
    assert!(
        !index.pod_event(&Event::InitDone),
        "same resourceVersions: no change"
    );
    assert!(
        index.policy_event(&Event::InitDone),
        "the unlisted policy leaves"
    );
    let rules = ruleset(&mut index);
    assert_eq!(
        decide(&rules, "10.0.2.10", "10.0.1.10", 5432),
        ACCEPT,
        "db no longer isolated"
    );
    check_consistent(&mut index);
}

#[test]
fn a_relist_restarted_midway_forgets_the_first_attempt() {
    let (namespaces, pods, policies) = shop();
    let mut index = ClusterIndex::new(NODE);
    index.reset_namespaces(&namespaces);
    index.reset_policies(&policies);
    index.pod_event(&Event::Init);
    index.pod_event(&Event::InitApply(pods[0].clone()));
    // The list failed and starts over; only web is listed this time.
    index.pod_event(&Event::Init);
    index.pod_event(&Event::InitApply(pods[1].clone()));
    index.pod_event(&Event::InitDone);
    let keys: Vec<String> = index.cluster().pods.iter().map(|p| p.key()).collect();
    assert_eq!(keys, ["shop/web"]);
}

#[test]
fn pods_without_an_address_wait_and_are_enforced_once_they_have_one() {
    let mut index = synced_shop();
    let mut db2 = mk_pod(
        "shop",
        "db-2",
        "uid-db-2",
        &[("app", "db")],
        NODE,
        None,
        |_| {},
    );
    assert!(index.apply_pod(&db2));
    let rules = ruleset(&mut index);
    assert_eq!(
        rules.pending_pods,
        ["shop/db-2"],
        "listed as pending, no rules"
    );
    assert_eq!(index.pending_local_pods(), 1);

    set_ip(&mut db2, Some("10.0.1.12"));
    assert!(index.apply_pod(&db2));
    let rules = ruleset(&mut index);
    assert!(rules.pending_pods.is_empty());
    assert_eq!(
        decide(&rules, "10.0.2.10", "10.0.1.12", 5432),
        DROP,
        "isolated at once"
    );
    assert_eq!(decide(&rules, "10.0.1.11", "10.0.1.12", 5432), ACCEPT);
    assert_eq!(
        index.pending_local_pods(),
        1,
        "has an address, rules not in force yet"
    );
    let delays = index.enforced(Instant::now());
    assert_eq!(delays.len(), 1, "one new local pod enforced");
    assert!(delays[0] < Duration::from_secs(5), "{delays:?}");
    assert_eq!(index.pending_local_pods(), 0);
    assert!(index.enforced(Instant::now()).is_empty(), "measured once");
}

#[test]
fn pods_of_the_first_list_are_not_measured_as_new() {
    let mut index = synced_shop();
    assert!(index.enforced(Instant::now()).is_empty());
    assert_eq!(index.pending_local_pods(), 0);
}

#[test]
fn finished_pods_leave() {
    // Pod phase: "Succeeded: All containers in the Pod have terminated in success" / "Failed"
    // (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase).
    for phase in ["Succeeded", "Failed"] {
        let mut index = synced_shop();
        let (_, pods, _) = shop();
        let mut db = pods[0].clone();
        if let Some(status) = db.status.as_mut() {
            status.phase = Some(phase.into());
        }
        bump(&mut db.metadata);
        assert!(index.apply_pod(&db), "{phase}");
        let rules = ruleset(&mut index);
        assert!(
            !index.cluster().pods.iter().any(|p| p.name == "db"),
            "{phase}: gone from the cluster"
        );
        assert!(
            !rules.ingress.contains_key(&ip("10.0.1.10")),
            "{phase}: no rules for its IP"
        );
        check_consistent(&mut index);
    }
}

#[test]
fn host_network_pods_are_not_policed() {
    // "hostNetwork pods ... NetworkPolicy behavior ... is undefined" for such pods
    // (https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-and-hostnetwork-pods);
    // palisade does not police them.
    let mut index = synced_shop();
    let agent = mk_pod(
        "shop",
        "agent",
        "uid-agent",
        &[("app", "db")],
        NODE,
        Some("192.168.0.5"),
        |p| {
            if let Some(spec) = p.spec.as_mut() {
                spec.host_network = Some(true);
            }
        },
    );
    index.apply_pod(&agent);
    let rules = ruleset(&mut index);
    assert!(
        !rules.ingress.contains_key(&ip("192.168.0.5")),
        "no chain for a hostNetwork pod"
    );
    assert_eq!(decide(&rules, "10.0.2.10", "192.168.0.5", 5432), ACCEPT);
    assert_eq!(index.pending_local_pods(), 0, "not a local pod to wait for");
}

#[test]
fn a_reused_address_never_carries_the_old_pods_rules_or_rights() {
    let mut index = synced_shop();
    let (_, pods, _) = shop();
    // db's sandbox is gone and 10.0.1.10 goes to a new pod, `batch`, created later; its Apply
    // arrives before db's Delete.
    let batch = mk_pod(
        "shop",
        "batch",
        "uid-batch",
        &[("app", "batch")],
        NODE,
        Some("10.0.1.10"),
        |p| {
            p.metadata.creation_timestamp = Some(at(60));
        },
    );
    index.apply_pod(&batch);
    let rules = ruleset(&mut index);
    assert!(
        !rules.ingress.contains_key(&ip("10.0.1.10")),
        "batch is not isolated, db's chain is gone from the address"
    );
    assert_eq!(decide(&rules, "10.0.2.10", "10.0.1.10", 80), ACCEPT);
    assert!(
        rules.address_conflicts.is_empty(),
        "{:?}",
        rules.address_conflicts
    );
    let db = index
        .cluster()
        .pods
        .iter()
        .find(|p| p.name == "db")
        .cloned();
    assert_eq!(
        db.map(|p| p.ips),
        Some(vec![]),
        "db keeps nothing of the address"
    );
    check_consistent(&mut index);

    index.delete_pod(&pods[0]);
    let rules = ruleset(&mut index);
    assert_eq!(decide(&rules, "10.0.2.10", "10.0.1.10", 80), ACCEPT);
    assert!(rules.pending_pods.is_empty(), "{:?}", rules.pending_pods);
    check_consistent(&mut index);
}

#[test]
fn a_reused_address_of_a_peer_does_not_inherit_its_peer_rights() {
    let mut index = synced_shop();
    // web (app=web, may reach db) is replaced at 10.0.1.11 by `tool` (app=tool), whose Apply
    // comes first; until web's Delete arrives the address belongs to tool alone.
    let tool = mk_pod(
        "shop",
        "tool",
        "uid-tool",
        &[("app", "tool")],
        "node-b",
        Some("10.0.1.11"),
        |p| {
            p.metadata.creation_timestamp = Some(at(60));
        },
    );
    index.apply_pod(&tool);
    let rules = ruleset(&mut index);
    assert_eq!(
        decide(&rules, "10.0.1.11", "10.0.1.10", 5432),
        DROP,
        "the address no longer stands for app=web"
    );
    // The reverse order of creation: the older pod never takes the address back.
    let (_, pods, _) = shop();
    let mut web = pods[1].clone();
    bump(&mut web.metadata);
    index.apply_pod(&web);
    let rules = ruleset(&mut index);
    assert_eq!(decide(&rules, "10.0.1.11", "10.0.1.10", 5432), DROP);
    check_consistent(&mut index);
}

#[test]
fn a_pod_created_again_under_its_name_is_another_pod() {
    let mut index = synced_shop();
    let (_, pods, _) = shop();
    // A StatefulSet recreates shop/db with a new uid, a new address and (here) new labels; the
    // new pod's Apply arrives before the old pod's Delete.
    let db = mk_pod(
        "shop",
        "db",
        "uid-db-new",
        &[("app", "db-v2")],
        NODE,
        Some("10.0.1.20"),
        |p| {
            p.metadata.creation_timestamp = Some(at(60));
        },
    );
    index.apply_pod(&db);
    let rules = ruleset(&mut index);
    let keys: Vec<String> = index.cluster().pods.iter().map(|p| p.key()).collect();
    assert_eq!(
        keys,
        ["shop/cache", "shop/db", "shop/web"],
        "one pod per name"
    );
    assert!(
        !rules.ingress.contains_key(&ip("10.0.1.10")),
        "old db's rules are gone"
    );
    assert!(
        !rules.ingress.contains_key(&ip("10.0.1.20")),
        "new db is not selected (app=db-v2)"
    );
    // The old pod's Delete does not take the new one with it.
    index.delete_pod(&pods[0]);
    let keys: Vec<String> = index.cluster().pods.iter().map(|p| p.key()).collect();
    assert_eq!(keys, ["shop/cache", "shop/db", "shop/web"]);
    check_consistent(&mut index);
}

#[test]
fn label_changes_take_effect_like_policy_changes() {
    let mut index = synced_shop();
    let (namespaces, pods, _) = shop();
    // The pod leaves the policy's podSelector: no longer isolated.
    let mut db = pods[0].clone();
    db.metadata.labels = Some(k8s::labels(&[("app", "db-retired")]));
    bump(&mut db.metadata);
    index.apply_pod(&db);
    let rules = ruleset(&mut index);
    assert_eq!(decide(&rules, "10.0.2.10", "10.0.1.10", 5432), ACCEPT);

    // A peer gains the allowed label: admitted.
    let mut index = synced_shop();
    let mut cache = pods[2].clone();
    cache.metadata.labels = Some(k8s::labels(&[("app", "web")]));
    bump(&mut cache.metadata);
    index.apply_pod(&cache);
    let rules = ruleset(&mut index);
    assert_eq!(decide(&rules, "10.0.2.10", "10.0.1.10", 5432), ACCEPT);

    // Namespace labels: a rule admitting pods of namespaces labelled team=ops.
    let mut index = synced_shop();
    let ops = mk_ns("ops", &[("team", "none")]);
    index.apply_namespace(&ops);
    index.apply_pod(&mk_pod(
        "ops",
        "probe",
        "uid-probe",
        &[("app", "probe")],
        "node-b",
        Some("10.0.3.10"),
        |_| {},
    ));
    index.apply_policy(&allow_from(
        "shop",
        "ops",
        &[("app", "db")],
        &[],
        Some(&[("team", "ops")]),
        5432,
    ));
    let rules = ruleset(&mut index);
    assert_eq!(
        decide(&rules, "10.0.3.10", "10.0.1.10", 5432),
        DROP,
        "ops not labelled yet"
    );
    let mut ops = ops;
    ops.metadata.labels = Some(k8s::labels(&[("team", "ops")]));
    bump(&mut ops.metadata);
    assert!(index.apply_namespace(&ops));
    let rules = ruleset(&mut index);
    assert_eq!(
        decide(&rules, "10.0.3.10", "10.0.1.10", 5432),
        ACCEPT,
        "namespace label added"
    );
    let _ = namespaces;
    check_consistent(&mut index);
}

#[test]
fn an_unchanged_resource_version_is_not_converted_again() {
    let mut index = synced_shop();
    let (_, pods, _) = shop();
    let revision = index.revision();
    // Same resourceVersion, different content: the index trusts the version and skips it.
    let mut same = pods[0].clone();
    same.metadata.labels = Some(k8s::labels(&[("app", "other")]));
    assert!(!index.apply_pod(&same));
    assert_eq!(index.revision(), revision);
    // A new version with the same content changes nothing either.
    let mut again = pods[0].clone();
    bump(&mut again.metadata);
    assert!(!index.apply_pod(&again));
    assert_eq!(index.revision(), revision);
}

fn break_policy(np: &mut NetworkPolicy) {
    // An ipBlock with a selector in the same peer: the API server refuses it (P230).
    if let Some(rule) = np
        .spec
        .as_mut()
        .and_then(|s| s.ingress.as_mut())
        .and_then(|i| i.first_mut())
        && let Some(peer) = rule.from.as_mut().and_then(|f| f.first_mut())
    {
        peer.ip_block = Some(k8s_openapi::api::networking::v1::IPBlock {
            cidr: "0.0.0.0/0".into(),
            except: None,
        });
    }
    bump(&mut np.metadata);
}

#[test]
fn a_policy_that_fails_validation_keeps_its_last_good_version() {
    let mut index = synced_shop();
    index.take_rejections();
    let (_, _, policies) = shop();
    let mut np = policies[0].clone();
    break_policy(&mut np);
    index.apply_policy(&np);
    let rejections = index.take_rejections();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!(rejections[0].kind, Kind::NetworkPolicy);
    assert_eq!(rejections[0].object, "shop/db");
    assert_eq!(rejections[0].reason, "P230");
    assert_eq!(rejections[0].effect, Effect::KeptLastGood);
    assert_eq!(index.policies_not_as_written(), 1);
    let rules = ruleset(&mut index);
    // The broken version would have admitted everyone (0.0.0.0/0); the last good one stays.
    assert_eq!(decide(&rules, "10.0.2.10", "10.0.1.10", 5432), DROP);
    assert_eq!(decide(&rules, "10.0.1.11", "10.0.1.10", 5432), ACCEPT);

    // Fixed: the new version counts; deleted: it leaves.
    let mut fixed = allow_from(
        "shop",
        "db",
        &[("app", "db")],
        &[("app", "cache")],
        None,
        5432,
    );
    fixed.metadata.resource_version = Some("9".into());
    index.apply_policy(&fixed);
    assert_eq!(index.policies_not_as_written(), 0);
    let rules = ruleset(&mut index);
    assert_eq!(decide(&rules, "10.0.2.10", "10.0.1.10", 5432), ACCEPT);
    index.delete_policy(&fixed);
    assert!(index.cluster().policies.is_empty());
    check_consistent(&mut index);
}

#[test]
fn a_policy_that_never_passed_validation_isolates_its_pods() {
    let (namespaces, pods, policies) = shop();
    let mut index = ClusterIndex::new(NODE);
    index.reset_namespaces(&namespaces);
    index.reset_pods(&pods);
    let mut np = policies[0].clone();
    break_policy(&mut np);
    index.reset_policies(&[np]);
    let rejections = index.take_rejections();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!(rejections[0].effect, Effect::Quarantined);
    let rules = ruleset(&mut index);
    assert_eq!(
        decide(&rules, "10.0.2.10", "10.0.1.10", 5432),
        DROP,
        "isolated"
    );
    assert_eq!(
        decide(&rules, "10.0.1.11", "10.0.1.10", 5432),
        DROP,
        "nothing allowed"
    );
    assert_eq!(
        decide(&rules, "10.0.2.10", "10.0.1.11", 5432),
        ACCEPT,
        "web is not selected"
    );
    // Relisting the same broken version reports it no second time.
    let (_, _, policies) = shop();
    let mut np = policies[0].clone();
    break_policy(&mut np);
    index.reset_policies(&[np]);
    assert!(index.take_rejections().is_empty());
}

/// Random event sequences (pods reusing a few addresses and names, relists, deletes, label
/// flips, policies coming and going): after every step the incremental cluster equals the one
/// built from scratch, no address or name stands for two pods, and everything is sorted.
#[test]
fn random_event_sequences_keep_the_cluster_consistent() {
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n
        }
    }
    for seed in 0..20 {
        let mut rng = Rng(seed);
        let mut index = ClusterIndex::new(NODE);
        index.reset_namespaces(&[mk_ns("a", &[]), mk_ns("b", &[])]);
        index.reset_pods(&[]);
        index.reset_policies(&[]);
        let mut compiler = palisade_nft::Incremental::new(NODE, Default::default());
        for step in 0..300u64 {
            let version = step + 2;
            let uid = format!("uid-{}", rng.below(12));
            let name = format!("p{}", rng.below(5));
            let namespace = if rng.below(2) == 0 { "a" } else { "b" };
            let address = format!("10.0.0.{}", rng.below(4));
            let app = if rng.below(2) == 0 { "db" } else { "web" };
            let node = if rng.below(2) == 0 { NODE } else { "node-b" };
            let has_ip = rng.below(5) != 0;
            let created = rng.below(3) as i64;
            let pod = mk_pod(
                namespace,
                &name,
                &uid,
                &[("app", app)],
                node,
                has_ip.then_some(address.as_str()),
                |p| {
                    p.metadata.resource_version = Some(version.to_string());
                    p.metadata.creation_timestamp = Some(at(created));
                },
            );
            match rng.below(10) {
                0..=5 => {
                    index.apply_pod(&pod);
                }
                6 | 7 => {
                    index.delete_pod(&pod);
                }
                8 => {
                    let policy = allow_from(
                        namespace,
                        "np",
                        &[("app", app)],
                        &[("app", "web")],
                        None,
                        80,
                    );
                    if rng.below(2) == 0 {
                        index.apply_policy(&policy);
                    } else {
                        index.delete_policy(&policy);
                    }
                }
                _ => {
                    // A relist keeping a random half of the pods.
                    let keep: Vec<Pod> = index
                        .cluster()
                        .pods
                        .iter()
                        .filter(|_| rng.below(2) == 0)
                        .map(|p| {
                            mk_pod(
                                &p.namespace,
                                &p.name,
                                &format!("relisted-{}", p.key()),
                                &[],
                                NODE,
                                None,
                                |_| {},
                            )
                        })
                        .collect();
                    index.reset_pods(&keep);
                }
            }
            check_consistent(&mut index);
            let (cluster, changes) = index.cluster_and_changes();
            // The index's changes leave nothing out: compiling with them gives what a fresh
            // compile gives.
            assert!(
                *compiler.compile_changed(cluster, &changes)
                    == palisade_nft::compile(cluster, NODE),
                "seed {seed} step {step}: incremental compile with {changes:?} differs"
            );
            let mut addresses: Vec<_> = cluster.pods.iter().flat_map(|p| p.ips.clone()).collect();
            let count = addresses.len();
            addresses.sort();
            addresses.dedup();
            assert_eq!(
                addresses.len(),
                count,
                "seed {seed} step {step}: an address stands for two pods"
            );
            let names: Vec<_> = cluster
                .pods
                .iter()
                .map(|p| (&p.namespace, &p.name))
                .collect();
            assert!(
                names.windows(2).all(|w| w[0] < w[1]),
                "seed {seed} step {step}: pods sorted, one per name"
            );
            let rules = palisade_nft::compile(cluster, NODE);
            assert!(
                rules.address_conflicts.is_empty(),
                "seed {seed} step {step}"
            );
        }
    }
}
