//! All-pairs reachability on synthetic clusters (see BENCHMARKS.md for figures and targets).
//!
//! ```text
//! cargo bench -p palisade-core --bench reach
//! ```

use std::sync::LazyLock;

use divan::{Bencher, black_box};
use palisade_core::eval::Probe;
use palisade_core::model::{Cluster, Protocol};
use palisade_core::reach::Reachability;
use palisade_test_support::synth::{SynthParams, generate};

fn main() {
    divan::main();
}

static PODS_1K: LazyLock<Cluster> = LazyLock::new(|| {
    generate(SynthParams {
        namespaces: 5,
        pods: 1_000,
        policies: 300,
        seed: 1,
    })
});

static PODS_10K: LazyLock<Cluster> = LazyLock::new(|| {
    generate(SynthParams {
        namespaces: 50,
        pods: 10_000,
        policies: 3_000,
        seed: 1,
    })
});

/// 1,000 pods, 5 namespaces, 300 policies.
#[divan::bench]
fn compute_1k_pods(bencher: Bencher) {
    let cluster = &*PODS_1K;
    bencher.bench(|| Reachability::compute(black_box(cluster), &[]));
}

/// 10,000 pods, 50 namespaces, 3,000 policies: the product target (< 2 s, < 1 GiB).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn compute_10k_pods(bencher: Bencher) {
    let cluster = &*PODS_10K;
    bencher.bench(|| Reachability::compute(black_box(cluster), &[]));
}

/// Expanding one probe's 10,000 x 10,000 truth table from the class matrix.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn truth_table_10k_pods(bencher: Bencher) {
    let reach = Reachability::compute(&PODS_10K, &[]);
    let probe = Probe {
        protocol: Protocol::Tcp,
        port: 8080,
    };
    bencher.bench(|| reach.allowed_matrix(black_box(probe)));
}

/// The 10,000-pod cluster with every tenth policy removed: the "new" side of the diff benches.
static PODS_10K_FEWER_POLICIES: LazyLock<Cluster> = LazyLock::new(|| {
    let mut cluster = PODS_10K.clone();
    let mut n = 0usize;
    cluster.policies.retain(|_| {
        n += 1;
        !n.is_multiple_of(10)
    });
    cluster
});

/// `palisade diff --group-by workload` at 10,000 pods: both reachabilities, then the diff.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn diff_10k_pods_by_workload(bencher: Bencher) {
    let workloads: std::collections::HashMap<String, String> = PODS_10K
        .pods
        .iter()
        .map(|p| (p.key(), palisade_core::reach::workload_name(p)))
        .collect();
    bencher.bench(|| {
        let old = Reachability::compute(black_box(&PODS_10K), &[]);
        let new = Reachability::compute(black_box(&PODS_10K_FEWER_POLICIES), &[]);
        palisade_core::reach::ReachDiff::compute(&old, &new, |name| {
            workloads.get(name).cloned().unwrap_or_default()
        })
    });
}

/// `palisade diff` (one line per pod pair) at 10,000 pods: the diff alone.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn diff_10k_pods_by_pod(bencher: Bencher) {
    let old = Reachability::compute(&PODS_10K, &[]);
    let new = Reachability::compute(&PODS_10K_FEWER_POLICIES, &[]);
    bencher.bench(|| palisade_core::reach::ReachDiff::compute(&old, &new, str::to_string));
}

/// Grouping the 10,000 pods by workload (what `graph`/`report --group-by workload` draw).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn grouped_by_workload_10k_pods(bencher: Bencher) {
    let reach = Reachability::compute(&PODS_10K, &[]);
    let grouping = palisade_core::reach::Grouping::by_workload(&PODS_10K, &[]);
    bencher.bench(|| reach.grouped(black_box(&grouping)));
}
