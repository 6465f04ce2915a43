//! The seam between the agent and the compiler: [`RulesetSource`].
//!
//! The agent does not know how rules are written; it asks a source to compile a cluster for its
//! node, to render a compiled ruleset as a full nft script, and to render the update from one
//! compiled ruleset to the next. `palisade-nft` implements it for real:
//!
//! ```text
//!   compile(cluster, node) -> palisade_nft::compile(cluster, node)   (NftSourceWith: its Incremental)
//!   full(ruleset)          -> ruleset.to_nft()
//!   diff(old, new)         -> let d = palisade_nft::diff(old, new); (!d.is_empty()).then(|| d.to_nft())
//!   stats(ruleset)         -> Some(ruleset.stats())      (optional: for the size metrics)
//! ```

use std::sync::{Arc, Mutex};

use palisade_core::model::Cluster;

pub trait RulesetSource {
    /// A compiled ruleset. The agent keeps the one in force to diff the next one against.
    type Ruleset;

    /// Compiles what `node` must enforce. Pure: no kernel access.
    fn compile(&self, cluster: &Cluster, node: &str) -> Self::Ruleset;

    /// [`RulesetSource::compile`] when the caller knows what changed in `cluster` since this
    /// source's previous compile (the index's [`palisade_nft::Changes`]); a source that keeps
    /// no state ignores them.
    fn compile_changed(
        &self,
        cluster: &Cluster,
        node: &str,
        _changes: &palisade_nft::Changes,
    ) -> Self::Ruleset {
        self.compile(cluster, node)
    }

    /// nft text that makes `table inet palisade` exactly `ruleset`. It may start by deleting
    /// the table; the dataplane makes the whole load one transaction either way.
    fn full(&self, ruleset: &Self::Ruleset) -> String;

    /// nft text that turns the table from `old` into `new` in place (set elements, chains), or
    /// `None` when they enforce the same thing. Returning a full script is always allowed.
    fn diff(&self, old: &Self::Ruleset, new: &Self::Ruleset) -> Option<String>;

    /// Sizes of a compiled ruleset, for the ruleset metrics; `None` (the default) when the
    /// source cannot tell, and the size gauges stay at zero.
    fn stats(&self, _ruleset: &Self::Ruleset) -> Option<palisade_nft::Stats> {
        None
    }

    /// The compiled ruleset as palisade-nft's value, for drop attribution and counters;
    /// `None` (the default) for sources of another kind.
    fn nft_ruleset<'r>(&self, _ruleset: &'r Self::Ruleset) -> Option<&'r palisade_nft::Ruleset> {
        None
    }

    /// [`RulesetSource::nft_ruleset`] to keep beside the agent (drop attribution holds the
    /// one in force): a copy by default, shared where the source's rulesets are shared.
    fn shared_nft_ruleset(&self, ruleset: &Self::Ruleset) -> Option<Arc<palisade_nft::Ruleset>> {
        self.nft_ruleset(ruleset).cloned().map(Arc::new)
    }
}

/// The real compiler: `palisade-nft`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NftSource;

impl RulesetSource for NftSource {
    type Ruleset = palisade_nft::Ruleset;

    fn compile(&self, cluster: &Cluster, node: &str) -> palisade_nft::Ruleset {
        palisade_nft::compile(cluster, node)
    }

    fn full(&self, ruleset: &palisade_nft::Ruleset) -> String {
        ruleset.to_nft()
    }

    fn diff(&self, old: &palisade_nft::Ruleset, new: &palisade_nft::Ruleset) -> Option<String> {
        let diff = palisade_nft::diff(old, new);
        (!diff.is_empty()).then(|| diff.to_nft())
    }

    fn stats(&self, ruleset: &palisade_nft::Ruleset) -> Option<palisade_nft::Stats> {
        Some(ruleset.stats())
    }

    fn nft_ruleset<'r>(
        &self,
        ruleset: &'r palisade_nft::Ruleset,
    ) -> Option<&'r palisade_nft::Ruleset> {
        Some(ruleset)
    }
}

/// The real compiler with options: drop logging, counters, the fail-closed guard. It keeps
/// the node's [`palisade_nft::Incremental`] between compiles, so a change recomputes only what
/// it touches; the result is always what `palisade_nft::compile_with` gives.
#[derive(Debug, Default)]
pub struct NftSourceWith {
    pub options: palisade_nft::CompileOptions,
    compiler: Mutex<Option<palisade_nft::Incremental>>,
}

impl Clone for NftSourceWith {
    /// A copy starts with no memory of earlier compiles.
    fn clone(&self) -> Self {
        NftSourceWith::new(self.options.clone())
    }
}

impl NftSourceWith {
    pub fn new(options: palisade_nft::CompileOptions) -> NftSourceWith {
        NftSourceWith {
            options,
            compiler: Mutex::new(None),
        }
    }
}

impl RulesetSource for NftSourceWith {
    /// Shared: the agent keeps the one in force, drop attribution reads it, and neither copies.
    type Ruleset = Arc<palisade_nft::Ruleset>;

    fn compile(&self, cluster: &Cluster, node: &str) -> Arc<palisade_nft::Ruleset> {
        self.compile_changed(cluster, node, &palisade_nft::Changes::Unknown)
    }

    fn compile_changed(
        &self,
        cluster: &Cluster,
        node: &str,
        changes: &palisade_nft::Changes,
    ) -> Arc<palisade_nft::Ruleset> {
        // A poisoned lock only means an earlier compile panicked: start from nothing.
        let mut compiler = self
            .compiler
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if compiler
            .as_ref()
            .is_none_or(|c| c.node() != node || *c.options() != self.options)
        {
            *compiler = Some(palisade_nft::Incremental::new(node, self.options.clone()));
        }
        let Some(compiler) = compiler.as_mut() else {
            return Arc::new(palisade_nft::compile_with(cluster, node, &self.options));
        };
        let ruleset = Arc::new(compiler.compile_changed(cluster, changes).clone());
        let work = compiler.work();
        tracing::debug!(
            full = work.full,
            pods = work.pods,
            local = work.local,
            addresses = work.addresses,
            classes_changed = work.classes_changed,
            detect_us = work.detect_us,
            local_us = work.local_us,
            classes_us = work.classes_us,
            "incremental compile"
        );
        ruleset
    }

    fn full(&self, ruleset: &Arc<palisade_nft::Ruleset>) -> String {
        NftSource.full(ruleset)
    }

    fn diff(
        &self,
        old: &Arc<palisade_nft::Ruleset>,
        new: &Arc<palisade_nft::Ruleset>,
    ) -> Option<String> {
        NftSource.diff(old, new)
    }

    fn stats(&self, ruleset: &Arc<palisade_nft::Ruleset>) -> Option<palisade_nft::Stats> {
        Some(ruleset.stats())
    }

    fn nft_ruleset<'r>(
        &self,
        ruleset: &'r Arc<palisade_nft::Ruleset>,
    ) -> Option<&'r palisade_nft::Ruleset> {
        Some(ruleset)
    }

    fn shared_nft_ruleset(
        &self,
        ruleset: &Arc<palisade_nft::Ruleset>,
    ) -> Option<Arc<palisade_nft::Ruleset>> {
        Some(Arc::clone(ruleset))
    }
}
