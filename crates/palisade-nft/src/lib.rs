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
//!       meta mark & 0xffff0000 != 0 counter drop     class bits taken: ambiguous, fail closed
//!       ip daddr vmap @classes4  ─ cluster address -> jump class-<id>: mark ^= id << 16
//!                                  (0xffff0000: the default ClassMask; CompileOptions::class_mask)
//!       ip saddr vmap @egress4   ─ local pod address -> jump eg-<ns>-<policy>-<hash>
//!                                     rules: [meta mark & 0xffff0000 == @cls-..|ip daddr @cidr4-..]
//!                                            [meta l4proto . th dport {..}] return
//!                                     named ports: meta mark & 0xffff0000 . meta l4proto
//!                                                  . th dport @clsnamed-.. return
//!                                     counter drop
//!       ip daddr vmap @classes4  ─ the same XOR again: the mark is back
//!       ip saddr vmap @classes4 ; ip daddr vmap @ingress4 ; ip saddr vmap @classes4
//!                                  (the source's class, for in-<ns>-<policy>-<hash> chains)
//!       (each rule also for ip6)
//!
//!   compile_with(cluster, node, &CompileOptions { log, counters, guard_cidrs, class_mask })
//!       log:      limit rate .. log prefix "palisade <chain>" group N   before each final drop
//!       counters: counter name "allow-.." on allow rules, "deny-.." on drops (Ruleset::counters)
//!       guard:    base rules dropping unknown pod-CIDR addresses while an isolated pod is
//!                 pending (Guard)
//!       class_mask: the mark bits of class ids (ClassMask, default 0xffff0000)
//!
//!   kernel::KernelRuleset::parse(`nft -j list ruleset`) ─ kernel::verify(cluster, node, &kernel)
//!       the kernel's own rules, interpreted and checked against the engine (not our value)
//! ```
//!
//! Per-packet work is a few map lookups plus the rules of the policies that select the local
//! pod, whatever the number of policies in the cluster. Pods with the same policy view share a
//! chain; rules with the same peers share sets; each cluster address is listed once, in the
//! class map, however many sets observe it (docs/ruleset-design.md). Everything here is pure: no kernel access and
//! no I/O; the dataplane crate loads the scripts.

mod compile;
mod diff;
mod interp;
pub mod kernel;
mod names;
mod render;
mod ruleset;

pub use compile::{
    Changes, Incremental, LogSource, Work, compile, compile_with, log_prefix, parse_log_prefix,
};
pub use diff::{Diff, DiffStats, diff};
pub use interp::{Decision, Packet, Transport};
pub use ruleset::{
    AddrField, AddrRange, AddressConflict, BASE_CHAIN, BASE_PRIORITY, Chain, ClassMask,
    ClassMaskError, CompileOptions, CounterDef, Family, Guard, KUBE_PROXY_MARKS, LogOptions,
    LogStatement, MapEntry, MapKind, Match, Rule, Ruleset, Set, SetElements, SetKind, Stats, TABLE,
    TABLE_FAMILY, Verdict, class_chain, class_map_name,
};
