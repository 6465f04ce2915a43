//! Compiling one node's ruleset out of a large synthetic cluster (see BENCHMARKS.md).
//!
//! ```text
//! cargo bench -p palisade-nft --bench compile
//! ```
//!
//! 10,000 pods in 50 namespaces with 3,000 policies, spread round robin over 91 nodes, so that
//! about 110 pods are local to the compiled node (the kubelet's default pod limit). The sizes
//! of the ruleset are printed before the timings. Two shapes: `synth::generate` and the
//! high-cardinality `synth_unique::generate_unique` (a label per workload, broad peers).

use std::sync::LazyLock;

use divan::{Bencher, black_box};
use palisade_core::model::Cluster;
use palisade_nft::{compile, diff};
use palisade_test_support::builders::{ip, mk_pod};
use palisade_test_support::synth::{SynthParams, generate};
use palisade_test_support::synth_unique::{UniqueParams, generate_unique};

const NODES: usize = 91;
const NODE: &str = "node-0";

/// Pods spread round robin over the nodes (hostNetwork pods keep theirs).
fn spread(mut cluster: Cluster) -> Cluster {
    for (i, pod) in cluster.pods.iter_mut().enumerate() {
        if !pod.host_network {
            pod.node = Some(format!("node-{}", i % NODES));
        }
    }
    cluster
}

static CLUSTER: LazyLock<Cluster> = LazyLock::new(|| {
    spread(generate(SynthParams {
        namespaces: 50,
        pods: 10_000,
        policies: 3_000,
        seed: 1,
    }))
});

static UNIQUE: LazyLock<Cluster> = LazyLock::new(|| {
    spread(generate_unique(UniqueParams {
        namespaces: 50,
        pods: 10_000,
        policies: 3_000,
        seed: 1,
    }))
});

/// The cluster plus one more replica of a local pod: pod churn.
static CHURNED: LazyLock<Cluster> = LazyLock::new(|| {
    let mut cluster = CLUSTER.clone();
    let template = cluster
        .pods
        .iter()
        .find(|p| p.node.as_deref() == Some(NODE) && !p.ips.is_empty())
        .cloned()
        .unwrap_or_else(|| mk_pod("default", "x", |_| {}));
    cluster
        .pods
        .push(mk_pod(&template.namespace, "churned-replica", |p| {
            p.labels = template.labels.clone();
            p.ports = template.ports.clone();
            p.node = Some(NODE.to_string());
            p.ips = vec![ip("10.255.255.254")];
        }));
    cluster
        .pods
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
});

fn main() {
    for (shape, cluster) in [("synth", &*CLUSTER), ("unique", &*UNIQUE)] {
        let rs = compile(cluster, NODE);
        let local = cluster
            .pods
            .iter()
            .filter(|p| p.node.as_deref() == Some(NODE) && !p.host_network)
            .count();
        let s = rs.stats();
        println!(
            "{shape} {NODE}: {local} local pods ({} pending): {} chains, {} sets, {} maps, {} elements, {} rules, {} classes, script {} KiB",
            rs.pending_pods.len(),
            s.chains,
            s.sets,
            s.maps,
            s.elements,
            s.rules,
            rs.class_ids().len(),
            rs.to_nft().len() / 1024
        );
    }
    let d = diff(&compile(&CLUSTER, NODE), &compile(&CHURNED, NODE));
    println!("one local replica added: {:?}", d.stats());
    divan::main();
}

/// One node of the 10k-pod / 3k-policy cluster: the target is under 200 ms.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn compile_node_10k_pods_3k_policies(bencher: Bencher) {
    let cluster = &*CLUSTER;
    bencher.bench(|| compile(black_box(cluster), black_box(NODE)));
}

/// One node of the high-cardinality 10k-pod / 3k-policy cluster: the target is under 200 ms.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn compile_node_unique_10k_pods_3k_policies(bencher: Bencher) {
    let cluster = &*UNIQUE;
    bencher.bench(|| compile(black_box(cluster), black_box(NODE)));
}

/// Rendering that ruleset as an `nft -f` script.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn render_node_script(bencher: Bencher) {
    let rs = compile(&CLUSTER, NODE);
    bencher.bench(|| black_box(&rs).to_nft());
}

/// Compile after churn, diff, and render the update: what the agent does per pod change.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn churn_compile_diff_render(bencher: Bencher) {
    let old = compile(&CLUSTER, NODE);
    let cluster = &*CHURNED;
    bencher.bench(|| {
        let new = compile(black_box(cluster), NODE);
        diff(&old, &new).to_nft()
    });
}
