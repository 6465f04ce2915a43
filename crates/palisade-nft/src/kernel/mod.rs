//! The kernel's own ruleset, read back from `nft -j list ruleset`, interpreted as the kernel
//! would walk it, and checked against the engine.
//!
//! ```text
//!   KernelRuleset::parse(json)     every table, chain (hook, priority, policy), rule, set, map;
//!                                  inet palisade read into typed chains and indexed sets
//!                                                                                (program.rs)
//!     .decide(packet)              inet palisade's forward base chains on the first packet of a
//!                                  connection: ct state new, mark 0; jump/goto/return, vmaps,
//!                                  `meta mark set`, set and concatenation lookups    (walk.rs)
//!     .foreign_chains()            other tables' base chains on the netfilter IP hooks
//!   verify(cluster, node, kernel)  every address pair the engine or the kernel tells apart,
//!                                  every port interval: kernel decision == the engine's sides
//!                                                                                 (verify.rs)
//! ```
//!
//! Nothing here reads [`crate::Ruleset`]: the point is to check what the kernel holds, whoever
//! wrote it. An expression the interpreter does not know makes the packet's decision unknown,
//! which counts as drift: an unexplained rule is not a proven one.

mod program;
mod verify;
mod walk;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::interp::{Decision, Packet};
use crate::ruleset::{BASE_CHAIN, TABLE, TABLE_FAMILY};

pub use verify::{Budget, Disagreement, Verification, verify, verify_owned, verify_with};

/// `nft -j` output that is not a ruleset listing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an `nft -j list ruleset` listing: {0}")]
pub struct ParseError(String);

/// A base chain's hook, priority and policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub hook: String,
    pub priority: i64,
    /// `accept` or `drop`.
    pub policy: String,
}

#[derive(Debug, Clone, Default)]
struct KChain {
    hook: Option<Hook>,
    rules: Vec<Vec<Value>>,
}

/// A set or map as listed: its elements (for maps `[key, value]`).
#[derive(Debug, Clone, Default)]
struct KSet {
    elems: Vec<Value>,
}

/// The key of a set or map element (`[key, value]` for maps), without its `elem` wrapper.
fn element_key(elem: &Value) -> &Value {
    let key = match elem.as_array().map(Vec::as_slice) {
        Some([k, _]) => k,
        _ => elem,
    };
    unwrap_elem(key)
}

/// An element written with options (`{"elem": {"val": ..., "comment": ...}}`) as its value.
fn unwrap_elem(v: &Value) -> &Value {
    match v.get("elem") {
        Some(inner) => inner.get("val").unwrap_or(&Value::Null),
        None => v,
    }
}

#[derive(Debug, Clone, Default)]
struct KTable {
    chains: FxHashMap<String, KChain>,
    sets: FxHashMap<String, KSet>,
    /// The base chains on the forward hook, by priority then name: where a walk starts.
    forward: Vec<String>,
    /// The same, read into typed chains and indexed sets for walks.
    program: program::Program,
}

/// Every table the kernel lists, by (family, name).
#[derive(Debug, Clone, Default)]
pub struct KernelRuleset {
    tables: BTreeMap<(String, String), KTable>,
}

/// Another table's base chain on a hook palisade's forward traffic may also cross.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignChain {
    pub family: String,
    pub table: String,
    pub chain: String,
    pub hook: String,
    pub priority: i64,
    /// Runs before palisade's forward chain (forward hook, lower priority; prerouting always).
    pub before: bool,
    /// A drop or reject verdict in a rule, a map, or the policy.
    pub can_drop: bool,
    /// An accept verdict in a rule or map (it ends only this chain; the packet still meets
    /// palisade's).
    pub can_accept: bool,
}

/// The hooks forwarded traffic, or the node's own, crosses in the IP families.
const HOOKS: [&str; 5] = ["prerouting", "input", "forward", "output", "postrouting"];

fn str_of<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

impl KernelRuleset {
    /// Reads `nft -j list ruleset` output.
    pub fn parse(json: &str) -> Result<KernelRuleset, ParseError> {
        let doc: Value = serde_json::from_str(json).map_err(|e| ParseError(e.to_string()))?;
        let items = doc
            .get("nftables")
            .and_then(Value::as_array)
            .ok_or_else(|| ParseError("no `nftables` array".to_string()))?;
        let mut out = KernelRuleset::default();
        let key = |o: &Value| -> Option<(String, String)> {
            Some((
                str_of(o, "family")?.to_string(),
                str_of(o, "table")
                    .or_else(|| str_of(o, "name"))?
                    .to_string(),
            ))
        };
        for item in items {
            if let Some(t) = item.get("table") {
                if let Some(k) = key(t) {
                    out.tables.entry(k).or_default();
                }
            } else if let Some(c) = item.get("chain") {
                let (Some(k), Some(name)) = (key(c), str_of(c, "name")) else {
                    continue;
                };
                let hook = str_of(c, "hook").map(|hook| Hook {
                    hook: hook.to_string(),
                    priority: c.get("prio").and_then(Value::as_i64).unwrap_or(0),
                    policy: str_of(c, "policy").unwrap_or("accept").to_string(),
                });
                let chain = out
                    .tables
                    .entry(k)
                    .or_default()
                    .chains
                    .entry(name.to_string())
                    .or_default();
                chain.hook = hook;
            } else if let Some(r) = item.get("rule") {
                let (Some(k), Some(name)) = (key(r), str_of(r, "chain")) else {
                    continue;
                };
                let expr = r
                    .get("expr")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                out.tables
                    .entry(k)
                    .or_default()
                    .chains
                    .entry(name.to_string())
                    .or_default()
                    .rules
                    .push(expr);
            } else if let Some(s) = item.get("set").or_else(|| item.get("map")) {
                let (Some(k), Some(name)) = (key(s), str_of(s, "name")) else {
                    continue;
                };
                let elems = s
                    .get("elem")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                out.tables
                    .entry(k)
                    .or_default()
                    .sets
                    .insert(name.to_string(), KSet { elems });
            }
        }
        for table in out.tables.values_mut() {
            let mut bases: Vec<(i64, String)> = table
                .chains
                .iter()
                .filter_map(|(name, c)| {
                    let h = c.hook.as_ref()?;
                    (h.hook == "forward").then(|| (h.priority, name.clone()))
                })
                .collect();
            bases.sort();
            table.forward = bases.into_iter().map(|(_, name)| name).collect();
        }
        if let Some(ours) = out
            .tables
            .get_mut(&(TABLE_FAMILY.to_string(), TABLE.to_string()))
        {
            ours.program = program::Program::build(ours);
        }
        Ok(out)
    }

    fn ours(&self) -> Option<&KTable> {
        self.tables
            .get(&(TABLE_FAMILY.to_string(), TABLE.to_string()))
    }

    /// Whether `inet palisade` exists with its forward base chain.
    pub fn has_palisade_chain(&self) -> bool {
        self.ours().is_some_and(|t| {
            t.chains
                .get(BASE_CHAIN)
                .is_some_and(|c| c.hook.as_ref().is_some_and(|h| h.hook == "forward"))
        })
    }

    /// What `inet palisade` does with the first packet of a connection crossing the forward
    /// hook: its forward base chains in priority order, each accept passing on to the next.
    /// No table or no base chain: accept (palisade enforces nothing). `Err` names an
    /// expression the interpreter cannot evaluate.
    pub fn decide(&self, packet: &Packet) -> Result<Decision, String> {
        self.decide_span(packet).0
    }

    /// [`KernelRuleset::decide`], with the ports around the packet's destination port that the
    /// kernel decides alike (`first..=last`, the packet's port within): every port comparison
    /// the walk made turns out the same for each of them. For a packet without ports, its port
    /// range is meaningless.
    pub fn decide_span(&self, packet: &Packet) -> (Result<Decision, String>, u16, u16) {
        match self.ours() {
            Some(table) => walk::decide(&table.program, packet),
            None => (Ok(Decision::Accept), 0, u16::MAX),
        }
    }

    /// Other tables' base chains on the IP hooks (ip, ip6, inet), sorted.
    pub fn foreign_chains(&self) -> Vec<ForeignChain> {
        let ours = self
            .ours()
            .and_then(|t| t.chains.get(BASE_CHAIN))
            .and_then(|c| c.hook.as_ref())
            .map_or(-10, |h| h.priority);
        let mut out = Vec::new();
        for ((family, table), t) in &self.tables {
            if !matches!(family.as_str(), "ip" | "ip6" | "inet")
                || (family == TABLE_FAMILY && table == TABLE)
            {
                continue;
            }
            for (name, chain) in &t.chains {
                let Some(hook) = &chain.hook else { continue };
                if !HOOKS.contains(&hook.hook.as_str()) {
                    continue;
                }
                let mut verdicts = BTreeSet::new();
                collect_verdicts(t, name, &mut BTreeSet::new(), &mut verdicts);
                // A policy of accept only passes the packet on to the next chain; drop ends it.
                if hook.policy == "drop" {
                    verdicts.insert(hook.policy.clone());
                }
                out.push(ForeignChain {
                    family: family.clone(),
                    table: table.clone(),
                    chain: name.clone(),
                    hook: hook.hook.clone(),
                    priority: hook.priority,
                    before: hook.hook == "prerouting"
                        || (hook.hook == "forward" && hook.priority < ours),
                    can_drop: verdicts.contains("drop") || verdicts.contains("reject"),
                    can_accept: verdicts.contains("accept"),
                });
            }
        }
        out.sort();
        out
    }
}

/// The verdicts reachable from chain `name` (through jumps, gotos and vmaps).
fn collect_verdicts(
    t: &KTable,
    name: &str,
    seen: &mut BTreeSet<String>,
    out: &mut BTreeSet<String>,
) {
    if !seen.insert(name.to_string()) {
        return;
    }
    let Some(chain) = t.chains.get(name) else {
        return;
    };
    fn scan(t: &KTable, v: &Value, seen: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    match k.as_str() {
                        "accept" | "drop" | "reject" => {
                            out.insert(k.clone());
                        }
                        "jump" | "goto" => {
                            if let Some(target) = str_of(x, "target") {
                                collect_verdicts(t, target, seen, out);
                            }
                        }
                        _ => {}
                    }
                    scan(t, x, seen, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| scan(t, x, seen, out)),
            Value::String(s) => {
                if let Some(set) = s.strip_prefix('@')
                    && let Some(set) = t.sets.get(set)
                {
                    for e in &set.elems {
                        scan(t, e, seen, out);
                    }
                }
            }
            _ => {}
        }
    }
    for rule in &chain.rules {
        for e in rule {
            scan(t, e, seen, out);
        }
    }
}
