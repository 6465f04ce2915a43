//! `inet palisade` read once into typed chains, statements and set elements, so that a walk
//! does no JSON lookups and no parsing: chain jumps are indices, literals are numbers and
//! addresses, sets are indexed by the literal their keys start with.
//!
//! ```text
//!   KTable (JSON, as listed) ── Program::build ──> chains[id]: rules: [Stmt]
//!                                                  sets[id]:   keys [Lit], values [Target]
//!                                                  forward:    base chain ids by priority
//! ```
//!
//! Whatever the reader does not know stays in the program as an `Unknown` with its text, and
//! a walk that meets it fails with that text: an unexplained rule is not a proven one.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::{KTable, element_key, str_of, unwrap_elem};

/// A literal: a right-hand side of a match, or a set element's key.
#[derive(Debug, Clone)]
pub(super) enum Lit {
    Int(u64),
    Addr(IpAddr),
    /// A word: a conntrack state, or something the reader does not know.
    Word(String),
    Range(Box<Lit>, Box<Lit>),
    Prefix(Box<Lit>, u32),
    Concat(Vec<Lit>),
}

/// An expression evaluated on the packet.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    Int(u64),
    Mark,
    L4proto,
    Nfproto,
    CtState,
    /// `ip`/`ip6` `saddr`/`daddr`.
    Address {
        v6: bool,
        source: bool,
    },
    /// `th dport` (`None`) or `tcp`/`udp`/`sctp dport`.
    Dport(Option<u64>),
    Concat(Vec<Expr>),
    Bits(BitOp, Box<Expr>, Box<Expr>),
    Unknown(String),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum BitOp {
    And,
    Or,
    Xor,
}

/// Where a match or a vmap looks a value up.
#[derive(Debug, Clone)]
pub(super) enum Right {
    /// `@name`: a set of the table (index into [`Program::sets`]).
    Set(usize),
    Inline(Vec<Lit>),
    /// `ct state` lists (`established,related`).
    States(Vec<String>),
    One(Lit),
    Unknown(String),
}

/// A verdict; jumps and gotos by chain index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Accept,
    Drop,
    Return,
    Continue,
    Jump(usize),
    Goto(usize),
}

#[derive(Debug, Clone)]
pub(super) enum Stmt {
    Match {
        negate: bool,
        left: Expr,
        right: Right,
    },
    Verdict(Target),
    Vmap {
        key: Expr,
        data: Right,
    },
    SetMark(Expr),
    /// Changes no verdict of a first packet (`counter`, `log`, `limit`).
    Nothing,
    Unknown(String),
}

#[derive(Debug, Clone, Default)]
pub(super) struct Chain {
    pub rules: Vec<Vec<Stmt>>,
    /// A base chain's policy is drop.
    pub drops: bool,
    pub name: String,
}

/// A set or map, indexed by the literal its keys start with.
#[derive(Debug, Clone, Default)]
pub(super) struct Set {
    pub keys: Vec<Lit>,
    /// Per key, a map's verdict (`None` in a set, or a map of data).
    pub targets: Vec<Option<Result<Target, String>>>,
    pub by_addr: FxHashMap<IpAddr, Vec<u32>>,
    pub by_int: FxHashMap<u64, Vec<u32>>,
    /// Keys led by anything else (prefixes, ranges), in order.
    pub rest: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Program {
    pub chains: Vec<Chain>,
    pub sets: Vec<Set>,
    /// The base chains on the forward hook, by priority then name.
    pub forward: Vec<usize>,
}

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

fn lit(v: &Value) -> Lit {
    let v = unwrap_elem(v);
    if let Some(n) = v.as_u64() {
        return Lit::Int(n);
    }
    if let Some(s) = v.as_str() {
        if let Ok(addr) = s.parse() {
            return Lit::Addr(addr);
        }
        if let Some(hex) = s.strip_prefix("0x")
            && let Ok(n) = u64::from_str_radix(hex, 16)
        {
            return Lit::Int(n);
        }
        return match proto_number(s) {
            Some(n) => Lit::Int(n),
            None => Lit::Word(s.to_string()),
        };
    }
    if let Some(parts) = v.get("concat").and_then(Value::as_array) {
        return Lit::Concat(parts.iter().map(lit).collect());
    }
    if let Some([lo, hi]) = v.get("range").and_then(Value::as_array).map(Vec::as_slice) {
        return Lit::Range(Box::new(lit(lo)), Box::new(lit(hi)));
    }
    if let Some(prefix) = v.get("prefix") {
        let len = prefix.get("len").and_then(Value::as_u64).unwrap_or(0);
        let base = lit(prefix.get("addr").unwrap_or(&Value::Null));
        return Lit::Prefix(Box::new(base), u32::try_from(len).unwrap_or(u32::MAX));
    }
    Lit::Word(v.to_string())
}

fn expr(e: &Value) -> Expr {
    if let Some(n) = e.as_u64() {
        return Expr::Int(n);
    }
    if let Some(meta) = e.get("meta") {
        return match str_of(meta, "key") {
            Some("mark") => Expr::Mark,
            Some("l4proto") => Expr::L4proto,
            Some("nfproto") => Expr::Nfproto,
            _ => Expr::Unknown(format!("expression {e}")),
        };
    }
    if let Some(ct) = e.get("ct") {
        return match str_of(ct, "key") {
            Some("state") => Expr::CtState,
            _ => Expr::Unknown(format!("expression {e}")),
        };
    }
    if let Some(payload) = e.get("payload") {
        let protocol = str_of(payload, "protocol").unwrap_or("");
        let field = str_of(payload, "field").unwrap_or("");
        return match (protocol, field) {
            ("ip" | "ip6", "saddr" | "daddr") => Expr::Address {
                v6: protocol == "ip6",
                source: field == "saddr",
            },
            ("th", "dport") => Expr::Dport(None),
            ("tcp" | "udp" | "sctp", "dport") => Expr::Dport(proto_number(protocol)),
            _ => Expr::Unknown(format!("expression {e}")),
        };
    }
    if let Some(parts) = e.get("concat").and_then(Value::as_array) {
        return Expr::Concat(parts.iter().map(expr).collect());
    }
    for (key, op) in [("&", BitOp::And), ("|", BitOp::Or), ("^", BitOp::Xor)] {
        if let Some([a, b]) = e.get(key).and_then(Value::as_array).map(Vec::as_slice) {
            return Expr::Bits(op, Box::new(expr(a)), Box::new(expr(b)));
        }
    }
    Expr::Unknown(format!("expression {e}"))
}

/// The literal a key starts with, when it is one address or one number.
fn lead(key: &Lit) -> Option<&Lit> {
    match key {
        Lit::Concat(parts) => parts
            .first()
            .filter(|p| matches!(p, Lit::Int(_) | Lit::Addr(_))),
        Lit::Int(_) | Lit::Addr(_) => Some(key),
        _ => None,
    }
}

impl Program {
    pub(super) fn build(table: &KTable) -> Program {
        let mut names: Vec<&String> = table.chains.keys().collect();
        names.sort();
        let chain_ids: FxHashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut set_names: Vec<&String> = table.sets.keys().collect();
        set_names.sort();
        let set_ids: FxHashMap<&str, usize> = set_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let reader = Reader {
            chains: &chain_ids,
            sets: &set_ids,
        };
        let chains = names
            .iter()
            .map(|name| {
                let c = &table.chains[*name];
                Chain {
                    rules: c
                        .rules
                        .iter()
                        .map(|rule| rule.iter().map(|s| reader.stmt(s)).collect())
                        .collect(),
                    drops: c.hook.as_ref().is_some_and(|h| h.policy == "drop"),
                    name: (*name).clone(),
                }
            })
            .collect();
        let sets = set_names
            .iter()
            .map(|name| reader.set(&table.sets[*name].elems))
            .collect();
        let forward = table
            .forward
            .iter()
            .filter_map(|n| chain_ids.get(n.as_str()).copied())
            .collect();
        Program {
            chains,
            sets,
            forward,
        }
    }
}

struct Reader<'a> {
    chains: &'a FxHashMap<&'a str, usize>,
    sets: &'a FxHashMap<&'a str, usize>,
}

impl Reader<'_> {
    fn target(&self, v: &Value) -> Result<Target, String> {
        let Some((key, body)) = v.as_object().and_then(|o| o.iter().next()) else {
            return Err(format!("verdict {v}"));
        };
        let chain = || {
            let name = str_of(body, "target").unwrap_or("");
            self.chains
                .get(name)
                .copied()
                .ok_or_else(|| format!("jump to missing chain {name}"))
        };
        Ok(match key.as_str() {
            "accept" => Target::Accept,
            "drop" | "reject" => Target::Drop,
            "return" => Target::Return,
            "continue" => Target::Continue,
            "jump" => Target::Jump(chain()?),
            "goto" => Target::Goto(chain()?),
            _ => return Err(format!("verdict {v}")),
        })
    }

    fn right(&self, v: &Value) -> Right {
        if let Some(name) = v.as_str().and_then(|s| s.strip_prefix('@')) {
            return match self.sets.get(name) {
                Some(&id) => Right::Set(id),
                None => Right::Unknown(format!("missing set {name}")),
            };
        }
        if let Some(elems) = v.get("set").and_then(Value::as_array) {
            return Right::Inline(elems.iter().map(|e| lit(element_key(e))).collect());
        }
        if let Some(states) = v.as_array() {
            return Right::States(
                states
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect(),
            );
        }
        Right::One(lit(v))
    }

    fn stmt(&self, e: &Value) -> Stmt {
        let Some((key, body)) = e.as_object().and_then(|o| o.iter().next()) else {
            return Stmt::Unknown(format!("statement {e}"));
        };
        match key.as_str() {
            "match" => {
                let negate = match str_of(body, "op").unwrap_or("==") {
                    "==" | "in" => false,
                    "!=" => true,
                    op => return Stmt::Unknown(format!("match operator {op}")),
                };
                let (Some(left), Some(right)) = (body.get("left"), body.get("right")) else {
                    return Stmt::Unknown(format!("match {e}"));
                };
                Stmt::Match {
                    negate,
                    left: expr(left),
                    right: self.right(right),
                }
            }
            "accept" | "drop" | "reject" | "return" | "continue" | "jump" | "goto" => {
                match self.target(e) {
                    Ok(t) => Stmt::Verdict(t),
                    Err(err) => Stmt::Unknown(err),
                }
            }
            "vmap" => {
                let (Some(k), Some(data)) = (body.get("key"), body.get("data")) else {
                    return Stmt::Unknown(format!("vmap {e}"));
                };
                Stmt::Vmap {
                    key: expr(k),
                    data: self.right(data),
                }
            }
            "mangle" => {
                let is_mark = body
                    .get("key")
                    .and_then(|k| k.pointer("/meta/key"))
                    .and_then(Value::as_str)
                    == Some("mark");
                match body.get("value") {
                    Some(v) if is_mark => Stmt::SetMark(expr(v)),
                    _ => Stmt::Unknown(format!("statement {e}")),
                }
            }
            // Statements that change no verdict of a first packet. Over its rate, `limit` stops
            // the rule; palisade only puts it before `log`, so either way the walk goes on.
            "counter" | "log" | "limit" => Stmt::Nothing,
            _ => Stmt::Unknown(format!("statement {e}")),
        }
    }

    fn set(&self, elems: &[Value]) -> Set {
        let mut set = Set::default();
        for (i, elem) in elems.iter().enumerate() {
            let key = lit(element_key(elem));
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match lead(&key) {
                Some(Lit::Addr(a)) => set.by_addr.entry(*a).or_default().push(i),
                Some(Lit::Int(n)) => set.by_int.entry(*n).or_default().push(i),
                _ => set.rest.push(i),
            }
            set.keys.push(key);
            set.targets.push(match elem.as_array().map(Vec::as_slice) {
                Some([_, v]) if v.is_object() => Some(self.target(v)),
                _ => None,
            });
        }
        set
    }
}
