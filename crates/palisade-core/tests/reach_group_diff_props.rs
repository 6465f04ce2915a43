//! Property tests: grouped reachability and reachability diffs, computed on profiles, must
//! equal what the pairwise answers (`Reachability::ports`, itself checked against evaluate())
//! give when aggregated pair by pair.

use std::collections::BTreeMap;
use std::net::IpAddr;

use palisade_core::eval::PortSet;
use palisade_core::model::Cluster;
use palisade_core::reach::{Focused, Grouping, Layout, PortDelta, ReachDiff, Reachability};
use palisade_test_support::arbitrary;
use proptest::prelude::*;

fn cluster() -> impl Strategy<Value = (Cluster, Vec<IpAddr>)> {
    arbitrary::cluster(arbitrary::Addresses::Distinct)
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![Just(Layout::Dense), Just(Layout::Sparse)]
}

/// Groups by namespace (externals alone): coarse enough that groups mix profiles.
fn namespace_of(name: &str) -> String {
    name.split_once('/').map_or(name, |(ns, _)| ns).to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn grouped_equals_pairwise_aggregate(
        (cluster, externals) in cluster(),
        by_namespace in any::<bool>(),
        layout in layout(),
    ) {
        let reach = Reachability::compute_with(&cluster, &externals, layout);
        let names = reach.endpoint_names();
        let grouping = if by_namespace {
            Grouping::from_keys(names.iter().map(|n| namespace_of(n)).collect())
        } else {
            Grouping::by_endpoint(&reach)
        };
        let grouped = reach.grouped(&grouping);
        // (from, to) -> (union, intersection, allowed pairs, pairs)
        let mut want: BTreeMap<(usize, usize), (PortSet, PortSet, usize, usize)> = BTreeMap::new();
        for i in 0..names.len() {
            for j in 0..names.len() {
                if i == j {
                    continue;
                }
                let (Some(g), Some(h)) = (grouping.group_of(i), grouping.group_of(j)) else {
                    panic!("every endpoint has a group");
                };
                let ports = reach.ports(i, j);
                let e = want.entry((g, h)).or_insert((PortSet::none(), PortSet::all(), 0, 0));
                e.0 = e.0.union(ports);
                e.1 = e.1.intersection(ports);
                e.2 += usize::from(!ports.is_empty());
                e.3 += 1;
            }
        }
        let want: Vec<_> = want.into_iter().filter(|(_, v)| !v.0.is_empty()).collect();
        prop_assert_eq!(grouped.edges.len(), want.len(), "edges: {:?}", grouped.edges);
        for ((g, h), (union, inter, allowed, pairs)) in want {
            let edge = grouped.edge(g, h);
            prop_assert!(edge.is_some(), "missing edge {} -> {}", g, h);
            let edge = edge.unwrap_or_else(|| unreachable!());
            prop_assert_eq!(&edge.ports, &union, "union {} -> {}", g, h);
            let every = if allowed == pairs { inter } else { PortSet::none() };
            prop_assert_eq!(&edge.every_pair, &every, "intersection {} -> {}", g, h);
            prop_assert_eq!((edge.allowed_pairs, edge.pairs), (allowed, pairs));
        }
    }

    #[test]
    fn diff_equals_pairwise_comparison(
        (old_cluster, old_ext) in cluster(),
        (new_cluster, new_ext) in cluster(),
        same_inventory in any::<bool>(),
        by_namespace in any::<bool>(),
        layouts in (layout(), layout()),
    ) {
        // Half the cases keep the old inventory and only swap the policies (the CI case).
        let (new_cluster, new_ext) = if same_inventory {
            let mut c = old_cluster.clone();
            c.policies = new_cluster.policies;
            (c, old_ext.clone())
        } else {
            (new_cluster, new_ext)
        };
        // Both layouts on either side: sparse cells let the comparison skip the sources
        // that are their default on both sides.
        let old = Reachability::compute_with(&old_cluster, &old_ext, layouts.0);
        let new = Reachability::compute_with(&new_cluster, &new_ext, layouts.1);
        let key = |n: &str| if by_namespace { namespace_of(n) } else { n.to_string() };
        let diff = ReachDiff::compute(&old, &new, key);

        let old_names = old.endpoint_names();
        let new_names = new.endpoint_names();
        let mut added: Vec<String> = new_names.iter().filter(|n| !old_names.contains(n)).cloned().collect();
        let mut removed: Vec<String> = old_names.iter().filter(|n| !new_names.contains(n)).cloned().collect();
        added.sort();
        removed.sort();
        prop_assert_eq!(&diff.added, &added);
        prop_assert_eq!(&diff.removed, &removed);

        let position = |names: &[String], n: &String| names.iter().position(|m| m == n);
        let mut want: BTreeMap<(String, String), (PortDelta, PortDelta, usize, usize)> = BTreeMap::new();
        for a in new_names.iter().filter(|n| old_names.contains(n)) {
            for b in new_names.iter().filter(|n| old_names.contains(n)) {
                if a == b {
                    continue;
                }
                let (Some(oa), Some(ob), Some(na), Some(nb)) = (
                    position(&old_names, a), position(&old_names, b),
                    position(&new_names, a), position(&new_names, b),
                ) else { unreachable!() };
                let (before, after) = (old.ports(oa, ob), new.ports(na, nb));
                let gained = PortDelta::between(after, before);
                let lost = PortDelta::between(before, after);
                if gained.is_empty() && lost.is_empty() {
                    continue;
                }
                let e = want.entry((key(b), key(a))).or_default();
                e.0 = e.0.union(&gained);
                e.1 = e.1.union(&lost);
                e.2 += usize::from(!gained.is_empty());
                e.3 += usize::from(!lost.is_empty());
            }
        }
        let got: BTreeMap<(String, String), (PortDelta, PortDelta, usize, usize)> = diff
            .changes
            .iter()
            .map(|c| ((c.to.clone(), c.from.clone()), (c.gained.clone(), c.lost.clone(), c.gained_pairs, c.lost_pairs)))
            .collect();
        prop_assert_eq!(got.len(), diff.changes.len(), "one change per group pair");
        prop_assert_eq!(&got, &want);
        let sorted: Vec<_> = diff.changes.iter().map(|c| (c.to.clone(), c.from.clone())).collect();
        let mut resorted = sorted.clone();
        resorted.sort();
        prop_assert_eq!(sorted, resorted, "sorted by destination, then source");
        prop_assert_eq!(diff.widens(), want.values().any(|v| !v.0.is_empty()));
        prop_assert_eq!(diff.narrows(), want.values().any(|v| !v.1.is_empty()));
    }

    /// `palisade diff`'s default text: the diff grouped by connectivity is the pair diff
    /// aggregated onto its groups, every compared endpoint in exactly one group.
    #[test]
    fn connectivity_diff_is_the_pair_diff_grouped(
        (old_cluster, old_ext) in cluster(),
        new_policies in cluster(),
    ) {
        let mut new_cluster = old_cluster.clone();
        new_cluster.policies = new_policies.0.policies;
        let old = Reachability::compute(&old_cluster, &old_ext);
        let new = Reachability::compute(&new_cluster, &old_ext);
        let grouped = ReachDiff::by_connectivity(&old, &new, &new_cluster, &Focused::default());
        let mut group_of: BTreeMap<String, String> = BTreeMap::new();
        for g in &grouped.groups {
            for m in &g.members {
                prop_assert!(group_of.insert(m.clone(), g.name.clone()).is_none(), "{} in two groups", m);
            }
        }
        prop_assert_eq!(group_of.len(), grouped.compared);
        // The grouped answer is the pairs' own expansion: aggregating the per-pair diff onto
        // the groups gives the same changes.
        let pairs = ReachDiff::compute(&old, &new, str::to_string);
        let mut want: BTreeMap<(String, String), (PortDelta, PortDelta, usize, usize)> = BTreeMap::new();
        for c in &pairs.changes {
            let key = (group_of[&c.to].clone(), group_of[&c.from].clone());
            let e = want.entry(key).or_default();
            e.0 = e.0.union(&c.gained);
            e.1 = e.1.union(&c.lost);
            e.2 += c.gained_pairs;
            e.3 += c.lost_pairs;
        }
        let got: BTreeMap<(String, String), (PortDelta, PortDelta, usize, usize)> = grouped
            .changes
            .iter()
            .map(|c| ((c.to.clone(), c.from.clone()), (c.gained.clone(), c.lost.clone(), c.gained_pairs, c.lost_pairs)))
            .collect();
        prop_assert_eq!(&got, &want);
        // And a group is uniform: every member pair of a changed group pair changes exactly
        // as the group line says (own-node pairs of hostNetwork pods aside).
        let host: std::collections::BTreeSet<String> = new_cluster
            .pods
            .iter()
            .filter(|p| p.host_network)
            .map(|p| p.key())
            .collect();
        for c in pairs.changes.iter().filter(|c| !host.contains(&c.from) && !host.contains(&c.to)) {
            let g = &got[&(group_of[&c.to].clone(), group_of[&c.from].clone())];
            prop_assert_eq!((&c.gained, &c.lost), (&g.0, &g.1), "{} -> {}", c.from, c.to);
        }
    }
}
