//! Resident memory of cluster mode's state with the benchmark cluster in view: the
//! `ClusterIndex` (every object converted, the merged cluster) and the node's compiled ruleset,
//! as a running agent holds them. The API objects are fed one at a time and dropped, as a
//! watch stream delivers them (the watcher's own buffers are palisade-kube's to measure).
//!
//! ```text
//! cargo run --release -p palisade-agent --example index_memory [PODS NAMESPACES POLICIES]
//! ```
//!
//! Prints VmRSS and VmHWM from /proc/self/status at each step. The allocator keeps freed
//! memory, so "after" includes what building the inputs left behind; the figure to compare
//! with the 150 MiB target is the final VmRSS.

#[path = "../benches/synth_objects.rs"]
mod synth_objects;

use kube::runtime::watcher::Event;
use palisade_agent::index::ClusterIndex;
use synth_objects::{NODE, model, objects};

fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l.trim_start_matches(field).trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn report(step: &str) {
    println!(
        "{step:<40} VmRSS {:>12}  VmHWM {:>12}",
        status("VmRSS:"),
        status("VmHWM:")
    );
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (pods, namespaces, policies) = match args.as_slice() {
        [p, n, q] => (*p, *n, *q),
        _ => (10_000, 50, 3_000),
    };
    report("start");
    let mut index = ClusterIndex::new(NODE);
    {
        let cluster = model(pods, namespaces, policies);
        let o = objects(&cluster);
        drop(cluster);
        report("objects built");
        index.namespace_event(&Event::Init);
        for ns in o.namespaces {
            index.namespace_event(&Event::InitApply(ns));
        }
        index.namespace_event(&Event::InitDone);
        index.pod_event(&Event::Init);
        for pod in o.pods {
            index.pod_event(&Event::InitApply(pod));
        }
        index.pod_event(&Event::InitDone);
        index.policy_event(&Event::Init);
        for np in o.policies {
            index.policy_event(&Event::InitApply(np));
        }
        index.policy_event(&Event::InitDone);
    }
    let (n, p, q) = index.counts();
    report(&format!("index: {n} ns, {p} pods, {q} policies"));
    let ruleset = palisade_nft::compile(index.cluster(), NODE);
    report(&format!(
        "cluster + ruleset ({} elements)",
        ruleset.stats().elements
    ));
}
