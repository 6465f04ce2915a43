//! The agent's Kubernetes path end to end, without a cluster: a fake API server replaying
//! recorded list and watch responses -> kube's real client and watcher (`watch_cluster`) -> the
//! CLI's health mapping (`kube_health::health_stream`) -> `run_cluster` with the real compiler
//! -> nft in a scratch network namespace. The assertions read the kernel's table and the
//! agent's `/readyz` state.
//!
//! Everything runs inside the scratch namespace on one current-thread runtime: the fake server
//! listens on that namespace's loopback, so no traffic leaves it.
//!
//! Skipped (with a note) without root or nft; `PALISADE_REQUIRE_KERNEL_TESTS=1` makes that fail.

mod k8s;

use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::channel::oneshot;
use k8s::{NODE, allow_from, mk_ns, mk_pod};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use palisade_agent::{ClusterConfig, NftSource, Observer, ReadyInfo, Streams, run_cluster};
use palisade_dataplane::Dataplane;
use palisade_dataplane::netns::ScratchNetns;
use palisade_kube::fake::{FakeApiServer, Reply, list_body, status_body, watch_event};
use palisade_kube::watch::Backoff;
use palisade_kube::{Event, ResourceKind, WatchOptions};

const WAIT: Duration = Duration::from_secs(15);
/// The watcher's delay after an error: kube's default starts at 0.8 s too, but grows with
/// jitter; a fixed one keeps the windows this test looks into predictable.
const BACKOFF: Duration = Duration::from_millis(800);

const DB: &str = "10.0.1.10";
const WEB: &str = "10.0.1.11";
const CACHE: &str = "10.0.2.10";
const GHOST: &str = "10.0.1.99";

fn table() -> String {
    Dataplane::new()
        .current_table()
        .expect("nft list")
        .unwrap_or_default()
}

fn generation(ready: &Path) -> u64 {
    ReadyInfo::read(ready).map_or(0, |i| i.generation)
}

/// Lets the agent and the server run until `check` holds.
async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn pod(name: &str, app: &str, node: &str, address: &str) -> Pod {
    mk_pod(
        "shop",
        name,
        &format!("uid-{name}"),
        &[("app", app)],
        node,
        Some(address),
        |_| {},
    )
}

fn db() -> Pod {
    pod("db", "db", NODE, DB)
}

fn web() -> Pod {
    pod("web", "web", NODE, WEB)
}

fn cache(app: &str) -> Pod {
    pod("cache", app, "node-b", CACHE)
}

/// db accepts TCP `port` from pods labelled app=web.
fn db_policy(port: i32) -> NetworkPolicy {
    allow_from(
        "shop",
        "db",
        &[("app", "db")],
        &[("app", "web")],
        None,
        port,
    )
}

fn policy_port(policy: &NetworkPolicy) -> Option<i32> {
    let rule = policy.spec.as_ref()?.ingress.as_ref()?.first()?;
    match rule.ports.as_ref()?.first()?.port.as_ref()? {
        IntOrString::Int(port) => Some(*port),
        IntOrString::String(_) => None,
    }
}

/// A list page that tells the client to come back for more (`metadata.continue`), as the API
/// server does when `limit` cuts a list
/// (<https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks>).
fn first_page(items: &[Pod], resource_version: &str, token: &str) -> String {
    let mut body: serde_json::Value =
        serde_json::from_str(&list_body(items, resource_version)).expect("list body is JSON");
    body["metadata"]["continue"] = serde_json::Value::String(token.into());
    body.to_string()
}

/// The watch `ERROR` event the API server sends when the client's resourceVersion is older
/// than the history it keeps: 410 Gone, reason Expired
/// (<https://kubernetes.io/docs/reference/using-api/api-concepts/#410-gone-responses>).
fn gone_event() -> String {
    let status: serde_json::Value = serde_json::from_str(&status_body(
        410,
        "Expired",
        "too old resource version: 100 (250)",
    ))
    .expect("status body is JSON");
    serde_json::json!({ "type": "ERROR", "object": status }).to_string()
}

fn tag(event: &Event<Pod>) -> String {
    let name = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
    match event {
        Event::Init => "Init".into(),
        Event::InitApply(p) => format!("InitApply({})", name(p)),
        Event::InitDone => "InitDone".into(),
        Event::Apply(p) => format!("Apply({})", name(p)),
        Event::Delete(p) => format!("Delete({})", name(p)),
    }
}

fn contains_run(haystack: &[String], needle: &[&str]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.iter().zip(needle).all(|(a, b)| a == b))
}

#[test]
fn recorded_api_responses_drive_the_kernel_through_kube_and_the_agent() {
    let Some(netns) = ScratchNetns::for_test("pl-test-e2e") else {
        return;
    };
    let lo = netns
        .command("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip link");
    assert!(lo.success(), "loopback up in the scratch namespace");
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready");
    netns
        .run(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(scenario(&ready));
        })
        .expect("enter namespace");
}

async fn scenario(ready: &Path) {
    let server = FakeApiServer::start().await.expect("fake API server");
    server.on_list(
        ResourceKind::Namespaces,
        Reply::list(list_body(&[mk_ns("shop", &[])], "100")),
    );
    server.on_list(
        ResourceKind::Pods,
        Reply::list(list_body(&[db(), web(), cache("cache")], "100")),
    );
    server.on_list(
        ResourceKind::NetworkPolicies,
        Reply::list(list_body(&[db_policy(5432)], "100")),
    );

    let options = WatchOptions {
        backoff: Backoff::Fixed(BACKOFF),
        ..WatchOptions::default()
    };
    let watch = palisade_kube::watch_cluster(&server.resolved(), &options)
        .await
        .expect("watch_cluster");
    // What the pod watcher hands the agent, in order.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let pods = watch.pods.inspect(move |event| {
        if let Ok(mut log) = log.lock() {
            log.push(tag(event));
        }
    });
    let observer = Observer::new();
    let mut config = ClusterConfig::new(NODE);
    config.ready_file = Some(ready.to_path_buf());
    config.resync = Duration::from_secs(600);
    config.observer = Some(observer.clone());
    let (stop_tx, stop) = oneshot::channel::<()>();
    let agent = run_cluster(
        &config,
        &NftSource,
        Streams {
            pods: pods.map(Ok::<_, Infallible>),
            namespaces: watch.namespaces.map(Ok::<_, Infallible>),
            policies: watch.network_policies.map(Ok::<_, Infallible>),
        },
        palisade_agent::kube_health::health_stream(watch.health),
        async {
            let _ = stop.await;
        },
    );
    let body = async {
        steps(&server, &observer, ready, &seen).await;
        let _ = stop_tx.send(());
    };
    let (result, ()) = tokio::join!(agent, body);
    result.expect("agent ran and stopped cleanly");
}

async fn steps(
    server: &FakeApiServer,
    observer: &Observer,
    ready: &Path,
    seen: &Mutex<Vec<String>>,
) {
    let seen = || seen.lock().map(|s| s.clone()).unwrap_or_default();
    let t = Instant::now();

    // 1. Initial sync: the three lists, then the node's pods are programmed.
    until("first apply", || generation(ready) >= 1).await;
    eprintln!(
        "initial sync to first apply: {} ms",
        t.elapsed().as_millis()
    );
    let text = table();
    assert!(
        text.contains(DB),
        "db (local, isolated) is programmed: {text}"
    );
    assert!(text.contains(WEB), "web is db's allowed peer: {text}");
    assert!(text.contains("5432"), "db's allowed port: {text}");
    assert!(
        !text.contains(CACHE),
        "cache is neither local nor a peer: {text}"
    );
    until("ready", || observer.readiness().ok).await;
    let info = ReadyInfo::read(ready).expect("ready file");
    assert_eq!(info.files, 5, "1 namespace, 3 pods, 1 policy in view");
    until("every kind watched after its list", || {
        ResourceKind::ALL
            .iter()
            .all(|kind| server.open_watches(*kind) == 1)
    })
    .await;
    let lists = server.requests();
    let watch_rv = lists
        .iter()
        .find(|r| r.kind == Some(ResourceKind::Pods) && r.watch)
        .and_then(|r| r.query.get("resourceVersion").cloned());
    assert_eq!(
        watch_rv.as_deref(),
        Some("100"),
        "watch resumes from the list's version"
    );

    // 2. MODIFIED pod labels: cache on another node becomes a web pod, so db's peer.
    let mut relabelled = cache("web");
    relabelled.metadata.resource_version = Some("101".into());
    let t = Instant::now();
    assert_eq!(
        server.push_event(
            ResourceKind::Pods,
            &watch_event("MODIFIED", &relabelled, "101")
        ),
        1
    );
    until("relabelled cache reaches the kernel", || {
        table().contains(CACHE)
    })
    .await;
    eprintln!("pod label change -> kernel: {} ms", t.elapsed().as_millis());

    // 3. MODIFIED policy rules: the port moves.
    let moved = db_policy(6379);
    assert_eq!(policy_port(&moved), Some(6379));
    let t = Instant::now();
    server.push_event(
        ResourceKind::NetworkPolicies,
        &watch_event("MODIFIED", &moved, "102"),
    );
    until("new port in the kernel", || {
        let text = table();
        text.contains("6379") && !text.contains("5432")
    })
    .await;
    eprintln!(
        "policy rule change -> kernel: {} ms",
        t.elapsed().as_millis()
    );

    // 4. DELETED pod: its address leaves the peer set.
    let t = Instant::now();
    server.push_event(
        ResourceKind::Pods,
        &watch_event("DELETED", &cache("web"), "103"),
    );
    until("deleted pod gone from the kernel", || {
        !table().contains(CACHE)
    })
    .await;
    eprintln!("pod delete -> kernel: {} ms", t.elapsed().as_millis());
    assert!(table().contains(WEB) && table().contains(DB));

    // 5. 410 Gone: the watcher relists. The relist's first page still has db and a ghost pod
    //    (an object the final list no longer has), its second page fails, and the relist
    //    after that has db only: web was deleted while the watch was behind.
    let generation_before = generation(ready);
    let before = seen().len();
    let mut ghost = pod("ghost", "web", NODE, GHOST);
    ghost.metadata.resource_version = Some("200".into());
    server.on_list(
        ResourceKind::Pods,
        Reply::list(first_page(&[db(), ghost], "250", "page-2")),
    );
    server.on_list(
        ResourceKind::Pods,
        Reply::status(500, "InternalError", "etcd leader changed"),
    );
    server.on_list(ResourceKind::Pods, Reply::list(list_body(&[db()], "300")));
    let t = Instant::now();
    server.push_event(ResourceKind::Pods, &gone_event());
    until("the relist's second page was asked for", || {
        server
            .requests()
            .iter()
            .any(|r| r.kind == Some(ResourceKind::Pods) && r.query.contains_key("continue"))
    })
    .await;
    // The watcher waits BACKOFF before listing again: the relist is unfinished meanwhile.
    tokio::time::sleep(BACKOFF / 4).await;
    let text = table();
    assert!(
        text.contains(WEB),
        "web is removed only once a relist completes: {text}"
    );
    assert!(
        !text.contains(GHOST),
        "nothing of a partial list is applied: {text}"
    );
    assert_eq!(
        generation(ready),
        generation_before,
        "no pass during the relist"
    );
    until("relist completed and applied", || !table().contains(WEB)).await;
    eprintln!(
        "410 Gone -> relist -> kernel: {} ms",
        t.elapsed().as_millis()
    );
    let text = table();
    assert!(text.contains(DB), "db stays: {text}");
    assert!(
        !text.contains(GHOST),
        "the failed page's ghost was dropped with the restarted buffer: {text}"
    );
    // kube's watcher: a list that fails goes back to the start and emits `Init` again, so the
    // consumer sees a second Init with no InitDone between (kube-runtime watcher, State::Empty
    // after InitialListFailed).
    let events: Vec<String> = seen().split_off(before);
    assert!(
        contains_run(
            &events,
            &[
                "Init",
                "InitApply(db)",
                "InitApply(ghost)",
                "Init",
                "InitApply(db)",
                "InitDone"
            ]
        ),
        "a failed relist re-emits Init: {events:?}"
    );
    until("ready after the relist", || observer.readiness().ok).await;

    // 6. The API server fails and every watch is cut: the table stays, readiness goes false.
    let kept = table();
    let t = Instant::now();
    let asked = server.requests().len();
    server.set_failing(Some(500));
    server.drop_watches();
    until("readiness false", || !observer.readiness().ok).await;
    let probe = observer.readiness();
    eprintln!(
        "API failure -> not ready: {} ms ({})",
        t.elapsed().as_millis(),
        probe.reason
    );
    assert!(probe.reason.contains("API unavailable"), "{}", probe.reason);
    assert!(observer.health().ok, "the agent itself is alive");
    // Several backoff rounds of failing requests.
    tokio::time::sleep(BACKOFF * 2).await;
    assert!(
        !observer.readiness().ok,
        "still failing: {:?}",
        observer.readiness()
    );
    assert_eq!(
        table(),
        kept,
        "the last state stays enforced while the API is down"
    );
    let failed = server
        .requests()
        .iter()
        .skip(asked)
        .filter(|r| r.watch && r.kind.is_some())
        .count();
    assert!(
        failed >= 3,
        "each cut watch was retried: {failed} watch requests"
    );

    // 7. Recovery: the watches resume and readiness returns, with the table unchanged.
    let t = Instant::now();
    server.set_failing(None);
    until("ready again", || observer.readiness().ok).await;
    eprintln!("API recovery -> ready: {} ms", t.elapsed().as_millis());
    until("watches open again", || {
        ResourceKind::ALL
            .iter()
            .all(|kind| server.open_watches(*kind) == 1)
    })
    .await;
    assert_eq!(table(), kept);
}
