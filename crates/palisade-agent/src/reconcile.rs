//! From a cluster to the kernel: compile for this node, then adopt, load or update.
//!
//! The reconciler remembers the compiled ruleset in force so that a change becomes a diff (set
//! elements and chains) rather than a reload. Anything that cannot be done as a diff falls back
//! to a full load, which is one transaction too, so no path here leaves the table half-changed
//! or absent.

use std::fmt;

use palisade_core::model::Cluster;
use palisade_dataplane::{Adoption, Dataplane, FailSafe, FailurePolicy};

use crate::source::RulesetSource;

/// Why a reconcile runs, which decides how much it may trust what is in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// First time: a table may be left from an earlier run; adopt it if it is ours and current.
    Start,
    /// Periodically and after failures: load everything, repairing whatever drifted.
    Resync,
    /// The manifests changed: apply the difference.
    Change,
}

/// What a reconcile did to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Adopted(Adoption),
    Full,
    Diff,
    /// The compiled ruleset did not change: nothing was sent.
    Unchanged,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Applied::Adopted(Adoption::Kept) => "kept",
            Applied::Adopted(Adoption::Replaced) => "replaced",
            Applied::Adopted(Adoption::Created) => "created",
            Applied::Full => "full",
            Applied::Diff => "diff",
            Applied::Unchanged => "unchanged",
        })
    }
}

/// Compiles for one node and keeps the kernel in line.
pub struct Reconciler<'s, S: RulesetSource> {
    source: &'s S,
    node: String,
    dataplane: Dataplane,
    failure_policy: FailurePolicy,
    /// The compiled ruleset the kernel holds, as far as this process knows; `None` until one
    /// has been loaded or adopted.
    in_force: Option<S::Ruleset>,
}

impl<S: RulesetSource> fmt::Debug for Reconciler<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconciler")
            .field("node", &self.node)
            .field("dataplane", &self.dataplane)
            .field("failure_policy", &self.failure_policy)
            .field("in_force", &self.in_force.is_some())
            .finish()
    }
}

impl<'s, S: RulesetSource> Reconciler<'s, S> {
    pub fn new(
        source: &'s S,
        node: impl Into<String>,
        dataplane: Dataplane,
        failure_policy: FailurePolicy,
    ) -> Self {
        Reconciler {
            source,
            node: node.into(),
            dataplane,
            failure_policy,
            in_force: None,
        }
    }

    pub fn source(&self) -> &'s S {
        self.source
    }

    pub fn dataplane(&self) -> &Dataplane {
        &self.dataplane
    }

    /// Whether a ruleset of ours is known to be in force.
    pub fn has_ruleset(&self) -> bool {
        self.in_force.is_some()
    }

    /// The compiled ruleset the kernel holds, as far as this process knows.
    pub fn in_force(&self) -> Option<&S::Ruleset> {
        self.in_force.as_ref()
    }

    /// Sizes of the ruleset in force, if the source can tell.
    pub fn stats(&self) -> Option<palisade_nft::Stats> {
        self.source.stats(self.in_force.as_ref()?)
    }

    /// Makes the kernel enforce `cluster` for this node. On error the kernel holds whatever it
    /// held before (every step is one transaction) and the next call starts from that.
    /// `changes`: what changed in `cluster` since the previous call (passed to the source in
    /// change passes only: a start or resync trusts nothing).
    pub fn reconcile(
        &mut self,
        cluster: &Cluster,
        changes: &palisade_nft::Changes,
        mode: Mode,
    ) -> Result<Applied, palisade_dataplane::Error> {
        let started = std::time::Instant::now();
        let new = match mode {
            Mode::Change => self.source.compile_changed(cluster, &self.node, changes),
            Mode::Start | Mode::Resync => self.source.compile(cluster, &self.node),
        };
        let compile_us = started.elapsed().as_micros() as u64;
        let applied = match (&self.in_force, mode) {
            (None, _) | (_, Mode::Start) => {
                Applied::Adopted(self.dataplane.adopt(&self.source.full(&new))?)
            }
            (Some(_), Mode::Resync) => {
                self.dataplane.apply_full(&self.source.full(&new))?;
                Applied::Full
            }
            (Some(old), Mode::Change) => match self.timed_diff(old, &new) {
                None => Applied::Unchanged,
                Some(script) => match self.dataplane.apply_diff(&script) {
                    Ok(()) => Applied::Diff,
                    Err(err) if is_fatal(&err) => return Err(err),
                    Err(err) => {
                        // The table is not what the diff expected (someone changed it, or the
                        // diff is wrong): a full load fixes both.
                        tracing::warn!(%err, "update refused; loading the full ruleset instead");
                        self.dataplane.apply_full(&self.source.full(&new))?;
                        Applied::Full
                    }
                },
            },
        };
        tracing::debug!(
            compile_us,
            total_us = started.elapsed().as_micros() as u64,
            %applied,
            "reconciled"
        );
        self.in_force = Some(new);
        Ok(applied)
    }

    /// [`RulesetSource::diff`], its time logged.
    fn timed_diff(&self, old: &S::Ruleset, new: &S::Ruleset) -> Option<String> {
        let started = std::time::Instant::now();
        let script = self.source.diff(old, new);
        tracing::debug!(
            diff_us = started.elapsed().as_micros() as u64,
            bytes = script.as_ref().map_or(0, String::len),
            "diff rendered"
        );
        script
    }

    /// After a failed first load: see [`FailurePolicy`].
    pub fn fail_safe(&self) -> Result<FailSafe, palisade_dataplane::Error> {
        self.dataplane.fail_safe(self.failure_policy)
    }
}

/// Errors no retry can fix: the agent should stop and say so.
pub fn is_fatal(err: &palisade_dataplane::Error) -> bool {
    matches!(
        err,
        palisade_dataplane::Error::NftMissing { .. }
            | palisade_dataplane::Error::PermissionDenied { .. }
    )
}
