//! The key property: the compiled rulesets decide every connection the way
//! `palisade_core::eval::evaluate` does (through the pure interpreter of the ruleset value),
//! for random small clusters using every feature and for every case of the testdata corpus.
//! Semantics: <https://kubernetes.io/docs/concepts/services-networking/network-policies/>.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::{NODES, check_agreement, check_agreement_with, cluster, probes};
use palisade_core::eval::Probe;
use palisade_core::load::Input;
use palisade_test_support::truth_table;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn ruleset_agrees_with_evaluate((cluster, externals) in cluster()) {
        if let Err(e) = check_agreement(&cluster, &externals, &NODES, &probes()) {
            prop_assert!(false, "{}", e);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Logging and counters are statements around the verdicts: they change no decision.
    #[test]
    fn logging_and_counters_change_no_verdict((cluster, externals) in cluster()) {
        let options = palisade_nft::CompileOptions {
            log: Some(palisade_nft::LogOptions::new(7)),
            counters: true,
            guard_cidrs: Vec::new(),
            class_mask: palisade_nft::ClassMask::DEFAULT,
        };
        if let Err(e) = check_agreement_with(&cluster, &externals, &NODES, &probes(), &options) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Class masks a CNI's own mark bits may call for: top bits, a middle run, the low bits.
fn class_masks() -> impl Strategy<Value = palisade_nft::ClassMask> {
    prop_oneof![
        Just(0xff00_0000u32),
        Just(0x00ff_0000),
        Just(0x0000_3fff),
        Just(0x7fff_0000),
    ]
    .prop_map(|bits| palisade_nft::ClassMask::new(bits).unwrap_or_else(|e| panic!("{e}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Where the class ids sit in the mark changes no decision.
    #[test]
    fn class_masks_change_no_verdict((cluster, externals) in cluster(), mask in class_masks()) {
        let options = palisade_nft::CompileOptions {
            class_mask: mask,
            ..Default::default()
        };
        if let Err(e) = check_agreement_with(&cluster, &externals, &NODES, &probes(), &options) {
            prop_assert!(false, "mask {mask}: {}", e);
        }
    }
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases")
}

/// Every corpus case, with its pods spread over two nodes round robin (as the lab does) and
/// addresses allocated to pods that have none, agrees with `evaluate()` on its probes.
#[test]
fn corpus_cases_agree_with_evaluate() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap_or_else(|e| panic!("testdata/cases: {e}"))
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "corpus looks empty: {dirs:?}");
    let mut failures = Vec::new();
    for dir in &dirs {
        let analysis = palisade_core::analyze(&[Input::Path(dir.clone())]);
        let mut cluster = analysis.cluster;
        let expected = std::fs::read_to_string(dir.join("expected.txt"))
            .map_err(|e| e.to_string())
            .and_then(|t| truth_table::parse(&t))
            .unwrap_or_else(|e| panic!("{}: expected.txt: {e}", dir.display()));
        let externals: Vec<IpAddr> = expected
            .externals
            .iter()
            .map(|s| s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
            .collect();
        let probes: Vec<Probe> = expected
            .tables
            .iter()
            .map(|(p, _)| p.parse().unwrap_or_else(|e| panic!("{p}: {e}")))
            .collect();
        let mut next = 0u32;
        for (i, pod) in cluster.pods.iter_mut().enumerate() {
            if pod.node.is_none() {
                pod.node = Some(NODES[i % NODES.len()].to_string());
            }
            if pod.ips.is_empty() && !pod.host_network {
                next += 1;
                pod.ips = vec![IpAddr::from([
                    10,
                    254,
                    (next / 250) as u8,
                    (next % 250) as u8 + 1,
                ])];
            }
        }
        if let Err(e) = check_agreement(&cluster, &externals, &NODES, &probes) {
            failures.push(format!("{}: {e}", dir.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The high-cardinality shape (a label per workload, broad namespace peers, named ports that
/// resolve differently per workload) agrees with `evaluate()` too, over several seeds.
#[test]
fn unique_shape_agrees_with_evaluate() {
    use palisade_test_support::synth_unique::{UniqueParams, generate_unique};
    for seed in 1..=3 {
        let mut cluster = generate_unique(UniqueParams {
            namespaces: 6,
            pods: 120,
            policies: 50,
            seed,
        });
        for (i, pod) in cluster.pods.iter_mut().enumerate() {
            if pod.node.is_some() {
                pod.node = Some(NODES[i % NODES.len()].to_string());
            }
        }
        let externals: Vec<IpAddr> = vec!["192.0.2.10".parse().unwrap_or_else(|e| panic!("{e}"))];
        if let Err(e) = check_agreement(&cluster, &externals, &NODES, &probes()) {
            let cut: String = e.chars().take(4000).collect();
            panic!("seed {seed}: {cut}");
        }
        // A narrower mask in the low bits, still wide enough for this node's classes.
        let options = palisade_nft::CompileOptions {
            class_mask: palisade_nft::ClassMask::new(0x0000_3fff).unwrap_or_else(|e| panic!("{e}")),
            ..Default::default()
        };
        if let Err(e) = check_agreement_with(&cluster, &externals, &NODES, &probes(), &options) {
            let cut: String = e.chars().take(4000).collect();
            panic!("seed {seed}, mask 0x00003fff: {cut}");
        }
    }
}
