//! Property test: the bulk form of one side, `eval::side_ports`, says for every probe exactly
//! what `eval::evaluate` says of that side, for random small clusters using every feature.

use std::net::IpAddr;

use palisade_core::eval::{
    Endpoint, evaluate, isolating_policies, same_node_host_traffic, side_ports,
};
use palisade_core::model::{Cluster, Direction};
use palisade_test_support::arbitrary::{self, probes};
use proptest::prelude::*;

fn endpoints(cluster: &Cluster, externals: &[IpAddr]) -> Vec<Endpoint> {
    (0..cluster.pods.len())
        .map(Endpoint::Pod)
        .chain(externals.iter().copied().map(Endpoint::External))
        .collect()
}

fn isolating(cluster: &Cluster, e: Endpoint, direction: Direction) -> Vec<usize> {
    match e {
        Endpoint::Pod(i) => isolating_policies(cluster, i, direction),
        Endpoint::External(_) => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn side_ports_agree_with_evaluate(
        (cluster, externals) in arbitrary::cluster(arbitrary::Addresses::MayRepeat)
    ) {
        let all = endpoints(&cluster, &externals);
        for &from in &all {
            for &to in &all {
                if from == to || same_node_host_traffic(&cluster, from, to) {
                    continue;
                }
                let egress = side_ports(
                    &cluster, Direction::Egress, from,
                    &isolating(&cluster, from, Direction::Egress), to, to,
                );
                let ingress = side_ports(
                    &cluster, Direction::Ingress, to,
                    &isolating(&cluster, to, Direction::Ingress), from, to,
                );
                for probe in probes() {
                    let verdict = evaluate(&cluster, from, to, probe);
                    prop_assert_eq!(
                        egress.contains(probe), verdict.egress.allows(),
                        "egress {:?} -> {:?} {}: {}", from, to, probe, egress
                    );
                    prop_assert_eq!(
                        ingress.contains(probe), verdict.ingress.allows(),
                        "ingress {:?} -> {:?} {}: {}", from, to, probe, ingress
                    );
                }
            }
        }
    }
}
