//! Resident memory of the real `palisade agent` process in cluster mode with the benchmark
//! cluster (10,000 pods / 50 namespaces / 3,000 policies by default) in its view.
//!
//! ```text
//! cargo build --release -p palisade-cli
//! cargo run --release -p palisade-cli --example agent_memory [PODS NAMESPACES POLICIES]
//! ```
//!
//! Needs root and nft. Everything happens in a throwaway network namespace: a fake API server
//! (palisade-kube's, replaying list responses, then holding the watches open) listens on that
//! namespace's loopback, and the agent binary, started from a thread inside the namespace,
//! connects to it with a kubeconfig, lists everything, compiles and loads its node's ruleset.
//! Once the agent's ready file appears (rules in the kernel), its VmRSS and VmHWM are read from
//! /proc: the watch streams, the index, the cluster model, the compiled ruleset and the drop
//! reader, all of it. Then again once its first kernel readback has proven the table
//! (`palisade_ruleset_verified 1` on its metrics address): the peak a memory limit must hold.

#[path = "../../palisade-agent/benches/synth_objects.rs"]
mod synth_objects;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use palisade_dataplane::netns::ScratchNetns;
use palisade_kube::ResourceKind;
use palisade_kube::fake::{FakeApiServer, Reply, WatchEnd, list_body};
use synth_objects::{NODE, model, objects};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn proc_status(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len()..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// The agent's metrics listener, on the scratch namespace's loopback.
const METRICS: &str = "127.0.0.1:9691";

/// Whether the agent's metrics say its last readback proved the table (called inside the
/// namespace).
fn verified() -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(METRICS) else {
        return false;
    };
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {METRICS}\r\n\r\n");
    let mut body = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut body).is_ok()
        && body.lines().any(|l| l == "palisade_ruleset_verified 1")
}

fn main() {
    let (pods, namespaces, policies) = (arg(1, 10_000), arg(2, 50), arg(3, 3_000));
    let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/palisade");
    assert!(
        binary.exists(),
        "build the agent first: cargo build --release -p palisade-cli"
    );
    let objects = objects(&model(pods, namespaces, policies));
    println!(
        "cluster: {} pods, {} namespaces, {} policies; agent node {NODE}",
        objects.pods.len(),
        objects.namespaces.len(),
        objects.policies.len()
    );
    let netns = ScratchNetns::create("pmem").expect("network namespace (run as root)");
    let lo = netns
        .command("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip");
    assert!(lo.success(), "ip link set lo up");
    let dir = tempfile::tempdir().expect("temp dir");
    let ready = dir.path().join("ready");
    let kubeconfig = dir.path().join("kubeconfig");
    netns
        .run(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            let server = runtime
                .block_on(FakeApiServer::start())
                .expect("fake API server");
            {
                let _guard = runtime.enter();
                let lists = [
                    (
                        ResourceKind::Namespaces,
                        list_body(&objects.namespaces, "1"),
                    ),
                    (ResourceKind::Pods, list_body(&objects.pods, "1")),
                    (
                        ResourceKind::NetworkPolicies,
                        list_body(&objects.policies, "1"),
                    ),
                ];
                for (kind, body) in lists {
                    server.on_list(kind, Reply::list(body));
                    server.on_watch(kind, Reply::watch("", WatchEnd::Hang));
                }
            }
            std::fs::File::create(&kubeconfig)
                .and_then(|mut f| f.write_all(server.kubeconfig_yaml("bench").as_bytes()))
                .expect("kubeconfig");
            // Started from this thread, so the agent lives in the scratch namespace.
            let mut agent = Command::new(&binary)
                .args(["agent", "--node", NODE, "--metrics-address", METRICS])
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--ready-file")
                .arg(&ready)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .expect("start the agent");
            let started = Instant::now();
            while !ready.exists() && started.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let enforced = started.elapsed();
            // Let the drop reader and the first counter read settle.
            std::thread::sleep(Duration::from_secs(2));
            let pid = agent.id();
            println!(
                "agent: ready after {:.2} s; VmRSS {}, VmHWM {}",
                enforced.as_secs_f64(),
                proc_status(pid, "VmRSS:"),
                proc_status(pid, "VmHWM:")
            );
            let verifying = Instant::now();
            while !verified() && verifying.elapsed() < Duration::from_secs(600) {
                std::thread::sleep(Duration::from_millis(100));
            }
            println!(
                "agent: first readback done {:.2} s after ready (verified: {}); VmRSS {}, VmHWM {}",
                verifying.elapsed().as_secs_f64(),
                verified(),
                proc_status(pid, "VmRSS:"),
                proc_status(pid, "VmHWM:")
            );
            let _ = agent.kill();
            let _ = agent.wait();
            drop(server);
        })
        .expect("enter the namespace");
}
