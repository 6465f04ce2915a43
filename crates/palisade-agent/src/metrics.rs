//! What the agent tells a monitoring system: Prometheus metrics and the health and readiness
//! answers behind `/healthz` and `/readyz` (served by [`crate::MetricsServer`]).
//!
//! ```text
//!   run loop ──loop_started / applied / apply_failed / loop_stopped──> Observer
//!                                                                        │ (Arc, shared)
//!   metrics thread: GET /metrics ── encode() ───────────────────────────┤
//!                   GET /healthz ── health()  ──────────────────────────┤
//!                   GET /readyz  ── readiness() ────────────────────────┘
//! ```
//!
//! The loop only ever writes atomics and one short-held mutex, so a slow scraper never delays
//! a pass. Every metric is listed in docs/observability.md.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::reconcile::Applied;

/// What a successful pass did, as counted by `palisade_applies_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplyKind {
    /// The whole table was loaded (a resync, a fallback, or a start that replaced or created).
    Full,
    /// An in-place update.
    Diff,
    /// Nothing to send: the compiled ruleset did not change.
    Unchanged,
    /// At start, the table left by an earlier run already matched and was kept.
    Kept,
}

impl ApplyKind {
    pub const ALL: [ApplyKind; 4] = [
        ApplyKind::Full,
        ApplyKind::Diff,
        ApplyKind::Unchanged,
        ApplyKind::Kept,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplyKind::Full => "full",
            ApplyKind::Diff => "diff",
            ApplyKind::Unchanged => "unchanged",
            ApplyKind::Kept => "kept",
        }
    }

    /// Whether an nft transaction was sent (what the change latency waits for).
    pub fn sent_transaction(self) -> bool {
        matches!(self, ApplyKind::Full | ApplyKind::Diff)
    }
}

impl From<Applied> for ApplyKind {
    fn from(applied: Applied) -> ApplyKind {
        use palisade_dataplane::Adoption;
        match applied {
            Applied::Adopted(Adoption::Kept) => ApplyKind::Kept,
            Applied::Adopted(Adoption::Replaced | Adoption::Created) | Applied::Full => {
                ApplyKind::Full
            }
            Applied::Diff => ApplyKind::Diff,
            Applied::Unchanged => ApplyKind::Unchanged,
        }
    }
}

/// A pass that left the wanted rules in force.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    pub kind: Option<ApplyKind>,
    /// From the start of the pass (scan) to its end.
    pub duration: Duration,
    /// From the first file event the pass picked up to the end of its nft transaction; `None`
    /// when no event started it or nothing was sent.
    pub change_latency: Option<Duration>,
    pub generation: u64,
    pub files: usize,
    pub rejected: usize,
    /// Sizes of the ruleset in force, when the source can tell.
    pub stats: Option<palisade_nft::Stats>,
}

/// Labels of `palisade_policy_packets_total`: which policy rule a kernel counter belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyLabels {
    pub namespace: String,
    pub policy: String,
    /// The rule's index in the policy's rules for `direction`; empty for denied counts.
    pub rule: String,
    pub direction: String,
    /// `allowed`, `denied`, or `guard` (the fail-closed guard; no policy).
    pub verdict: String,
}

/// An answer to `/healthz` or `/readyz`: OK or not, and one line saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub ok: bool,
    pub reason: String,
}

/// Metrics and status of one agent, shared between its loop and the metrics server.
/// Cloning shares; [`Observer::default`] is a fresh one.
#[derive(Clone, Default)]
pub struct Observer {
    inner: Arc<Inner>,
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("state", &*self.state())
            .finish_non_exhaustive()
    }
}

struct Inner {
    registry: Registry,
    metrics: Metrics,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    alive: bool,
    /// A ruleset of this run is known to be in the kernel.
    in_force: bool,
    generation: u64,
    /// The error of the last pass, if it failed.
    last_error: Option<String>,
    /// Cluster mode: whether the API server is reachable and every watch is current, and why
    /// not. `None` in local mode, where there is no API to lose.
    api: Option<(bool, String)>,
}

struct Metrics {
    reconcile_seconds: Histogram,
    change_seconds: Histogram,
    applies: Family<[(&'static str, &'static str); 1], Counter>,
    apply_errors: Counter,
    chains: Gauge,
    sets: Gauge,
    elements: Gauge,
    rules: Gauge,
    files: Gauge,
    rejected: Gauge,
    last_success: Gauge<f64, AtomicU64>,
    generation: Gauge,
    /// Drops read from the nflog group (docs/observability.md: drop attribution).
    drops: Family<Vec<(&'static str, String)>, Counter>,
    /// The kernel's named counters, by policy rule (see crate::drops::counters).
    policy_packets: Family<Vec<(&'static str, String)>, Counter>,
    policy_bytes: Family<Vec<(&'static str, String)>, Counter>,
    guard_pending: Gauge,
    guard_window_seconds: Histogram,
    pod_denied: Family<Vec<(&'static str, String)>, Counter>,
    rejected_objects: Family<[(&'static str, String); 2], Counter>,
    pod_delay_seconds: Histogram,
    pods_pending: Gauge,
    api_up: Gauge,
    /// 1 when the last readback of the kernel's table proved it (crate::pass, verify).
    ruleset_verified: Gauge,
    /// Readbacks that found the kernel enforcing something else.
    drift: Counter,
    cluster_objects: Family<[(&'static str, &'static str); 1], Gauge>,
}

impl Default for Inner {
    fn default() -> Inner {
        let metrics = Metrics {
            // 0.5 ms .. ~16 s: a diff takes about a millisecond, a big full load seconds.
            reconcile_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            change_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            applies: Family::default(),
            apply_errors: Counter::default(),
            chains: Gauge::default(),
            sets: Gauge::default(),
            elements: Gauge::default(),
            rules: Gauge::default(),
            files: Gauge::default(),
            rejected: Gauge::default(),
            last_success: Gauge::default(),
            generation: Gauge::default(),
            drops: Family::default(),
            policy_packets: Family::default(),
            policy_bytes: Family::default(),
            guard_pending: Gauge::default(),
            ruleset_verified: Gauge::default(),
            drift: Counter::default(),
            // 10 ms .. ~80 s: a pod waits for the watch event plus one pass.
            guard_window_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            pod_denied: Family::default(),
            rejected_objects: Family::default(),
            // 1 ms .. ~33 s: a diff lands in milliseconds; a pod created during a failure or a
            // relist waits for the next successful pass.
            pod_delay_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            pods_pending: Gauge::default(),
            api_up: Gauge::default(),
            cluster_objects: Family::default(),
        };
        // Every kind shows from the start, so a rate over it is defined before the first one.
        for kind in ApplyKind::ALL {
            let _ = metrics.applies.get_or_create(&[("kind", kind.as_str())]);
        }
        let mut registry = Registry::default();
        let m = &metrics;
        let r = &mut registry;
        r.register(
            "palisade_reconcile_duration_seconds",
            "Time of one pass: scan, compile, apply",
            m.reconcile_seconds.clone(),
        );
        r.register(
            "palisade_change_to_enforced_seconds",
            "Time from the first file event of a change to the end of the nft transaction enforcing it",
            m.change_seconds.clone(),
        );
        // The client adds `_total` to counter names.
        r.register(
            "palisade_applies",
            "Successful passes by what they sent: full, diff, unchanged, kept",
            m.applies.clone(),
        );
        r.register(
            "palisade_apply_errors",
            "Passes whose ruleset could not be applied",
            m.apply_errors.clone(),
        );
        for (name, help, gauge) in [
            (
                "palisade_ruleset_chains",
                "Chains of the ruleset in force, the base chain included",
                &m.chains,
            ),
            (
                "palisade_ruleset_sets",
                "Named sets of the ruleset in force, verdict maps excluded",
                &m.sets,
            ),
            (
                "palisade_ruleset_elements",
                "Elements of every set and map of the ruleset in force",
                &m.elements,
            ),
            (
                "palisade_ruleset_rules",
                "Rules of every chain of the ruleset in force",
                &m.rules,
            ),
            (
                "palisade_manifest_files",
                "Manifest files seen in the manifests directory",
                &m.files,
            ),
            (
                "palisade_manifest_files_rejected",
                "Manifest files not in force as written (errors, unreadable)",
                &m.rejected,
            ),
            (
                "palisade_generation",
                "Passes completed successfully since the agent started",
                &m.generation,
            ),
        ] {
            r.register(name, help, gauge.clone());
        }
        r.register(
            "palisade_objects_rejected",
            "API objects that failed validation, by kind and the code of their first error \
             (policies keep their last good version or isolate their pods)",
            m.rejected_objects.clone(),
        );
        r.register(
            "palisade_pod_enforcement_delay_seconds",
            "Time from the agent first seeing a new local pod with an address to its rules being in force",
            m.pod_delay_seconds.clone(),
        );
        r.register(
            "palisade_local_pods_pending",
            "Local pods whose rules are not in force yet: without an address, or waiting for a pass",
            m.pods_pending.clone(),
        );
        r.register(
            "palisade_api_up",
            "Cluster mode: 1 while the API server is reachable and every watch is current",
            m.api_up.clone(),
        );
        r.register(
            "palisade_cluster_objects",
            "Cluster mode: objects in the agent's view, by kind",
            m.cluster_objects.clone(),
        );
        r.register(
            "palisade_last_success_timestamp_seconds",
            "Unix time of the end of the last successful pass",
            m.last_success.clone(),
        );
        r.register(
            "palisade_drops",
            "Dropped packets the agent read from the nflog group (sampled by the log rate limit), by direction and namespace of the policed pod",
            m.drops.clone(),
        );
        r.register(
            "palisade_policy_packets",
            "First packets of connections counted by the kernel per policy rule (verdict allowed) or per isolating policy (denied)",
            m.policy_packets.clone(),
        );
        r.register(
            "palisade_policy_bytes",
            "Bytes of the packets counted by palisade_policy_packets_total",
            m.policy_bytes.clone(),
        );
        r.register(
            "palisade_pod_denied_packets",
            "First packets of connections the kernel dropped at each isolated local pod, by direction",
            m.pod_denied.clone(),
        );
        r.register(
            "palisade_guard_pending_pods",
            "Local pods that policies isolate and that have no address yet: the fail-closed guard is armed while this is above 0",
            m.guard_pending.clone(),
        );
        r.register(
            "palisade_ruleset_verified",
            "1 when the last readback of the kernel's ruleset (nft -j list ruleset) enforced exactly what the policies say, 0 when it found drift or could not read it",
            m.ruleset_verified.clone(),
        );
        r.register(
            "palisade_ruleset_drift",
            "Readbacks of the kernel's ruleset that found it enforcing something else than the policies (each one is repaired by a full reload)",
            m.drift.clone(),
        );
        r.register(
            "palisade_guard_window_seconds",
            "Time an isolated local pod spent pending (guarded) until a ruleset with its address was in force",
            m.guard_window_seconds.clone(),
        );
        Inner {
            registry,
            metrics,
            state: Mutex::new(State::default()),
        }
    }
}

/// Gauges hold i64; counts this large do not happen, but saturate rather than wrap.
fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// Reasons go on one line of a probe's body.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Observer {
    pub fn new() -> Observer {
        Observer::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: still good to read.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The run loop is up.
    pub fn loop_started(&self) {
        self.state().alive = true;
    }

    /// The run loop ended (stopped, failed or panicked).
    pub fn loop_stopped(&self) {
        self.state().alive = false;
    }

    /// A pass left the wanted rules in force.
    pub fn applied(&self, pass: &Pass) {
        let m = &self.inner.metrics;
        m.reconcile_seconds.observe(pass.duration.as_secs_f64());
        if let Some(latency) = pass.change_latency {
            m.change_seconds.observe(latency.as_secs_f64());
        }
        if let Some(kind) = pass.kind {
            m.applies.get_or_create(&[("kind", kind.as_str())]).inc();
        }
        if let Some(stats) = pass.stats {
            m.chains.set(gauge_value(stats.chains));
            m.sets.set(gauge_value(stats.sets));
            m.elements.set(gauge_value(stats.elements));
            m.rules.set(gauge_value(stats.rules));
        }
        m.files.set(gauge_value(pass.files));
        m.rejected.set(gauge_value(pass.rejected));
        m.generation.set(gauge_value(pass.generation));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        m.last_success.set(now);
        let mut state = self.state();
        state.in_force = true;
        state.generation = pass.generation;
        state.last_error = None;
    }

    /// A pass could not apply its ruleset; `rules_in_force` says whether an earlier ruleset of
    /// this run still holds.
    pub fn apply_failed(&self, duration: Duration, error: &str, rules_in_force: bool) {
        let m = &self.inner.metrics;
        m.reconcile_seconds.observe(duration.as_secs_f64());
        m.apply_errors.inc();
        let mut state = self.state();
        state.in_force = rules_in_force;
        state.last_error = Some(one_line(error));
    }

    /// A drop read from the nflog group: `direction` of the policed pod in `namespace` (empty
    /// when the address is no known pod, as with the fail-closed guard).
    pub fn drop_logged(&self, direction: &str, namespace: &str) {
        self.inner
            .metrics
            .drops
            .get_or_create(&vec![
                ("direction", direction.to_string()),
                ("namespace", namespace.to_string()),
            ])
            .inc();
    }

    /// Adds what a kernel counter counted since the last read. `labels`: namespace, policy,
    /// rule, direction, verdict.
    pub fn policy_counted(&self, labels: &PolicyLabels, packets: u64, bytes: u64) {
        let key = vec![
            ("namespace", labels.namespace.clone()),
            ("policy", labels.policy.clone()),
            ("rule", labels.rule.clone()),
            ("direction", labels.direction.clone()),
            ("verdict", labels.verdict.clone()),
        ];
        let m = &self.inner.metrics;
        m.policy_packets.get_or_create(&key).inc_by(packets);
        m.policy_bytes.get_or_create(&key).inc_by(bytes);
    }

    /// Adds drops counted at one local pod since the last read.
    pub fn pod_denied(&self, namespace: &str, pod: &str, direction: &str, packets: u64) {
        self.inner
            .metrics
            .pod_denied
            .get_or_create(&vec![
                ("namespace", namespace.to_string()),
                ("pod", pod.to_string()),
                ("direction", direction.to_string()),
            ])
            .inc_by(packets);
    }

    /// The outcome of a readback of the kernel's ruleset: proven, or not (drift or unreadable).
    pub fn ruleset_verified(&self, verified: bool) {
        self.inner.metrics.ruleset_verified.set(i64::from(verified));
    }

    /// A readback found drift.
    pub fn drift_found(&self) {
        self.inner.metrics.drift.inc();
    }

    /// Isolated local pods still without an address (the guard is armed while above 0).
    pub fn guard_pending(&self, pods: usize) {
        self.inner.metrics.guard_pending.set(gauge_value(pods));
    }

    /// An isolated pod left the pending state after `window`: its rules are in force.
    pub fn guard_window(&self, window: Duration) {
        self.inner
            .metrics
            .guard_window_seconds
            .observe(window.as_secs_f64());
    }

    /// An API object failed validation (`kind` as in the API, `reason` its first error code).
    pub fn object_rejected(&self, kind: &'static str, reason: &str) {
        self.inner
            .metrics
            .rejected_objects
            .get_or_create(&[("kind", kind.to_string()), ("reason", reason.to_string())])
            .inc();
    }

    /// A new local pod's rules came in force `delay` after the agent saw it with an address.
    pub fn pod_enforced(&self, delay: Duration) {
        self.inner
            .metrics
            .pod_delay_seconds
            .observe(delay.as_secs_f64());
    }

    /// Local pods whose rules are not in force yet.
    pub fn local_pods_pending(&self, pods: usize) {
        self.inner.metrics.pods_pending.set(gauge_value(pods));
    }

    /// Objects in view, per kind (`Namespace`, `Pod`, `NetworkPolicy`).
    pub fn cluster_objects(&self, kind: &'static str, count: usize) {
        self.inner
            .metrics
            .cluster_objects
            .get_or_create(&[("kind", kind)])
            .set(gauge_value(count));
    }

    /// Cluster mode: whether the API is reachable and the watches current. While it is not,
    /// the rules in force stay but the agent is not ready: it cannot see changes.
    pub fn api_health(&self, ok: bool, reason: &str) {
        self.inner.metrics.api_up.set(i64::from(ok));
        self.state().api = Some((ok, one_line(reason)));
    }

    /// Every metric in the Prometheus project's text exposition (OpenMetrics) format.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)?;
        Ok(text)
    }

    /// `/healthz`: OK while the run loop is alive.
    pub fn health(&self) -> Probe {
        if self.state().alive {
            Probe {
                ok: true,
                reason: "ok: agent loop running".into(),
            }
        } else {
            Probe {
                ok: false,
                reason: "agent loop not running".into(),
            }
        }
    }

    /// `/readyz`: OK once a ruleset of this run is in the kernel and stays in force (a failed
    /// later pass leaves the earlier rules enforcing, so it does not make the agent unready),
    /// and, in cluster mode, while the API is reachable ([`Observer::api_health`]).
    pub fn readiness(&self) -> Probe {
        let state = self.state();
        if let (true, Some((false, why))) = (state.alive, &state.api) {
            let rules = if state.in_force {
                format!("generation {} stays in force", state.generation)
            } else {
                "no ruleset in force".to_string()
            };
            return Probe {
                ok: false,
                reason: format!("not ready: API unavailable ({why}); {rules}"),
            };
        }
        let (ok, reason) = match (state.alive, state.in_force, &state.last_error) {
            (false, _, _) => (false, "not ready: agent loop not running".to_string()),
            (true, true, None) => (
                true,
                format!("ready: generation {} in force", state.generation),
            ),
            (true, true, Some(err)) => (
                true,
                format!(
                    "ready: generation {} in force; last apply failed: {err}",
                    state.generation
                ),
            ),
            (true, false, Some(err)) => (false, format!("not ready: no ruleset in force: {err}")),
            (true, false, None) => (false, "not ready: first ruleset not applied yet".into()),
        };
        Probe { ok, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of `text` for `series` (name and labels, as exposed), parsed.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    }

    #[test]
    fn registry_exposes_every_metric_with_type_and_help() {
        let observer = Observer::new();
        let text = observer.encode().expect("encode");
        for (name, kind) in [
            ("palisade_reconcile_duration_seconds", "histogram"),
            ("palisade_change_to_enforced_seconds", "histogram"),
            ("palisade_applies", "counter"),
            ("palisade_apply_errors", "counter"),
            ("palisade_ruleset_chains", "gauge"),
            ("palisade_ruleset_sets", "gauge"),
            ("palisade_ruleset_elements", "gauge"),
            ("palisade_ruleset_rules", "gauge"),
            ("palisade_manifest_files", "gauge"),
            ("palisade_manifest_files_rejected", "gauge"),
            ("palisade_last_success_timestamp_seconds", "gauge"),
            ("palisade_generation", "gauge"),
            ("palisade_guard_pending_pods", "gauge"),
            ("palisade_ruleset_verified", "gauge"),
            ("palisade_ruleset_drift", "counter"),
            ("palisade_guard_window_seconds", "histogram"),
            // palisade_objects_rejected and palisade_cluster_objects are families that show
            // from their first series (cluster_mode_metrics_show_in_the_values).
            ("palisade_pod_enforcement_delay_seconds", "histogram"),
            ("palisade_local_pods_pending", "gauge"),
            ("palisade_api_up", "gauge"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} as {kind}:\n{text}"
            );
            assert!(text.contains(&format!("# HELP {name} ")), "{name} help");
        }
        for kind in ApplyKind::ALL {
            let series = format!("palisade_applies_total{{kind=\"{}\"}}", kind.as_str());
            assert_eq!(sample(&text, &series), Some(0.0), "{series} from the start");
        }
    }

    #[test]
    fn passes_show_in_the_values() {
        let observer = Observer::new();
        observer.loop_started();
        let stats = palisade_nft::Stats {
            chains: 3,
            sets: 4,
            maps: 4,
            elements: 17,
            rules: 9,
        };
        for (generation, kind) in [
            (1, ApplyKind::Full),
            (2, ApplyKind::Diff),
            (3, ApplyKind::Diff),
        ] {
            observer.applied(&Pass {
                kind: Some(kind),
                duration: Duration::from_millis(2),
                change_latency: (kind == ApplyKind::Diff).then(|| Duration::from_millis(5)),
                generation,
                files: 4,
                rejected: 1,
                stats: Some(stats),
            });
        }
        observer.apply_failed(Duration::from_millis(1), "nft said\nno", true);
        let text = observer.encode().expect("encode");
        for (series, want) in [
            ("palisade_applies_total{kind=\"full\"}", 1.0),
            ("palisade_applies_total{kind=\"diff\"}", 2.0),
            ("palisade_applies_total{kind=\"kept\"}", 0.0),
            ("palisade_apply_errors_total", 1.0),
            ("palisade_reconcile_duration_seconds_count", 4.0),
            ("palisade_change_to_enforced_seconds_count", 2.0),
            ("palisade_ruleset_chains", 3.0),
            ("palisade_ruleset_sets", 4.0),
            ("palisade_ruleset_elements", 17.0),
            ("palisade_ruleset_rules", 9.0),
            ("palisade_manifest_files", 4.0),
            ("palisade_manifest_files_rejected", 1.0),
            ("palisade_generation", 3.0),
        ] {
            assert_eq!(sample(&text, series), Some(want), "{series}:\n{text}");
        }
        let latency_sum = sample(&text, "palisade_change_to_enforced_seconds_sum");
        assert!(
            latency_sum.is_some_and(|s| (s - 0.010).abs() < 1e-9),
            "{latency_sum:?}"
        );
        let stamp = sample(&text, "palisade_last_success_timestamp_seconds");
        assert!(stamp.is_some_and(|s| s > 1.6e9), "a Unix time: {stamp:?}");

        let ready = observer.readiness();
        assert!(ready.ok, "rules stay in force after a failed pass");
        assert_eq!(
            ready.reason,
            "ready: generation 3 in force; last apply failed: nft said no"
        );
    }

    /// Labelled families show once they have a series.
    #[test]
    fn drops_and_policy_counters_show_with_their_labels() {
        let observer = Observer::new();
        observer.drop_logged("ingress", "prod");
        observer.drop_logged("ingress", "prod");
        let labels = PolicyLabels {
            namespace: "prod".into(),
            policy: "db".into(),
            rule: "0".into(),
            direction: "ingress".into(),
            verdict: "allowed".into(),
        };
        observer.policy_counted(&labels, 3, 180);
        observer.policy_counted(&labels, 2, 120);
        let text = observer.encode().expect("encode");
        let policy = "{namespace=\"prod\",policy=\"db\",rule=\"0\",direction=\"ingress\",verdict=\"allowed\"}";
        for (series, want) in [
            (
                "palisade_drops_total{direction=\"ingress\",namespace=\"prod\"}".to_string(),
                2.0,
            ),
            (format!("palisade_policy_packets_total{policy}"), 5.0),
            (format!("palisade_policy_bytes_total{policy}"), 300.0),
        ] {
            assert_eq!(sample(&text, &series), Some(want), "{series}:\n{text}");
        }
        for name in [
            "palisade_drops",
            "palisade_policy_packets",
            "palisade_policy_bytes",
        ] {
            assert!(text.contains(&format!("# TYPE {name} counter\n")), "{name}");
        }
    }

    #[test]
    fn readiness_follows_the_rules_in_force() {
        let observer = Observer::new();
        let probe = |o: &Observer| {
            let p = o.readiness();
            (p.ok, p.reason)
        };
        assert_eq!(
            probe(&observer),
            (false, "not ready: agent loop not running".into())
        );
        assert!(!observer.health().ok);
        observer.loop_started();
        assert!(observer.health().ok);
        assert_eq!(
            probe(&observer),
            (false, "not ready: first ruleset not applied yet".into())
        );
        observer.apply_failed(Duration::ZERO, "permission denied", false);
        assert_eq!(
            probe(&observer),
            (
                false,
                "not ready: no ruleset in force: permission denied".into()
            )
        );
        observer.applied(&Pass {
            kind: Some(ApplyKind::Full),
            generation: 1,
            ..Pass::default()
        });
        assert_eq!(
            probe(&observer),
            (true, "ready: generation 1 in force".into())
        );
        observer.loop_stopped();
        assert!(!observer.health().ok);
        assert!(!observer.readiness().ok);
    }

    #[test]
    fn losing_the_api_turns_readiness_false_and_keeps_the_rules() {
        let observer = Observer::new();
        observer.loop_started();
        observer.api_health(true, "watching");
        observer.applied(&Pass {
            kind: Some(ApplyKind::Full),
            generation: 4,
            ..Pass::default()
        });
        assert!(observer.readiness().ok, "{:?}", observer.readiness());
        observer.api_health(false, "pods watch: connection refused");
        let probe = observer.readiness();
        assert!(!probe.ok);
        assert_eq!(
            probe.reason,
            "not ready: API unavailable (pods watch: connection refused); generation 4 stays in force"
        );
        assert!(observer.health().ok, "the loop itself is fine");
        let text = observer.encode().expect("encode");
        assert_eq!(sample(&text, "palisade_api_up"), Some(0.0));
        observer.api_health(true, "watching");
        assert!(observer.readiness().ok);
    }

    #[test]
    fn cluster_mode_metrics_show_in_the_values() {
        let observer = Observer::new();
        observer.object_rejected("NetworkPolicy", "P230");
        observer.object_rejected("NetworkPolicy", "P230");
        observer.pod_enforced(Duration::from_millis(30));
        observer.local_pods_pending(2);
        observer.cluster_objects("Pod", 7);
        let text = observer.encode().expect("encode");
        for (series, want) in [
            (
                "palisade_objects_rejected_total{kind=\"NetworkPolicy\",reason=\"P230\"}",
                2.0,
            ),
            ("palisade_pod_enforcement_delay_seconds_count", 1.0),
            ("palisade_local_pods_pending", 2.0),
            ("palisade_cluster_objects{kind=\"Pod\"}", 7.0),
        ] {
            assert_eq!(sample(&text, series), Some(want), "{series}:\n{text}");
        }
    }
}
