//! palisade-nft: one node's share of the cluster's NetworkPolicies as an nftables ruleset.
//!
//! ```text
//!   compile(cluster, node) -> Ruleset ──to_nft()──> `nft -f` script replacing `inet palisade`
//!                               │    └─decide(packet)  what the kernel would do (tests)
//!   diff(old, new) -> Diff ──to_nft()──> element/chain/set commands, or the full script
//!
//!   table inet palisade
//!     chain forward (hook forward, priority filter - 10, policy accept)
//!       ct state established,related accept
//!       ip saddr vmap @egress4  ─┐  local pod address -> jump eg-<ns>-<policy>-<hash>
//!       ip6 saddr vmap @egress6 ─┘     rules: [ip daddr @pods4-..|@cidr4-..] [meta l4proto . th dport {..}] return
//!                                      named ports: ip daddr . meta l4proto . th dport @named4-.. return
//!                                      counter drop
//!       ip daddr vmap @ingress4 ─┐  local pod address -> jump in-<ns>-<policy>-<hash>
//!       ip6 daddr vmap @ingress6 ┘     rules: [ip saddr @..] [ports] accept; counter drop
//!
//!   compile_with(cluster, node, &CompileOptions { log, counters, guard_cidrs })
//!       log:      limit rate .. log prefix "palisade <chain>" group N   before each final drop
//!       counters: counter name "allow-.." on allow rules, "deny-.." on drops (Ruleset::counters)
//!       guard:    base rules dropping unknown pod-CIDR addresses while an isolated pod is
//!                 pending (Guard)
//! ```
//!
//! Per-packet work is two map lookups plus the rules of the policies that select the local
//! pod, whatever the number of policies in the cluster. Pods with the same policy view share a
//! chain; rules with the same peers share sets. Everything here is pure: no kernel access and
//! no I/O; the dataplane crate loads the scripts.

mod compile;
mod diff;
mod interp;
mod names;
mod render;
mod ruleset;

pub use compile::{LogSource, compile, compile_with, log_prefix, parse_log_prefix};
pub use diff::{Diff, DiffStats, diff};
pub use interp::{Decision, Packet, Transport};
pub use ruleset::{
    AddrField, AddrRange, AddressConflict, BASE_CHAIN, BASE_PRIORITY, CLASS_MASK, CLASS_SHIFT,
    Chain, CompileOptions, CounterDef, Family, Guard, LogOptions, LogStatement, MapEntry, MapKind,
    Match, Rule, Ruleset, Set, SetElements, SetKind, Stats, TABLE, TABLE_FAMILY, Verdict,
    class_chain, class_map_name, class_mark,
};
