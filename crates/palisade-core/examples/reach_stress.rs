//! A deliberately hostile cluster for the class-based reachability: every pod carries a unique
//! `id` label and every policy selects one pod by it and admits another, so equivalence
//! classes approach one per pod. Prints the time and sizes; see BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p palisade-core --example reach_stress -- [PODS] [POLICIES]
//! ```

use std::time::Instant;

use palisade_core::reach::Reachability;
use palisade_test_support::builders::{
    ip_block, mk_cluster, mk_policy, namespaces, pod, pods_in, rule, sel, tcp,
};

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (n, q) = (arg(1, 10_000).max(1), arg(2, 3_000));
    let pods = (0..n)
        .map(|i| {
            let id = i.to_string();
            let address = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
            pod(
                &format!("ns{}", i % 50),
                &format!("p{i}"),
                &[("id", &id), ("app", "x")],
                &address,
            )
        })
        .collect();
    let policies = (0..q)
        .map(|k| {
            let subject = (k * 7919) % n;
            let peer = ((k * 104_729 + 13) % n).to_string();
            let (subject_id, ns) = (subject.to_string(), format!("ns{}", subject % 50));
            mk_policy(&ns, &format!("q{k}"), |p| {
                p.subject = sel(&[("id", &subject_id)]);
                p.ingress = Some(vec![
                    rule(
                        vec![
                            namespaces(sel(&[])),
                            ip_block(&format!("10.0.{}.0/24", k % 40), &[]),
                        ],
                        vec![tcp(80)],
                    ),
                    rule(
                        vec![pods_in(sel(&[]), sel(&[("id", &peer)]))],
                        vec![tcp(443)],
                    ),
                ]);
                p.egress = Some(vec![rule(
                    vec![pods_in(sel(&[]), sel(&[("id", &peer)]))],
                    vec![tcp(443)],
                )]);
            })
        })
        .collect();
    let cluster = mk_cluster(vec![], pods, policies);
    let t = Instant::now();
    let reach = Reachability::compute(&cluster, &[]);
    println!("compute     {:?}", t.elapsed());
    println!("stats       {:?}", reach.stats());
}
