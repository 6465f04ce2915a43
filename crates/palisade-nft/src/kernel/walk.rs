//! The walk of the first packet of a connection through `inet palisade`'s forward base chains,
//! as the kernel does it, with the destination port kept as a range: every port comparison
//! narrows `lo..=hi` to the ports that compare the same way as the packet's, so one walk decides
//! a whole interval of ports (a pair's port space takes as many walks as the rules it meets draw
//! intervals, not one per port).

use std::net::IpAddr;

use palisade_core::model::Protocol;
use serde_json::Value;

use super::{KSet, KTable, element_key, str_of, unwrap_elem};
use crate::interp::{Decision, Packet, Transport};

/// Runs the forward base chains of `table` on `packet`: the decision and the ports
/// `lo..=hi` decided alike.
pub(super) fn decide(table: &KTable, packet: &Packet) -> (Result<Decision, String>, u16, u16) {
    let mut bases: Vec<(&i64, &String)> = table
        .chains
        .iter()
        .filter_map(|(name, c)| {
            let h = c.hook.as_ref()?;
            (h.hook == "forward").then_some((&h.priority, name))
        })
        .collect();
    bases.sort();
    let mut walk = Walk {
        table,
        packet,
        mark: 0,
        lo: 0,
        hi: u16::MAX,
    };
    for (_, name) in bases {
        walk.mark = 0;
        match walk.base(name) {
            Ok(Decision::Accept) => {}
            decided => return (decided, walk.lo, walk.hi),
        }
    }
    (Ok(Decision::Accept), walk.lo, walk.hi)
}

/// A value an expression evaluates to.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Int(u64),
    /// The destination port: a number whose comparisons narrow the walk's port range.
    Port(u16),
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
    /// The ports decided like the packet's so far.
    lo: u16,
    hi: u16,
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

/// The candidates of a lookup: elements that can hold `value`, in the set's order within each
/// index bucket (membership and a map's single match do not depend on it).
fn candidates<'s>(set: &'s KSet, value: &Val) -> Box<dyn Iterator<Item = &'s Value> + 's> {
    let lead = match value {
        Val::Concat(parts) => parts.first(),
        other => Some(other),
    };
    let bucket = match lead {
        Some(Val::Addr(a)) => set.by_addr.get(a),
        Some(Val::Int(n)) => set.by_int.get(n),
        // A port narrows against every element; anything else is looked up in full.
        _ => return Box::new(set.elems.iter()),
    };
    Box::new(
        bucket
            .into_iter()
            .flatten()
            .chain(&set.rest)
            .filter_map(|&i| set.elems.get(i as usize)),
    )
}

impl<'a> Walk<'a> {
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
        let table = self.table;
        let Some(chain) = table.chains.get(name) else {
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
    fn rule(&mut self, rule: &'a [Value]) -> Result<Option<Verdict>, String> {
        for stmt in rule {
            match self.statement(stmt)? {
                Flow::Next => {}
                Flow::NoMatch => return Ok(None),
                Flow::Verdict(v) => return Ok(Some(v)),
            }
        }
        Ok(None)
    }

    fn statement(&mut self, e: &'a Value) -> Result<Flow, String> {
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
                match self.lookup(data, &k)? {
                    Some(elem) => {
                        let Some([_, verdict]) = elem.as_array().map(Vec::as_slice) else {
                            return Err(format!("vmap element {elem}"));
                        };
                        Ok(Flow::Verdict(verdict_of(verdict)?))
                    }
                    None => Ok(Flow::Next),
                }
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

    /// The first element of `@set` or of an inline `{"set": [...]}` whose key holds `value`.
    fn lookup(&mut self, set: &'a Value, value: &Val) -> Result<Option<&'a Value>, String> {
        let table = self.table;
        if let Some(name) = set.as_str().and_then(|s| s.strip_prefix('@')) {
            let Some(named) = table.sets.get(name) else {
                return Err(format!("missing set {name}"));
            };
            for elem in candidates(named, value) {
                if self.element_contains(element_key(elem), value)? {
                    return Ok(Some(elem));
                }
            }
            return Ok(None);
        }
        if let Some(elems) = set.get("set").and_then(Value::as_array) {
            for elem in elems {
                if self.element_contains(element_key(elem), value)? {
                    return Ok(Some(elem));
                }
            }
            return Ok(None);
        }
        // A single value written where a set may stand.
        Ok(self
            .element_contains(element_key(set), value)?
            .then_some(set))
    }

    /// Whether the right-hand side of a match holds `value`.
    fn contains(&mut self, right: &'a Value, value: &Val) -> Result<bool, String> {
        if right.as_str().is_some_and(|s| s.starts_with('@')) || right.get("set").is_some() {
            return Ok(self.lookup(right, value)?.is_some());
        }
        if let (Val::CtNew, Some(states)) = (value, right.as_array()) {
            return Ok(states.iter().any(|s| s.as_str() == Some("new")));
        }
        if let Val::CtNew = value {
            return Ok(right.as_str() == Some("new"));
        }
        self.element_contains(right, value)
    }

    /// Narrows the port range to the ports that equal `n` as `port` does (or differ from it).
    fn narrow_eq(&mut self, port: u16, n: u64) {
        let p = u64::from(port);
        if n == p {
            (self.lo, self.hi) = (port, port);
        } else if n < p {
            self.lo = self.lo.max(clamp16(n + 1));
        } else {
            self.hi = self.hi.min(clamp16(n - 1));
        }
    }

    /// Narrows the port range to the ports inside `first..=last` as `port` is (or outside it).
    fn narrow_range(&mut self, port: u16, first: u64, last: u64) {
        let p = u64::from(port);
        if first <= p && p <= last {
            self.lo = self.lo.max(clamp16(first));
            self.hi = self.hi.min(clamp16(last));
        } else if p < first {
            self.hi = self.hi.min(clamp16(first - 1));
        } else {
            self.lo = self.lo.max(clamp16(last + 1));
        }
    }

    /// Whether one element (literal, prefix, range, concatenation) holds `value`.
    fn element_contains(&mut self, elem: &Value, value: &Val) -> Result<bool, String> {
        let elem = unwrap_elem(elem);
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
                Val::Port(p) => {
                    let (first, last) = (literal_int(lo)?, literal_int(hi)?);
                    self.narrow_range(*p, first, last);
                    first <= u64::from(*p) && u64::from(*p) <= last
                }
                Val::Addr(a) => literal_addr(lo)? <= *a && *a <= literal_addr(hi)?,
                _ => false,
            });
        }
        if let Some(prefix) = elem.get("prefix") {
            let len = prefix.get("len").and_then(Value::as_u64).unwrap_or(0);
            let addr = prefix.get("addr").unwrap_or(&Value::Null);
            let int_prefix = |n: u64| -> Result<bool, String> {
                // A prefix of a 32-bit value (the mark): its top `len` bits.
                let mask = if len == 0 {
                    0
                } else {
                    (u64::from(u32::MAX) << (32 - len.min(32))) & u64::from(u32::MAX)
                };
                Ok(n & mask == literal_int(addr)? & mask)
            };
            return Ok(match value {
                Val::Int(n) => int_prefix(*n)?,
                Val::Port(p) => {
                    // No rule of palisade's writes a port prefix: decide this port alone.
                    (self.lo, self.hi) = (*p, *p);
                    int_prefix(u64::from(*p))?
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
            Val::Port(p) => {
                let n = literal_int(elem)?;
                self.narrow_eq(*p, n);
                n == u64::from(*p)
            }
            Val::Addr(a) => literal_addr(elem)? == *a,
            Val::Concat(_) | Val::CtNew => false,
        })
    }

    /// The value of an expression for this packet; `None` when the packet has no such field.
    fn value(&mut self, e: &Value) -> Result<Option<Val>, String> {
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
                        Some(Val::Port(probe.port))
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
                let (Some(a), Some(b)) = (self.value(a)?, self.value(b)?) else {
                    return Err(format!("expression {e}"));
                };
                let (Some(a), Some(b)) = (self.int_of(a), self.int_of(b)) else {
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

    /// A number for bit operations; a port used so is decided alone.
    fn int_of(&mut self, v: Val) -> Option<u64> {
        match v {
            Val::Int(n) => Some(n),
            Val::Port(p) => {
                (self.lo, self.hi) = (p, p);
                Some(u64::from(p))
            }
            _ => None,
        }
    }
}

fn clamp16(n: u64) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
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

pub(super) fn literal_addr(v: &Value) -> Result<IpAddr, String> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("address {v}"))
}
