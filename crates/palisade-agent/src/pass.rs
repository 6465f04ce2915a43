//! What every driver does once it has a cluster: when to run a pass, and the pass itself.
//!
//! ```text
//!   driver (local: files; cluster: watch streams) ── change since T ─┐
//!                                                                    v
//!   Passes: due? (min gap after the last pass; resync timer; retry after backoff)
//!     begin(mode) -> up_to_date? -> reconcile(cluster) -> finish: generation, READY_MESSAGE,
//!                                      │ failure: fail-safe if nothing     Observer, ready file
//!                                      v          in force, then back off
//!                                  Reconciler (adopt | full | diff)
//! ```
//!
//! Local mode ([`crate::run_local`]) and cluster mode ([`crate::run_cluster`]) differ only in
//! where the cluster comes from and how they wait; both hand it here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_core::model::Cluster;
use palisade_dataplane::FailSafe;

use crate::drops::{DropConfig, DropMonitor};
use crate::error::AgentError;
use crate::metrics::{ApplyKind, Observer, Pass};
use crate::ready::ReadyInfo;
use crate::reconcile::{Applied, Mode, Reconciler, is_fatal};
use crate::source::RulesetSource;

/// Logged once, when the first ruleset is in the kernel.
pub const READY_MESSAGE: &str = "palisade agent ready: rules in the kernel";

/// First retry after a failed pass; doubles up to [`MAX_BACKOFF`].
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(200);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The scheduling and bookkeeping of passes around one [`Reconciler`].
pub(crate) struct Passes<'s, S: RulesetSource> {
    pub reconciler: Reconciler<'s, S>,
    pub observer: Observer,
    node: String,
    ready_file: Option<PathBuf>,
    min_gap: Duration,
    resync: Duration,
    /// Passes completed successfully; what the ready file reports.
    generation: u64,
    /// Revision of the cluster the ruleset in force was compiled from.
    compiled_revision: Option<u64>,
    /// When the last pass started.
    last_pass: Option<Instant>,
    next_resync: Instant,
    /// When to retry after a failed pass, and the wait after that one.
    retry: Option<(Instant, Duration)>,
    /// Told the cluster and ruleset after every apply, to explain the drops it reads.
    drops: Option<DropMonitor>,
}

/// The sizes a driver reports with each pass (files in local mode, objects in cluster mode).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub files: usize,
    pub rejected: usize,
}

impl<'s, S: RulesetSource> Passes<'s, S> {
    pub fn new(
        reconciler: Reconciler<'s, S>,
        observer: Observer,
        node: String,
        ready_file: Option<PathBuf>,
        min_gap: Duration,
        resync: Duration,
    ) -> Self {
        Passes {
            reconciler,
            observer,
            node,
            ready_file,
            min_gap,
            resync,
            generation: 0,
            compiled_revision: None,
            last_pass: None,
            next_resync: Instant::now() + resync,
            retry: None,
            drops: None,
        }
    }

    /// Starts drop attribution (see [`DropMonitor`]). Called on the agent's own thread so the
    /// monitor reads the network namespace the agent programs.
    pub fn with_drops(mut self, config: Option<DropConfig>) -> Self {
        self.drops = config.map(|c| DropMonitor::start(c, self.observer.clone()));
        self
    }

    pub fn last_pass(&self) -> Option<Instant> {
        self.last_pass
    }

    /// The next time a pass is due whatever happens: the resync, or a retry.
    pub fn deadline(&self) -> Instant {
        match self.retry {
            Some((at, _)) => self.next_resync.min(at),
            None => self.next_resync,
        }
    }

    /// Whether a full pass (resync or retry) is due at `now`.
    pub fn resync_due(&self, now: Instant) -> bool {
        self.next_resync <= now || self.retry.is_some_and(|r| r.0 <= now)
    }

    /// When a change first seen at `since` may be enforced: at once, but never sooner than
    /// the minimum gap after the previous pass started, so bursts coalesce.
    pub fn change_due(&self, since: Option<Instant>) -> Option<Instant> {
        let since = since?;
        Some(match self.last_pass {
            Some(last) => since.max(last + self.min_gap),
            None => since,
        })
    }

    /// A pass starts now.
    pub fn begin(&mut self, mode: Mode) -> Instant {
        let started = Instant::now();
        self.last_pass = Some(started);
        if mode != Mode::Change {
            self.next_resync = started + self.resync;
        }
        started
    }

    /// Whether the ruleset in force was compiled from `revision` and nothing asks for more.
    pub fn up_to_date(&self, mode: Mode, revision: u64) -> bool {
        mode == Mode::Change
            && self.retry.is_none()
            && self.compiled_revision == Some(revision)
            && self.reconciler.has_ruleset()
    }

    /// Whether the ruleset in force was compiled from `revision`.
    pub fn compiled(&self, revision: u64) -> bool {
        self.compiled_revision == Some(revision)
    }

    /// Compiles and applies `cluster`. `Ok(None)`: it failed in a way a retry may fix (the
    /// retry is scheduled); `Err`: the agent must stop.
    pub fn reconcile(
        &mut self,
        cluster: &Cluster,
        revision: u64,
        mode: Mode,
        started: Instant,
    ) -> Result<Option<Applied>, AgentError> {
        match self.reconciler.reconcile(cluster, mode) {
            Ok(applied) => {
                self.compiled_revision = Some(revision);
                self.retry = None;
                if let Some(drops) = &self.drops {
                    let ruleset = self
                        .reconciler
                        .in_force()
                        .and_then(|r| self.reconciler.source().nft_ruleset(r))
                        .cloned()
                        .map(Arc::new);
                    drops.update(Arc::new(cluster.clone()), ruleset);
                }
                Ok(Some(applied))
            }
            Err(err) => {
                self.observer.apply_failed(
                    started.elapsed(),
                    &err.to_string(),
                    self.reconciler.has_ruleset(),
                );
                if is_fatal(&err) {
                    return Err(err.into());
                }
                self.failed(&err)?;
                Ok(None)
            }
        }
    }

    /// A pass failed in a way a retry may fix: fail safe if nothing is in force, then back off.
    fn failed(&mut self, err: &palisade_dataplane::Error) -> Result<(), AgentError> {
        let wait = self.retry.map_or(FIRST_BACKOFF, |(_, w)| w);
        tracing::error!(%err, retry_in_ms = wait.as_millis() as u64, "could not apply rules");
        if !self.reconciler.has_ruleset() {
            match self.reconciler.fail_safe() {
                Ok(FailSafe::KeptPrevious) => {
                    tracing::warn!("the table left by an earlier run stays in force")
                }
                Ok(FailSafe::Lockdown) => {
                    tracing::warn!("fail-closed: forwarded traffic blocked until rules load")
                }
                Ok(FailSafe::Open) => {
                    tracing::warn!("fail-open: no table in force; traffic is not filtered")
                }
                Err(err) if is_fatal(&err) => return Err(err.into()),
                Err(err) => tracing::error!(%err, "fail-safe could not be applied"),
            }
        }
        self.retry = Some((Instant::now() + wait, (wait * 2).min(MAX_BACKOFF)));
        Ok(())
    }

    /// A pass left the wanted rules in force: count it, `log` it (given the new generation),
    /// report it, write the ready file.
    pub fn finish(
        &mut self,
        applied: Applied,
        started: Instant,
        changed_at: Option<Instant>,
        enforced_at: Option<Instant>,
        counts: Counts,
        log: impl FnOnce(u64),
    ) -> Result<u64, AgentError> {
        self.generation += 1;
        log(self.generation);
        if self.generation == 1 {
            // A stable line supervisors wait for (the lab matches READY_MESSAGE).
            tracing::info!(node = %self.node, "{}", READY_MESSAGE);
        }
        let kind = ApplyKind::from(applied);
        self.observer.applied(&Pass {
            kind: Some(kind),
            duration: started.elapsed(),
            change_latency: changed_at
                .zip(enforced_at)
                .filter(|_| kind.sent_transaction())
                .map(|(changed, enforced)| enforced.saturating_duration_since(changed)),
            generation: self.generation,
            files: counts.files,
            rejected: counts.rejected,
            stats: (kind != ApplyKind::Unchanged)
                .then(|| self.reconciler.stats())
                .flatten(),
        });
        if let Some(path) = &self.ready_file {
            let info = ReadyInfo {
                generation: self.generation,
                ruleset: applied.to_string(),
                files: counts.files,
                rejected: counts.rejected,
            };
            info.write(path).map_err(|source| AgentError::ReadyFile {
                path: path.clone(),
                source,
            })?;
        }
        Ok(self.generation)
    }
}
