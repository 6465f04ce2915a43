//! A model of how the kernel walks a [`Ruleset`] for the first packet of a connection.
//!
//! ```text
//!   forward (policy accept)
//!     ct state established,related accept        not modelled: the packet opens a connection
//!     class bits already in the mark              -> drop
//!     guard (if armed): unknown pod-CIDR saddr/daddr -> drop
//!     mark ^= class(daddr)                        (classes map hit: the class chain's XOR)
//!     <family> saddr vmap @egress<family>         hit: run the chain; return -> continue
//!     mark ^= class(daddr); mark ^= class(saddr)
//!     <family> daddr vmap @ingress<family>        hit: run the chain; return -> continue
//!     mark ^= class(saddr)
//!     end of chain                                -> accept
//!   policy chain: first rule whose matches all hold decides; falling off the end = return
//! ```
//!
//! It reads only the ruleset value, never the cluster, so tests can compare what the compiled
//! rules do with what `palisade_core::eval::evaluate` says. Whether the kernel does the same
//! with the rendered text is what the kernel golden tests and the lab check.

use std::net::IpAddr;

use palisade_core::eval::Probe;

use crate::compile::ranges_contain;
use crate::ruleset::{
    AddrField, Chain, Family, Guard, MapKind, Match, Ruleset, SetElements, Verdict,
};

/// The transport of a packet: a protocol with ports, or another one (ICMP...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Port(Probe),
    /// A protocol without the ports rules look at: only rules without ports match it.
    Other,
}

impl std::fmt::Display for Transport {
    /// `TCP 80` as [`Probe`] writes it, or `other protocols (ICMP...)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Port(probe) => probe.fmt(f),
            Transport::Other => f.write_str("other protocols (ICMP...)"),
        }
    }
}

/// The first packet of a connection crossing the node's forward hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Accept,
    Drop,
}

/// What a policy chain did.
enum Outcome {
    Continue,
    Final(Decision),
}

impl Ruleset {
    /// The kernel's decision for `packet` under this ruleset. A packet whose addresses are of
    /// different families cannot exist; it matches no address rule.
    pub fn decide(&self, packet: &Packet) -> Decision {
        self.decide_marked(packet, 0).0
    }

    /// [`Ruleset::decide`] for a packet arriving with packet mark `mark`; also the mark it
    /// leaves the base chain with when accepted.
    pub fn decide_marked(&self, packet: &Packet, mark: u32) -> (Decision, u32) {
        let mask = self.class_mask;
        if mark & mask.bits() != 0 {
            return (Decision::Drop, mark);
        }
        let mut mark = mark;
        if self.guard.is_some() {
            for kind in MapKind::ALL {
                let ip = match kind.field() {
                    AddrField::Source => packet.src,
                    AddrField::Destination => packet.dst,
                };
                let family = Family::of(&ip);
                let in_set = |name: String| self.set_contains(&name, &ip);
                if in_set(Guard::net_set(family)) && !in_set(Guard::known_set(family)) {
                    let Some(chain) = self.chains.get(Guard::chain(kind)) else {
                        return (Decision::Drop, mark);
                    };
                    if let Outcome::Final(decision) = self.run(chain, packet, mark) {
                        return (decision, mark);
                    }
                }
            }
        }
        for kind in MapKind::ALL {
            let (key, other) = match kind.field() {
                AddrField::Source => (packet.src, packet.dst),
                AddrField::Destination => (packet.dst, packet.src),
            };
            // The class chain of the other side XORs its class in, and again out.
            let stamp = self.classes.get(&other).map_or(0, |id| mask.mark(*id));
            mark ^= stamp;
            if let Some(entry) = self.map(kind).get(&key) {
                // A jump to a missing chain is an nft load error; treat it as the drop it
                // would guard against rather than as an accept.
                let Some(chain) = self.chains.get(&entry.chain) else {
                    return (Decision::Drop, mark);
                };
                if let Outcome::Final(decision) = self.run(chain, packet, mark) {
                    return (decision, mark);
                }
            }
            mark ^= stamp;
        }
        (Decision::Accept, mark)
    }

    fn run(&self, chain: &Chain, packet: &Packet, mark: u32) -> Outcome {
        for rule in &chain.rules {
            if rule.matches.iter().all(|m| self.matches(m, packet, mark)) {
                return match rule.verdict {
                    Verdict::Accept => Outcome::Final(Decision::Accept),
                    Verdict::Drop => Outcome::Final(Decision::Drop),
                    Verdict::Return => Outcome::Continue,
                    Verdict::Continue => continue,
                };
            }
        }
        Outcome::Continue
    }

    /// Whether address set `name` holds `ip` (false for a missing set or another kind).
    fn set_contains(&self, name: &str, ip: &IpAddr) -> bool {
        self.sets.get(name).is_some_and(|s| match &s.elements {
            SetElements::Addresses(a) => a.contains(ip),
            SetElements::Intervals(r) => ranges_contain(r, ip),
            SetElements::AddressPorts(_) | SetElements::Classes(_) | SetElements::ClassPorts(_) => {
                false
            }
        })
    }

    fn matches(&self, m: &Match, packet: &Packet, mark: u32) -> bool {
        let family = Family::of(&packet.src);
        if Family::of(&packet.dst) != family {
            return false;
        }
        match m {
            Match::Address {
                family: f,
                field,
                set,
            } => {
                let ip = match field {
                    AddrField::Source => &packet.src,
                    AddrField::Destination => &packet.dst,
                };
                *f == family && self.set_contains(set, ip)
            }
            Match::Ports(ports) => match packet.transport {
                Transport::Port(probe) => ports.contains(probe),
                Transport::Other => false,
            },
            Match::AddressPort { family: f, set } => {
                let Transport::Port(probe) = packet.transport else {
                    return false;
                };
                *f == family
                    && self.sets.get(set).is_some_and(|s| match &s.elements {
                        SetElements::AddressPorts(e) => {
                            e.contains(&(packet.dst, probe.protocol, probe.port))
                        }
                        _ => false,
                    })
            }
            Match::Class { set } => {
                let class = self.class_mask.class_of(mark);
                self.sets.get(set).is_some_and(|s| match &s.elements {
                    SetElements::Classes(c) => class.is_some_and(|id| c.contains(&id)),
                    _ => false,
                })
            }
            Match::ClassPort { set } => {
                let Transport::Port(probe) = packet.transport else {
                    return false;
                };
                let class = self.class_mask.class_of(mark);
                self.sets.get(set).is_some_and(|s| match &s.elements {
                    SetElements::ClassPorts(c) => {
                        class.is_some_and(|id| c.contains(&(id, probe.protocol, probe.port)))
                    }
                    _ => false,
                })
            }
        }
    }
}
