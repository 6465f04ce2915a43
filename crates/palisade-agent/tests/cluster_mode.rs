//! `run_cluster` against the real kernel in a throwaway network namespace, with the real
//! compiler, fed watcher events through channels as palisade-kube's streams would: nothing is
//! applied before all three kinds are listed, a restart adopts the table without a gap, losing
//! the API keeps the rules and turns readiness false, changes and new pods reach the kernel.
//!
//! Skipped (with a note) without root or nft; `PALISADE_REQUIRE_KERNEL_TESTS=1` makes that fail.

mod k8s;

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use k8s::{NODE, allow_from, mk_ns, mk_pod};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::watcher::Event;
use palisade_agent::{
    ApiHealth, ClusterConfig, NftSource, Observer, ReadyInfo, RulesetSource, Streams, run_cluster,
};
use palisade_core::model::Cluster;
use palisade_dataplane::netns::ScratchNetns;
use palisade_dataplane::{Dataplane, TableState};

const WAIT: Duration = Duration::from_secs(10);

type Tx<K> = mpsc::UnboundedSender<Result<Event<K>, String>>;

/// The test's end of the agent's inputs.
struct Feed {
    pods: Tx<Pod>,
    namespaces: Tx<Namespace>,
    policies: Tx<NetworkPolicy>,
    health: mpsc::UnboundedSender<ApiHealth>,
    observer: Observer,
    ready: std::path::PathBuf,
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

fn table() -> String {
    Dataplane::new()
        .current_table()
        .expect("nft list")
        .unwrap_or_default()
}

fn generation(ready: &Path) -> u64 {
    ReadyInfo::read(ready).map_or(0, |i| i.generation)
}

/// Lets the agent run until `check` holds.
async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn shop_pods() -> Vec<Pod> {
    vec![
        mk_pod(
            "shop",
            "db",
            "uid-db",
            &[("app", "db")],
            NODE,
            Some("10.0.1.10"),
            |_| {},
        ),
        mk_pod(
            "shop",
            "web",
            "uid-web",
            &[("app", "web")],
            NODE,
            Some("10.0.1.11"),
            |_| {},
        ),
        mk_pod(
            "shop",
            "cache",
            "uid-cache",
            &[("app", "cache")],
            "node-b",
            Some("10.0.2.10"),
            |_| {},
        ),
    ]
}

fn shop_policy() -> NetworkPolicy {
    allow_from(
        "shop",
        "db",
        &[("app", "db")],
        &[("app", "web")],
        None,
        5432,
    )
}

/// The real compiler, whose full loads nft refuses while `broken` is set.
#[derive(Debug, Default)]
struct Flaky {
    broken: AtomicBool,
}

impl RulesetSource for Flaky {
    type Ruleset = palisade_nft::Ruleset;

    fn compile(&self, cluster: &Cluster, node: &str) -> palisade_nft::Ruleset {
        NftSource.compile(cluster, node)
    }

    fn full(&self, ruleset: &palisade_nft::Ruleset) -> String {
        if self.broken.load(Ordering::SeqCst) {
            "table inet palisade {\n\tchain c {\n\t\tthis is not nft\n\t}\n}\n".to_string()
        } else {
            NftSource.full(ruleset)
        }
    }

    fn diff(&self, old: &palisade_nft::Ruleset, new: &palisade_nft::Ruleset) -> Option<String> {
        NftSource.diff(old, new)
    }
}

/// Runs one agent in the current thread's network namespace while `body` feeds it.
fn with_agent<F, Fut>(dir: &Path, tag: &str, body: F)
where
    F: FnOnce(Feed) -> Fut,
    Fut: Future<Output = ()>,
{
    with_agent_using(dir, tag, &NftSource, body);
}

fn with_agent_using<S, F, Fut>(dir: &Path, tag: &str, source: &S, body: F)
where
    S: RulesetSource,
    F: FnOnce(Feed) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let ready = dir.join(format!("ready-{tag}"));
    let observer = Observer::new();
    let mut config = ClusterConfig::new(NODE);
    config.ready_file = Some(ready.clone());
    config.resync = Duration::from_secs(600);
    config.observer = Some(observer.clone());
    let (pods_tx, pods) = mpsc::unbounded();
    let (namespaces_tx, namespaces) = mpsc::unbounded();
    let (policies_tx, policies) = mpsc::unbounded();
    let (health_tx, health) = mpsc::unbounded();
    let (stop_tx, stop) = oneshot::channel::<()>();
    let feed = Feed {
        pods: pods_tx,
        namespaces: namespaces_tx,
        policies: policies_tx,
        health: health_tx,
        observer,
        ready,
    };
    runtime.block_on(async {
        let agent = run_cluster(
            &config,
            source,
            Streams {
                pods,
                namespaces,
                policies,
            },
            health,
            async {
                let _ = stop.await;
            },
        );
        let body = async {
            body(feed).await;
            let _ = stop_tx.send(());
        };
        let (result, ()) = tokio::join!(agent, body);
        result.expect("agent ran and stopped cleanly");
    });
}

#[test]
fn nothing_is_applied_before_every_kind_is_listed_and_a_restart_adopts_the_table() {
    let Some(netns) = ScratchNetns::for_test("pl-test-kagent") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    netns
        .run(|| {
            with_agent(dir.path(), "1", |feed| async move {
                list(&feed.namespaces, vec![mk_ns("shop", &[])]);
                list(&feed.pods, shop_pods());
                send(&feed.policies, Event::Init);
                send(&feed.policies, Event::InitApply(shop_policy()));
                tokio::time::sleep(Duration::from_millis(100)).await;
                assert!(
                    !Dataplane::new().table_exists().expect("nft"),
                    "no table while the policy list is unfinished"
                );
                let probe = feed.observer.readiness();
                assert!(!probe.ok, "not ready before the first apply: {probe:?}");
                assert!(
                    probe.reason.contains("NetworkPolicy list not finished"),
                    "{}",
                    probe.reason
                );

                send(&feed.policies, Event::InitDone);
                until("first apply", || generation(&feed.ready) >= 1).await;
                let info = ReadyInfo::read(&feed.ready).expect("ready file");
                assert_eq!(info.ruleset, "created");
                assert_eq!(info.files, 5, "1 namespace, 3 pods, 1 policy in view");
                let text = table();
                assert!(text.contains("10.0.1.10"), "local isolated pod db: {text}");
                assert!(!text.contains("10.0.2.10 :"), "cache is not local: {text}");
                assert!(
                    feed.observer.readiness().ok,
                    "{:?}",
                    feed.observer.readiness()
                );
            });
            let before = table();
            // A restarted agent sees the same objects and keeps the table as it is.
            with_agent(dir.path(), "2", |feed| async move {
                list(&feed.namespaces, vec![mk_ns("shop", &[])]);
                list(&feed.pods, shop_pods());
                list(&feed.policies, vec![shop_policy()]);
                until("adoption", || generation(&feed.ready) >= 1).await;
                let info = ReadyInfo::read(&feed.ready).expect("ready file");
                assert_eq!(info.ruleset, "kept", "adopted without a reload");
            });
            assert_eq!(
                table(),
                before,
                "rules stay in force after a requested stop"
            );
        })
        .expect("enter namespace");
}

#[test]
fn losing_the_api_keeps_the_rules_and_turns_readiness_false() {
    let Some(netns) = ScratchNetns::for_test("pl-test-kagent") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    netns
        .run(|| {
            with_agent(dir.path(), "1", |feed| async move {
                list(&feed.namespaces, vec![mk_ns("shop", &[])]);
                list(&feed.pods, shop_pods());
                list(&feed.policies, vec![shop_policy()]);
                until("first apply", || feed.observer.readiness().ok).await;
                let before = table();

                feed.pods
                    .unbounded_send(Err("error trying to connect: connection refused".into()))
                    .expect("agent listening");
                until("readiness false", || !feed.observer.readiness().ok).await;
                let probe = feed.observer.readiness();
                assert!(
                    probe.reason.contains("Pod watch failing")
                        && probe.reason.contains("stays in force"),
                    "{}",
                    probe.reason
                );
                assert!(feed.observer.health().ok, "the agent itself is alive");
                assert_eq!(table(), before, "the last state stays enforced");

                // The watcher recovers with a relist; the health stream may also speak up.
                list(&feed.pods, shop_pods());
                until("ready again", || feed.observer.readiness().ok).await;
                feed.health
                    .unbounded_send(ApiHealth::down("client: token expired"))
                    .expect("agent listening");
                until("readiness false", || !feed.observer.readiness().ok).await;
                feed.health
                    .unbounded_send(ApiHealth::ok())
                    .expect("agent listening");
                until("ready again", || feed.observer.readiness().ok).await;
                assert_eq!(table(), before);

                // A watch stream that ends can no longer report changes.
                drop(feed.policies);
                until("readiness false", || !feed.observer.readiness().ok).await;
                let reason = feed.observer.readiness().reason;
                assert!(reason.contains("NetworkPolicy watch ended"), "{reason}");
                assert_eq!(table(), before, "the rules stay");
            });
        })
        .expect("enter namespace");
}

#[test]
fn changes_and_new_pods_reach_the_kernel_and_are_measured() {
    let Some(netns) = ScratchNetns::for_test("pl-test-kagent") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    netns
        .run(|| {
            with_agent(dir.path(), "1", |feed| async move {
                list(&feed.namespaces, vec![mk_ns("shop", &[])]);
                list(&feed.pods, shop_pods());
                list(&feed.policies, vec![shop_policy()]);
                until("first apply", || generation(&feed.ready) >= 1).await;
                assert!(!table().contains("10.0.1.12"));

                // A new db replica: pending without an address, then enforced with one.
                let mut db2 = mk_pod(
                    "shop",
                    "db-2",
                    "uid-db-2",
                    &[("app", "db")],
                    NODE,
                    None,
                    |_| {},
                );
                send(&feed.pods, Event::Apply(db2.clone()));
                let metrics = || feed.observer.encode().expect("encode");
                until("pending pod counted", || {
                    metrics().contains("palisade_local_pods_pending 1")
                })
                .await;
                k8s::set_ip(&mut db2, Some("10.0.1.12"));
                send(&feed.pods, Event::Apply(db2.clone()));
                until("new pod's rules in the kernel", || {
                    table().contains("10.0.1.12")
                })
                .await;
                until("delay observed", || {
                    metrics().contains("palisade_pod_enforcement_delay_seconds_count 1")
                })
                .await;
                assert!(
                    metrics().contains("palisade_local_pods_pending 0"),
                    "{}",
                    metrics()
                );
                let info = ReadyInfo::read(&feed.ready).expect("ready file");
                assert_eq!(info.ruleset, "diff", "a change is an update, not a reload");

                // The policy goes: db is no longer isolated.
                send(&feed.policies, Event::Delete(shop_policy()));
                until("policy removed from the kernel", || {
                    !table().contains("10.0.1.12")
                })
                .await;
            });
        })
        .expect("enter namespace");
}

#[test]
fn a_failed_first_load_locks_down_and_is_retried() {
    let Some(netns) = ScratchNetns::for_test("pl-test-kagent") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Flaky::default();
    source.broken.store(true, Ordering::SeqCst);
    netns
        .run(|| {
            let flaky = &source;
            with_agent_using(dir.path(), "1", flaky, |feed| async move {
                list(&feed.namespaces, vec![mk_ns("shop", &[])]);
                list(&feed.pods, shop_pods());
                list(&feed.policies, vec![shop_policy()]);
                // The default failure policy is closed: forwarded traffic blocked meanwhile.
                until("fail-safe lockdown", || {
                    Dataplane::new().state().expect("nft") == Some(TableState::Lockdown)
                })
                .await;
                let probe = feed.observer.readiness();
                assert!(
                    !probe.ok && probe.reason.contains("no ruleset in force"),
                    "{probe:?}"
                );
                until("a retry", || {
                    feed.observer.encode().expect("encode").lines().any(|l| {
                        l.starts_with("palisade_apply_errors_total ") && !l.ends_with(" 1")
                    })
                })
                .await;
                assert_eq!(generation(&feed.ready), 0, "not ready while failing");

                flaky.broken.store(false, Ordering::SeqCst);
                until("rules loaded by a retry", || generation(&feed.ready) >= 1).await;
                assert!(table().contains("10.0.1.10"), "{}", table());
                assert!(feed.observer.readiness().ok);
            });
        })
        .expect("enter namespace");
}
