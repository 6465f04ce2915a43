//! Change -> enforced through cluster mode, as the binary runs it: `run_cluster` with the
//! binary's compiler options (counters, the drop log group), drop attribution and kernel
//! readback on, in a throwaway network namespace, fed watcher events through channels as
//! palisade-kube's streams would. Ignored by default; prints the figures BENCHMARKS.md quotes:
//!
//! ```text
//! cargo test -p palisade-agent --release --test change_latency -- --ignored --nocapture
//!   PALISADE_BENCH_SHAPES=synth,unique   clusters to run (default both)
//!   PALISADE_BENCH_PODS=10000            pods per cluster (policies: 3 per 10 pods)
//!   PALISADE_BENCH_ROUNDS=1000           changes of each kind
//! ```
//!
//! Each round sends one event and waits for the agent's ready file to report the pass that
//! enforced it; the time is from just before the send to the moment the report is seen, so it
//! holds the channel hop, the index, the compile, the nft transaction and the report (an upper
//! bound of the agent's own change -> committed figure). The kinds cycle so that every event
//! is a real change that the node must enforce: a pod added and later deleted on another
//! node (class map entries), the same on this node (verdict map entries), a pod's labels set
//! to another pod's and later back (its class moves), and a policy selecting a local pod given
//! one more rule and later restored (a chain replaced).

#[path = "../benches/synth_objects.rs"]
mod synth_objects;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::watcher::Event;
use palisade_agent::drops::DropConfig;
use palisade_agent::{ApiHealth, ClusterConfig, NftSourceWith, ReadyInfo, Streams, run_cluster};
use palisade_core::model::Cluster;
use palisade_dataplane::netns::ScratchNetns;
use palisade_nft::{CompileOptions, LogOptions};
use synth_objects::{Objects, objects};

/// The binary's default nflog group (`palisade agent --nflog-group`).
const LOG_GROUP: u16 = 100;
const WAIT: Duration = Duration::from_secs(30);

type Tx<K> = mpsc::UnboundedSender<Result<Event<K>, String>>;

struct Feed {
    pods: Tx<Pod>,
    namespaces: Tx<Namespace>,
    policies: Tx<NetworkPolicy>,
}

fn send<K>(tx: &Tx<K>, event: Event<K>) {
    tx.unbounded_send(Ok(event)).expect("agent listening");
}

fn list<K>(tx: &Tx<K>, objects: Vec<K>) {
    send(tx, Event::Init);
    for object in objects {
        send(tx, Event::InitApply(object));
    }
    send(tx, Event::InitDone);
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Waits for a report after generation `after`; returns it and when it was seen.
fn wait_report(ready: &Path, after: u64) -> (ReadyInfo, Instant) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(info) = ReadyInfo::read(ready)
            && info.generation > after
        {
            return (info, Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "no pass after generation {after}"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn generation(ready: &Path) -> u64 {
    ReadyInfo::read(ready).map_or(0, |i| i.generation)
}

/// The cluster of `shape` with about `pods` pods, its node to enforce, and how many pods that
/// node runs.
fn cluster_of(shape: &str, pods: usize) -> (Cluster, String) {
    match shape {
        "unique" => {
            let cluster = palisade_test_support::synth_unique::generate_unique(
                palisade_test_support::synth_unique::UniqueParams {
                    namespaces: 50,
                    pods,
                    policies: pods * 3 / 10,
                    seed: 1,
                },
            );
            // The node holding the most pods with an address.
            let mut count: BTreeMap<&str, usize> = BTreeMap::new();
            for pod in &cluster.pods {
                if let (Some(node), false, false) =
                    (pod.node.as_deref(), pod.host_network, pod.ips.is_empty())
                {
                    *count.entry(node).or_default() += 1;
                }
            }
            let node = count
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(n, _)| n.to_string())
                .expect("a node with pods");
            (cluster, node)
        }
        _ => (
            synth_objects::model(pods, 50, pods * 3 / 10),
            synth_objects::NODE.to_string(),
        ),
    }
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
}

fn has_ip(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .is_some()
}

fn host_network(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.host_network) == Some(true)
}

fn bump(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    let next = meta
        .resource_version
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    meta.resource_version = Some(next.to_string());
}

/// A copy of `template` named `name` with address `ip`, as a new pod.
fn new_pod(template: &Pod, name: &str, ip: &str) -> Pod {
    let mut pod = template.clone();
    pod.metadata.name = Some(name.to_string());
    pod.metadata.uid = Some(format!("uid-{name}"));
    pod.metadata.resource_version = Some("1".into());
    let status = pod.status.get_or_insert_with(Default::default);
    status.pod_ip = Some(ip.to_string());
    status.pod_ips = Some(vec![k8s_openapi::api::core::v1::PodIP {
        ip: ip.to_string(),
    }]);
    pod
}

/// `policy` with one more rule in a direction it isolates: TCP `port` from (to) anywhere.
fn widened(policy: &NetworkPolicy, port: i32) -> NetworkPolicy {
    let mut policy = policy.clone();
    bump(&mut policy.metadata);
    let spec = policy.spec.get_or_insert_with(Default::default);
    let ports = Some(vec![NetworkPolicyPort {
        protocol: Some("TCP".into()),
        port: Some(IntOrString::Int(port)),
        ..NetworkPolicyPort::default()
    }]);
    let types = spec.policy_types.clone().unwrap_or_default();
    let egress_only = types.iter().all(|t| t == "Egress") && !types.is_empty();
    if egress_only {
        spec.egress
            .get_or_insert_with(Vec::new)
            .push(NetworkPolicyEgressRule { ports, to: None });
    } else {
        spec.ingress
            .get_or_insert_with(Vec::new)
            .push(NetworkPolicyIngressRule { ports, from: None });
    }
    policy
}

/// SplitMix64, so every run sends the same changes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }
}

const KINDS: [&str; 6] = [
    "pod added, other node",
    "pod labels changed",
    "pod added, this node",
    "policy changed",
    "pod deleted, other node",
    "pod deleted, this node",
];

/// Sends the changes and measures each; returns the samples of each kind and the count of
/// passes of each kind of apply (diff, unchanged, full).
fn drive(
    feed: &Feed,
    ready: &Path,
    objects: &Objects,
    cluster: &Cluster,
    node: &str,
    rounds: usize,
) -> (Vec<Vec<Duration>>, BTreeMap<String, usize>) {
    let remote: Vec<&Pod> = objects
        .pods
        .iter()
        .filter(|p| node_of(p) != Some(node) && has_ip(p) && !host_network(p))
        .collect();
    let local: Vec<&Pod> = objects
        .pods
        .iter()
        .filter(|p| node_of(p) == Some(node) && has_ip(p) && !host_network(p))
        .collect();
    // Policies that select a pod of this node: changing one replaces a chain here.
    let local_namespaces: Vec<(usize, &palisade_core::model::Pod)> = cluster
        .pods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.node.as_deref() == Some(node) && !p.host_network)
        .collect();
    let policies: Vec<usize> = cluster
        .policies
        .iter()
        .enumerate()
        .filter(|(_, policy)| {
            local_namespaces
                .iter()
                .any(|(_, pod)| palisade_core::eval::selects(policy, pod))
        })
        .map(|(i, _)| i)
        .collect();
    assert!(
        !remote.is_empty() && !local.is_empty() && !policies.is_empty(),
        "the cluster has remote pods, local pods and policies selecting local pods"
    );
    println!(
        "  {} pods on this node, {} policies selecting them",
        local.len(),
        policies.len()
    );
    let mut rng = Rng(7);
    let mut samples = vec![Vec::with_capacity(rounds); KINDS.len()];
    let mut applies: BTreeMap<String, usize> = BTreeMap::new();
    let mut relabelled: BTreeMap<usize, Pod> = BTreeMap::new();
    let mut widened_policies: BTreeMap<usize, NetworkPolicy> = BTreeMap::new();
    let mut added: Vec<Option<Pod>> = vec![None, None];
    for round in 0..rounds * KINDS.len() {
        let kind = round % KINDS.len();
        let n = round / KINDS.len();
        let before = generation(ready);
        let ip = format!("10.250.{}.{}", n / 250, n % 250 + 1);
        let started = Instant::now();
        match kind {
            0 | 2 => {
                let (pool, slot, name) = if kind == 0 {
                    (&remote, 0, format!("bench-remote-{n}"))
                } else {
                    (&local, 1, format!("bench-local-{n}"))
                };
                let pod = new_pod(pool[rng.below(pool.len())], &name, &ip);
                added[slot] = Some(pod.clone());
                send(&feed.pods, Event::Apply(pod));
            }
            4 | 5 => {
                let slot = kind - 4;
                let pod = added[slot].take().expect("added earlier in the cycle");
                send(&feed.pods, Event::Delete(pod));
            }
            1 => {
                let at = rng.below(objects.pods.len());
                let pod = match relabelled.remove(&at) {
                    Some(mut changed) => {
                        // Back to the labels it was listed with.
                        changed.metadata.labels = objects.pods[at].metadata.labels.clone();
                        bump(&mut changed.metadata);
                        changed
                    }
                    None => {
                        // Another pod's labels, from the same namespace when there is one.
                        let namespace = objects.pods[at].metadata.namespace.clone();
                        let others: Vec<&Pod> = objects
                            .pods
                            .iter()
                            .filter(|p| {
                                p.metadata.namespace == namespace
                                    && p.metadata.labels != objects.pods[at].metadata.labels
                            })
                            .collect();
                        let mut changed = objects.pods[at].clone();
                        changed.metadata.labels = match others.len() {
                            0 => Some(BTreeMap::from([("bench".into(), format!("{n}"))])),
                            len => others[rng.below(len)].metadata.labels.clone(),
                        };
                        bump(&mut changed.metadata);
                        relabelled.insert(at, changed.clone());
                        changed
                    }
                };
                send(&feed.pods, Event::Apply(pod));
            }
            _ => {
                let at = policies[rng.below(policies.len())];
                let policy = match widened_policies.remove(&at) {
                    Some(mut changed) => {
                        let mut back = objects.policies[at].clone();
                        bump(&mut changed.metadata);
                        back.metadata.resource_version = changed.metadata.resource_version;
                        back
                    }
                    None => {
                        let changed = widened(&objects.policies[at], 20000 + (n % 1000) as i32);
                        widened_policies.insert(at, changed.clone());
                        changed
                    }
                };
                send(&feed.policies, Event::Apply(policy));
            }
        }
        let (info, seen) = wait_report(ready, before);
        samples[kind].push(seen - started);
        *applies.entry(info.ruleset).or_default() += 1;
        // Let the agent go idle, so every change is measured from a quiet start: past its
        // minimum gap between passes (10 ms) and past the moment, 50 ms after a change pass,
        // when it copies the cluster for drop attribution (about 11 ms at 10,000 pods).
        std::thread::sleep(Duration::from_millis(80));
    }
    (samples, applies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn run_shape(shape: &str, pods: usize, rounds: usize, dir: &Path) {
    let (cluster, node) = cluster_of(shape, pods);
    let objects = objects(&cluster);
    println!(
        "{shape}: {} namespaces, {} pods, {} policies; node {node}",
        objects.namespaces.len(),
        objects.pods.len(),
        objects.policies.len()
    );
    let ready: PathBuf = dir.join(format!("ready-{shape}"));
    let mut config = ClusterConfig::new(node.clone());
    config.ready_file = Some(ready.clone());
    config.drops = Some(DropConfig::new(LOG_GROUP));
    if let Some(secs) = std::env::var("PALISADE_BENCH_RESYNC_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.resync = Duration::from_secs(secs);
    }
    let source = NftSourceWith::new(CompileOptions {
        log: Some(LogOptions::new(LOG_GROUP)),
        counters: true,
        ..CompileOptions::default()
    });
    let (pods_tx, pods_rx) = mpsc::unbounded();
    let (namespaces_tx, namespaces_rx) = mpsc::unbounded();
    let (policies_tx, policies_rx) = mpsc::unbounded();
    let (_health_tx, health) = mpsc::unbounded::<ApiHealth>();
    let (stop_tx, stop) = oneshot::channel::<()>();
    let feed = Feed {
        pods: pods_tx,
        namespaces: namespaces_tx,
        policies: policies_tx,
    };
    let Some(netns) = ScratchNetns::for_test("pl-bench-latency") else {
        return;
    };
    std::thread::scope(|scope| {
        let agent = scope.spawn(|| {
            netns
                .run(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                        .expect("runtime");
                    runtime.block_on(run_cluster(
                        &config,
                        &source,
                        Streams {
                            pods: pods_rx,
                            namespaces: namespaces_rx,
                            policies: policies_rx,
                        },
                        health,
                        async {
                            let _ = stop.await;
                        },
                    ))
                })
                .expect("enter namespace")
        });
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let started = Instant::now();
            list(&feed.namespaces, objects.namespaces.clone());
            list(&feed.pods, objects.pods.clone());
            list(&feed.policies, objects.policies.clone());
            let (info, _) = wait_report(&ready, 0);
            println!(
                "  first apply ({}): {:?} after the lists were sent",
                info.ruleset,
                started.elapsed()
            );
            // The readback after the first full apply runs on its own thread: let it finish
            // so it is not measured as a change's cost.
            std::thread::sleep(Duration::from_secs(3));
            drive(&feed, &ready, &objects, &cluster, &node, rounds)
        }));
        let _ = stop_tx.send(());
        agent
            .join()
            .expect("agent thread")
            .expect("agent ran and stopped cleanly");
        let (samples, applies) = match outcome {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        println!("  passes: {applies:?}");
        println!("  | change | n | p50 ms | p90 ms | p99 ms | max ms |");
        let mut all: Vec<Duration> = Vec::new();
        for (kind, mut samples) in KINDS.iter().zip(samples) {
            samples.sort();
            println!(
                "  | {kind} | {} | {} | {} | {} | {} |",
                samples.len(),
                ms(percentile(&samples, 0.5)),
                ms(percentile(&samples, 0.9)),
                ms(percentile(&samples, 0.99)),
                ms(samples.last().copied().unwrap_or_default())
            );
            all.extend(samples);
        }
        all.sort();
        println!(
            "  | every change | {} | {} | {} | {} | {} |",
            all.len(),
            ms(percentile(&all, 0.5)),
            ms(percentile(&all, 0.9)),
            ms(percentile(&all, 0.99)),
            ms(all.last().copied().unwrap_or_default())
        );
    });
}

#[test]
#[ignore = "benchmark: cargo test -p palisade-agent --release --test change_latency -- --ignored --nocapture"]
fn change_latency_benchmark() {
    palisade_agent::init_tracing();
    let shapes: String = env_or("PALISADE_BENCH_SHAPES", "synth,unique".to_string());
    let pods: usize = env_or("PALISADE_BENCH_PODS", 10_000);
    let rounds: usize = env_or("PALISADE_BENCH_ROUNDS", 1_000);
    let dir = tempfile::tempdir().expect("tempdir");
    for shape in shapes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        run_shape(shape, pods, rounds, dir.path());
    }
}
