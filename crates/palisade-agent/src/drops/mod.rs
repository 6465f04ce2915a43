//! Drop attribution and policy counters: what the kernel dropped, and why, in the agent's words.
//!
//! ```text
//!   kernel ─nflog group N─> NflogSocket ─LoggedPacket─┐
//!                                                      │ attribute(View, packet)  (evaluate)
//!   run loop ─explain_with(cluster, ruleset)─> View ───┤  (when the loop is idle)
//!                                                      v
//!                         Limiter (first drop per flow and window, then a summary)
//!                            ├─> tracing event, target "palisade::drop"
//!                            ├─> JSON line in DropConfig::events_file (optional)
//!                            └─> palisade_drops_total{direction,namespace} (every drop read)
//!   every counter_interval: nft -j list counters ─deltas─> palisade_policy_packets_total,
//!                                                          palisade_pod_denied_packets_total
//! ```
//!
//! One thread does all of it, started by [`DropMonitor::start`] on the agent's thread so that
//! it inherits the agent's network namespace (netlink sockets and `nft` belong to the
//! namespace of the thread that opens or runs them). Nothing here can stop enforcement: a
//! group that cannot be bound is retried and reported, never fatal.
//!
//! The run loop tells the guard's bookkeeping ([`DropMonitor::enforced`]) in every pass, and
//! hands a new [`attribute::View`] over only once no change has come for a moment
//! (`pass::DROP_VIEW_QUIET`): the view owns a copy of the cluster, about 11 ms at 10,000 pods,
//! which would otherwise sit between every change and the kernel. Until then, drops are
//! explained with the previous view, and an event says so when that view does not explain
//! it.

pub mod attribute;
pub mod counters;
pub mod limit;
pub mod nflog;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use palisade_core::model::Cluster;
use palisade_nft::Ruleset;

use crate::metrics::Observer;
use attribute::{DropEvent, View, attribute};
use limit::{Admit, FlowKey, Limiter, Summary};
use nflog::{LoggedPacket, NflogSocket};

/// The tracing target of drop events: filter with `RUST_LOG=palisade::drop=info`.
pub const TARGET: &str = "palisade::drop";

/// How drops are read and told. [`DropConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct DropConfig {
    /// The nflog group the compiled rules log to (the same as `LogOptions::group`); `None`:
    /// read counters only.
    pub group: Option<u16>,
    /// The nft program, for reading counters.
    pub nft: PathBuf,
    /// How often counters are read (default 15 s; zero: never).
    pub counter_interval: Duration,
    /// The rate limit window: each flow is told once per window, then summarized (default
    /// 10 s).
    pub event_interval: Duration,
    /// At most this many flows told in full per window (default 50); drops of further flows
    /// are only counted in the window's summary.
    pub max_flows: usize,
    /// Also append each event as one JSON object per line to this file.
    pub events_file: Option<PathBuf>,
}

impl DropConfig {
    pub fn new(group: u16) -> DropConfig {
        DropConfig {
            group: Some(group),
            nft: PathBuf::from("nft"),
            counter_interval: Duration::from_secs(15),
            event_interval: Duration::from_secs(10),
            max_flows: 50,
            events_file: None,
        }
    }
}

/// How long a read waits before the thread looks at its stop flag and timers.
const TICK: Duration = Duration::from_millis(200);
/// Wait before binding again after a failure (the group busy, no nfnetlink_log).
const REBIND: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Shared {
    /// Shared, not copied: the reader takes a reference per packet.
    view: Mutex<Option<Arc<View>>>,
    stop: AtomicBool,
}

/// The drop reader thread. Dropping it stops the thread.
pub struct DropMonitor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    observer: Observer,
    /// Isolated local pods pending since when: the fail-closed window.
    pending: Mutex<BTreeMap<String, Instant>>,
}

impl std::fmt::Debug for DropMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropMonitor").finish_non_exhaustive()
    }
}

impl DropMonitor {
    /// Starts reading; returns once the first attempt to bind the group is over, so drops
    /// logged after this returns are read (when the bind worked).
    pub fn start(config: DropConfig, observer: Observer) -> DropMonitor {
        let shared = Arc::new(Shared::default());
        let (bound_tx, bound_rx) = mpsc::channel();
        let thread = {
            let shared = shared.clone();
            let observer = observer.clone();
            std::thread::Builder::new()
                .name("palisade-drops".into())
                .spawn(move || Reader::new(config, observer, shared).run(bound_tx))
                .map_err(|e| tracing::error!(%e, "cannot start the drop reader thread"))
                .ok()
        };
        let _ = bound_rx.recv_timeout(Duration::from_secs(2));
        DropMonitor {
            shared,
            thread,
            observer,
            pending: Mutex::new(BTreeMap::new()),
        }
    }

    /// A ruleset compiled from `cluster` is now in force: counts the pods its guard holds
    /// and closes the window of every pod it no longer holds. Cheap (no copy of the
    /// cluster), so the agent calls it in every pass, before it reports the pass.
    pub fn enforced(&self, cluster: &Cluster, ruleset: Option<&Ruleset>) {
        if let Some(guard) = ruleset.and_then(|r| r.guard.as_ref())
            && let Ok(mut pending) = self.pending.lock()
        {
            let now = Instant::now();
            let still: BTreeSet<&String> = guard.pending_isolated.iter().collect();
            for (pod, since) in std::mem::take(&mut *pending) {
                if still.contains(&pod) {
                    pending.insert(pod, since);
                } else if cluster
                    .pods
                    .iter()
                    .any(|p| p.key() == pod && !p.ips.is_empty())
                {
                    // It got its address and this ruleset, now in force, has its rules; a
                    // pod deleted while pending has no window to report.
                    self.observer
                        .guard_window(now.saturating_duration_since(since));
                }
            }
            for pod in &guard.pending_isolated {
                pending.entry(pod.clone()).or_insert(now);
            }
            self.observer.guard_pending(pending.len());
        }
    }

    /// What later drops are explained with: a cluster and the ruleset compiled from it.
    pub fn explain_with(&self, cluster: Arc<Cluster>, ruleset: Option<Arc<Ruleset>>) {
        let view = View::new(cluster, ruleset);
        if let Ok(mut slot) = self.shared.view.lock() {
            *slot = Some(Arc::new(view));
        }
    }
}

impl Drop for DropMonitor {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Reader {
    config: DropConfig,
    observer: Observer,
    shared: Arc<Shared>,
    limiter: Limiter,
    deltas: counters::Deltas,
    next_counters: Instant,
    file: Option<File>,
}

impl Reader {
    fn new(config: DropConfig, observer: Observer, shared: Arc<Shared>) -> Reader {
        let now = Instant::now();
        let file = config.events_file.as_ref().and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| tracing::error!(path = %path.display(), %e, "cannot open the drop events file"))
                .ok()
        });
        Reader {
            limiter: Limiter::new(config.event_interval, config.max_flows, now),
            deltas: counters::Deltas::default(),
            next_counters: now + config.counter_interval,
            config,
            observer,
            shared,
            file,
        }
    }

    fn run(mut self, bound: mpsc::Sender<bool>) {
        let mut socket = None;
        let mut next_bind = Instant::now();
        let mut bound = Some(bound);
        let mut warned = false;
        while !self.shared.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if let Some(group) = self.config.group
                && socket.is_none()
                && now >= next_bind
            {
                match NflogSocket::bind(group, TICK) {
                    Ok(s) => {
                        tracing::info!(group, "reading drops from the nflog group");
                        socket = Some(s);
                        warned = false;
                    }
                    Err(e) => {
                        // Once per outage, not every retry.
                        if !warned {
                            tracing::warn!(group, %e, "cannot bind the nflog group; drops are not attributed (retrying)");
                            warned = true;
                        }
                        next_bind = now + REBIND;
                    }
                }
            }
            if let Some(tx) = bound.take() {
                let _ = tx.send(socket.is_some());
            }
            match socket.as_mut() {
                Some(s) => match s.receive() {
                    Ok(packets) => {
                        for packet in packets {
                            self.packet(&packet);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%e, "nflog read failed; binding again");
                        socket = None;
                        next_bind = Instant::now() + TICK;
                    }
                },
                None => std::thread::sleep(TICK),
            }
            let now = Instant::now();
            if let Some(summary) = self.limiter.flush(now) {
                self.summary(&summary);
            }
            if !self.config.counter_interval.is_zero() && now >= self.next_counters {
                self.next_counters = now + self.config.counter_interval;
                self.counters();
            }
        }
        // Counts up to the stop are not lost.
        if let Some(summary) = self
            .limiter
            .flush(Instant::now() + self.config.event_interval)
        {
            self.summary(&summary);
        }
    }

    fn view(&self) -> Option<Arc<View>> {
        self.shared.view.lock().ok().and_then(|v| v.clone())
    }

    fn packet(&mut self, packet: &LoggedPacket) {
        let Some(view) = self.view() else {
            return;
        };
        let Some(event) = attribute(&view, packet) else {
            return;
        };
        self.observer
            .drop_logged(event.direction.as_str(), &event.namespace);
        let key = FlowKey {
            direction: event.direction,
            src: packet.src,
            dst: packet.dst,
            protocol: packet.protocol,
            port: packet.port,
        };
        if self.limiter.admit(key, Instant::now()) == Admit::Emit {
            self.emit(&event);
        }
    }

    fn emit(&mut self, e: &DropEvent) {
        tracing::info!(
            target: TARGET,
            direction = %e.direction.as_str(),
            src = %e.src,
            dst = %e.dst,
            protocol = %e.protocol,
            port = %e.port.map_or_else(String::new, |p| p.to_string()),
            policies = %e.policies.join(","),
            guard = e.guard,
            chain = %e.chain,
            reasons = %e.reasons.join("; "),
            note = %e.note.as_deref().unwrap_or(""),
            "packet dropped"
        );
        self.write_json(&e.to_json());
    }

    fn summary(&mut self, s: &Summary) {
        if s.is_empty() {
            return;
        }
        for (flow, count) in &s.repeats {
            tracing::info!(
                target: TARGET,
                direction = %flow.direction.as_str(),
                src = %flow.src,
                dst = %flow.dst,
                protocol = %nflog::protocol_name(flow.protocol),
                port = %flow.port.map_or_else(String::new, |p| p.to_string()),
                more = count,
                window_secs = s.window.as_secs(),
                "more drops of a flow already reported"
            );
        }
        if s.overflow_drops > 0 {
            tracing::warn!(
                target: TARGET,
                drops = s.overflow_drops,
                flows = s.overflow_flows,
                window_secs = s.window.as_secs(),
                "drops of flows not reported individually (over the per-window limit)"
            );
        }
        let json = serde_json::json!({
            "summary": true,
            "window_secs": s.window.as_secs(),
            "repeats": s.repeats.iter().map(|(f, n)| serde_json::json!({
                "direction": f.direction.as_str(),
                "src_ip": f.src.to_string(),
                "dst_ip": f.dst.to_string(),
                "protocol": nflog::protocol_name(f.protocol),
                "port": f.port,
                "more": n,
            })).collect::<Vec<_>>(),
            "overflow_drops": s.overflow_drops,
            "overflow_flows": s.overflow_flows,
        });
        self.write_json(&json);
    }

    fn write_json(&mut self, value: &serde_json::Value) {
        if let Some(file) = self.file.as_mut()
            && let Err(e) = writeln!(file, "{value}")
        {
            tracing::warn!(%e, "cannot write the drop events file; no more events go there");
            self.file = None;
        }
    }

    fn counters(&mut self) {
        let Some(view) = self.view() else { return };
        let Some(ruleset) = view.ruleset() else {
            return;
        };
        match counters::read(&self.config.nft) {
            Ok(raw) => {
                for (name, packets, bytes) in self.deltas.update(&raw) {
                    let Some(def) = ruleset.counters.get(&name) else {
                        continue;
                    };
                    if let Some(labels) = counters::labels(def) {
                        self.observer.policy_counted(&labels, packets, bytes);
                    } else if let Some((namespace, pod, direction)) = counters::pod_labels(def) {
                        self.observer.pod_denied(namespace, pod, direction, packets);
                    }
                }
            }
            Err(e) => tracing::debug!(%e, "cannot read the policy counters"),
        }
    }
}
