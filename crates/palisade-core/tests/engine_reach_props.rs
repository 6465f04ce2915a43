//! Property tests: the fast all-pairs reachability must agree with the exact evaluate() on every
//! ordered pair and every probe, for random small clusters using every feature; and neither may
//! depend on the order of policies (NP#networkpolicy-resource: policies are additive,
//! https://kubernetes.io/docs/concepts/services-networking/network-policies/).

use std::collections::BTreeSet;
use std::net::IpAddr;

use palisade_core::eval::{Endpoint, SideVerdict, evaluate};
use palisade_core::model::Cluster;
use palisade_core::reach::{Layout, Reachability};
use palisade_test_support::arbitrary::{self, probes};
use proptest::prelude::*;

/// Addresses may repeat: the engine must match by address exactly, whoever holds it.
fn cluster() -> impl Strategy<Value = (Cluster, Vec<IpAddr>)> {
    arbitrary::cluster(arbitrary::Addresses::MayRepeat)
}

fn endpoint(cluster: &Cluster, externals: &[IpAddr], i: usize) -> Endpoint {
    if i < cluster.pods.len() {
        Endpoint::Pod(i)
    } else {
        Endpoint::External(externals[i - cluster.pods.len()])
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    /// The key property: classes, atoms, signatures and memos change nothing.
    #[test]
    fn reach_agrees_with_evaluate((cluster, externals) in cluster()) {
        let reach = Reachability::compute(&cluster, &externals);
        prop_assert_eq!(reach.len(), cluster.pods.len() + externals.len());
        // The classes alone, without the matrix, are the same classes.
        let classes: Vec<Option<usize>> = Reachability::classes_only(&cluster, &externals)
            .into_iter()
            .map(|c| Some(c as usize))
            .collect();
        prop_assert_eq!(classes, (0..reach.len()).map(|i| reach.class_of(i)).collect::<Vec<_>>());
        // Held sparse (only the cells that differ from what isolation implies), every pair
        // reads the same ports as from the dense matrix.
        let sparse = Reachability::compute_with(&cluster, &externals, Layout::Sparse);
        let dense = Reachability::compute_with(&cluster, &externals, Layout::Dense);
        prop_assert!(sparse.stats().sparse && !dense.stats().sparse);
        prop_assert!(sparse.stats().stored_cells <= dense.stats().stored_cells);
        for i in 0..reach.len() {
            for j in 0..reach.len() {
                prop_assert_eq!(sparse.ports(i, j), dense.ports(i, j), "sparse {} -> {}", i, j);
            }
        }
        for probe in probes() {
            let table = reach.allowed_matrix(probe);
            prop_assert_eq!(table.len(), reach.len());
            prop_assert!(table.iter().all(|row| row.len() == reach.len()));
            for (i, row) in table.iter().enumerate() {
                for (j, &fast) in row.iter().enumerate() {
                    let (from, to) = (endpoint(&cluster, &externals, i), endpoint(&cluster, &externals, j));
                    prop_assert_eq!(reach.endpoint(i), Some(from));
                    let verdict = evaluate(&cluster, from, to, probe);
                    prop_assert_eq!(
                        reach.allowed(i, j, probe), verdict.allowed,
                        "{} -> {} on {}: reach says {}, evaluate {:#?}",
                        reach.endpoint_names()[i], reach.endpoint_names()[j], probe,
                        reach.ports(i, j), verdict
                    );
                    prop_assert_eq!(fast, verdict.allowed, "allowed_matrix {} -> {}", i, j);
                }
            }
        }
    }

    /// Permuting the policies changes no verdict, no port set and no reason (named by policy).
    #[test]
    fn policy_order_does_not_matter(
        (cluster, externals) in cluster(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = cluster.clone();
        // A deterministic Fisher-Yates driven by the generated seed.
        let mut state = seed;
        for i in (1..shuffled.policies.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.policies.swap(i, (state >> 33) as usize % (i + 1));
        }
        let a = Reachability::compute(&cluster, &externals);
        let b = Reachability::compute(&shuffled, &externals);
        prop_assert_eq!(a.class_count(), b.class_count());
        for i in 0..a.len() {
            for j in 0..a.len() {
                prop_assert_eq!(a.ports(i, j), b.ports(i, j), "{} -> {}", i, j);
                for probe in probes() {
                    let (from, to) = (endpoint(&cluster, &externals, i), endpoint(&cluster, &externals, j));
                    let va = evaluate(&cluster, from, to, probe);
                    let vb = evaluate(&shuffled, from, to, probe);
                    prop_assert_eq!(va.allowed, vb.allowed);
                    prop_assert_eq!(reasons(&cluster, &va.egress), reasons(&shuffled, &vb.egress));
                    prop_assert_eq!(reasons(&cluster, &va.ingress), reasons(&shuffled, &vb.ingress));
                }
            }
        }
    }
}

/// A side's reasons with policy indices replaced by names, order-free.
fn reasons(cluster: &Cluster, side: &SideVerdict) -> BTreeSet<String> {
    let name = |i: usize| cluster.policies[i].key();
    match side {
        SideVerdict::Unrestricted(u) => BTreeSet::from([format!("{u:?}")]),
        SideVerdict::Allowed { by } => by
            .iter()
            .map(|r| {
                format!(
                    "allow {} {:?} {} {:?} {:?}",
                    name(r.policy),
                    r.direction,
                    r.rule,
                    r.peer,
                    r.port
                )
            })
            .collect(),
        SideVerdict::Denied {
            isolated_by,
            near_misses,
        } => isolated_by
            .iter()
            .map(|&p| format!("isolated {}", name(p)))
            .chain(
                near_misses
                    .iter()
                    .map(|m| format!("near {} {} {}", name(m.rule.policy), m.rule.rule, m.reason)),
            )
            .collect(),
    }
}
