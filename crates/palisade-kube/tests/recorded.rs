//! The watch streams, health signal and snapshot driven through kube's real client against the
//! fake API server replaying recorded responses (tests/fixtures, see its README). Run with
//! `cargo test -p palisade-kube --features fake-api`.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use palisade_kube::fake::{
    FakeApiServer, RecordedRequest, Reply, WatchEnd, list_body, watch_event,
};
use palisade_kube::watch::Backoff;
use palisade_kube::{
    ApiHealth, ClusterTarget, Event, ResourceKind, WatchOptions, snapshot_blocking,
    snapshot_from_config, watch_cluster,
};

const WAIT: Duration = Duration::from_secs(20);

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

fn fast() -> WatchOptions {
    WatchOptions {
        trim: true,
        backoff: Backoff::Fixed(Duration::from_millis(20)),
    }
}

fn label<K: ResourceExt>(event: &Event<K>) -> String {
    let id = |o: &K| match o.namespace() {
        Some(ns) => format!("{ns}/{}", o.name_any()),
        None => o.name_any(),
    };
    match event {
        Event::Init => "Init".to_string(),
        Event::InitApply(o) => format!("InitApply({})", id(o)),
        Event::InitDone => "InitDone".to_string(),
        Event::Apply(o) => format!("Apply({})", id(o)),
        Event::Delete(o) => format!("Delete({})", id(o)),
    }
}

async fn take<K>(stream: &mut BoxStream<'static, Event<K>>, n: usize) -> Vec<Event<K>> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(WAIT, stream.next()).await {
            Ok(Some(event)) => out.push(event),
            Ok(None) => panic!("stream ended after {} events", out.len()),
            Err(_) => panic!("timed out after {} of {n} events", out.len()),
        }
    }
    out
}

/// Polls the stream briefly, so it makes its next request; it must not yield an event.
async fn poll_quietly<K: ResourceExt>(stream: &mut BoxStream<'static, Event<K>>) {
    if let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
        panic!("unexpected event {}", label(&event));
    }
}

fn requests_of(server: &FakeApiServer, kind: ResourceKind) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.kind == Some(kind))
        .collect()
}

/// palisade needs only `list` and `watch` on the three collections, cluster-wide: the verbs and
/// resources deploy/clusterrole.yaml grants. Anything else would be refused in a real cluster.
fn assert_only_list_and_watch(server: &FakeApiServer) {
    for request in server.requests() {
        assert!(
            request.method == "GET" && request.kind.is_some(),
            "a request outside get/list/watch of pods, namespaces, networkpolicies: {request:?}"
        );
    }
}

fn describe(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let verb = if r.watch { "watch" } else { "list" };
            match r.query.get("resourceVersion") {
                Some(rv) if r.watch => format!("{verb} rv={rv}"),
                _ => verb.to_string(),
            }
        })
        .collect()
}

async fn wait_health(
    health: &mut tokio::sync::watch::Receiver<ApiHealth>,
    what: &str,
    condition: impl FnMut(&ApiHealth) -> bool,
) -> ApiHealth {
    let outcome = tokio::time::timeout(WAIT, health.wait_for(condition))
        .await
        .map(|r| r.map(|h| h.clone()));
    match outcome {
        Ok(Ok(h)) => h,
        Ok(Err(_)) => panic!("health channel closed while waiting for: {what}"),
        Err(_) => panic!(
            "timed out waiting for: {what}; health now {:?}",
            *health.borrow()
        ),
    }
}

/// Drains a stream in the background, as the agent does, forwarding event labels.
fn drain<K: ResourceExt + Send + 'static>(
    mut stream: BoxStream<'static, Event<K>>,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            if tx.send(label(&event)).is_err() {
                break;
            }
        }
    });
    rx
}

// The list -> watch -> 410 -> relist cycle of kube's watcher, as the agent's index receives it.
// A 410 "Expired" ERROR event means the requested history is gone and the client must relist
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).
#[tokio::test]
async fn pods_list_then_watch_then_relist_after_410_gone() {
    let server = FakeApiServer::start().await.expect("fake API server");
    server.on_list(ResourceKind::Pods, Reply::list(fixture("pods-list.json")));
    server.on_list(ResourceKind::Pods, Reply::list(fixture("pods-relist.json")));
    server.on_watch(
        ResourceKind::Pods,
        Reply::watch(&fixture("pods-watch.ndjson"), WatchEnd::Hang),
    );
    let mut watch = watch_cluster(&server.resolved(), &fast())
        .await
        .expect("watch");

    let events = take(&mut watch.pods, 12).await;
    let labels: Vec<String> = events.iter().map(label).collect();
    assert_eq!(
        labels,
        [
            "Init",
            "InitApply(prod/db-0)",
            "InitApply(prod/web-7d4b9c6f8-x2x9q)",
            "InitDone",
            "Apply(prod/web-7d4b9c6f8-k8z7m)",
            "Apply(prod/web-7d4b9c6f8-k8z7m)",
            "Delete(prod/db-0)",
            // ERROR 410 Gone: a fresh list, in which db-0 is gone and db-1 has appeared.
            "Init",
            "InitApply(prod/db-1)",
            "InitApply(prod/web-7d4b9c6f8-x2x9q)",
            "InitApply(prod/web-7d4b9c6f8-k8z7m)",
            "InitDone",
        ]
    );

    // ADDED without an IP (Pending), then MODIFIED with one: the index sees both states.
    let ips = |e: &Event<Pod>| match e {
        Event::Apply(p) => p.status.as_ref().and_then(|s| s.pod_ip.clone()),
        _ => None,
    };
    assert_eq!(ips(&events[4]), None, "the ADDED pod is still Pending");
    assert_eq!(ips(&events[5]).as_deref(), Some("10.244.1.13"));

    // Trimmed before being handed on: the fixtures carry managedFields, annotations, volumes,
    // env and container statuses; only what palisade reads is left.
    let Event::InitApply(db0) = &events[1] else {
        panic!("expected InitApply, got {}", labels[1]);
    };
    assert_eq!(db0.metadata.managed_fields, None);
    assert_eq!(db0.metadata.annotations, None);
    assert_eq!(db0.labels().get("app").map(String::as_str), Some("db"));
    let spec = db0.spec.as_ref().expect("spec kept");
    assert_eq!(spec.volumes, None);
    assert_eq!(spec.node_name.as_deref(), Some("worker-2"));
    let main = spec.containers.first().expect("container kept");
    assert_eq!(main.image, None);
    assert_eq!(main.env, None);
    let port = main
        .ports
        .as_ref()
        .and_then(|p| p.first())
        .expect("ports kept");
    assert_eq!(
        (port.name.as_deref(), port.container_port),
        (Some("pg"), 5432)
    );
    let status = db0.status.as_ref().expect("status kept");
    assert_eq!(status.container_statuses, None);
    assert_eq!(status.conditions, None);
    assert_eq!(status.phase.as_deref(), Some("Running"));

    // The requests: list, watch from the list's resourceVersion with bookmarks asked for, the
    // relist after 410, and a watch from the relist's resourceVersion.
    poll_quietly(&mut watch.pods).await;
    let requests = requests_of(&server, ResourceKind::Pods);
    assert_eq!(
        describe(&requests),
        ["list", "watch rv=4710", "list", "watch rv=5000"]
    );
    let first_watch = &requests[1];
    assert_eq!(
        first_watch
            .query
            .get("allowWatchBookmarks")
            .map(String::as_str),
        Some("true"),
        "bookmarks requested"
    );

    let health = watch.health.borrow().clone();
    let pods = &health.kinds[&ResourceKind::Pods];
    assert!(
        pods.connected && pods.synced,
        "pods healthy after relist: {pods:?}"
    );
    assert_eq!(pods.failures, 1, "the 410 counts once: {pods:?}");
    assert!(
        pods.last_error
            .as_deref()
            .unwrap_or("")
            .contains("too old resource version"),
        "410 recorded: {pods:?}"
    );
}

// A watch that the server closes (timeoutSeconds) resumes from the last bookmark's
// resourceVersion, without a relist
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#watch-bookmarks).
#[tokio::test]
async fn closed_watch_resumes_from_the_last_bookmark() {
    let server = FakeApiServer::start().await.expect("fake API server");
    server.on_list(
        ResourceKind::Namespaces,
        Reply::list(fixture("namespaces-list.json")),
    );
    server.on_watch(
        ResourceKind::Namespaces,
        Reply::watch(&fixture("namespaces-watch.ndjson"), WatchEnd::Close),
    );
    let mut watch = watch_cluster(&server.resolved(), &fast())
        .await
        .expect("watch");
    let events = take(&mut watch.namespaces, 5).await;
    let labels: Vec<String> = events.iter().map(label).collect();
    assert_eq!(
        labels,
        [
            "Init",
            "InitApply(monitoring)",
            "InitApply(prod)",
            "InitDone",
            "Apply(monitoring)"
        ]
    );
    let Event::Apply(monitoring) = &events[4] else {
        panic!("expected Apply, got {}", labels[4]);
    };
    assert_eq!(
        monitoring.labels().get("team").map(String::as_str),
        Some("observability"),
        "the MODIFIED label change is delivered"
    );
    poll_quietly(&mut watch.namespaces).await;
    assert_eq!(
        describe(&requests_of(&server, ResourceKind::Namespaces)),
        ["list", "watch rv=4700", "watch rv=4800"]
    );
}

// Readiness: false while list/watch calls fail (HTTP 500, cut connections), true again once they
// succeed; events flow again after the recovery.
#[tokio::test]
async fn health_follows_api_failures_and_recovery() {
    let server = FakeApiServer::start().await.expect("fake API server");
    server.on_list(
        ResourceKind::Namespaces,
        Reply::list(fixture("namespaces-list.json")),
    );
    server.on_list(ResourceKind::Pods, Reply::list(fixture("pods-list.json")));
    server.on_list(
        ResourceKind::NetworkPolicies,
        Reply::list(fixture("networkpolicies-list.json")),
    );
    server.on_watch(
        ResourceKind::NetworkPolicies,
        Reply::watch(&fixture("networkpolicies-watch.ndjson"), WatchEnd::Hang),
    );
    server.set_failing(Some(500));

    let watch = watch_cluster(&server.resolved(), &fast())
        .await
        .expect("watch");
    let mut health = watch.health.clone();
    assert!(!health.borrow().ready(), "not ready before any list");
    let _ns = drain(watch.namespaces);
    let mut pods = drain(watch.pods);
    let mut policies = drain(watch.network_policies);

    let down = wait_health(&mut health, "every kind failing", |h| {
        h.kinds.values().all(|k| k.failures >= 2 && !k.connected)
    })
    .await;
    let (_, error) = down.last_error().expect("an error is reported");
    assert!(error.contains("500"), "the error names the status: {error}");
    assert!(!down.synced());

    server.set_failing(None);
    let up = wait_health(&mut health, "ready after recovery", ApiHealth::ready).await;
    assert!(up.last_success().is_some());
    // kube's watcher emits `Init` before each list attempt, so failed lists repeat it; an index
    // must treat a second `Init` as restarting its buffer.
    let mut policy_labels: Vec<String> = Vec::new();
    while policy_labels.len() < 5 {
        let next = tokio::time::timeout(WAIT, policies.recv()).await;
        let label = next.ok().flatten().expect("policy event");
        if !(label == "Init" && policy_labels.last().is_some_and(|l| l == "Init")) {
            policy_labels.push(label);
        }
    }
    assert_eq!(
        policy_labels,
        [
            "Init",
            "InitApply(prod/default-deny-ingress)",
            "InitApply(prod/db-allow-web)",
            "InitDone",
            "Apply(prod/allow-monitoring)"
        ]
    );

    // The API server goes away mid-watch: connections cut, new requests answered 503.
    let failures_before = up.failures();
    server.set_failing(Some(503));
    server.drop_watches();
    let down = wait_health(&mut health, "disconnected after the cut", |h| {
        !h.connected() && h.failures() > failures_before
    })
    .await;
    assert!(
        down.synced(),
        "a lost connection does not forget the synced view"
    );
    assert!(!down.ready());

    server.set_failing(None);
    wait_health(&mut health, "connected again", ApiHealth::connected).await;

    // The resumed pods watch is live: a new pod pushed now arrives as Apply.
    let mut pod_labels = Vec::new();
    while pod_labels.len() < 4 {
        let next = tokio::time::timeout(WAIT, pods.recv()).await;
        pod_labels.push(next.ok().flatten().expect("pod event"));
    }
    pod_labels.dedup_by(|a, b| a == "Init" && b == "Init");
    while pod_labels.len() < 4 {
        let next = tokio::time::timeout(WAIT, pods.recv()).await;
        pod_labels.push(next.ok().flatten().expect("pod event"));
        pod_labels.dedup_by(|a, b| a == "Init" && b == "Init");
    }
    assert_eq!(
        pod_labels,
        [
            "Init",
            "InitApply(prod/db-0)",
            "InitApply(prod/web-7d4b9c6f8-x2x9q)",
            "InitDone"
        ]
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.open_watches(ResourceKind::Pods) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no pods watch reopened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let added = fixture("pods-watch.ndjson")
        .lines()
        .next()
        .expect("ADDED line")
        .to_string();
    assert_eq!(server.push_event(ResourceKind::Pods, &added), 1);
    let next = tokio::time::timeout(WAIT, pods.recv()).await;
    assert_eq!(
        next.ok().flatten().as_deref(),
        Some("Apply(prod/web-7d4b9c6f8-k8z7m)")
    );
    // The same through the helpers other crates' tests use to build events from objects.
    let pod = Pod {
        metadata: kube::api::ObjectMeta {
            name: Some("built".to_string()),
            namespace: Some("prod".to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    let line = watch_event("DELETED", &pod, "9001");
    assert_eq!(server.push_event(ResourceKind::Pods, &line), 1);
    let next = tokio::time::timeout(WAIT, pods.recv()).await;
    assert_eq!(next.ok().flatten().as_deref(), Some("Delete(prod/built)"));
    assert_only_list_and_watch(&server);
}

// Lists built from objects (list_body) decode like recorded ones.
#[tokio::test]
async fn built_list_bodies_are_read_by_the_watcher() {
    let server = FakeApiServer::start().await.expect("fake API server");
    let pods: Vec<Pod> = ["a", "b"]
        .iter()
        .map(|name| Pod {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some("x".to_string()),
                ..Default::default()
            },
            ..Default::default()
        })
        .collect();
    server.on_list(ResourceKind::Pods, Reply::list(list_body(&pods, "77")));
    let mut watch = watch_cluster(&server.resolved(), &fast())
        .await
        .expect("watch");
    let labels: Vec<String> = take(&mut watch.pods, 4).await.iter().map(label).collect();
    assert_eq!(
        labels,
        ["Init", "InitApply(x/a)", "InitApply(x/b)", "InitDone"]
    );
    poll_quietly(&mut watch.pods).await;
    assert_eq!(
        describe(&requests_of(&server, ResourceKind::Pods)),
        ["list", "watch rv=77"]
    );
}

// The CLI's --cluster input: one List text that palisade-core loads like a file, with pods
// listed over two pages (limit/continue, as kubectl pages large lists).
#[tokio::test]
async fn snapshot_round_trips_through_the_loader() {
    let server = FakeApiServer::start().await.expect("fake API server");
    server.on_list(
        ResourceKind::Namespaces,
        Reply::list(fixture("namespaces-list.json")),
    );
    server.on_list(
        ResourceKind::Pods,
        Reply::list(fixture("pods-list-page1.json")),
    );
    server.on_list(
        ResourceKind::Pods,
        Reply::list(fixture("pods-list-page2.json")),
    );
    server.on_list(
        ResourceKind::NetworkPolicies,
        Reply::list(fixture("networkpolicies-list.json")),
    );
    let snapshot = snapshot_from_config(&server.resolved())
        .await
        .expect("snapshot");
    assert_eq!(snapshot.name, "cluster:fake");
    assert!(!snapshot.text.contains("managedFields"));
    assert!(!snapshot.text.contains("last-applied-configuration"));

    let pod_lists = requests_of(&server, ResourceKind::Pods);
    assert_eq!(pod_lists.len(), 2, "two pages");
    assert_eq!(
        pod_lists[0].query.get("limit").map(String::as_str),
        Some("500")
    );
    assert!(
        pod_lists[1]
            .query
            .get("continue")
            .is_some_and(|token| token.starts_with("eyJ2Ijoi")),
        "second page asked with the continue token: {:?}",
        pod_lists[1].query
    );

    let analysis = palisade_core::analyze_text(&snapshot.name, &snapshot.text);
    assert!(
        analysis.diagnostics.is_empty(),
        "the snapshot loads cleanly: {:#?}",
        analysis.diagnostics
    );
    let cluster = &analysis.cluster;
    let pods: Vec<(String, String, Vec<String>, Option<String>)> = cluster
        .pods
        .iter()
        .map(|p| {
            (
                format!("{}/{}", p.namespace, p.name),
                p.labels.get("app").cloned().unwrap_or_default(),
                p.ips.iter().map(ToString::to_string).collect(),
                p.node.clone(),
            )
        })
        .collect();
    assert_eq!(
        pods,
        [
            (
                "prod/db-0".to_string(),
                "db".to_string(),
                vec!["10.244.2.7".to_string()],
                Some("worker-2".to_string())
            ),
            (
                "prod/web-7d4b9c6f8-x2x9q".to_string(),
                "web".to_string(),
                vec!["10.244.1.12".to_string()],
                Some("worker-1".to_string())
            ),
        ]
    );
    assert!(
        cluster.pods.iter().all(|p| p.ports.len() == 1),
        "named container ports survive: {:?}",
        cluster.pods
    );
    let policies: Vec<String> = cluster
        .policies
        .iter()
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .collect();
    assert_eq!(policies, ["prod/db-allow-web", "prod/default-deny-ingress"]);
    let namespaces: Vec<(&str, Option<&str>)> = cluster
        .namespaces
        .iter()
        .map(|n| (n.name.as_str(), n.labels.get("team").map(String::as_str)))
        .collect();
    assert_eq!(
        namespaces,
        [("monitoring", None), ("prod", Some("payments"))]
    );
}

// The blocking entry point as the CLI calls it, through a kubeconfig file and a context, and the
// errors a user sees for a wrong context or file.
#[test]
fn snapshot_blocking_through_a_kubeconfig_file() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime
        .block_on(FakeApiServer::start())
        .expect("fake API server");
    server.on_list(
        ResourceKind::Namespaces,
        Reply::list(fixture("namespaces-list.json")),
    );
    server.on_list(ResourceKind::Pods, Reply::list(fixture("pods-list.json")));
    server.on_list(
        ResourceKind::NetworkPolicies,
        Reply::list(fixture("networkpolicies-list.json")),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, server.kubeconfig_yaml("staging")).expect("write kubeconfig");

    let target = ClusterTarget {
        kubeconfig: Some(path.clone()),
        context: None,
    };
    let snapshot = snapshot_blocking(&target).expect("snapshot through the current context");
    assert_eq!(snapshot.name, "cluster:staging");
    let analysis = palisade_core::analyze_text(&snapshot.name, &snapshot.text);
    assert_eq!(analysis.error_count(), 0, "{:#?}", analysis.diagnostics);
    assert_eq!(analysis.cluster.pods.len(), 2);

    let wrong_context = ClusterTarget {
        kubeconfig: Some(path.clone()),
        context: Some("prod".to_string()),
    };
    let error = snapshot_blocking(&wrong_context).expect_err("unknown context");
    let message = error.to_string();
    assert!(
        message.contains("`prod`")
            && message.contains(&path.display().to_string())
            && message.contains("contexts there: staging"),
        "names the context, the file and the choices: {message}"
    );

    let missing = dir.path().join("absent");
    let error = snapshot_blocking(&ClusterTarget {
        kubeconfig: Some(missing.clone()),
        context: None,
    })
    .expect_err("missing file");
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "names the file: {error}"
    );

    // The server is down: the list error names the resource and the target.
    // 503 is retried a few times, quickly (kube's own retry would take minutes), then reported.
    server.set_failing(Some(503));
    let before = requests_of(&server, ResourceKind::Namespaces).len();
    let started = std::time::Instant::now();
    let error = snapshot_blocking(&target).expect_err("503");
    let message = error.to_string();
    assert!(
        message.contains("listing namespaces from staging failed"),
        "{message}"
    );
    let tries = requests_of(&server, ResourceKind::Namespaces).len() - before;
    assert_eq!(tries, 4, "one try and three retries");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

// Neither a kubeconfig nor a context, inside a pod: the in-cluster service account is used, and
// its failure (no token file here) says so rather than falling back to a kubeconfig.
#[tokio::test]
async fn in_cluster_is_chosen_when_nothing_is_named() {
    let error = ClusterTarget::default()
        .resolve_with(true)
        .await
        .expect_err("no service account in this test");
    assert!(
        error
            .to_string()
            .starts_with("in-cluster configuration failed"),
        "{error}"
    );
}
