//! Local mode: `palisade agent --node NAME --manifests DIR`, the manifests directory standing in
//! for the Kubernetes API.
//!
//! ```text
//!   inotify ─events─> Pending ─due─┐
//!   resync timer ──────────────────┼─> pass: scan DIR -> ManifestIndex -> Cluster
//!   retry timer (after a failure) ─┘          -> Reconciler (compile, adopt|full|diff) -> ready file
//!   Shutdown ─> leave the loop; rules stay unless cleanup_on_exit
//! ```
//!
//! Everything runs on the calling thread, so the kernel programmed is the network namespace of
//! that thread (the lab runs one agent per node namespace).

use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use palisade_dataplane::{Dataplane, FailurePolicy};

use crate::error::AgentError;
use crate::index::ManifestIndex;
use crate::metrics::Observer;
use crate::pass::{Counts, Passes};
use crate::ready;
use crate::reconcile::{Applied, Mode, Reconciler};
use crate::scan::Scanner;
use crate::shutdown::{Msg, Shutdown};
use crate::source::RulesetSource;
use crate::watch::Pending;

/// How a local agent runs. [`LocalConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The node whose pods this agent enforces (`spec.nodeName` of its pods).
    pub node: String,
    /// The directory of manifests to enforce, read recursively.
    pub manifests: PathBuf,
    /// Written after the first successful apply and rewritten after every later pass.
    pub ready_file: Option<PathBuf>,
    /// Least time between the starts of two passes (default 10 ms): bursts coalesce.
    pub min_gap: Duration,
    /// Longest wait for a manifest being written to be closed (default 200 ms).
    pub write_settle: Duration,
    /// Full reload interval, repairing any drift of the table (default 60 s).
    pub resync: Duration,
    /// What to enforce when the first load fails and nothing is in force (default closed).
    pub failure_policy: FailurePolicy,
    /// Remove the table on a requested exit (default false: rules stay in force, so a restart
    /// or upgrade never opens a gap).
    pub cleanup_on_exit: bool,
    /// Run this nft program for every transaction instead of libnftables in process (default
    /// none: libnftables when it loads, else `nft` from `PATH`; see palisade-dataplane).
    pub nft: Option<PathBuf>,
    /// Where the loop reports metrics, health and readiness (default none: a private one).
    /// Serve it with [`crate::MetricsServer`].
    pub observer: Option<Observer>,
    /// Read the drop log group and the policy counters (default none). The source must
    /// compile with the same group (`NftSourceWith`).
    pub drops: Option<crate::drops::DropConfig>,
    /// How often the kernel's table is read back and proven against the policies, besides
    /// right after every full apply (default 60 s; `None`: never). Drift is repaired at once.
    pub verify_interval: Option<Duration>,
}

impl LocalConfig {
    pub fn new(node: impl Into<String>, manifests: impl Into<PathBuf>) -> LocalConfig {
        LocalConfig {
            node: node.into(),
            manifests: manifests.into(),
            ready_file: None,
            min_gap: Duration::from_millis(10),
            write_settle: Duration::from_millis(200),
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

/// How often to look for a manifests directory that went away.
const REWATCH: Duration = Duration::from_millis(500);

/// Runs the agent until `shutdown` fires. Returns an error only for what no retry can fix: the
/// manifests directory missing at start, no file watcher, nft missing or not permitted, or a
/// ready file that cannot be written.
pub fn run_local<S: RulesetSource>(
    config: &LocalConfig,
    source: &S,
    shutdown: Shutdown,
) -> Result<(), AgentError> {
    let span = tracing::info_span!("agent", node = %config.node);
    let _entered = span.enter();
    let meta = std::fs::metadata(&config.manifests).map_err(|source| AgentError::Manifests {
        path: config.manifests.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(AgentError::Manifests {
            path: config.manifests.clone(),
            source: std::io::Error::other("not a directory"),
        });
    }

    let observer = config.observer.clone().unwrap_or_default();
    observer.loop_started();
    // However the loop ends (stop, error, panic), health says so.
    let _alive = Alive(observer.clone());

    // Watch before the first scan, so that no change between the two is missed.
    let mut watcher = watch(&config.manifests, &shutdown)?;
    // The watcher names events under the directory made absolute (not canonical).
    let watch_root = std::env::current_dir()
        .map(|cwd| cwd.join(&config.manifests))
        .unwrap_or_else(|_| config.manifests.clone());
    let mut agent = Agent {
        config,
        index: ManifestIndex::new(),
        scanner: Scanner::default(),
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
        pending: Pending::new(
            watch_root.clone(),
            ignored_paths(config.ready_file.as_deref()),
        ),
        watch_root,
        watch_broken: false,
    };
    tracing::info!(manifests = %config.manifests.display(), "agent starting");
    agent.pass(Mode::Start)?;

    loop {
        let now = Instant::now();
        let deadline = agent.deadline();
        if deadline > now {
            match shutdown.rx.recv_timeout(deadline - now) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Msg::Fs(event)) => {
                    if root_gone(&event, &agent.watch_root) {
                        // inotify watches the directory itself, not its name: a new directory
                        // under the same name needs a new watch.
                        agent.watch_broken = true;
                    }
                    agent.pending.note(&event, Instant::now());
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        agent.passes.poll_verify();
        let now = Instant::now();
        let resync_due = agent.passes.resync_due(now);
        let change_due = agent
            .pending
            .due(
                agent.passes.last_pass(),
                config.min_gap,
                config.write_settle,
            )
            .is_some_and(|due| due <= now);
        if resync_due {
            agent.pass(Mode::Resync)?;
        } else if change_due {
            agent.pass(Mode::Change)?;
        } else if agent.passes.verify_due(now) {
            let revision = agent.index.revision();
            let (cluster, _) = agent.index.cluster();
            agent.passes.verify(cluster, revision);
        } else if agent.passes.drop_view_due(now) {
            let revision = agent.index.revision();
            agent
                .passes
                .tell_drop_view(revision, now, || agent.index.cluster().0);
        }
        if agent.watch_broken && agent.index_readable() {
            match watch(&config.manifests, &shutdown) {
                Ok(w) => {
                    watcher = w;
                    agent.watch_broken = false;
                    agent.pending.touch(now);
                    tracing::info!("manifests directory is back; watching it again");
                }
                Err(err) => tracing::debug!(%err, "cannot watch manifests directory yet"),
            }
        }
    }
    drop(watcher);

    if config.cleanup_on_exit {
        agent.passes.reconciler.dataplane().remove_table()?;
        tracing::info!("agent stopped; table removed (cleanup on exit)");
    } else {
        tracing::info!("agent stopped; rules stay in force");
    }
    Ok(())
}

struct Agent<'c, 's, S: RulesetSource> {
    config: &'c LocalConfig,
    index: ManifestIndex,
    scanner: Scanner,
    passes: Passes<'s, S>,
    pending: Pending,
    /// The manifests directory as the watcher names it.
    watch_root: PathBuf,
    /// The directory went away or could not be listed: its inotify watch is gone with it.
    watch_broken: bool,
}

/// Marks the loop as not running when dropped.
pub(crate) struct Alive(pub(crate) Observer);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.loop_stopped();
    }
}

impl<S: RulesetSource> Agent<'_, '_, S> {
    fn deadline(&self) -> Instant {
        let mut deadline = self.passes.deadline();
        if self.watch_broken {
            // No events will come: look for the directory now and then.
            deadline = deadline.min(Instant::now() + REWATCH);
        }
        if let Some(due) = self.pending.due(
            self.passes.last_pass(),
            self.config.min_gap,
            self.config.write_settle,
        ) {
            deadline = deadline.min(due);
        }
        deadline
    }

    fn index_readable(&self) -> bool {
        self.config.manifests.is_dir()
    }

    /// Scan, compile, apply, report. Returns an error only when the agent must stop.
    fn pass(&mut self, mode: Mode) -> Result<(), AgentError> {
        let started = self.passes.begin(mode);
        // The change this pass enforces started with its first event.
        let changed_at = self.pending.since();
        // Events from now on belong to the next pass: this scan may or may not have seen them.
        self.pending.clear();

        if mode != Mode::Change {
            // A full pass trusts no stamp.
            self.scanner.forget();
        }
        let report = match self.scanner.scan(&self.config.manifests, &mut self.index) {
            Ok(report) => report,
            Err(err) => {
                tracing::error!(
                    dir = %self.config.manifests.display(),
                    %err,
                    "cannot read the manifests directory; rules in force stay"
                );
                self.watch_broken = true;
                return Ok(());
            }
        };
        let scanned_us = started.elapsed().as_micros() as u64;
        let revision = self.index.revision();

        let mut enforced_at = None;
        let applied = if self.passes.up_to_date(mode, revision) {
            Applied::Unchanged
        } else {
            let log_diagnostics = !self.passes.compiled(revision);
            let (cluster, diagnostics, changes) = self.index.cluster_and_changes();
            tracing::debug!(
                cluster_us = started.elapsed().as_micros() as u64,
                "cluster built"
            );
            if log_diagnostics {
                for d in diagnostics {
                    // Which file a cluster-level problem sits in is not tracked: name the
                    // directory and the object, not a line of some file.
                    let d = palisade_core::diag::Diagnostic {
                        span: None,
                        ..d.clone()
                    };
                    let dir = &self.config.manifests;
                    tracing::warn!("{}", crate::logging::diagnostic(dir, &d));
                }
            }
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

        let counts = Counts {
            files: self.index.len(),
            rejected: self.index.rejected(),
        };
        let log_level_info = !matches!(applied, Applied::Unchanged) || report.rejected > 0;
        self.passes.finish(
            applied,
            started,
            changed_at,
            enforced_at,
            counts,
            |generation| {
                let elapsed = started.elapsed();
                if log_level_info {
                    tracing::info!(
                        generation,
                        ruleset = %applied,
                        files = report.files,
                        rejected = counts.rejected,
                        scan_us = scanned_us,
                        elapsed_us = elapsed.as_micros() as u64,
                        "rules in force"
                    );
                } else {
                    tracing::debug!(
                        generation,
                        elapsed_us = elapsed.as_micros() as u64,
                        "nothing changed"
                    );
                }
            },
        )?;
        Ok(())
    }
}

fn watch(dir: &Path, shutdown: &Shutdown) -> Result<notify::RecommendedWatcher, AgentError> {
    let tx = shutdown.tx.clone();
    let watch_error = |source| AgentError::Watch {
        path: dir.to_path_buf(),
        source,
    };
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(Msg::Fs(event));
    })
    .map_err(watch_error)?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .map_err(watch_error)?;
    Ok(watcher)
}

fn root_gone(event: &notify::Result<notify::Event>, root: &Path) -> bool {
    use notify::EventKind;
    use notify::event::ModifyKind;
    event.as_ref().is_ok_and(|e| {
        matches!(
            e.kind,
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
        ) && e.paths.iter().any(|p| p == root)
    })
}

/// The ready file and its temporary: writing them is not a change of the manifests.
fn ignored_paths(ready: Option<&Path>) -> Vec<PathBuf> {
    ready.map_or_else(Vec::new, |ready| {
        vec![ready.to_path_buf(), ready::temporary(ready)]
    })
}
