//! Change -> ruleset through cluster mode's index path (see BENCHMARKS.md).
//!
//! ```text
//! cargo bench -p palisade-agent --bench cluster_index
//! ```
//!
//! The cluster of `synth_objects` (10,000 pods, 50 namespaces, 3,000 policies) is listed into
//! a `ClusterIndex`, as at start. Then one event at a time, the work a pass does before nft:
//! the index takes the event, updates its cluster in place, the node's ruleset is compiled and
//! diffed against the one in force. Each iteration undoes the previous one (a pod comes and
//! goes, a label flips back), so every iteration is a real change.

mod synth_objects;

use std::sync::LazyLock;

use divan::{Bencher, black_box};
use k8s_openapi::api::core::v1::Pod;
use palisade_agent::index::ClusterIndex;
use synth_objects::{NODE, Objects, model, objects};

static OBJECTS: LazyLock<Objects> = LazyLock::new(|| objects(&model(10_000, 50, 3_000)));

fn main() {
    let o = &*OBJECTS;
    println!(
        "cluster: {} namespaces, {} pods, {} policies",
        o.namespaces.len(),
        o.pods.len(),
        o.policies.len()
    );
    divan::main();
}

fn listed() -> ClusterIndex {
    let o = &*OBJECTS;
    let mut index = ClusterIndex::new(NODE);
    index.reset_namespaces(&o.namespaces);
    index.reset_pods(&o.pods);
    index.reset_policies(&o.policies);
    index
}

/// A local pod with an address, to copy for churn.
fn local_pod() -> Pod {
    OBJECTS
        .pods
        .iter()
        .find(|p| {
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(NODE)
                && p.status
                    .as_ref()
                    .and_then(|s| s.pod_ip.as_deref())
                    .is_some()
        })
        .cloned()
        .unwrap_or_default()
}

/// Startup: every object listed, the cluster built and the node's ruleset compiled.
#[divan::bench(sample_count = 5)]
fn initial_list_to_ruleset() -> usize {
    let mut index = listed();
    let ruleset = palisade_nft::compile(index.cluster(), NODE);
    black_box(ruleset.stats().elements)
}

/// Runs `change(i)` on a listed index, then cluster + compile + diff against the previous
/// ruleset: one pass's work before nft.
fn change_to_diff(bencher: Bencher, mut change: impl FnMut(&mut ClusterIndex, u64)) {
    let mut index = listed();
    let mut in_force = palisade_nft::compile(index.cluster(), NODE);
    let mut i = 0u64;
    bencher.bench_local(|| {
        i += 1;
        change(&mut index, i);
        let new = palisade_nft::compile(index.cluster(), NODE);
        let diff = palisade_nft::diff(&in_force, &new);
        in_force = new;
        black_box(diff.is_empty())
    });
}

/// Only the index: take the event and update the cluster in place.
fn change_to_cluster(bencher: Bencher, mut change: impl FnMut(&mut ClusterIndex, u64)) {
    let mut index = listed();
    let mut i = 0u64;
    bencher.bench_local(|| {
        i += 1;
        change(&mut index, i);
        black_box(index.cluster().pods.len())
    });
}

/// A new replica of a local pod appears with an address, then goes again.
fn churn_pod(index: &mut ClusterIndex, i: u64) {
    let mut pod = local_pod();
    pod.metadata.name = Some("churned-replica".into());
    pod.metadata.uid = Some("uid-churned".into());
    pod.metadata.resource_version = Some(i.to_string());
    if let Some(status) = pod.status.as_mut() {
        status.pod_ip = Some("10.255.255.254".into());
        status.pod_ips = None;
    }
    if i % 2 == 1 {
        index.apply_pod(&pod);
    } else {
        index.delete_pod(&pod);
    }
}

/// A local pod's labels change and change back.
fn relabel_pod(index: &mut ClusterIndex, i: u64) {
    let mut pod = local_pod();
    pod.metadata.resource_version = Some(format!("{}", i + 1));
    if i % 2 == 1 {
        pod.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("bench".into(), "flipped".into());
    }
    index.apply_pod(&pod);
}

/// A policy of the local pod's namespace changes its port and changes back.
fn edit_policy(index: &mut ClusterIndex, i: u64) {
    let namespace = local_pod().metadata.namespace.unwrap_or_default();
    let Some(mut np) = OBJECTS
        .policies
        .iter()
        .find(|p| p.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .cloned()
    else {
        return;
    };
    np.metadata.resource_version = Some(format!("{}", i + 1));
    if i % 2 == 1
        && let Some(spec) = np.spec.as_mut()
    {
        spec.policy_types = Some(vec!["Ingress".into(), "Egress".into()]);
        spec.egress = Some(Vec::new());
    }
    index.apply_policy(&np);
}

#[divan::bench]
fn pod_churn_to_cluster(bencher: Bencher) {
    change_to_cluster(bencher, churn_pod);
}

#[divan::bench]
fn pod_churn_to_diff(bencher: Bencher) {
    change_to_diff(bencher, churn_pod);
}

#[divan::bench]
fn pod_label_change_to_diff(bencher: Bencher) {
    change_to_diff(bencher, relabel_pod);
}

#[divan::bench]
fn policy_change_to_diff(bencher: Bencher) {
    change_to_diff(bencher, edit_policy);
}
