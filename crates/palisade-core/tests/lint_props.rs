//! Property tests for the lints on random small clusters using every feature: linting never
//! panics, and the lints that say "this changes nothing" are right: removing what L007, L010,
//! L011 or L013 point at leaves every verdict of every pair and probe unchanged (policies are
//! additive, https://kubernetes.io/docs/concepts/services-networking/network-policies/).

use palisade_core::analysis::ObjectTrees;
use palisade_core::diag::Diagnostic;
use palisade_core::lint::lint_cluster;
use palisade_core::model::{Cluster, Direction};
use palisade_core::path::{FieldPath, Segment};
use palisade_core::reach::Reachability;
use palisade_test_support::arbitrary::{self, probes};
use proptest::prelude::*;

fn tables(cluster: &Cluster, externals: &[std::net::IpAddr]) -> Vec<Vec<Vec<bool>>> {
    let reach = Reachability::compute(cluster, externals);
    probes()
        .into_iter()
        .map(|p| reach.allowed_matrix(p))
        .collect()
}

/// The policy index a finding is about.
fn policy_of(cluster: &Cluster, d: &Diagnostic) -> Option<usize> {
    let key = d.object.as_deref()?.strip_prefix("NetworkPolicy ")?;
    cluster.policies.iter().position(|p| p.key() == key)
}

/// `spec.ingress[3]` -> (Ingress, 3).
fn rule_of(d: &Diagnostic) -> Option<(Direction, usize)> {
    let path = FieldPath::parse(d.field.as_deref()?);
    match path.0.as_slice() {
        [Segment::Field(spec), Segment::Field(dir), Segment::Index(i)] if spec == "spec" => {
            let dir = match dir.as_str() {
                "ingress" => Direction::Ingress,
                "egress" => Direction::Egress,
                _ => return None,
            };
            Some((dir, *i))
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn removing_what_the_lints_call_useless_changes_no_verdict(
        (cluster, externals) in arbitrary::cluster(arbitrary::Addresses::MayRepeat)
    ) {
        let found = lint_cluster(&cluster, &ObjectTrees::default());
        let before = tables(&cluster, &externals);
        for d in &found {
            let Some(p) = policy_of(&cluster, d) else { continue };
            let mut changed = cluster.clone();
            match d.code {
                "L007" | "L011" | "L013" => {
                    changed.policies.remove(p);
                }
                "L010" => {
                    let Some((dir, i)) = rule_of(d) else { continue };
                    let rules = match dir {
                        Direction::Ingress => changed.policies[p].ingress.as_mut(),
                        Direction::Egress => changed.policies[p].egress.as_mut(),
                    };
                    prop_assert!(rules.as_ref().is_some_and(|r| i < r.len()), "{d:?}");
                    if let Some(rules) = rules {
                        rules.remove(i);
                    }
                }
                _ => continue,
            }
            prop_assert_eq!(&tables(&changed, &externals), &before, "{}: {}", d.code, d.message);
        }
    }
}
