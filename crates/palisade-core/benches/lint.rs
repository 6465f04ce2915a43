//! The lint catalogue on synthetic clusters (see BENCHMARKS.md, "Lints").
//!
//! ```text
//! cargo bench -p palisade-core --bench lint
//! ```

use std::sync::LazyLock;

use divan::{Bencher, black_box};
use palisade_core::analysis::ObjectTrees;
use palisade_core::lint::lint_cluster;
use palisade_core::model::Cluster;
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
fn lint_1k_pods(bencher: Bencher) {
    let cluster = &*PODS_1K;
    let trees = ObjectTrees::default();
    bencher.bench(|| lint_cluster(black_box(cluster), &trees));
}

/// 10,000 pods, 50 namespaces, 3,000 policies.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn lint_10k_pods(bencher: Bencher) {
    let cluster = &*PODS_10K;
    let trees = ObjectTrees::default();
    let found = lint_cluster(cluster, &trees);
    let mut by_code = std::collections::BTreeMap::new();
    for d in &found {
        *by_code.entry(d.code).or_insert(0usize) += 1;
    }
    eprintln!("10k cluster: {} findings {by_code:?}", found.len());
    bencher.bench(|| lint_cluster(black_box(cluster), &trees));
}
