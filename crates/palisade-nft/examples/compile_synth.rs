//! Compiles one node of a synthetic cluster and writes the full script and a churn diff, so
//! their load time can be measured with `nft` (see BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p palisade-nft --example compile_synth -- PODS NAMESPACES POLICIES NODES OUT_DIR [SHAPE]
//! ```
//!
//! SHAPE is `synth` (the default, `synth::generate`) or `unique` (`synth_unique::generate_unique`:
//! every workload its own labels, broad namespace peers).

use std::time::Instant;

use palisade_nft::{CompileOptions, Incremental, compile, diff};
use palisade_test_support::builders::{ip, mk_pod};
use palisade_test_support::synth::{SynthParams, generate};
use palisade_test_support::synth_unique::{UniqueParams, generate_unique};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The incremental compiler on three kinds of change: a pod elsewhere relabelled, a local pod
/// relabelled, a policy's ingress rules replaced by another's; compile + diff + render each.
fn incremental(cluster: &palisade_core::model::Cluster, node: &str) {
    let mut inc = Incremental::new(node, CompileOptions::default());
    let started = Instant::now();
    let mut old = inc.compile(cluster).clone();
    println!("incremental first: {:?}", started.elapsed());
    let mut current = cluster.clone();
    for round in 0..5 {
        for kind in ["remote-label", "local-label", "policy"] {
            let mut next = current.clone();
            match kind {
                "policy" => {
                    let n = next.policies.len();
                    let rules = next.policies[(round * 7 + 3) % n].ingress.clone();
                    next.policies[(round * 13) % n].ingress = rules;
                }
                _ => {
                    let local = kind == "local-label";
                    if let Some(pod) = next
                        .pods
                        .iter_mut()
                        .filter(|p| (p.node.as_deref() == Some(node)) == local && !p.host_network)
                        .nth(round * 11)
                    {
                        pod.labels.insert("app".into(), format!("moved-{round}"));
                    }
                }
            }
            let started = Instant::now();
            let new = inc.compile(&next).clone();
            let compiled = started.elapsed();
            let d = diff(&old, &new);
            let diffed = started.elapsed();
            let text = d.to_nft();
            println!(
                "{kind}: compile {compiled:?}, +diff {diffed:?}, +render {:?}; {:?}; {} bytes",
                started.elapsed(),
                inc.work(),
                text.len()
            );
            old = new;
            current = next;
        }
    }
}

fn main() -> std::io::Result<()> {
    let (pods, namespaces, policies, nodes) =
        (arg(1, 10_000), arg(2, 50), arg(3, 3_000), arg(4, 91));
    let out = std::env::args().nth(5).unwrap_or_else(|| ".".to_string());
    let shape = std::env::args()
        .nth(6)
        .unwrap_or_else(|| "synth".to_string());
    let mut cluster = match shape.as_str() {
        "unique" => generate_unique(UniqueParams {
            namespaces,
            pods,
            policies,
            seed: 1,
        }),
        _ => generate(SynthParams {
            namespaces,
            pods,
            policies,
            seed: 1,
        }),
    };
    for (i, pod) in cluster.pods.iter_mut().enumerate() {
        if !pod.host_network {
            pod.node = Some(format!("node-{}", i % nodes.max(1)));
        }
    }
    let node = "node-0";
    let started = Instant::now();
    let rs = compile(&cluster, node);
    let took = started.elapsed();
    let script = rs.to_nft();
    println!(
        "{shape}: compile {node}: {took:?}; {:?}; script {} bytes",
        rs.stats(),
        script.len()
    );
    std::fs::write(format!("{out}/full.nft"), &script)?;

    let template = cluster
        .pods
        .iter()
        .find(|p| p.node.as_deref() == Some(node) && !p.ips.is_empty())
        .cloned();
    if let Some(t) = template {
        cluster
            .pods
            .push(mk_pod(&t.namespace, "churned-replica", |p| {
                p.labels = t.labels.clone();
                p.ports = t.ports.clone();
                p.node = Some(node.to_string());
                p.ips = vec![ip("10.255.255.254")];
            }));
        cluster
            .pods
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    }
    let started = Instant::now();
    let new = compile(&cluster, node);
    let recompile = started.elapsed();
    let started = Instant::now();
    let copy = new.clone();
    let cloned = started.elapsed();
    let started = Instant::now();
    let d = diff(&rs, &copy);
    let diffed = started.elapsed();
    incremental(&cluster, node);
    let started = Instant::now();
    let text = d.to_nft();
    println!(
        "recompile {recompile:?}, clone {cloned:?}, diff {diffed:?}, render {:?} ({} bytes)",
        started.elapsed(),
        text.len()
    );
    println!("churn diff: {:?}", d.stats());
    std::fs::write(format!("{out}/churn.nft"), d.to_nft())?;
    Ok(())
}
