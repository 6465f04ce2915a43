//! The walk of the first packet of a connection through `inet palisade`'s forward base chains,
//! as the kernel does it, on the typed [`Program`], with the destination port kept as a range:
//! every port comparison narrows `lo..=hi` to the ports that compare the same way as the
//! packet's, so one walk decides a whole interval of ports (a pair's port space takes as many
//! walks as the rules it meets draw intervals, not one per port).

use std::net::IpAddr;

use palisade_core::model::Protocol;

use super::program::{BitOp, Chain, Expr, Lit, Program, Right, Set, Stmt, Target};
use crate::interp::{Decision, Packet, Transport};

/// Runs the forward base chains of `program` on `packet`: the decision and the ports
/// `lo..=hi` decided alike.
pub(super) fn decide(program: &Program, packet: &Packet) -> (Result<Decision, String>, u16, u16) {
    let mut walk = Walk {
        program,
        packet,
        mark: 0,
        lo: 0,
        hi: u16::MAX,
    };
    for &base in &program.forward {
        walk.mark = 0;
        match walk.base(base) {
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
    Verdict(Target),
}

struct Walk<'a> {
    program: &'a Program,
    packet: &'a Packet,
    mark: u32,
    /// The ports decided like the packet's so far.
    lo: u16,
    hi: u16,
}

const MAX_DEPTH: usize = 32;

fn protocol_number(p: Protocol) -> u64 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

fn clamp16(n: u64) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// The keys of `set` that can hold `value`: the index bucket of its leading address or
/// number and the keys led by anything else; every key for a value led by a port (each one
/// narrows the range) or by anything else.
fn candidates<'s>(set: &'s Set, value: &Val) -> Box<dyn Iterator<Item = usize> + 's> {
    let lead = match value {
        Val::Concat(parts) => parts.first(),
        other => Some(other),
    };
    let bucket = match lead {
        Some(Val::Addr(a)) => set.by_addr.get(a),
        Some(Val::Int(n)) => set.by_int.get(n),
        _ => return Box::new(0..set.keys.len()),
    };
    Box::new(
        bucket
            .into_iter()
            .flatten()
            .chain(&set.rest)
            .map(|&i| i as usize),
    )
}

impl<'a> Walk<'a> {
    fn chain_of(&self, id: usize) -> Result<&'a Chain, String> {
        self.program
            .chains
            .get(id)
            .ok_or_else(|| format!("no chain {id}"))
    }

    /// Runs base chain `id` to a final decision (its policy when nothing decides).
    fn base(&mut self, id: usize) -> Result<Decision, String> {
        let drops = self.chain_of(id)?.drops;
        match self.chain(id, 0)? {
            Some(d) => Ok(d),
            None if drops => Ok(Decision::Drop),
            None => Ok(Decision::Accept),
        }
    }

    /// Runs chain `id`: `Some` for a final accept/drop, `None` when it returns.
    fn chain(&mut self, id: usize, depth: usize) -> Result<Option<Decision>, String> {
        let chain = self.chain_of(id)?;
        if depth > MAX_DEPTH {
            return Err(format!(
                "chains nest deeper than {MAX_DEPTH} at {}",
                chain.name
            ));
        }
        for rule in &chain.rules {
            match self.rule(rule)? {
                None | Some(Target::Continue) => {}
                Some(Target::Accept) => return Ok(Some(Decision::Accept)),
                Some(Target::Drop) => return Ok(Some(Decision::Drop)),
                Some(Target::Return) => return Ok(None),
                Some(Target::Jump(target)) => {
                    if let Some(d) = self.chain(target, depth + 1)? {
                        return Ok(Some(d));
                    }
                }
                Some(Target::Goto(target)) => return self.chain(target, depth + 1),
            }
        }
        Ok(None)
    }

    /// Runs one rule: `None` when it does not match or ends without a verdict.
    fn rule(&mut self, rule: &'a [Stmt]) -> Result<Option<Target>, String> {
        for stmt in rule {
            match self.statement(stmt)? {
                Flow::Next => {}
                Flow::NoMatch => return Ok(None),
                Flow::Verdict(v) => return Ok(Some(v)),
            }
        }
        Ok(None)
    }

    fn statement(&mut self, stmt: &'a Stmt) -> Result<Flow, String> {
        match stmt {
            Stmt::Match {
                negate,
                left,
                right,
            } => {
                let Some(value) = self.value(left)? else {
                    // The field is absent (another family, no ports): the rule cannot match.
                    return Ok(Flow::NoMatch);
                };
                let hit = self.contains(right, &value)?;
                Ok(if hit != *negate {
                    Flow::Next
                } else {
                    Flow::NoMatch
                })
            }
            Stmt::Verdict(t) => Ok(Flow::Verdict(*t)),
            Stmt::Vmap { key, data } => {
                let Some(k) = self.value(key)? else {
                    return Ok(Flow::Next);
                };
                let Right::Set(id) = data else {
                    return Err("vmap on an inline map".to_string());
                };
                let set = self.set_of(*id)?;
                match self.lookup(set, &k)? {
                    Some(i) => match set.targets.get(i).cloned().flatten() {
                        Some(target) => Ok(Flow::Verdict(target?)),
                        None => Err("vmap element without a verdict".to_string()),
                    },
                    None => Ok(Flow::Next),
                }
            }
            Stmt::SetMark(e) => match self.value(e)? {
                Some(Val::Int(n)) => {
                    self.mark = u32::try_from(n & 0xffff_ffff).unwrap_or(0);
                    Ok(Flow::Next)
                }
                _ => Err(format!("mark set to {e:?}")),
            },
            Stmt::Nothing => Ok(Flow::Next),
            Stmt::Unknown(text) => Err(text.clone()),
        }
    }

    fn set_of(&self, id: usize) -> Result<&'a Set, String> {
        self.program
            .sets
            .get(id)
            .ok_or_else(|| format!("no set {id}"))
    }

    /// The index of the first key of `set` that holds `value`.
    fn lookup(&mut self, set: &'a Set, value: &Val) -> Result<Option<usize>, String> {
        for i in candidates(set, value) {
            if let Some(key) = set.keys.get(i)
                && self.holds(key, value)?
            {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// Whether the right-hand side of a match holds `value`.
    fn contains(&mut self, right: &'a Right, value: &Val) -> Result<bool, String> {
        match right {
            Right::Set(id) => {
                let set = self.set_of(*id)?;
                Ok(self.lookup(set, value)?.is_some())
            }
            Right::Inline(keys) => {
                for key in keys {
                    if self.holds(key, value)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Right::States(states) => {
                Ok(matches!(value, Val::CtNew) && states.iter().any(|s| s == "new"))
            }
            Right::One(key) => self.holds(key, value),
            Right::Unknown(text) => Err(text.clone()),
        }
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

    /// Whether one literal (number, address, word, prefix, range, concatenation) holds `value`.
    fn holds(&mut self, key: &Lit, value: &Val) -> Result<bool, String> {
        let mismatch = || Err(format!("{value:?} compared with {key:?}"));
        match (key, value) {
            (Lit::Concat(parts), Val::Concat(vals)) => {
                if parts.len() != vals.len() {
                    return Ok(false);
                }
                for (p, v) in parts.iter().zip(vals) {
                    if !self.holds(p, v)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            (Lit::Concat(_), _) | (_, Val::Concat(_)) => Ok(false),
            (Lit::Word(w), Val::CtNew) => Ok(w == "new"),
            (_, Val::CtNew) => Ok(false),
            (Lit::Int(n), Val::Int(v)) => Ok(n == v),
            (Lit::Int(n), Val::Port(p)) => {
                self.narrow_eq(*p, *n);
                Ok(*n == u64::from(*p))
            }
            (Lit::Addr(a), Val::Addr(v)) => Ok(a == v),
            (Lit::Range(lo, hi), Val::Int(v)) => match (&**lo, &**hi) {
                (Lit::Int(lo), Lit::Int(hi)) => Ok(lo <= v && v <= hi),
                _ => mismatch(),
            },
            (Lit::Range(lo, hi), Val::Port(p)) => match (&**lo, &**hi) {
                (Lit::Int(lo), Lit::Int(hi)) => {
                    self.narrow_range(*p, *lo, *hi);
                    Ok(*lo <= u64::from(*p) && u64::from(*p) <= *hi)
                }
                _ => mismatch(),
            },
            (Lit::Range(lo, hi), Val::Addr(v)) => match (&**lo, &**hi) {
                (Lit::Addr(lo), Lit::Addr(hi)) => Ok(lo <= v && v <= hi),
                _ => mismatch(),
            },
            (Lit::Prefix(base, len), Val::Int(_) | Val::Port(_)) => {
                let Lit::Int(base) = **base else {
                    return mismatch();
                };
                let n = match value {
                    Val::Port(p) => {
                        // No rule of palisade's writes a port prefix: decide this port alone.
                        (self.lo, self.hi) = (*p, *p);
                        u64::from(*p)
                    }
                    Val::Int(n) => *n,
                    _ => return mismatch(),
                };
                // A prefix of a 32-bit value (the mark): its top `len` bits.
                let mask = if *len == 0 {
                    0
                } else {
                    (u64::from(u32::MAX) << (32 - (*len).min(32))) & u64::from(u32::MAX)
                };
                Ok(n & mask == base & mask)
            }
            (Lit::Prefix(base, len), Val::Addr(v)) => {
                let Lit::Addr(base) = **base else {
                    return mismatch();
                };
                let net = ipnet::IpNet::new(base, u8::try_from(*len).unwrap_or(u8::MAX))
                    .map_err(|e| e.to_string())?;
                Ok(net.contains(v))
            }
            _ => mismatch(),
        }
    }

    /// The value of an expression for this packet; `None` when the packet has no such field.
    fn value(&mut self, e: &Expr) -> Result<Option<Val>, String> {
        let p = self.packet;
        Ok(Some(match e {
            Expr::Int(n) => Val::Int(*n),
            Expr::Mark => Val::Int(u64::from(self.mark)),
            Expr::L4proto => Val::Int(match p.transport {
                Transport::Port(probe) => protocol_number(probe.protocol),
                // Another protocol: the interpreter's packets carry no number for it.
                Transport::Other => 1,
            }),
            Expr::Nfproto => Val::Int(match p.src {
                IpAddr::V4(_) => 2,
                IpAddr::V6(_) => 10,
            }),
            Expr::CtState => Val::CtNew,
            Expr::Address { v6, source } => {
                let addr = if *source { p.src } else { p.dst };
                if addr.is_ipv6() != *v6 {
                    return Ok(None);
                }
                Val::Addr(addr)
            }
            Expr::Dport(protocol) => match p.transport {
                Transport::Port(probe)
                    if protocol.is_none_or(|n| n == protocol_number(probe.protocol)) =>
                {
                    Val::Port(probe.port)
                }
                _ => return Ok(None),
            },
            Expr::Concat(parts) => {
                let mut vals = Vec::with_capacity(parts.len());
                for part in parts {
                    match self.value(part)? {
                        Some(v) => vals.push(v),
                        None => return Ok(None),
                    }
                }
                Val::Concat(vals)
            }
            Expr::Bits(op, a, b) => {
                let (Some(a), Some(b)) = (self.value(a)?, self.value(b)?) else {
                    return Err(format!("expression {e:?}"));
                };
                let (Some(a), Some(b)) = (self.int_of(a), self.int_of(b)) else {
                    return Err(format!("expression {e:?}"));
                };
                Val::Int(match op {
                    BitOp::And => a & b,
                    BitOp::Or => a | b,
                    BitOp::Xor => a ^ b,
                })
            }
            Expr::Unknown(text) => return Err(text.clone()),
        }))
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
