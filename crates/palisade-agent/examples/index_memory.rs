//! Resident memory of cluster mode's state with the benchmark cluster in view: the
//! `ClusterIndex` (every object converted, the merged cluster) and the node's compiled ruleset,
//! as a running agent holds them.
//!
//! ```text
//! cargo run --release -p palisade-agent --example index_memory [PODS NAMESPACES POLICIES]
//! ```
//!
//! A child process (this program with `--write FILE`) generates the cluster and writes one
//! API object per line; the parent reads the lines one at a time and feeds them to the index
//! as watch events, the way a watch stream delivers them, so its memory holds the agent's state
//! and not the generator's (the allocator keeps what it freed). The watcher's own buffers are
//! palisade-kube's to measure. Prints VmRSS and VmHWM from /proc/self/status at each step.

#[path = "../benches/synth_objects.rs"]
mod synth_objects;

use std::io::{BufRead, BufReader, Write};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
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
        "{step:<44} VmRSS {:>12}  VmHWM {:>12}",
        status("VmRSS:"),
        status("VmHWM:")
    );
}

/// The child: every object of the cluster, one JSON document per line, namespaces first.
fn write(path: &str, pods: usize, namespaces: usize, policies: usize) -> std::io::Result<()> {
    let o = objects(&model(pods, namespaces, policies));
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut line = |value: serde_json::Result<String>| -> std::io::Result<()> {
        writeln!(out, "{}", value.map_err(std::io::Error::other)?)
    };
    for ns in &o.namespaces {
        line(serde_json::to_string(ns))?;
    }
    for pod in &o.pods {
        line(serde_json::to_string(pod))?;
    }
    for np in &o.policies {
        line(serde_json::to_string(np))?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let (pods, namespaces, policies) = match numbers.as_slice() {
        [p, n, q] => (*p, *n, *q),
        _ => (10_000, 50, 3_000),
    };
    if let [flag, path, ..] = args.as_slice()
        && flag == "--write"
    {
        return write(path, pods, namespaces, policies);
    }

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("objects.ndjson");
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("--write")
        .arg(&file)
        .args([pods, namespaces, policies].map(|n| n.to_string()))
        .status()?;
    if !child.success() {
        return Err(std::io::Error::other("generator failed"));
    }
    report("start");
    let mut index = ClusterIndex::new(NODE);
    for init in [true, false] {
        // Init for every kind, then the objects, then InitDone: one relist per kind.
        if !init {
            index.namespace_event(&Event::InitDone);
            index.pod_event(&Event::InitDone);
            index.policy_event(&Event::InitDone);
            break;
        }
        index.namespace_event(&Event::Init);
        index.pod_event(&Event::Init);
        index.policy_event(&Event::Init);
        for line in BufReader::new(std::fs::File::open(&file)?).lines() {
            let line = line?;
            let value: serde_json::Value = serde_json::from_str(&line)?;
            match value.get("kind").and_then(|k| k.as_str()) {
                Some("Namespace") => {
                    let ns: Namespace = serde_json::from_value(value)?;
                    index.namespace_event(&Event::InitApply(ns));
                }
                Some("Pod") => {
                    let pod: Pod = serde_json::from_value(value)?;
                    index.pod_event(&Event::InitApply(pod));
                }
                Some("NetworkPolicy") => {
                    let np: NetworkPolicy = serde_json::from_value(value)?;
                    index.policy_event(&Event::InitApply(np));
                }
                _ => {}
            }
        }
    }
    let (n, p, q) = index.counts();
    report(&format!("index: {n} ns, {p} pods, {q} policies"));
    let cluster_pods = index.cluster().pods.len();
    report(&format!("+ merged cluster ({cluster_pods} pods)"));
    let ruleset = palisade_nft::compile(index.cluster(), NODE);
    report(&format!(
        "+ node ruleset ({} set/map elements)",
        ruleset.stats().elements
    ));
    Ok(())
}
