//! Drop attribution, policy counters and the fail-closed guard against the real kernel: the
//! lab's namespaces (routed pods, real packets) with the agent library running in each node's
//! namespace, compiling with logging, counters and the node's pod CIDRs.
//!
//! - a denied connection becomes one drop event naming both pods, the port, the direction and
//!   the policies `evaluate` names; `palisade_drops_total` counts it;
//! - allowed connections move the counter of the policy rule that allowed them;
//! - while an isolated local pod has no address in the agent's view, its traffic is dropped by
//!   the guard (logged and counted as such); once the address is known, policies decide.
//!
//! Skipped (with a note) without root, nft or ip; `PALISADE_REQUIRE_KERNEL_TESTS=1` makes that
//! fail.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use palisade_agent::drops::DropConfig;
use palisade_agent::{
    AgentError, LocalConfig, NftSourceWith, Observer, ReadyInfo, ShutdownHandle, run_local,
    shutdown_channel,
};
use palisade_core::eval::{Endpoint, Probe, SideVerdict, evaluate};
use palisade_core::load::Input;
use palisade_core::model::Cluster;
use palisade_lab::{Enforcer, EnforcerError, LabConfig, NodeHandle, RunningEnforcer, RunningLab};
use palisade_nft::{CompileOptions, LogOptions};

const GROUP: u16 = 100;
const WAIT: Duration = Duration::from_secs(10);

fn kernel_available() -> bool {
    let why = match palisade_lab::check_preconditions() {
        Ok(()) => return true,
        Err(e) => e.to_string(),
    };
    assert!(
        std::env::var_os("PALISADE_REQUIRE_KERNEL_TESTS").is_none(),
        "kernel tests required but unavailable: {why}"
    );
    eprintln!("skipping kernel test: {why}");
    false
}

/// The agent library on a thread inside each node's namespace.
struct LibraryAgent {
    dir: PathBuf,
    /// A pod (`namespace/name`) whose address its node's agent does not know yet.
    pending: Option<String>,
    /// Pod CIDRs given to every agent besides the lab's own per-node ones (the shop example
    /// brings its own pod addresses).
    cidrs: Vec<String>,
    observers: Mutex<BTreeMap<String, Observer>>,
}

struct RunningAgent {
    handle: ShutdownHandle,
    thread: Option<JoinHandle<Result<(), AgentError>>>,
}

impl std::fmt::Debug for RunningAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunningAgent")
    }
}

impl RunningAgent {
    fn finish(&mut self) -> Result<(), EnforcerError> {
        self.handle.shutdown();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => Err(e.to_string().into()),
            Some(Err(_)) => Err("agent thread panicked".into()),
            _ => Ok(()),
        }
    }
}

impl RunningEnforcer for RunningAgent {
    fn stop(mut self: Box<Self>) -> Result<(), EnforcerError> {
        self.finish()
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn manifests_dir(dir: &Path, node: &str) -> PathBuf {
    dir.join(node).join("manifests")
}

fn events_file(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("{node}.jsonl"))
}

fn ready_file(dir: &Path, node: &str) -> PathBuf {
    dir.join(node).join("ready")
}

/// The cluster as the agent of `node` sees it: the pending pod, if it runs there, without its
/// address (its own node's agent is the one that must hold it).
fn agent_view(cluster: &Cluster, node: &str, pending: Option<&str>) -> String {
    let mut view = cluster.clone();
    for pod in &mut view.pods {
        if Some(pod.key().as_str()) == pending && pod.node.as_deref() == Some(node) {
            pod.ips.clear();
        }
    }
    palisade_lab::manifests::to_string(&view)
}

impl Enforcer for LibraryAgent {
    fn describe(&self) -> String {
        "palisade agent (library)".into()
    }

    fn start_node(
        &self,
        node: &NodeHandle,
        cluster: &Cluster,
    ) -> Result<Box<dyn RunningEnforcer>, EnforcerError> {
        let manifests = manifests_dir(&self.dir, &node.name);
        std::fs::create_dir_all(&manifests)?;
        std::fs::write(
            manifests.join("cluster.json"),
            agent_view(cluster, &node.name, self.pending.as_deref()),
        )?;
        let ready = ready_file(&self.dir, &node.name);
        let mut config = LocalConfig::new(node.name.clone(), manifests);
        config.ready_file = Some(ready.clone());
        config.resync = Duration::from_secs(600);
        let observer = Observer::new();
        config.observer = Some(observer.clone());
        let mut drops = DropConfig::new(GROUP);
        drops.counter_interval = Duration::from_millis(200);
        drops.events_file = Some(events_file(&self.dir, &node.name));
        config.drops = Some(drops);
        // The lab gives node n the pod CIDRs 10.244.n.0/24 and fd00:244:n::/64.
        let mut cidrs = vec![
            format!("10.244.{}.0/24", node.index),
            format!("fd00:244:{}::/64", node.index),
        ];
        cidrs.extend(self.cidrs.iter().cloned());
        let source = NftSourceWith::new(CompileOptions {
            log: Some(LogOptions::new(GROUP)),
            counters: true,
            guard_cidrs: cidrs.iter().filter_map(|c| c.parse().ok()).collect(),
            class_mask: palisade_nft::ClassMask::DEFAULT,
        });
        let netns = File::open(Path::new("/run/netns").join(&node.netns))?;
        let (handle, shutdown) = shutdown_channel();
        let thread = std::thread::spawn(move || {
            setns(&netns, CloneFlags::CLONE_NEWNET).expect("enter the node's namespace");
            run_local(&config, &source, shutdown)
        });
        let mut running = RunningAgent {
            handle,
            thread: Some(thread),
        };
        let deadline = Instant::now() + WAIT;
        while ReadyInfo::read(&ready).is_none() {
            if Instant::now() > deadline || running.thread.as_ref().is_some_and(|t| t.is_finished())
            {
                let _ = running.finish();
                return Err(format!("agent of {} never got ready", node.name).into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Ok(mut observers) = self.observers.lock() {
            observers.insert(node.name.clone(), observer);
        }
        Ok(Box::new(running))
    }
}

fn shop() -> (Cluster, LabConfig) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop");
    let analysis = palisade_core::analyze(&[Input::Path(root)]);
    assert_eq!(analysis.error_count(), 0, "{:?}", analysis.diagnostics);
    let config = LabConfig {
        nodes: 2,
        probes: vec![tcp(5432)],
        timeout: Duration::from_millis(300),
        ..LabConfig::default()
    };
    (analysis.cluster, config)
}

fn tcp(port: u16) -> Probe {
    format!("tcp/{port}").parse().expect("probe literal")
}

fn events(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            out.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
    }
    out
}

/// Waits until some event satisfies `want`.
fn wait_event(
    dir: &Path,
    what: &str,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(e) = events(dir).into_iter().find(|e| want(e)) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "no drop event {what}; events: {:#?}",
            events(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of the first series of `metric` whose labels include every `labels` pair.
fn metric(observer: &Observer, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let text = observer.encode().expect("encode");
    text.lines()
        .filter(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn wait_metric(observer: &Observer, name: &str, labels: &[(&str, &str)], min: f64) -> f64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = metric(observer, name, labels);
        if v >= min {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} stayed at {v}, want >= {min}:\n{}",
            observer.encode().unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn str_field<'v>(v: &'v serde_json::Value, k: &str) -> &'v str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or_default()
}

#[test]
fn drops_are_attributed_and_policy_counters_move() {
    if !kernel_available() {
        return;
    }
    let (cluster, config) = shop();
    let plan = palisade_lab::plan(&cluster, &config).expect("plan");
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = LibraryAgent {
        dir: dir.path().to_path_buf(),
        pending: None,
        cidrs: Vec::new(),
        observers: Mutex::new(BTreeMap::new()),
    };
    let lab = RunningLab::up(plan, &config, &agent).expect("lab up");
    let cluster = lab.plan().cluster.clone();
    let pod = |name: &str| {
        lab.endpoint(name)
            .unwrap_or_else(|| panic!("no pod {name}"))
    };
    let node = |i: usize| format!("node-{}", lab.node_of(i).expect("placed") + 1);
    let observer = |i: usize| {
        agent
            .observers
            .lock()
            .ok()
            .and_then(|o| o.get(&node(i)).cloned())
            .expect("observer of the node")
    };
    let (backend, frontend, postgres) = (
        pod("production/backend"),
        pod("production/frontend"),
        pod("production/postgres"),
    );
    let probe = tcp(5432);

    // Allowed: backend -> postgres on 5432. The rule that allows it at postgres's ingress
    // counts it.
    let verdict = evaluate(
        &cluster,
        Endpoint::Pod(backend),
        Endpoint::Pod(postgres),
        probe,
    );
    let SideVerdict::Allowed { by } = &verdict.ingress else {
        panic!("the shop example allows backend -> postgres at ingress: {verdict:?}");
    };
    let rule = by.first().expect("an allowing rule");
    let policy = &cluster.policies[rule.policy];
    for _ in 0..3 {
        let outcome = lab.probe_once(backend, postgres, probe);
        assert_eq!(
            outcome.observed(),
            Some(true),
            "backend -> postgres: {outcome}"
        );
    }
    let rule_index = rule.rule.to_string();
    let allowed = wait_metric(
        &observer(postgres),
        "palisade_policy_packets_total",
        &[
            ("namespace", policy.namespace.as_str()),
            ("policy", policy.name.as_str()),
            ("rule", rule_index.as_str()),
            ("direction", "ingress"),
            ("verdict", "allowed"),
        ],
        3.0,
    );
    eprintln!(
        "allowed counter of {} ingress[{}]: {allowed}",
        policy.key(),
        rule.rule
    );

    // Denied: frontend -> postgres on 5432. The source's egress is checked first (at its
    // node), the destination's ingress only if egress let it out.
    let outcome = lab.probe_once(frontend, postgres, probe);
    assert_eq!(
        outcome.observed(),
        Some(false),
        "frontend -> postgres: {outcome}"
    );
    let verdict = evaluate(
        &cluster,
        Endpoint::Pod(frontend),
        Endpoint::Pod(postgres),
        probe,
    );
    let (direction, side, dropping_node) = if verdict.egress.allows() {
        ("ingress", &verdict.ingress, postgres)
    } else {
        ("egress", &verdict.egress, frontend)
    };
    let SideVerdict::Denied { isolated_by, .. } = side else {
        panic!("frontend -> postgres is denied: {verdict:?}");
    };
    let mut want_policies: Vec<String> = isolated_by
        .iter()
        .map(|&i| cluster.policies[i].key())
        .collect();
    want_policies.sort();
    let event = wait_event(dir.path(), "frontend -> postgres", |e| {
        str_field(e, "src") == "production/frontend" && str_field(e, "dst") == "production/postgres"
    });
    assert_eq!(str_field(&event, "direction"), direction, "{event:#}");
    assert_eq!(str_field(&event, "protocol"), "tcp", "{event:#}");
    assert_eq!(
        event.get("port").and_then(|p| p.as_u64()),
        Some(5432),
        "{event:#}"
    );
    assert_eq!(
        event.get("guard").and_then(|g| g.as_bool()),
        Some(false),
        "{event:#}"
    );
    let policies: Vec<&str> = event
        .get("policies")
        .and_then(|p| p.as_array())
        .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(policies, want_policies, "{event:#}");
    wait_metric(
        &observer(dropping_node),
        "palisade_drops_total",
        &[("direction", direction), ("namespace", "production")],
        1.0,
    );
    let denied_policy = want_policies.first().expect("a policy");
    let (ns, name) = denied_policy.split_once('/').expect("ns/name");
    wait_metric(
        &observer(dropping_node),
        "palisade_policy_packets_total",
        &[
            ("namespace", ns),
            ("policy", name),
            ("direction", direction),
            ("verdict", "denied"),
        ],
        1.0,
    );
    let (pod_ns, pod_name) = names_of(&names_at(&lab, dropping_node));
    wait_metric(
        &observer(dropping_node),
        "palisade_pod_denied_packets_total",
        &[
            ("namespace", pod_ns.as_str()),
            ("pod", pod_name.as_str()),
            ("direction", direction),
        ],
        1.0,
    );
    let health = lab.check_enforcers();
    lab.down().expect("teardown");
    health.expect("agents ran throughout");
}

fn names_at(lab: &RunningLab<'_>, endpoint: usize) -> String {
    lab.plan()
        .endpoints
        .get(endpoint)
        .map(|e| e.name.clone())
        .unwrap_or_default()
}

fn names_of(key: &str) -> (String, String) {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    (ns.to_string(), name.to_string())
}

#[test]
fn the_guard_holds_a_pending_isolated_pod_until_its_address_is_known() {
    if !kernel_available() {
        return;
    }
    let (cluster, config) = shop();
    let plan = palisade_lab::plan(&cluster, &config).expect("plan");
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = LibraryAgent {
        dir: dir.path().to_path_buf(),
        pending: Some("production/postgres".into()),
        // Where the example's pod addresses are.
        cidrs: vec!["10.0.1.0/24".into()],
        observers: Mutex::new(BTreeMap::new()),
    };
    let lab = RunningLab::up(plan, &config, &agent).expect("lab up");
    let cluster = lab.plan().cluster.clone();
    let pod = |name: &str| {
        lab.endpoint(name)
            .unwrap_or_else(|| panic!("no pod {name}"))
    };
    let (backend, postgres) = (pod("production/backend"), pod("production/postgres"));
    let postgres_node = format!("node-{}", lab.node_of(postgres).expect("placed") + 1);
    let probe = tcp(5432);

    // backend -> postgres is allowed by policy, but the agent does not know postgres's
    // address yet: the guard drops it.
    let outcome = lab.probe_once(backend, postgres, probe);
    assert_eq!(outcome.observed(), Some(false), "guarded: {outcome}");
    let event = wait_event(dir.path(), "from the guard", |e| {
        e.get("guard").and_then(|g| g.as_bool()) == Some(true)
    });
    assert_eq!(str_field(&event, "direction"), "ingress", "{event:#}");
    assert_eq!(str_field(&event, "src"), "production/backend", "{event:#}");
    assert!(
        str_field(&event, "note").contains("production/postgres"),
        "the note names the pending pod: {event:#}"
    );
    let observer = agent
        .observers
        .lock()
        .ok()
        .and_then(|o| o.get(&postgres_node).cloned())
        .expect("observer");
    wait_metric(
        &observer,
        "palisade_policy_packets_total",
        &[("direction", "ingress"), ("verdict", "guard")],
        1.0,
    );

    assert_eq!(metric(&observer, "palisade_guard_pending_pods", &[]), 1.0);

    // The address becomes known to every agent: the guard lets go and the policies decide.
    let nodes: Vec<String> = (1..=config.nodes).map(|n| format!("node-{n}")).collect();
    for node in &nodes {
        let ready = ready_file(dir.path(), node);
        let before = ReadyInfo::read(&ready).map_or(0, |r| r.generation);
        std::fs::write(
            manifests_dir(dir.path(), node).join("cluster.json"),
            agent_view(&cluster, node, None),
        )
        .expect("write manifests");
        let deadline = Instant::now() + WAIT;
        while ReadyInfo::read(&ready).map_or(0, |r| r.generation) <= before {
            assert!(
                Instant::now() < deadline,
                "{node} did not pick up the address"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let outcome = lab.probe_once(backend, postgres, probe);
    assert_eq!(
        outcome.observed(),
        Some(true),
        "after the address is known: {outcome}"
    );
    assert_eq!(metric(&observer, "palisade_guard_pending_pods", &[]), 0.0);
    // Drop attribution is handed the new cluster once the agent is quiet (50 ms after the
    // change pass), not in the pass: a drop after that names postgres, whose address the
    // view of the first pass did not hold.
    std::thread::sleep(Duration::from_millis(300));
    let frontend = pod("production/frontend");
    let outcome = lab.probe_once(frontend, postgres, probe);
    assert_eq!(
        outcome.observed(),
        Some(false),
        "frontend -> postgres: {outcome}"
    );
    let event = wait_event(dir.path(), "frontend -> postgres, after the change", |e| {
        str_field(e, "src") == "production/frontend"
            && e.get("guard").and_then(|g| g.as_bool()) == Some(false)
    });
    assert_eq!(str_field(&event, "dst"), "production/postgres", "{event:#}");
    let window = metric(&observer, "palisade_guard_window_seconds_sum", &[]);
    assert!(
        metric(&observer, "palisade_guard_window_seconds_count", &[]) == 1.0 && window > 0.0,
        "one window measured: {window} s"
    );
    eprintln!("guard window: {:.0} ms", window * 1000.0);
    let health = lab.check_enforcers();
    lab.down().expect("teardown");
    health.expect("agents ran throughout");
}
