//! The lab's agents in CLUSTER mode: each node's `palisade agent` reads the bundled shop example
//! from a fake Kubernetes API server (recorded list responses built from the lab's adjusted
//! cluster, then quiet watches) instead of a manifests directory. While probes run without
//! pause, agents are killed with SIGKILL and started again three times.
//!
//! What must hold:
//! - no denied pair ever gets through, established allowed connections (one cross-node, one
//!   same-node) keep carrying messages, new allowed connections keep succeeding;
//! - every restarted agent went through the API again (a fresh list of every kind);
//! - the drop events file (`--drop-events`) reports every denied probe with its pods, protocol,
//!   port, direction and the policies that isolate the denying side, and reports nothing else.
//!
//! The agent runs inside its node's network namespace, so each node gets its own fake server,
//! bound on that namespace's loopback from a thread that entered it (a socket keeps the
//! namespace it was made in): the agent reaches it, nothing outside the lab does.
//!
//! Needs root, `nft` and `ip`. Without them the test says so and passes, unless
//! `PALISADE_REQUIRE_KERNEL_TESTS=1`, which turns the skip into a failure.
//! Run it: `sudo cargo test -p palisade-cli --test cluster_restart -- --nocapture`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use palisade_core::eval::Probe;
use palisade_core::load::Input;
use palisade_core::model::Cluster;
use palisade_core::reach::Reachability;
use palisade_kube::ResourceKind;
use palisade_kube::fake::{FakeApiServer, RecordedRequest, Reply, list_body};
use palisade_lab::{CommandEnforcer, LabConfig, RunningLab};

use common::drop_events::{Expected, as_expected, drop_events, events_file, expected_drop};
use common::probing::{INTERVAL, Pair, Run, lab_available, probe_through_restarts};
use common::workspace;

fn probe(s: &str) -> Probe {
    s.parse().expect("probe literal")
}

/// The three list bodies a fake API server serves: the lab's adjusted cluster (the one its
/// local-mode agents read from `cluster.json`) as typed API objects, with what the API server
/// adds to every object (uid, resourceVersion, creationTimestamp) and a running phase.
#[derive(Debug, Clone)]
struct Lists {
    namespaces: String,
    pods: String,
    policies: String,
}

fn typed<K: serde::de::DeserializeOwned>(item: &serde_json::Value) -> K {
    serde_json::from_value(item.clone())
        .unwrap_or_else(|e| panic!("the lab's manifest is not a valid API object: {e}: {item}"))
}

fn api_lists(cluster: &Cluster) -> Lists {
    let list = palisade_lab::manifests::to_json(cluster);
    let mut namespaces: Vec<Namespace> = Vec::new();
    let mut pods: Vec<Pod> = Vec::new();
    let mut policies: Vec<NetworkPolicy> = Vec::new();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    for (n, mut item) in items.into_iter().enumerate() {
        let meta = &mut item["metadata"];
        let name = format!(
            "{}/{}",
            meta["namespace"].as_str().unwrap_or(""),
            meta["name"].as_str().unwrap_or("")
        );
        meta["uid"] = format!("uid-{n}-{name}").into();
        meta["resourceVersion"] = (n + 1).to_string().into();
        meta["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
        match item["kind"].as_str() {
            Some("Namespace") => namespaces.push(typed(&item)),
            Some("Pod") => {
                item["status"]["phase"] = "Running".into();
                pods.push(typed(&item));
            }
            Some("NetworkPolicy") => policies.push(typed(&item)),
            other => panic!("unexpected kind {other:?} in the lab's manifests"),
        }
    }
    assert!(
        pods.iter().all(|p| {
            p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
                && p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()
        }),
        "the lab placed every pod on a node with an address"
    );
    let version = "1000";
    Lists {
        namespaces: list_body(&namespaces, version),
        pods: list_body(&pods, version),
        policies: list_body(&policies, version),
    }
}

/// One fake API server, serving on a thread that lives in a node's network namespace.
struct NodeApi {
    kubeconfig: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Vec<RecordedRequest>>>,
}

impl NodeApi {
    fn start(netns: &str, lists: &Lists, kubeconfig: PathBuf) -> Result<NodeApi, String> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, String>>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (netns, lists) = (netns.to_string(), lists.clone());
        let thread = std::thread::spawn(move || {
            let entered = palisade_lab::netns::open(&netns)
                .and_then(|file| palisade_lab::netns::enter(&file, &netns));
            if let Err(e) = entered {
                let _ = ready_tx.send(Err(e.to_string()));
                return Vec::new();
            }
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return Vec::new();
                }
            };
            runtime.block_on(async move {
                let server = match FakeApiServer::start().await {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return Vec::new();
                    }
                };
                // Every list of a kind gets the last queued reply again: a restarted agent
                // relists and sees the same cluster. Watches hang open with no events.
                server.on_list(ResourceKind::Namespaces, Reply::list(lists.namespaces));
                server.on_list(ResourceKind::Pods, Reply::list(lists.pods));
                server.on_list(ResourceKind::NetworkPolicies, Reply::list(lists.policies));
                let _ = ready_tx.send(Ok(server.kubeconfig_yaml("lab")));
                let _ = stopped.await;
                server.requests()
            })
        });
        let yaml = ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|e| format!("fake API server thread: {e}"))??;
        std::fs::write(&kubeconfig, yaml).map_err(|e| e.to_string())?;
        Ok(NodeApi {
            kubeconfig,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the server and returns every request it saw.
    fn finish(mut self) -> Vec<RecordedRequest> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for NodeApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The fake API servers, one per node, started when the lab starts that node's first agent
/// (its namespace exists only then) and kept for the agents started after it.
#[derive(Clone)]
struct Apis {
    lists: Lists,
    dir: PathBuf,
    nodes: Arc<Mutex<BTreeMap<String, NodeApi>>>,
}

impl Apis {
    fn kubeconfig(&self, node: &str, netns: &str) -> Result<PathBuf, String> {
        let mut nodes = self.nodes.lock().map_err(|_| "lock poisoned".to_string())?;
        if let Some(api) = nodes.get(node) {
            return Ok(api.kubeconfig.clone());
        }
        let api = NodeApi::start(
            netns,
            &self.lists,
            self.dir.join(format!("{node}.kubeconfig")),
        )?;
        let path = api.kubeconfig.clone();
        nodes.insert(node.to_string(), api);
        Ok(path)
    }

    fn finish(&self) -> BTreeMap<String, Vec<RecordedRequest>> {
        let nodes = self
            .nodes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default();
        nodes
            .into_iter()
            .map(|(node, api)| (node, api.finish()))
            .collect()
    }
}

fn agent(apis: Apis, events: PathBuf) -> CommandEnforcer {
    let exe = env!("CARGO_BIN_EXE_palisade");
    CommandEnforcer::new(
        "palisade agent (cluster mode)",
        move |node| {
            // Without a kubeconfig the agent fails to start, and the lab reports its output.
            let kubeconfig = apis
                .kubeconfig(&node.name, &node.netns)
                .unwrap_or_else(|e| {
                    eprintln!("no fake API server for {}: {e}", node.name);
                    apis.dir.join("missing.kubeconfig")
                });
            let mut cmd = node.command(exe);
            cmd.args(["agent", "--node", &node.name, "--context", "lab"])
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .arg("--drop-events")
                .arg(events_file(&events, &node.name))
                .args(["--metrics-address", "off"]);
            cmd
        },
        palisade_agent::READY_MESSAGE,
    )
}

#[test]
fn cluster_mode_agents_survive_sigkill_restarts_and_attribute_drops() {
    if !lab_available("cluster restart test") {
        return;
    }
    let analysis = palisade_core::analyze(&[Input::Path(workspace().join("examples/shop"))]);
    assert_eq!(analysis.error_count(), 0, "{:?}", analysis.diagnostics);
    let config = LabConfig {
        nodes: 2,
        probes: vec![probe("tcp/8080"), probe("tcp/5432"), probe("udp/53")],
        // A leak shows up within a millisecond; an allowed connect under load needs more.
        timeout: Duration::from_millis(300),
        ..LabConfig::default()
    };
    let plan = palisade_lab::plan(&analysis.cluster, &config).expect("plan");
    let reach = Reachability::compute(&plan.cluster, &plan.externals);
    let dir = tempfile::tempdir().expect("tempdir");
    let events_dir = dir.path().join("drops");
    std::fs::create_dir(&events_dir).expect("events dir");
    let apis = Apis {
        lists: api_lists(&plan.cluster),
        dir: dir.path().to_path_buf(),
        nodes: Arc::default(),
    };
    let enforcer = agent(apis.clone(), events_dir.clone());
    let t = Instant::now();
    let lab = RunningLab::up(plan, &config, &enforcer).expect("lab up");
    eprintln!(
        "lab {} up in {} ms with cluster-mode agents",
        lab.prefix(),
        t.elapsed().as_millis()
    );
    let cluster = lab.plan().cluster.clone();
    let names: Vec<String> = lab
        .plan()
        .endpoints
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let pods = cluster.pods.len();

    // Every ordered pair of distinct pods, for every probe, classified by the engine.
    let mut pairs = Vec::new();
    for &p in &config.probes {
        for from in 0..pods {
            for to in (0..pods).filter(|&to| to != from) {
                pairs.push(Pair {
                    from,
                    to,
                    probe: p,
                    allowed: reach.allowed(from, to, p),
                    cross_node: lab.node_of(from) != lab.node_of(to),
                });
            }
        }
    }
    let count = |allowed: bool, cross: bool| {
        pairs
            .iter()
            .filter(|p| p.allowed == allowed && p.cross_node == cross)
            .count()
    };
    assert!(
        count(true, false) > 0 && count(true, true) > 0,
        "need allowed pairs of both kinds"
    );
    assert!(
        count(false, false) > 0 && count(false, true) > 0,
        "need denied pairs of both kinds"
    );

    // Before anything happens, the lab must agree with the engine, or the rest means nothing.
    let before: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = pairs
            .iter()
            .map(|pair| {
                let (lab, names) = (&lab, &names);
                s.spawn(move || {
                    let outcome = lab.probe_once(pair.from, pair.to, pair.probe);
                    (outcome.observed() != Some(pair.allowed)).then(|| {
                        format!(
                            "{} {} -> {}: {outcome}",
                            pair.probe, names[pair.from], names[pair.to]
                        )
                    })
                })
            })
            .collect();
        threads
            .into_iter()
            .filter_map(|t| t.join().expect("probe thread"))
            .collect()
    });
    assert!(
        before.is_empty(),
        "cluster-mode agents before any restart:\n{}",
        before.join("\n")
    );

    // Held connections: frontend -> backend (cross-node) and backend -> postgres (same node).
    let endpoint = |name: &str| {
        lab.endpoint(name)
            .unwrap_or_else(|| panic!("no endpoint {name}"))
    };
    let (frontend, backend, postgres) = (
        endpoint("production/frontend"),
        endpoint("production/backend"),
        endpoint("production/postgres"),
    );
    let held_pairs = [(frontend, backend, 8080), (backend, postgres, 5432)];
    let Run {
        tally,
        helds,
        restarts,
        chaos,
        elapsed,
    } = probe_through_restarts(&lab, &names, &pairs, &held_pairs);

    // After the restarts: each denied pair once more (all at once), as the drop attribution
    // round of the last agents.
    let denied: Vec<&Pair> = pairs.iter().filter(|p| !p.allowed).collect();
    let still_blocked: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = denied
            .iter()
            .map(|pair| {
                let (lab, names) = (&lab, &names);
                s.spawn(move || {
                    let outcome = lab.probe_once(pair.from, pair.to, pair.probe);
                    (outcome.observed() != Some(false)).then(|| {
                        format!(
                            "{} {} -> {}: {outcome}",
                            pair.probe, names[pair.from], names[pair.to]
                        )
                    })
                })
            })
            .collect();
        threads
            .into_iter()
            .filter_map(|t| t.join().expect("probe thread"))
            .collect()
    });
    let expected: BTreeSet<Expected> = denied
        .iter()
        .map(|pair| expected_drop(&cluster, &names, pair.from, pair.to, pair.probe))
        .collect();
    // The reader thread tells a drop within milliseconds; allow for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reported = loop {
        let reported: BTreeSet<Expected> = drop_events(&events_dir)
            .iter()
            .filter_map(as_expected)
            .collect();
        if expected.is_subset(&reported) || Instant::now() > deadline {
            break reported;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let event_lines = drop_events(&events_dir).len();

    let health = lab.check_enforcers();
    let teardown = lab.down().expect("teardown");
    let requests = apis.finish();

    eprintln!(
        "{} ms of probing: {} probes of allowed pairs, {} of denied pairs ({} pairs, {} ms apart)",
        elapsed.as_millis(),
        tally.sent_allowed,
        tally.sent_denied,
        pairs.len(),
        INTERVAL.as_millis()
    );
    for (node, r) in &restarts {
        eprintln!(
            "restart of node-{}'s agent: SIGKILL reaped in {} ms, 150 ms without agent, new agent listed the API and was ready in {} ms",
            node + 1,
            r.killed.as_millis(),
            r.ready.as_millis()
        );
    }
    for h in &helds {
        eprintln!(
            "held {}: {} messages echoed, slowest {} ms, {}",
            h.name,
            h.messages,
            h.slowest.as_millis(),
            h.failure.as_deref().unwrap_or("never failed")
        );
    }
    let lists = |node: &str, kind: ResourceKind| {
        requests
            .get(node)
            .map(|r| {
                r.iter()
                    .filter(|r| r.kind == Some(kind) && !r.watch)
                    .count()
            })
            .unwrap_or(0)
    };
    for node in requests.keys() {
        eprintln!(
            "fake API server of {node}: {} requests, lists of pods {}, namespaces {}, networkpolicies {}",
            requests.get(node).map_or(0, Vec::len),
            lists(node, ResourceKind::Pods),
            lists(node, ResourceKind::Namespaces),
            lists(node, ResourceKind::NetworkPolicies)
        );
    }
    eprintln!(
        "leaks (denied pairs through): {}, allowed probes failed: {}, errors: {}; \
         {} denied probes expected in the drop events, {} reported ({} event lines); teardown {} ms",
        tally.leaks.len(),
        tally.failures.len(),
        tally.errors.len(),
        expected.len(),
        reported.len(),
        event_lines,
        teardown.as_millis()
    );

    chaos.expect("killing and restarting agents");
    health.expect("agents healthy after the restarts");
    assert_eq!(restarts.len(), 3);
    assert!(
        tally.leaks.is_empty(),
        "denied pairs got through:\n{}",
        tally.leaks.join("\n")
    );
    for h in &helds {
        assert_eq!(h.failure, None, "held connection {} was cut", h.name);
        assert!(h.messages > 20, "held connection {} barely ran", h.name);
    }
    assert!(
        tally.failures.is_empty(),
        "allowed probes failed:\n{}",
        tally.failures.join("\n")
    );
    assert!(
        tally.errors.is_empty(),
        "probe errors:\n{}",
        tally.errors.join("\n")
    );
    assert!(
        still_blocked.is_empty(),
        "after the restarts:\n{}",
        still_blocked.join("\n")
    );
    // node-1's agent started 3 times, node-2's twice: each start listed every kind.
    for (node, starts) in [("node-1", 3), ("node-2", 2)] {
        for kind in ResourceKind::ALL {
            assert!(
                lists(node, kind) >= starts,
                "{node}: {} lists of {kind} for {starts} agent starts",
                lists(node, kind)
            );
        }
    }
    let missing: Vec<&Expected> = expected.difference(&reported).collect();
    assert!(
        missing.is_empty(),
        "{} of {} denied probes not reported as expected:\n{missing:#?}\nreported:\n{reported:#?}",
        missing.len(),
        expected.len()
    );
    // Nothing is reported that was not denied, over the whole run (restarts included).
    let extra: Vec<&Expected> = reported.difference(&expected).collect();
    assert!(
        extra.is_empty(),
        "reported but not a denied probe: {extra:#?}"
    );
}
