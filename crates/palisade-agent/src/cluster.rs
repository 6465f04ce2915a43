//! Cluster mode: the Kubernetes API as the source, through three watch streams.
//!
//! ```text
//!   Pod stream ───────────┐
//!   Namespace stream ─────┼─ watcher::Event ─> ClusterIndex ── change since T ─┐
//!   NetworkPolicy stream ─┘  (Err: that watch is behind -> API unhealthy)       v
//!   API health stream ──────────────────────> Observer (readiness)     Passes (crate::pass)
//!   resync timer, retry timer ─────────────────────────────────────────────────┘
//!   shutdown future ─> leave the loop; rules stay unless cleanup_on_exit
//! ```
//!
//! Order of business:
//!
//! 1. Nothing is applied until every kind has finished its first list (`InitDone`): a
//!    half-listed cluster would un-isolate the pods whose policies are not listed yet. A table
//!    left by an earlier run stays in force meanwhile.
//! 2. The first pass adopts that table if it already enforces the cluster ([`Mode::Start`]), so
//!    a restart has no gap; then changes are applied as diffs, coalesced with a minimum gap,
//!    with a full resync periodically and retries with backoff after a failure.
//! 3. Losing the API (a watch stream reporting errors or ending, or the health stream saying
//!    so) keeps the last state enforced and turns readiness false until every watch is current
//!    again.
//!
//! The reconciler runs nft synchronously on the task that runs this future: give it a runtime
//! thread whose network namespace is the one to program (a current-thread runtime on that
//! thread, in the lab).

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::watcher::Event;
use palisade_dataplane::{Dataplane, FailurePolicy};

use crate::error::AgentError;
use crate::index::{ClusterIndex, Kind};
use crate::local::Alive;
use crate::metrics::Observer;
use crate::pass::{Counts, Passes};
use crate::reconcile::{Applied, Mode, Reconciler};
use crate::source::RulesetSource;

/// How a cluster-mode agent runs. [`ClusterConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The node whose pods this agent enforces (`spec.nodeName` of its pods).
    pub node: String,
    /// The node's pod address ranges (`--pod-cidr`, repeatable; default none). While a local
    /// pod is pending (in the API, no rules in force yet), the dataplane drops traffic between
    /// unknown addresses of these ranges and this node's pods, so a pod whose rules are not in
    /// place cannot get traffic its policies deny. The ruleset source is built with them; the
    /// loop only logs them.
    pub pod_cidrs: Vec<IpNet>,
    /// Written after the first successful apply and rewritten after every later pass
    /// (`files` counts the objects in view, `rejected` those that failed validation).
    pub ready_file: Option<PathBuf>,
    /// Least time between the starts of two passes (default 10 ms): bursts coalesce.
    pub min_gap: Duration,
    /// Full reload interval, repairing any drift of the table (default 60 s).
    pub resync: Duration,
    /// What to enforce when the first load fails and nothing is in force (default closed).
    pub failure_policy: FailurePolicy,
    /// Remove the table on a requested exit (default false: rules stay in force).
    pub cleanup_on_exit: bool,
    /// Run this nft program for every transaction instead of libnftables in process (default
    /// none: libnftables when it loads, else `nft` from `PATH`; see palisade-dataplane).
    pub nft: Option<PathBuf>,
    /// Where the loop reports metrics, health and readiness (default none: a private one).
    pub observer: Option<Observer>,
    /// Drop attribution and policy counters (default none).
    pub drops: Option<crate::drops::DropConfig>,
    /// How often the kernel's table is read back and proven against the policies, besides
    /// right after every full apply (default 60 s; `None`: never). Drift is repaired at once.
    pub verify_interval: Option<Duration>,
}

impl ClusterConfig {
    pub fn new(node: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            node: node.into(),
            pod_cidrs: Vec::new(),
            ready_file: None,
            min_gap: Duration::from_millis(10),
            resync: Duration::from_secs(60),
            failure_policy: FailurePolicy::default(),
            cleanup_on_exit: false,
            nft: None,
            observer: None,
            drops: None,
            verify_interval: Some(Duration::from_secs(60)),
        }
    }
}

/// The three watch streams, as `kube::runtime::watcher` yields them (errors included: the
/// loop reports them and waits for the watcher to recover).
#[derive(Debug)]
pub struct Streams<P, N, Q> {
    pub pods: P,
    pub namespaces: N,
    pub policies: Q,
}

/// What the API client says about the API server, beyond the watch streams themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHealth {
    pub ok: bool,
    /// One line: why not, or what is fine.
    pub reason: String,
}

impl ApiHealth {
    pub fn ok() -> ApiHealth {
        ApiHealth {
            ok: true,
            reason: "API reachable".into(),
        }
    }

    pub fn down(reason: impl Into<String>) -> ApiHealth {
        ApiHealth {
            ok: false,
            reason: reason.into(),
        }
    }
}

/// Runs the agent on the API's objects until `shutdown` completes. Returns an error only for
/// what no retry can fix: nft missing or not permitted, or a ready file that cannot be written.
/// A health stream that ends leaves its last word standing; a watch stream that ends makes the
/// API unhealthy (the agent can no longer see changes) but keeps the rules in force.
pub async fn run_cluster<S, P, N, Q, E, H>(
    config: &ClusterConfig,
    source: &S,
    streams: Streams<P, N, Q>,
    health: H,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError>
where
    S: RulesetSource,
    P: Stream<Item = Result<Event<Pod>, E>>,
    N: Stream<Item = Result<Event<Namespace>, E>>,
    Q: Stream<Item = Result<Event<NetworkPolicy>, E>>,
    E: fmt::Display,
    H: Stream<Item = ApiHealth>,
{
    let span = tracing::info_span!("agent", node = %config.node);
    let _entered = span.enter();
    let observer = config.observer.clone().unwrap_or_default();
    observer.loop_started();
    let _alive = Alive(observer.clone());
    tracing::info!(pod_cidrs = ?config.pod_cidrs, "agent starting on the Kubernetes API");

    let mut agent = Agent {
        index: ClusterIndex::new(config.node.clone()),
        passes: Passes::new(
            Reconciler::new(
                source,
                config.node.clone(),
                config
                    .nft
                    .as_ref()
                    .map_or_else(Dataplane::new, Dataplane::with_nft),
                config.failure_policy,
            ),
            observer,
            config.node.clone(),
            config.ready_file.clone(),
            config.min_gap,
            config.resync,
        )
        // Started here, on the agent's thread, so that it reads the agent's network namespace.
        .with_drops(config.drops.clone())
        .with_verify(config.verify_interval),
        started: false,
        changed_since: None,
        watches: [const { Watch::Listing }; 3],
        api: ApiHealth::ok(),
    };
    agent.report_health();

    // kube's watcher streams are not Unpin: pin them here so callers need not box them.
    let mut pods = std::pin::pin!(streams.pods);
    let mut namespaces = std::pin::pin!(streams.namespaces);
    let mut policies = std::pin::pin!(streams.policies);
    let mut health = std::pin::pin!(health);
    let mut health_open = true;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let deadline = agent.deadline();
        let sleep = tokio::time::sleep_until(
            deadline
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(far_future),
        );
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            item = pods.next(), if agent.open(Kind::Pod) => {
                agent.take(Kind::Pod, item, |index, e| index.pod_event(e));
            }
            item = namespaces.next(), if agent.open(Kind::Namespace) => {
                agent.take(Kind::Namespace, item, |index, e| index.namespace_event(e));
            }
            item = policies.next(), if agent.open(Kind::NetworkPolicy) => {
                agent.take(Kind::NetworkPolicy, item, |index, e| index.policy_event(e));
            }
            h = health.next(), if health_open => match h {
                Some(h) => agent.api = h,
                None => health_open = false,
            },
            () = sleep => {}
        }
        agent.after_event();
        agent.run_due()?;
    }

    if config.cleanup_on_exit {
        agent.passes.reconciler.dataplane().remove_table()?;
        tracing::info!("agent stopped; table removed (cleanup on exit)");
    } else {
        tracing::info!("agent stopped; rules stay in force");
    }
    Ok(())
}

/// How long a watch error keeps the API unhealthy when nothing follows it. A recovered watch
/// of a quiet cluster emits nothing (kube's watcher swallows bookmarks), and one that still
/// fails reports again within its backoff, which kube's default caps at 30 s.
const ERROR_STANDS: Duration = Duration::from_secs(65);

fn far_future() -> tokio::time::Instant {
    // An hour is as good as never: the loop wakes, finds nothing due and sleeps again.
    tokio::time::Instant::now() + Duration::from_secs(3600)
}

/// Where one watch stream stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Watch {
    /// Its first list has not finished.
    Listing,
    /// Events arrive; the index is current for this kind.
    Current,
    /// The last item was an error, at that time: the watcher is retrying, changes may be
    /// missed meanwhile.
    Failing(String, Instant),
    /// The stream ended: no more changes will be seen.
    Ended,
}

struct Agent<'s, S: RulesetSource> {
    index: ClusterIndex,
    passes: Passes<'s, S>,
    /// The first pass (adopting the table) has run.
    started: bool,
    /// When the first change not yet enforced arrived.
    changed_since: Option<Instant>,
    watches: [Watch; 3],
    /// The last word of the health stream.
    api: ApiHealth,
}

impl<S: RulesetSource> Agent<'_, S> {
    fn open(&self, kind: Kind) -> bool {
        self.watches[kind.slot()] != Watch::Ended
    }

    fn take<K, E: fmt::Display>(
        &mut self,
        kind: Kind,
        item: Option<Result<Event<K>, E>>,
        apply: impl FnOnce(&mut ClusterIndex, &Event<K>) -> bool,
    ) {
        let watch = &mut self.watches[kind.slot()];
        match item {
            None => {
                tracing::error!(
                    kind = kind.as_str(),
                    "watch stream ended; rules in force stay"
                );
                *watch = Watch::Ended;
            }
            Some(Err(err)) => {
                tracing::warn!(kind = kind.as_str(), %err, "watch failed; the watcher retries");
                *watch = Watch::Failing(err.to_string(), Instant::now());
            }
            Some(Ok(event)) => {
                match event {
                    // A relist: the kind is behind until it is done.
                    Event::Init | Event::InitApply(_) => *watch = Watch::Listing,
                    Event::InitDone | Event::Apply(_) | Event::Delete(_) => *watch = Watch::Current,
                }
                if apply(&mut self.index, &event) {
                    self.changed_since.get_or_insert_with(Instant::now);
                }
            }
        }
    }

    /// Reports what the last event changed besides the cluster: rejections, counts, health.
    fn after_event(&mut self) {
        let observer = &self.passes.observer;
        for r in self.index.take_rejections() {
            observer.object_rejected(r.kind.as_str(), r.reason);
        }
        self.report_health();
    }

    fn report_health(&self) {
        let observer = &self.passes.observer;
        let problems: Vec<String> = Kind::ALL
            .iter()
            .filter_map(|kind| match &self.watches[kind.slot()] {
                Watch::Current => None,
                Watch::Listing => Some(format!("{} list not finished", kind.as_str())),
                Watch::Failing(err, at) if at.elapsed() < ERROR_STANDS => {
                    Some(format!("{} watch failing: {err}", kind.as_str()))
                }
                Watch::Failing(..) => None,
                Watch::Ended => Some(format!("{} watch ended", kind.as_str())),
            })
            .chain((!self.api.ok).then(|| self.api.reason.clone()))
            .collect();
        if problems.is_empty() {
            observer.api_health(true, "every watch current");
        } else {
            observer.api_health(false, &problems.join("; "));
        }
    }

    /// When the loop must wake without an event: `None` until the first pass is possible.
    fn deadline(&self) -> Option<Instant> {
        // Wake when a watch error stops standing, to update readiness.
        let error_expires = self
            .watches
            .iter()
            .filter_map(|w| match w {
                Watch::Failing(_, at) if at.elapsed() < ERROR_STANDS => Some(*at + ERROR_STANDS),
                _ => None,
            })
            .min();
        if !self.started {
            return error_expires;
        }
        let mut deadline = self.passes.deadline();
        if let Some(due) = self.passes.change_due(self.changed_since) {
            deadline = deadline.min(due);
        }
        Some(error_expires.map_or(deadline, |e| e.min(deadline)))
    }

    fn run_due(&mut self) -> Result<(), AgentError> {
        self.passes.poll_verify();
        if !self.started {
            if self.index.all_synced() {
                self.started = true;
                // The first list is a start, not a change: it is not a change latency.
                self.changed_since = None;
                tracing::info!("every kind listed; enforcing");
                self.pass(Mode::Start)?;
            }
            return Ok(());
        }
        let now = Instant::now();
        if self.passes.resync_due(now) {
            self.pass(Mode::Resync)?;
        } else if self
            .passes
            .change_due(self.changed_since)
            .is_some_and(|due| due <= now)
        {
            self.pass(Mode::Change)?;
        } else if self.passes.verify_due(now) {
            let revision = self.index.revision();
            let cluster = self.index.cluster();
            self.passes.verify(cluster, revision);
        } else if self.passes.drop_view_due(now) {
            let revision = self.index.revision();
            self.passes
                .tell_drop_view(revision, now, || self.index.cluster());
        }
        Ok(())
    }

    fn pass(&mut self, mode: Mode) -> Result<(), AgentError> {
        let started = self.passes.begin(mode);
        let changed_at = self.changed_since.take();
        let revision = self.index.revision();
        let mut enforced_at = None;
        let applied = if self.passes.up_to_date(mode, revision) {
            Applied::Unchanged
        } else {
            let (cluster, changes) = self.index.cluster_and_changes();
            match self
                .passes
                .reconcile(cluster, &changes, revision, mode, started)?
            {
                Some(applied) => {
                    enforced_at = Some(Instant::now());
                    applied
                }
                None => return Ok(()),
            }
        };
        let observer = &self.passes.observer;
        for delay in self
            .index
            .enforced(enforced_at.unwrap_or_else(Instant::now))
        {
            observer.pod_enforced(delay);
        }
        observer.local_pods_pending(self.index.pending_local_pods());
        let (namespaces, pods, policies) = self.index.counts();
        for (kind, count) in [
            (Kind::Namespace, namespaces),
            (Kind::Pod, pods),
            (Kind::NetworkPolicy, policies),
        ] {
            observer.cluster_objects(kind.as_str(), count);
        }
        let counts = Counts {
            files: namespaces + pods + policies,
            rejected: self.index.policies_not_as_written(),
        };
        self.passes.finish(
            applied,
            started,
            changed_at,
            enforced_at,
            counts,
            |generation| {
                let elapsed_us = started.elapsed().as_micros() as u64;
                if matches!(applied, Applied::Unchanged) {
                    tracing::debug!(generation, elapsed_us, "nothing changed");
                } else {
                    tracing::info!(
                        generation,
                        ruleset = %applied,
                        namespaces,
                        pods,
                        policies,
                        elapsed_us,
                        "rules in force"
                    );
                }
            },
        )?;
        Ok(())
    }
}
