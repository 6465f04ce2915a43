//! The kernel's own ruleset, read back from `nft -j list ruleset`, interpreted as the kernel
//! would walk it, and checked against the engine.
//!
//! ```text
//!   KernelRuleset::parse(json)     every table, chain (hook, priority, policy), rule, set, map
//!     .decide(packet)              inet palisade's forward base chains on the first packet of a
//!                                  connection: ct state new, mark 0; jump/goto/return, vmaps,
//!                                  `meta mark set`, set and concatenation lookups
//!     .foreign_chains()            other tables' base chains on the netfilter IP hooks
//!   verify(cluster, node, kernel)  for a representative of every pair of endpoint classes
//!                                  (palisade_core::reach) crossing this node, and every port
//!                                  atom: kernel decision == the engine's sides (eval)
//! ```
//!
//! Nothing here reads [`crate::Ruleset`]: the point is to check what the kernel holds, whoever
//! wrote it. An expression the interpreter does not know makes the packet's decision unknown,
//! which counts as drift: an unexplained rule is not a proven one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use palisade_core::eval::{Endpoint, Probe};
use palisade_core::model::{Cluster, Protocol};
use palisade_core::reach::Reachability;
use serde_json::Value;

use crate::interp::{Decision, Packet, Transport};
use crate::ruleset::{BASE_CHAIN, TABLE, TABLE_FAMILY};

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

#[derive(Debug, Clone, Default)]
struct KTable {
    chains: BTreeMap<String, KChain>,
    /// Sets and maps: elements; for maps each element is `[key, value]`.
    sets: BTreeMap<String, Vec<Value>>,
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
                    .insert(name.to_string(), elems);
            }
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
        let Some(table) = self.ours() else {
            return Ok(Decision::Accept);
        };
        let mut bases: Vec<(&i64, &String)> = table
            .chains
            .iter()
            .filter_map(|(name, c)| {
                let h = c.hook.as_ref()?;
                (h.hook == "forward").then_some((&h.priority, name))
            })
            .collect();
        bases.sort();
        for (_, name) in bases {
            let mut walk = Walk {
                table,
                packet,
                mark: 0,
            };
            if walk.base(name)? == Decision::Drop {
                return Ok(Decision::Drop);
            }
        }
        Ok(Decision::Accept)
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

    /// Every number 0..=65535 written anywhere in palisade's rules and sets: the port
    /// boundaries the kernel may draw (extra numbers only add probes).
    fn port_numbers(&self) -> BTreeSet<u16> {
        fn walk(v: &Value, out: &mut BTreeSet<u16>) {
            match v {
                Value::Number(n) => {
                    if let Some(p) = n.as_u64().and_then(|n| u16::try_from(n).ok()) {
                        out.insert(p);
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Object(o) => o.values().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut out = BTreeSet::new();
        if let Some(t) = self.ours() {
            for c in t.chains.values() {
                c.rules.iter().flatten().for_each(|e| walk(e, &mut out));
            }
            t.sets.values().flatten().for_each(|e| walk(e, &mut out));
        }
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
                    && let Some(elems) = t.sets.get(set)
                {
                    for e in elems {
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

/// A value an expression evaluates to.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Int(u64),
    Addr(IpAddr),
    Concat(Vec<Val>),
    /// `ct state` of a first packet.
    CtNew,
}

/// What a statement does to the walk.
enum Flow {
    Next,
    /// The rule stops matching: go on with the next rule.
    NoMatch,
    Verdict(Verdict),
}

#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Accept,
    Drop,
    Return,
    Continue,
    Jump(String),
    Goto(String),
}

struct Walk<'a> {
    table: &'a KTable,
    packet: &'a Packet,
    mark: u32,
}

const MAX_DEPTH: usize = 32;

fn proto_number(name: &str) -> Option<u64> {
    match name {
        "tcp" => Some(6),
        "udp" => Some(17),
        "sctp" => Some(132),
        "icmp" => Some(1),
        "ipv6-icmp" | "icmpv6" => Some(58),
        _ => name.parse().ok(),
    }
}

fn protocol_number(p: Protocol) -> u64 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

impl Walk<'_> {
    /// Runs base chain `name` to a final decision (its policy when nothing decides).
    fn base(&mut self, name: &str) -> Result<Decision, String> {
        let policy = self
            .table
            .chains
            .get(name)
            .and_then(|c| c.hook.as_ref())
            .map_or("accept", |h| h.policy.as_str());
        match self.chain(name, 0)? {
            Some(d) => Ok(d),
            None if policy == "drop" => Ok(Decision::Drop),
            None => Ok(Decision::Accept),
        }
    }

    /// Runs chain `name`: `Some` for a final accept/drop, `None` when it returns.
    fn chain(&mut self, name: &str, depth: usize) -> Result<Option<Decision>, String> {
        if depth > MAX_DEPTH {
            return Err(format!("chains nest deeper than {MAX_DEPTH} at {name}"));
        }
        let Some(chain) = self.table.chains.get(name) else {
            return Err(format!("jump to missing chain {name}"));
        };
        for rule in &chain.rules {
            match self.rule(rule)? {
                None | Some(Verdict::Continue) => {}
                Some(Verdict::Accept) => return Ok(Some(Decision::Accept)),
                Some(Verdict::Drop) => return Ok(Some(Decision::Drop)),
                Some(Verdict::Return) => return Ok(None),
                Some(Verdict::Jump(target)) => {
                    if let Some(d) = self.chain(&target, depth + 1)? {
                        return Ok(Some(d));
                    }
                }
                Some(Verdict::Goto(target)) => return self.chain(&target, depth + 1),
            }
        }
        Ok(None)
    }

    /// Runs one rule: `None` when it does not match or ends without a verdict.
    fn rule(&mut self, exprs: &[Value]) -> Result<Option<Verdict>, String> {
        for e in exprs {
            match self.statement(e)? {
                Flow::Next => {}
                Flow::NoMatch => return Ok(None),
                Flow::Verdict(v) => return Ok(Some(v)),
            }
        }
        Ok(None)
    }

    fn statement(&mut self, e: &Value) -> Result<Flow, String> {
        let Some((key, body)) = e.as_object().and_then(|o| o.iter().next()) else {
            return Err(format!("statement {e}"));
        };
        match key.as_str() {
            "match" => {
                let op = str_of(body, "op").unwrap_or("==");
                let left = body.get("left").ok_or("match without left")?;
                let right = body.get("right").ok_or("match without right")?;
                let Some(value) = self.value(left)? else {
                    // The field is absent (another family, no ports): the rule cannot match.
                    return Ok(Flow::NoMatch);
                };
                let hit = self.contains(right, &value)?;
                let matched = match op {
                    "==" | "in" => hit,
                    "!=" => !hit,
                    _ => return Err(format!("match operator {op}")),
                };
                Ok(if matched { Flow::Next } else { Flow::NoMatch })
            }
            "accept" => Ok(Flow::Verdict(Verdict::Accept)),
            "drop" | "reject" => Ok(Flow::Verdict(Verdict::Drop)),
            "return" => Ok(Flow::Verdict(Verdict::Return)),
            "continue" => Ok(Flow::Verdict(Verdict::Continue)),
            "jump" | "goto" => {
                let target = str_of(body, "target").ok_or("jump without target")?;
                Ok(Flow::Verdict(if key == "jump" {
                    Verdict::Jump(target.to_string())
                } else {
                    Verdict::Goto(target.to_string())
                }))
            }
            "vmap" => {
                let Some(k) = self.value(body.get("key").ok_or("vmap without key")?)? else {
                    return Ok(Flow::Next);
                };
                let data = body.get("data").ok_or("vmap without data")?;
                let elems = self.elements(data)?;
                for elem in elems {
                    let Some([ek, verdict]) = elem.as_array().map(Vec::as_slice) else {
                        return Err(format!("vmap element {elem}"));
                    };
                    if self.element_contains(ek, &k)? {
                        return Ok(Flow::Verdict(verdict_of(verdict)?));
                    }
                }
                Ok(Flow::Next)
            }
            "mangle" => {
                let target = body.get("key").ok_or("mangle without key")?;
                if target.pointer("/meta/key").and_then(Value::as_str) != Some("mark") {
                    return Err(format!("statement {e}"));
                }
                match self.value(body.get("value").ok_or("mangle without value")?)? {
                    Some(Val::Int(n)) => {
                        self.mark = u32::try_from(n & 0xffff_ffff).unwrap_or(0);
                        Ok(Flow::Next)
                    }
                    _ => Err(format!("statement {e}")),
                }
            }
            // Statements that change no verdict of a first packet. Over its rate, `limit` stops
            // the rule; palisade only puts it before `log`, so either way the walk goes on.
            "counter" | "log" | "limit" => Ok(Flow::Next),
            _ => Err(format!("statement {e}")),
        }
    }

    /// Elements of `@set` or of an inline `{"set": [...]}`.
    fn elements<'v>(&'v self, v: &'v Value) -> Result<&'v [Value], String> {
        if let Some(name) = v.as_str().and_then(|s| s.strip_prefix('@')) {
            return self
                .table
                .sets
                .get(name)
                .map(Vec::as_slice)
                .ok_or_else(|| format!("missing set {name}"));
        }
        if let Some(a) = v.get("set").and_then(Value::as_array) {
            return Ok(a.as_slice());
        }
        Err(format!("set {v}"))
    }

    /// Whether the right-hand side of a match holds `value`.
    fn contains(&self, right: &Value, value: &Val) -> Result<bool, String> {
        if right.as_str().is_some_and(|s| s.starts_with('@')) || right.get("set").is_some() {
            for elem in self.elements(right)? {
                let key = match elem.as_array().map(Vec::as_slice) {
                    // A map used as a set: its keys.
                    Some([k, _]) => k,
                    _ => elem,
                };
                if self.element_contains(key, value)? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        if let (Val::CtNew, Some(states)) = (value, right.as_array()) {
            return Ok(states.iter().any(|s| s.as_str() == Some("new")));
        }
        if let Val::CtNew = value {
            return Ok(right.as_str() == Some("new"));
        }
        self.element_contains(right, value)
    }

    /// Whether one element (literal, prefix, range, concatenation) holds `value`.
    fn element_contains(&self, elem: &Value, value: &Val) -> Result<bool, String> {
        if let Some(inner) = elem.get("elem") {
            return self.element_contains(inner.get("val").unwrap_or(&Value::Null), value);
        }
        if let Some(parts) = elem.get("concat").and_then(Value::as_array) {
            let Val::Concat(vals) = value else {
                return Ok(false);
            };
            if parts.len() != vals.len() {
                return Ok(false);
            }
            for (p, v) in parts.iter().zip(vals) {
                if !self.element_contains(p, v)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        if let Some(range) = elem.get("range").and_then(Value::as_array) {
            let [lo, hi] = range.as_slice() else {
                return Err(format!("range {elem}"));
            };
            return Ok(match value {
                Val::Int(n) => literal_int(lo)? <= *n && *n <= literal_int(hi)?,
                Val::Addr(a) => literal_addr(lo)? <= *a && *a <= literal_addr(hi)?,
                _ => false,
            });
        }
        if let Some(prefix) = elem.get("prefix") {
            let len = prefix.get("len").and_then(Value::as_u64).unwrap_or(0);
            let addr = prefix.get("addr").unwrap_or(&Value::Null);
            return Ok(match value {
                Val::Int(n) => {
                    // A prefix of a 32-bit value (the mark): its top `len` bits.
                    let mask = if len == 0 {
                        0
                    } else {
                        (u64::from(u32::MAX) << (32 - len.min(32))) & u64::from(u32::MAX)
                    };
                    n & mask == literal_int(addr)? & mask
                }
                Val::Addr(a) => {
                    let net: IpAddr = literal_addr(addr)?;
                    let net = ipnet::IpNet::new(net, u8::try_from(len).unwrap_or(u8::MAX))
                        .map_err(|e| e.to_string())?;
                    net.contains(a)
                }
                _ => false,
            });
        }
        Ok(match value {
            Val::Int(n) => literal_int(elem)? == *n,
            Val::Addr(a) => literal_addr(elem)? == *a,
            Val::Concat(_) | Val::CtNew => false,
        })
    }

    /// The value of an expression for this packet; `None` when the packet has no such field.
    fn value(&self, e: &Value) -> Result<Option<Val>, String> {
        let p = self.packet;
        if let Some(n) = e.as_u64() {
            return Ok(Some(Val::Int(n)));
        }
        if let Some(meta) = e.get("meta") {
            return match str_of(meta, "key") {
                Some("mark") => Ok(Some(Val::Int(u64::from(self.mark)))),
                Some("l4proto") => Ok(match p.transport {
                    Transport::Port(probe) => Some(Val::Int(protocol_number(probe.protocol))),
                    // Another protocol: the interpreter's packets carry no number for it.
                    Transport::Other => Some(Val::Int(1)),
                }),
                Some("nfproto") => Ok(Some(Val::Int(match p.src {
                    IpAddr::V4(_) => 2,
                    IpAddr::V6(_) => 10,
                }))),
                _ => Err(format!("expression {e}")),
            };
        }
        if let Some(ct) = e.get("ct") {
            return match str_of(ct, "key") {
                Some("state") => Ok(Some(Val::CtNew)),
                _ => Err(format!("expression {e}")),
            };
        }
        if let Some(payload) = e.get("payload") {
            let protocol = str_of(payload, "protocol").unwrap_or("");
            let field = str_of(payload, "field").unwrap_or("");
            return match (protocol, field) {
                ("ip", "saddr" | "daddr") | ("ip6", "saddr" | "daddr") => {
                    let addr = if field == "saddr" { p.src } else { p.dst };
                    let right_family = matches!(
                        (protocol, addr),
                        ("ip", IpAddr::V4(_)) | ("ip6", IpAddr::V6(_))
                    );
                    Ok(right_family.then_some(Val::Addr(addr)))
                }
                ("th" | "tcp" | "udp" | "sctp", "dport") => Ok(match p.transport {
                    Transport::Port(probe)
                        if protocol == "th"
                            || proto_number(protocol) == Some(protocol_number(probe.protocol)) =>
                    {
                        Some(Val::Int(u64::from(probe.port)))
                    }
                    _ => None,
                }),
                _ => Err(format!("expression {e}")),
            };
        }
        if let Some(parts) = e.get("concat").and_then(Value::as_array) {
            let mut vals = Vec::with_capacity(parts.len());
            for part in parts {
                match self.value(part)? {
                    Some(v) => vals.push(v),
                    None => return Ok(None),
                }
            }
            return Ok(Some(Val::Concat(vals)));
        }
        for op in ["&", "|", "^"] {
            if let Some([a, b]) = e.get(op).and_then(Value::as_array).map(Vec::as_slice) {
                let (Some(Val::Int(a)), Some(Val::Int(b))) = (self.value(a)?, self.value(b)?)
                else {
                    return Err(format!("expression {e}"));
                };
                return Ok(Some(Val::Int(match op {
                    "&" => a & b,
                    "|" => a | b,
                    _ => a ^ b,
                })));
            }
        }
        Err(format!("expression {e}"))
    }
}

fn verdict_of(v: &Value) -> Result<Verdict, String> {
    let Some((key, body)) = v.as_object().and_then(|o| o.iter().next()) else {
        return Err(format!("verdict {v}"));
    };
    Ok(match key.as_str() {
        "accept" => Verdict::Accept,
        "drop" => Verdict::Drop,
        "return" => Verdict::Return,
        "continue" => Verdict::Continue,
        "jump" => Verdict::Jump(str_of(body, "target").unwrap_or("").to_string()),
        "goto" => Verdict::Goto(str_of(body, "target").unwrap_or("").to_string()),
        _ => return Err(format!("verdict {v}")),
    })
}

fn literal_int(v: &Value) -> Result<u64, String> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    if let Some(s) = v.as_str() {
        if let Some(hex) = s.strip_prefix("0x") {
            return u64::from_str_radix(hex, 16).map_err(|e| format!("{s}: {e}"));
        }
        if let Some(n) = proto_number(s) {
            return Ok(n);
        }
    }
    Err(format!("number {v}"))
}

fn literal_addr(v: &Value) -> Result<IpAddr, String> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("address {v}"))
}

/// A connection the kernel decides differently from the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub from: String,
    pub to: String,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub probe: Probe,
    /// What the engine's sides say this node must do.
    pub expected: Decision,
    /// What the kernel's rules do, or why they could not be read.
    pub kernel: Result<Decision, String>,
}

/// The result of checking one node's kernel against the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub node: String,
    /// `inet palisade` with its forward chain is in the kernel.
    pub table_present: bool,
    /// Endpoint class pairs checked (one representative address pair each, per family).
    pub pairs: usize,
    /// Protocol/port atoms probed per pair.
    pub atoms: usize,
    /// Packets interpreted.
    pub checked: usize,
    /// Disagreements found (at most [`Verification::MAX_LISTED`] are kept in `drift`).
    pub drift_count: usize,
    pub drift: Vec<Disagreement>,
    pub foreign: Vec<ForeignChain>,
}

impl Verification {
    pub const MAX_LISTED: usize = 20;

    /// No disagreement: the kernel enforces what the engine says.
    pub fn verified(&self) -> bool {
        self.drift_count == 0
    }
}

/// The representative probes of every protocol/port atom: each boundary the engine's port sets
/// or the kernel's numbers draw starts an atom.
fn atoms(reach: &Reachability, reps: &[usize], kernel: &KernelRuleset) -> Vec<Probe> {
    let mut starts: BTreeSet<u16> = BTreeSet::from([1, u16::MAX]);
    for &a in reps {
        for &b in reps {
            let set = reach.ports(a, b);
            for protocol in Protocol::ALL {
                for &(first, last) in set.ranges(protocol) {
                    starts.insert(first.max(1));
                    starts.insert(last.saturating_add(1));
                }
            }
        }
    }
    for n in kernel.port_numbers() {
        starts.insert(n.max(1));
        starts.insert(n.saturating_add(1));
    }
    let mut out = Vec::new();
    for protocol in Protocol::ALL {
        for &port in &starts {
            out.push(Probe { protocol, port });
        }
    }
    out
}

/// Proves that `kernel` makes node `node` enforce its share of `cluster`'s policies: for one
/// representative of every ordered pair of endpoint classes (palisade_core::reach) whose
/// connections cross this node's forward hook, on every protocol/port atom, the kernel's
/// decision equals the engine's: the source's egress side if the source is a local pod, the
/// destination's ingress side if the destination is, both if both are
/// (palisade_core::eval::evaluate).
pub fn verify(
    cluster: &Cluster,
    externals: &[IpAddr],
    node: &str,
    kernel: &KernelRuleset,
) -> Verification {
    let reach = Reachability::compute(cluster, externals);
    let local = |e: Endpoint| match e {
        Endpoint::Pod(i) => cluster
            .pods
            .get(i)
            .is_some_and(|p| p.node.as_deref() == Some(node) && !p.host_network),
        Endpoint::External(_) => false,
    };
    let addresses = |e: Endpoint| -> Vec<IpAddr> {
        match e {
            Endpoint::Pod(i) => cluster
                .pods
                .get(i)
                .map(|p| p.ips.clone())
                .unwrap_or_default(),
            Endpoint::External(ip) => vec![ip],
        }
    };
    // Per class: a local representative and any representative with an address, each per
    // family.
    let mut local_rep: BTreeMap<(usize, bool), usize> = BTreeMap::new();
    let mut any_rep: BTreeMap<(usize, bool), usize> = BTreeMap::new();
    for i in 0..reach.len() {
        let (Some(e), Some(class)) = (reach.endpoint(i), reach.class_of(i)) else {
            continue;
        };
        for ip in addresses(e) {
            let key = (class, ip.is_ipv4());
            any_rep.entry(key).or_insert(i);
            if local(e) {
                local_rep.entry(key).or_insert(i);
            }
        }
    }
    let reps: Vec<usize> = any_rep
        .values()
        .chain(local_rep.values())
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let probes = atoms(&reach, &reps, kernel);
    let mut out = Verification {
        node: node.to_string(),
        table_present: kernel.has_palisade_chain(),
        pairs: 0,
        atoms: probes.len(),
        checked: 0,
        drift_count: 0,
        drift: Vec::new(),
        foreign: kernel.foreign_chains(),
    };
    let names = reach.endpoint_names();
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (&(_, v4), &l) in &local_rep {
        for (&(_, w4), &o) in &any_rep {
            if v4 == w4 {
                pairs.insert((l, o));
                pairs.insert((o, l));
            }
        }
    }
    for (a, b) in pairs {
        let (Some(from), Some(to)) = (reach.endpoint(a), reach.endpoint(b)) else {
            continue;
        };
        if a == b || palisade_core::eval::same_node_host_traffic(cluster, from, to) {
            continue;
        }
        let family_of = |ips: Vec<IpAddr>, v4: bool| ips.into_iter().find(|ip| ip.is_ipv4() == v4);
        for v4 in [true, false] {
            let (Some(src), Some(dst)) =
                (family_of(addresses(from), v4), family_of(addresses(to), v4))
            else {
                continue;
            };
            if src == dst {
                continue;
            }
            out.pairs += 1;
            for &probe in &probes {
                let verdict = palisade_core::eval::evaluate(cluster, from, to, probe);
                let want = (!local(from) || verdict.egress.allows())
                    && (!local(to) || verdict.ingress.allows());
                let expected = if want {
                    Decision::Accept
                } else {
                    Decision::Drop
                };
                let packet = Packet {
                    src,
                    dst,
                    transport: Transport::Port(probe),
                };
                let decided = kernel.decide(&packet);
                out.checked += 1;
                if decided.as_ref() != Ok(&expected) {
                    out.drift_count += 1;
                    if out.drift.len() < Verification::MAX_LISTED {
                        out.drift.push(Disagreement {
                            from: names.get(a).cloned().unwrap_or_default(),
                            to: names.get(b).cloned().unwrap_or_default(),
                            src,
                            dst,
                            probe,
                            expected,
                            kernel: decided,
                        });
                    }
                }
            }
        }
    }
    out
}
