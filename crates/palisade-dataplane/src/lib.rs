//! palisade-dataplane: puts nftables scripts into the kernel of the current network namespace,
//! one atomic transaction per change.
//!
//! ```text
//!   Dataplane ─┬─ apply_full(script)   preamble + script + state marker ─┐   libnftables in process
//!              ├─ apply_diff(script)   script + marker "modified"        ├─> (else `nft -f -`): one
//!              ├─ apply_script(script) the script as given               ┘   netlink transaction
//!              ├─ adopt(script)        marker digest == digest(script) ? keep : apply_full
//!              ├─ fail_safe(policy)    nothing could be loaded: keep, lock down or stay open
//!              ├─ current_table() / table_exists() / state() / remove_table()
//!              ├─ list_ruleset_json()  `nft -j list ruleset`: every table, for readback checks
//!              └─ check_full(script)   `nft -c`: would the kernel take it?
//!   Error ──── Rejected { kind, line in the caller's script, nft's message } | NftMissing | ...
//!   netns::ScratchNetns   throwaway namespace: create, run a closure inside, delete on drop
//! ```
//!
//! palisade owns exactly one table, `inet palisade` ([`TABLE`]), and never touches anything else.
//! The scripts come from elsewhere (the compiler in `palisade-nft`, or a test); this crate only
//! knows how to load them so that the kernel never sees a half-applied change and never runs
//! without the table while it is being replaced.
//!
//! "Current network namespace" means the one of the calling thread: libnftables opens its
//! netlink socket on that thread (a context per call), and an `nft` program started from it
//! inherits it, so a thread that entered another namespace (see [`netns`]) programs that
//! namespace.

mod dataplane;
mod error;
mod libnft;
mod marker;
pub mod netns;
mod nft;

pub use dataplane::{Adoption, Dataplane, FailSafe, FailurePolicy, LOCKDOWN_SCRIPT};
pub use error::{Error, Result, ScriptKind};
pub use marker::{STATE_CHAIN, TableState, digest};

/// The one table palisade owns, as nft names it.
pub const TABLE: &str = "inet palisade";
