//! `Incremental::compile` returns exactly what `compile_with` returns for the same cluster, node
//! and options, whatever came before it: random clusters, changed into one another pod by pod and
//! policy by policy (pods added, removed, relabelled, moved, readdressed; policies added, removed,
//! rewritten), on every node and with every option.

mod common;

use std::collections::BTreeMap;

use common::{NODES, cluster};
use palisade_core::model::{Cluster, Pod, Policy};
use palisade_nft::{
    Changes, ClassMask, CompileOptions, Incremental, LogOptions, Ruleset, compile_with,
};
use palisade_test_support::synth::{SynthParams, generate};
use proptest::prelude::*;

/// `base` with some of `other`'s pods and policies in: bit i of `mask` decides, for the i-th
/// object of the union (by key), whether the result takes `other`'s version (or drops it when
/// only `base` has one). Namespaces stay `base`'s unless `namespaces` is set.
fn mix(base: &Cluster, other: &Cluster, mask: u64, namespaces: bool) -> Cluster {
    let mut out = mix_pods(base, other, mask);
    let mut bit = 0u32;
    let mut take = || {
        let t = mask.rotate_right(bit + 32) & 1 == 1;
        bit = (bit + 1) % 64;
        t
    };
    let mut policies: BTreeMap<(String, String), Policy> = base
        .policies
        .iter()
        .map(|p| ((p.namespace.clone(), p.name.clone()), p.clone()))
        .collect();
    for p in &other.policies {
        if take() {
            policies.insert((p.namespace.clone(), p.name.clone()), p.clone());
        }
    }
    let keys: Vec<_> = policies.keys().cloned().collect();
    for key in keys {
        if take() {
            policies.remove(&key);
        }
    }
    out.policies = policies.into_values().collect();
    if namespaces {
        out.namespaces = other.namespaces.clone();
    }
    out
}

/// `base` with some of `other`'s pods (and without some of its own), policies and namespaces
/// untouched: what churn elsewhere in the cluster looks like to a node.
fn mix_pods(base: &Cluster, other: &Cluster, mask: u64) -> Cluster {
    let mut bit = 0u32;
    let mut take = || {
        let t = mask.rotate_right(bit) & 1 == 1;
        bit = (bit + 1) % 64;
        t
    };
    let mut pods: BTreeMap<(String, String), Pod> = base
        .pods
        .iter()
        .map(|p| ((p.namespace.clone(), p.name.clone()), p.clone()))
        .collect();
    for p in &other.pods {
        if take() {
            pods.insert((p.namespace.clone(), p.name.clone()), p.clone());
        }
    }
    let keys: Vec<_> = pods.keys().cloned().collect();
    for key in keys {
        if take()
            && !other
                .pods
                .iter()
                .any(|p| (&p.namespace, &p.name) == (&key.0, &key.1))
        {
            pods.remove(&key);
        }
    }
    Cluster {
        namespaces: base.namespaces.clone(),
        pods: pods.into_values().collect(),
        policies: base.policies.clone(),
    }
}

fn option_sets() -> Vec<CompileOptions> {
    vec![
        CompileOptions::default(),
        CompileOptions {
            log: Some(LogOptions::new(3)),
            counters: true,
            guard_cidrs: vec!["10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))],
            class_mask: ClassMask::new(0xff00_0000).unwrap_or_else(|e| panic!("{e}")),
        },
    ]
}

/// Where two rulesets first differ, for the failure message.
fn difference(got: &Ruleset, want: &Ruleset) -> String {
    let mut out = Vec::new();
    if got.classes != want.classes {
        let extra: Vec<_> = got
            .classes
            .iter()
            .filter(|(k, v)| want.classes.get(k) != Some(v))
            .take(5)
            .collect();
        let missing: Vec<_> = want
            .classes
            .iter()
            .filter(|(k, v)| got.classes.get(k) != Some(v))
            .take(5)
            .collect();
        out.push(format!("classes: got {extra:?}, want {missing:?}"));
    }
    for (name, set) in &want.sets {
        match got.sets.get(name) {
            Some(g) if g == set => {}
            g => out.push(format!("set {name}: got {g:?}, want {set:?}")),
        }
    }
    for name in got.sets.keys() {
        if !want.sets.contains_key(name) {
            out.push(format!("set {name} should not exist"));
        }
    }
    if got.chains != want.chains {
        out.push("chains differ".to_string());
    }
    if got.egress != want.egress || got.ingress != want.ingress {
        out.push("verdict maps differ".to_string());
    }
    if got.unclassified != want.unclassified {
        out.push(format!(
            "unclassified {} != {}",
            got.unclassified, want.unclassified
        ));
    }
    if out.is_empty() {
        out.push("another field differs".to_string());
    }
    out.join("\n")
}

/// What a caller that tracks objects would say changed from `a` to `b`.
fn changes_between(a: &Cluster, b: &Cluster) -> Changes {
    let index = |c: &Cluster| -> BTreeMap<(String, String), Pod> {
        c.pods
            .iter()
            .map(|p| ((p.namespace.clone(), p.name.clone()), p.clone()))
            .collect()
    };
    let (before, after) = (index(a), index(b));
    let pods = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    Changes::Known {
        pods,
        policies: a.policies != b.policies,
        namespaces: a.namespaces != b.namespaces,
    }
}

fn check_sequence(steps: &[Cluster]) -> Result<(), String> {
    for options in option_sets() {
        for node in NODES {
            let mut inc = Incremental::new(node, options.clone());
            let mut told = Incremental::new(node, options.clone());
            for (n, cluster) in steps.iter().enumerate() {
                let want = compile_with(cluster, node, &options);
                let got = inc.compile(cluster).clone();
                if got != want {
                    return Err(format!(
                        "node {node}, step {n}, work {:?}:\n{}",
                        inc.work(),
                        difference(&got, &want)
                    ));
                }
                let changes = match n {
                    0 => Changes::Unknown,
                    _ => changes_between(&steps[n - 1], cluster),
                };
                let got = told.compile_changed(cluster, &changes).clone();
                if got != want {
                    return Err(format!(
                        "told {changes:?}: node {node}, step {n}, work {:?}:\n{}",
                        told.work(),
                        difference(&got, &want)
                    ));
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn incremental_equals_a_full_compile(
        (a, _) in cluster(),
        (b, _) in cluster(),
        masks in proptest::array::uniform4(any::<u64>()),
    ) {
        let steps = vec![
            a.clone(),
            mix_pods(&a, &b, masks[0]),
            mix_pods(&a, &b, masks[1]),
            mix_pods(&mix_pods(&a, &b, masks[1]), &b, !masks[2]),
            a.clone(),
            mix(&a, &b, masks[0], false),
            mix(&a, &b, masks[1], false),
            mix(&mix(&a, &b, masks[1], false), &b, masks[2], false),
            mix(&a, &b, masks[3], true),
            b.clone(),
            a.clone(),
        ];
        if let Err(e) = check_sequence(&steps) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// A larger cluster of the benchmark's shape, changed one pod and one policy at a time; with a
/// mask of 255 ids too, where new classes collide with known ones and renumber them.
#[test]
fn incremental_follows_single_changes_on_a_synthetic_cluster() {
    for options in option_sets() {
        single_changes(options);
    }
}

fn single_changes(options: CompileOptions) {
    let mut cluster = generate(SynthParams {
        namespaces: 6,
        pods: 400,
        policies: 120,
        seed: 7,
    });
    for (i, pod) in cluster.pods.iter_mut().enumerate() {
        if !pod.host_network {
            pod.node = Some(format!("node-{}", i % 4));
        }
    }
    let node = "node-0";
    let mut inc = Incremental::new(node, options.clone());
    let mut previous: Option<Cluster> = None;
    let mut check = |c: &Cluster, what: &str| {
        let want = compile_with(c, node, &options);
        let changes = previous
            .as_ref()
            .map_or(Changes::Unknown, |p| changes_between(p, c));
        previous = Some(c.clone());
        let got = inc.compile_changed(c, &changes).clone();
        assert!(got == want, "{what}: {}", difference(&got, &want));
        inc.work()
    };
    assert!(check(&cluster, "first").full);
    for step in 0..40usize {
        let mut next = cluster.clone();
        let i = (step * 37) % next.pods.len();
        match step % 5 {
            0 => {
                next.pods.remove(i);
            }
            1 => {
                let (k, v) = ("app".to_string(), format!("moved-{step}"));
                next.pods[i].labels.insert(k, v);
            }
            2 => {
                let mut copy = next.pods[i].clone();
                copy.name = format!("{}-copy{step}", copy.name);
                if let Some(ip) = copy.ips.first_mut() {
                    *ip = format!("10.250.{}.{}", step / 200, step % 200 + 1)
                        .parse()
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                next.pods.insert(i + 1, copy);
            }
            3 => {
                let j = (step * 13) % next.policies.len();
                next.policies.remove(j);
            }
            _ => {
                let j = (step * 17) % next.policies.len();
                let k = (step * 29) % next.policies.len();
                let rules = next.policies[k].ingress.clone();
                next.policies[j].ingress = rules;
            }
        }
        let work = check(&next, &format!("step {step}"));
        assert!(
            !work.full,
            "step {step} should not recompile everything: {work:?}"
        );
        cluster = next;
    }
}

/// A list of changes that misses a pod added or removed is caught by the pod count, and
/// everything is compared instead: the result is still exact.
#[test]
fn a_list_of_changes_missing_a_pod_is_caught() {
    let mut cluster = generate(SynthParams {
        namespaces: 3,
        pods: 60,
        policies: 20,
        seed: 3,
    });
    for (i, pod) in cluster.pods.iter_mut().enumerate() {
        pod.node = Some(format!("node-{}", i % 2));
    }
    let options = CompileOptions::default();
    let mut inc = Incremental::new("node-0", options.clone());
    inc.compile(&cluster);
    let mut next = cluster.clone();
    next.pods.remove(5);
    let got = inc.compile_changed(&next, &Changes::none()).clone();
    assert!(got == compile_with(&next, "node-0", &options));
    assert_eq!(inc.work().pods, 1, "{:?}", inc.work());
}
