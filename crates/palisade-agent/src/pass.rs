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
//!   after every full apply, then every verify interval:
//!     verify: a job to the palisade-verify thread (verifier.rs): nft -j list ruleset ->
//!             palisade_nft::kernel::verify_with(cluster) -> poll_verify: Observer
//!             (palisade_ruleset_verified, drift counter); drift -> a full pass at once
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
use crate::verifier::{Job, Outcome, Verifier};

/// Logged once, when the first ruleset is in the kernel.
pub const READY_MESSAGE: &str = "palisade agent ready: rules in the kernel";

/// First retry after a failed pass; doubles up to [`MAX_BACKOFF`].
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(200);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The longest budget of a readback, in verify intervals.
const MAX_VERIFY_SCALE: u32 = 16;

/// How often the loop looks for the outcome of a readback in flight.
const VERIFY_POLL: Duration = Duration::from_millis(100);

/// How long after a change pass drop attribution is handed a copy of the cluster, unless
/// another change comes first. The copy costs about 11 ms at 10,000 pods: made right in the
/// pass it would delay the ready report and any change queued behind it; made once the loop
/// is quiet it delays nothing but the explanation of drops in the meantime.
pub(crate) const DROP_VIEW_QUIET: Duration = Duration::from_millis(50);

/// The oldest a drop view may get while changes keep coming.
const DROP_VIEW_MAX_AGE: Duration = Duration::from_secs(1);

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
    /// When drop attribution is to be handed the cluster in force (see [`DROP_VIEW_QUIET`]).
    drop_view_due: Option<Instant>,
    /// The first pass whose cluster drop attribution has not been handed yet.
    drop_view_stale_since: Option<Instant>,
    /// How often the kernel's table is read back and proven (`None`: never).
    verify_interval: Option<Duration>,
    /// When the next readback is due: right after every full apply, then every interval.
    next_verify: Option<Instant>,
    /// A readback's budget in verify intervals: doubled (up to [`MAX_VERIFY_SCALE`]) after one
    /// that ran out, so a cluster too big for the interval is still proven now and then, and
    /// the check never holds a core for good.
    verify_scale: u32,
    /// Readbacks in a row that found drift. Only the first forces a reload: drift that a fresh
    /// full load does not cure is the compiler's or the checker's, and reloading in a loop
    /// would not help.
    drift_streak: u32,
    /// The readback thread, started at the first readback.
    verifier: Option<Verifier>,
    /// When each apply since the readback in flight was sent started: one that started
    /// before the table was listed makes the outcome stale.
    applied_during_readback: Vec<Instant>,
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
            drop_view_due: None,
            drop_view_stale_since: None,
            verify_interval: None,
            next_verify: None,
            verify_scale: 1,
            drift_streak: 0,
            verifier: None,
            applied_during_readback: Vec::new(),
        }
    }

    /// Reads the kernel's table back and proves it after every full apply and every
    /// `interval` (see [`Passes::verify`]); `None` turns it off.
    pub fn with_verify(mut self, interval: Option<Duration>) -> Self {
        self.verify_interval = interval;
        self
    }

    /// Whether a readback is due at `now`. Only rulesets of palisade's compiler are checked
    /// (other sources write tables the engine does not describe).
    pub fn verify_due(&self, now: Instant) -> bool {
        self.verifiable()
            && self.next_verify.is_some_and(|at| at <= now)
            && !self.verifier.as_ref().is_some_and(Verifier::busy)
    }

    fn verifiable(&self) -> bool {
        self.reconciler
            .in_force()
            .and_then(|r| self.reconciler.source().nft_ruleset(r))
            .is_some()
    }

    /// Starts a readback of the live ruleset (`nft -j list ruleset`) on the verifier's thread:
    /// it interprets the kernel's own rules and checks every class pair and port interval
    /// against the engine (palisade_nft::kernel::verify_owned), within the verify interval (or
    /// a multiple of it after checks that ran out, see `verify_scale`).
    /// [`Passes::poll_verify`] takes the outcome. `cluster` must be at `revision`: a cluster
    /// the table in force was not compiled from is not checked (the next pass comes first).
    pub fn verify(&mut self, cluster: &Cluster, revision: u64) {
        let now = Instant::now();
        if !self.compiled(revision) {
            // Look again shortly: a change is on its way, or a failed pass is being retried.
            self.next_verify = Some(now + VERIFY_POLL);
            return;
        }
        let budget = self.verify_interval.unwrap_or(Duration::from_secs(60)) * self.verify_scale;
        self.next_verify = self.verify_interval.map(|i| now + i * self.verify_scale);
        if self.verifier.is_none() {
            let dataplane = self.reconciler.dataplane().clone();
            match Verifier::start(self.node.clone(), dataplane) {
                Ok(v) => self.verifier = Some(v),
                Err(err) => {
                    tracing::warn!(%err, "cannot start the readback thread; not verified");
                    self.observer.ruleset_verified(false);
                    return;
                }
            }
        }
        let job = Job {
            cluster: cluster.clone(),
            budget,
        };
        self.applied_during_readback.clear();
        if let Some(verifier) = self.verifier.as_mut()
            && !verifier.send(job)
        {
            tracing::warn!("the readback thread is gone; not verified");
            self.observer.ruleset_verified(false);
            self.verifier = None;
        }
    }

    /// Takes the outcome of a readback if one is done. Drift, or a table that cannot be read,
    /// is counted, logged with the first disagreements, and repaired by a full reload at once.
    /// An outcome whose listing may hold an apply the job's cluster does not says nothing:
    /// it is dropped, and the next readback is due at once.
    pub fn poll_verify(&mut self) {
        let Some(outcome) = self.verifier.as_mut().and_then(Verifier::take) else {
            return;
        };
        let raced = outcome
            .listed_at
            .is_some_and(|listed| self.applied_during_readback.iter().any(|&a| a <= listed));
        self.applied_during_readback.clear();
        if raced {
            tracing::debug!("a readback raced an apply; checking again");
            self.next_verify = self.verify_interval.map(|_| Instant::now());
            return;
        }
        self.verified(outcome);
    }

    fn verified(&mut self, outcome: Outcome) {
        let Outcome {
            result, elapsed, ..
        } = outcome;
        let elapsed_us = elapsed.as_micros() as u64;
        let result = match result {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(%err, "cannot read the kernel's ruleset back; not verified");
                self.observer.ruleset_verified(false);
                return;
            }
        };
        self.observer.ruleset_verified(result.verified());
        for f in result.foreign.iter().filter(|f| f.can_drop) {
            tracing::debug!(
                family = %f.family, table = %f.table, chain = %f.chain, hook = %f.hook,
                priority = f.priority, before = f.before,
                "a foreign base chain can drop traffic around palisade's"
            );
        }
        if result.drift_count == 0 {
            if result.complete {
                self.drift_streak = 0;
                tracing::debug!(
                    pairs = result.pairs,
                    intervals = result.atoms,
                    packets = result.checked,
                    elapsed_us,
                    "kernel ruleset verified"
                );
            } else {
                // Rest as long as the next one may run: at most half of one core goes to it.
                self.verify_scale = (self.verify_scale * 2).min(MAX_VERIFY_SCALE);
                let interval = self.verify_interval.unwrap_or(Duration::from_secs(60));
                let next = interval * self.verify_scale;
                self.next_verify = self.verify_interval.map(|_| Instant::now() + next);
                tracing::warn!(
                    pairs = result.pairs,
                    elapsed_us,
                    next_budget_s = next.as_secs(),
                    "the kernel readback did not finish within its budget; not verified; \
                     the next one runs after as long, with that much time"
                );
            }
            return;
        }
        let now = Instant::now();
        self.observer.drift_found();
        self.drift_streak += 1;
        let first: Vec<String> = result
            .drift
            .iter()
            .take(3)
            .map(|d| {
                let kernel = match &d.kernel {
                    Ok(palisade_nft::Decision::Accept) => "accept".to_string(),
                    Ok(palisade_nft::Decision::Drop) => "drop".to_string(),
                    Err(e) => format!("unreadable: {e}"),
                };
                format!("{} -> {} {}: kernel {kernel}", d.from, d.to, d.transport)
            })
            .collect();
        if self.drift_streak > 1 {
            tracing::error!(
                disagreements = result.drift_count,
                packets = result.checked,
                first = %first.join("; "),
                "the kernel's ruleset still disagrees with the policies after a full reload; \
                 not reloading again until the next resync"
            );
            return;
        }
        tracing::warn!(
            disagreements = result.drift_count,
            packets = result.checked,
            first = %first.join("; "),
            "the kernel's ruleset drifted from the policies; reloading it"
        );
        // A full pass now: the resync reloads the whole table in one transaction.
        self.next_resync = now;
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

    /// The next time a pass (or a readback) is due whatever happens: the resync, a retry, or
    /// the next verification.
    pub fn deadline(&self) -> Instant {
        let mut at = match self.retry {
            Some((at, _)) => self.next_resync.min(at),
            None => self.next_resync,
        };
        if let Some(verify) = self.next_verify.filter(|_| self.verifiable()) {
            at = at.min(verify);
        }
        if self.verifier.as_ref().is_some_and(Verifier::busy) {
            at = at.min(Instant::now() + VERIFY_POLL);
        }
        if let Some(drop_view) = self.drop_view_due {
            at = at.min(drop_view);
        }
        at
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
        changes: &palisade_nft::Changes,
        revision: u64,
        mode: Mode,
        started: Instant,
    ) -> Result<Option<Applied>, AgentError> {
        match self.reconciler.reconcile(cluster, changes, mode) {
            Ok(applied) => {
                if self.verifier.as_ref().is_some_and(Verifier::busy) {
                    self.applied_during_readback.push(started);
                }
                self.compiled_revision = Some(revision);
                self.retry = None;
                if mode != Mode::Change || applied == Applied::Full {
                    // Every full apply is read back and proven right away.
                    self.next_verify = self.verify_interval.map(|_| Instant::now());
                }
                if let Some(drops) = &self.drops {
                    let ruleset = self
                        .reconciler
                        .in_force()
                        .and_then(|r| self.reconciler.source().nft_ruleset(r));
                    drops.enforced(cluster, ruleset);
                    let now = Instant::now();
                    let since = *self.drop_view_stale_since.get_or_insert(now);
                    if mode == Mode::Change {
                        self.drop_view_due =
                            Some((now + DROP_VIEW_QUIET).min(since + DROP_VIEW_MAX_AGE));
                    } else {
                        // Starts and resyncs are not on a change's path: explain with the
                        // new cluster at once.
                        self.drop_view_due = Some(now);
                        self.tell_drop_view(revision, now, || cluster);
                    }
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

    /// Whether drop attribution waits for a view of the cluster in force, due by `now`.
    pub fn drop_view_due(&self, now: Instant) -> bool {
        self.drop_view_due.is_some_and(|at| at <= now)
    }

    /// Hands drop attribution a copy of the cluster (at `revision`) and the ruleset in
    /// force, if it is due. If the table in force was compiled from another revision (a
    /// change is on its way, or a failed pass is being retried), it waits a little longer.
    pub fn tell_drop_view<'c>(
        &mut self,
        revision: u64,
        now: Instant,
        cluster: impl FnOnce() -> &'c Cluster,
    ) {
        let Some(drops) = &self.drops else {
            return;
        };
        if !self.drop_view_due(now) {
            return;
        }
        if !self.compiled(revision) {
            self.drop_view_due = Some(now + DROP_VIEW_QUIET);
            return;
        }
        let ruleset = self
            .reconciler
            .in_force()
            .and_then(|r| self.reconciler.source().shared_nft_ruleset(r));
        drops.explain_with(Arc::new(cluster().clone()), ruleset);
        self.drop_view_due = None;
        self.drop_view_stale_since = None;
        tracing::debug!(
            copy_us = now.elapsed().as_micros() as u64,
            "drop attribution has the cluster in force"
        );
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
