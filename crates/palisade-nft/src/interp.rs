//! A model of how the kernel walks a [`Ruleset`] for the first packet of a connection.
//!
//! ```text
//!   forward (policy accept)
//!     ct state established,related accept        not modelled: the packet opens a connection
//!     guard (if armed): unknown pod-CIDR saddr/daddr -> drop
//!     <family> saddr vmap @egress<family>         hit: run the chain; return -> continue
//!     <family> daddr vmap @ingress<family>        hit: run the chain
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
                        return Decision::Drop;
                    };
                    if let Outcome::Final(decision) = self.run(chain, packet) {
                        return decision;
                    }
                }
            }
        }
        for kind in MapKind::ALL {
            let key = match kind.field() {
                AddrField::Source => packet.src,
                AddrField::Destination => packet.dst,
            };
            let Some(entry) = self.map(kind).get(&key) else {
                continue;
            };
            // A jump to a missing chain is an nft load error; treat it as the drop it would
            // guard against rather than as an accept.
            let Some(chain) = self.chains.get(&entry.chain) else {
                return Decision::Drop;
            };
            if let Outcome::Final(decision) = self.run(chain, packet) {
                return decision;
            }
        }
        Decision::Accept
    }

    fn run(&self, chain: &Chain, packet: &Packet) -> Outcome {
        for rule in &chain.rules {
            if rule.matches.iter().all(|m| self.matches(m, packet)) {
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
            SetElements::AddressPorts(_) => false,
        })
    }

    fn matches(&self, m: &Match, packet: &Packet) -> bool {
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
        }
    }
}
