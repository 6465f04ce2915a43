//! Proves that the kernel's table makes one node enforce its share of the policies.
//!
//! ```text
//!   keys: every endpoint address, by (family, local to the node, its class under the policies
//!         that isolate the node's pods, what the kernel's sets and rules can tell about it)
//!         -> one representative per key (two when the key has more members)
//!   pairs: each local key with every key, both ways
//!   per pair: expected = source's egress side if local ∩ destination's ingress side if local
//!                                                                   (eval::side_ports)
//!             TCP, UDP, SCTP: walk from port 0; each walk decides a port interval (walk.rs);
//!                             compare on every run where both the kernel and the engine are
//!                             constant
//!             any other protocol: one walk
//! ```
//!
//! Keying addresses by the kernel's view as well as the engine's is what makes one
//! representative enough: two addresses with one key meet the same set elements and rule
//! literals, so the kernel cannot treat them differently, and the policies do not either. The
//! work grows with local keys x keys, not with pods x pods x ports.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use palisade_core::eval::{
    Endpoint, PortSet, Probe, isolating_policies, same_node_host_traffic, side_ports,
};
use palisade_core::model::{Cluster, Direction, Protocol};
use palisade_core::reach::Reachability;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::{ForeignChain, KTable, KernelRuleset, element_key, unwrap_elem};
use crate::interp::{Decision, Packet, Transport};

/// A connection the kernel decides differently from the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub from: String,
    pub to: String,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The first packet's protocol and port (the first port of the interval that disagrees).
    pub transport: Transport,
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
    /// Address pairs checked: one per pair of keys (see the module doc), per family.
    pub pairs: usize,
    /// Protocol/port intervals compared, over all pairs: runs on which both the kernel's
    /// rules and the engine decide alike.
    pub atoms: usize,
    /// Packets interpreted (walks through the kernel's chains).
    pub checked: usize,
    /// Disagreements found (at most [`Verification::MAX_LISTED`] are kept in `drift`).
    pub drift_count: usize,
    pub drift: Vec<Disagreement>,
    pub foreign: Vec<ForeignChain>,
    /// Every pair was checked: false when the budget ran out or the check was cancelled.
    pub complete: bool,
}

impl Verification {
    pub const MAX_LISTED: usize = 20;

    /// Every pair checked and no disagreement: the kernel enforces what the engine says.
    pub fn verified(&self) -> bool {
        self.complete && self.drift_count == 0
    }
}

/// How much a check may take.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    /// Stop (incomplete) at this time.
    pub until: Option<Instant>,
    /// Stop (incomplete) as soon as this is set.
    pub cancel: Option<&'a AtomicBool>,
    /// Threads to spread the pairs over (1: the calling thread only).
    pub threads: usize,
}

impl Budget<'_> {
    /// No limit, on the machine's cores.
    pub fn unlimited() -> Budget<'static> {
        Budget {
            until: None,
            cancel: None,
            threads: palisade_core::parallel::threads(),
        }
    }

    fn exhausted(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
            || self.until.is_some_and(|t| Instant::now() >= t)
    }
}

/// [`verify_with`] without a limit, on every core.
pub fn verify(
    cluster: &Cluster,
    externals: &[IpAddr],
    node: &str,
    kernel: &KernelRuleset,
) -> Verification {
    verify_with(cluster, externals, node, kernel, Budget::unlimited())
}

/// Proves that `kernel` makes node `node` enforce its share of `cluster`'s policies: for every
/// address pair the engine or the kernel tells apart (see the module doc) whose connections
/// cross this node's forward hook, on every protocol and port, the kernel's decision equals
/// the engine's: the source's egress side if the source is a local pod, the destination's
/// ingress side if the destination is, both if both are (palisade_core::eval).
pub fn verify_with(
    cluster: &Cluster,
    externals: &[IpAddr],
    node: &str,
    kernel: &KernelRuleset,
    budget: Budget<'_>,
) -> Verification {
    let mine = node_policies(cluster, node);
    let share = Cluster {
        namespaces: cluster.namespaces.clone(),
        pods: cluster.pods.clone(),
        policies: cluster
            .policies
            .iter()
            .zip(&mine)
            .filter(|(_, m)| **m)
            .map(|(p, _)| p.clone())
            .collect(),
    };
    check_share(share, externals, node, kernel, budget)
}

/// [`verify_with`] on a cluster the caller gives away: its pods are not copied (the agent's
/// readback thread holds a snapshot of its own).
pub fn verify_owned(
    mut cluster: Cluster,
    externals: &[IpAddr],
    node: &str,
    kernel: &KernelRuleset,
    budget: Budget<'_>,
) -> Verification {
    let mine = node_policies(&cluster, node);
    cluster.policies = std::mem::take(&mut cluster.policies)
        .into_iter()
        .zip(mine)
        .filter(|(_, m)| *m)
        .map(|(p, _)| p)
        .collect();
    check_share(cluster, externals, node, kernel, budget)
}

/// Which policies isolate some pod of `node`: the only ones that decide there, so the classes
/// under those alone are what the node must tell apart, far fewer than the cluster's.
fn node_policies(cluster: &Cluster, node: &str) -> Vec<bool> {
    let mut mine = vec![false; cluster.policies.len()];
    for i in (0..cluster.pods.len()).filter(|&i| is_local(cluster, node, i)) {
        for direction in [Direction::Egress, Direction::Ingress] {
            for p in isolating_policies(cluster, i, direction) {
                if let Some(m) = mine.get_mut(p) {
                    *m = true;
                }
            }
        }
    }
    mine
}

/// The check on the node's share of the cluster (every pod and namespace, the policies of
/// [`node_policies`]): the sides of local pods are the same as in the whole cluster.
fn check_share(
    share: Cluster,
    externals: &[IpAddr],
    node: &str,
    kernel: &KernelRuleset,
    budget: Budget<'_>,
) -> Verification {
    let ctx = Context::new(share, externals, node, kernel);
    let keys = ctx.keys();
    let local: Vec<usize> = (0..keys.len()).filter(|&k| keys[k].0.local).collect();
    // Pairs are made per local key as they are checked: none is held beyond its run.
    let parts = palisade_core::parallel::map_on(budget.threads.max(1), local, |l| {
        ctx.check(&ctx.pairs_of(&keys, l), &budget)
    });
    let mut out = Verification {
        node: node.to_string(),
        table_present: kernel.has_palisade_chain(),
        pairs: 0,
        atoms: 0,
        checked: 0,
        drift_count: 0,
        drift: Vec::new(),
        foreign: kernel.foreign_chains(),
        complete: true,
    };
    for part in parts {
        out.pairs += part.pairs;
        out.atoms += part.atoms;
        out.checked += part.checked;
        out.drift_count += part.drift_count;
        out.complete &= part.complete;
        let room = Verification::MAX_LISTED.saturating_sub(out.drift.len());
        out.drift.extend(part.drift.into_iter().take(room));
    }
    out
}

/// What a key is made of (see the module doc): a hostNetwork pod's own-node exemption depends
/// on its node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    v4: bool,
    local: bool,
    class: u32,
    host_here: bool,
    host_elsewhere: bool,
    /// What the kernel's table can tell about the address ([`AddressView::of`]).
    view: Vec<u64>,
}

/// Up to two members of a key: endpoint index and address.
#[derive(Debug, Clone, Copy, Default)]
struct Members {
    first: Option<(usize, IpAddr)>,
    second: Option<(usize, IpAddr)>,
}

/// A representative pair: endpoint indices (pods, then externals) and their addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair {
    from: usize,
    to: usize,
    src: IpAddr,
    dst: IpAddr,
}

/// What one run of [`Context::check`] found.
#[derive(Default)]
struct Partial {
    pairs: usize,
    atoms: usize,
    checked: usize,
    drift_count: usize,
    drift: Vec<Disagreement>,
    complete: bool,
}

struct Context<'a> {
    /// The node's share of the cluster (see [`check_share`]).
    cluster: Cluster,
    externals: &'a [IpAddr],
    node: &'a str,
    kernel: &'a KernelRuleset,
    /// Per local pod: the policies isolating it (egress, ingress).
    isolating: FxHashMap<usize, (Vec<usize>, Vec<usize>)>,
    /// Per endpoint: its class under the policies of the node's pods.
    class_of: Vec<u32>,
    view: AddressView,
}

impl<'a> Context<'a> {
    fn new(
        cluster: Cluster,
        externals: &'a [IpAddr],
        node: &'a str,
        kernel: &'a KernelRuleset,
    ) -> Context<'a> {
        let isolating: FxHashMap<usize, (Vec<usize>, Vec<usize>)> = (0..cluster.pods.len())
            .filter(|&i| is_local(&cluster, node, i))
            .map(|i| {
                (
                    i,
                    (
                        isolating_policies(&cluster, i, Direction::Egress),
                        isolating_policies(&cluster, i, Direction::Ingress),
                    ),
                )
            })
            .collect();
        let class_of = Reachability::classes_only(&cluster, externals);
        let view = AddressView::new(kernel.ours());
        Context {
            cluster,
            externals,
            node,
            kernel,
            isolating,
            class_of,
            view,
        }
    }

    fn endpoint(&self, i: usize) -> Endpoint {
        match i.checked_sub(self.cluster.pods.len()) {
            None => Endpoint::Pod(i),
            Some(x) => self
                .externals
                .get(x)
                .copied()
                .map_or(Endpoint::Pod(i), Endpoint::External),
        }
    }

    fn local(&self, i: usize) -> bool {
        i < self.cluster.pods.len() && is_local(&self.cluster, self.node, i)
    }

    /// The first address of each family of endpoint `i`.
    fn addresses(&self, i: usize) -> Vec<IpAddr> {
        let all: Vec<IpAddr> = match self.endpoint(i) {
            Endpoint::Pod(p) => self
                .cluster
                .pods
                .get(p)
                .map(|p| p.ips.clone())
                .unwrap_or_default(),
            Endpoint::External(ip) => vec![ip],
        };
        let mut out = Vec::new();
        for v4 in [true, false] {
            out.extend(all.iter().copied().find(|ip| ip.is_ipv4() == v4));
        }
        out
    }

    fn name(&self, i: usize) -> String {
        match self.endpoint(i) {
            Endpoint::Pod(p) => self
                .cluster
                .pods
                .get(p)
                .map(|p| p.key())
                .unwrap_or_default(),
            Endpoint::External(ip) => ip.to_string(),
        }
    }

    /// Every key (see the module doc) with up to two members, in a stable order.
    fn keys(&self) -> Vec<(Key, Members)> {
        let mut keys: BTreeMap<Key, Members> = BTreeMap::new();
        for i in 0..self.class_of.len() {
            let host = match self.endpoint(i) {
                Endpoint::Pod(p) => self.cluster.pods.get(p).filter(|p| p.host_network),
                Endpoint::External(_) => None,
            };
            let host_here = host.is_some_and(|p| p.node.as_deref() == Some(self.node));
            let host_elsewhere = host.is_some() && !host_here;
            for ip in self.addresses(i) {
                let key = Key {
                    v4: ip.is_ipv4(),
                    local: self.local(i),
                    class: self.class_of.get(i).copied().unwrap_or(u32::MAX),
                    host_here,
                    host_elsewhere,
                    view: self.view.of(ip),
                };
                let m = keys.entry(key).or_default();
                if m.first.is_none() {
                    m.first = Some((i, ip));
                } else if m.second.is_none() {
                    m.second = Some((i, ip));
                }
            }
        }
        keys.into_iter().collect()
    }

    /// The pairs local key `l` stands for: with every key of its family, both ways; with a
    /// local key, only from the first of the two (the other one's turn would repeat them).
    fn pairs_of(&self, keys: &[(Key, Members)], l: usize) -> Vec<Pair> {
        let mut pairs = Vec::new();
        let Some((lk, lm)) = keys.get(l) else {
            return pairs;
        };
        let Some(l1) = lm.first else { return pairs };
        let mut add = |(a, src): (usize, IpAddr), (b, dst): (usize, IpAddr)| {
            if a == b
                || src == dst
                || same_node_host_traffic(&self.cluster, self.endpoint(a), self.endpoint(b))
            {
                return;
            }
            pairs.push(Pair {
                from: a,
                to: b,
                src,
                dst,
            });
            pairs.push(Pair {
                from: b,
                to: a,
                src: dst,
                dst: src,
            });
        };
        for (o, (ok, om)) in keys.iter().enumerate() {
            if ok.v4 != lk.v4 || (ok.local && o < l) {
                continue;
            }
            if o == l {
                if let Some(l2) = lm.second {
                    add(l1, l2);
                }
            } else if let Some(o1) = om.first {
                add(l1, o1);
            }
        }
        pairs
    }

    /// What the engine says this node must let through from `from` to `to`.
    fn expected(&self, from: usize, to: usize) -> PortSet {
        let (a, b) = (self.endpoint(from), self.endpoint(to));
        let egress = match self.isolating.get(&from) {
            Some((iso, _)) => side_ports(&self.cluster, Direction::Egress, a, iso, b, b),
            None => PortSet::all(),
        };
        let ingress = match self.isolating.get(&to) {
            Some((_, iso)) => side_ports(&self.cluster, Direction::Ingress, b, iso, a, b),
            None => PortSet::all(),
        };
        egress.intersection(&ingress)
    }

    fn check(&self, pairs: &[Pair], budget: &Budget<'_>) -> Partial {
        let mut out = Partial {
            complete: true,
            ..Partial::default()
        };
        for (n, pair) in pairs.iter().enumerate() {
            if n % 64 == 0 && budget.exhausted() {
                out.complete = false;
                return out;
            }
            out.pairs += 1;
            let expected = self.expected(pair.from, pair.to);
            let record =
                |out: &mut Partial, transport, want: bool, kernel: Result<Decision, String>| {
                    let expected = if want {
                        Decision::Accept
                    } else {
                        Decision::Drop
                    };
                    if kernel.as_ref() == Ok(&expected) {
                        return;
                    }
                    out.drift_count += 1;
                    if out.drift.len() < Verification::MAX_LISTED {
                        out.drift.push(Disagreement {
                            from: self.name(pair.from),
                            to: self.name(pair.to),
                            src: pair.src,
                            dst: pair.dst,
                            transport,
                            expected,
                            kernel,
                        });
                    }
                };
            for protocol in Protocol::ALL {
                // From port 0: a rule without ports admits it too, and a crafted packet can
                // carry it.
                let mut port: u32 = 0;
                while port <= u32::from(u16::MAX) {
                    let probe = Probe {
                        protocol,
                        port: port as u16,
                    };
                    let transport = Transport::Port(probe);
                    let (kernel, _, hi) = self.kernel.decide_span(&Packet {
                        src: pair.src,
                        dst: pair.dst,
                        transport,
                    });
                    let (want, run_end) = run_of(&expected, protocol, probe.port);
                    out.checked += 1;
                    out.atoms += 1;
                    record(&mut out, transport, want, kernel);
                    port = u32::from(hi.min(run_end)) + 1;
                }
            }
            let packet = Packet {
                src: pair.src,
                dst: pair.dst,
                transport: Transport::Other,
            };
            out.checked += 1;
            out.atoms += 1;
            record(
                &mut out,
                Transport::Other,
                expected.is_all(),
                self.kernel.decide(&packet),
            );
        }
        out
    }
}

fn is_local(cluster: &Cluster, node: &str, i: usize) -> bool {
    cluster
        .pods
        .get(i)
        .is_some_and(|p| p.node.as_deref() == Some(node) && !p.host_network)
}

/// Whether `port` of `protocol` is in `set`, and the last port of the run it is in.
fn run_of(set: &PortSet, protocol: Protocol, port: u16) -> (bool, u16) {
    let ranges = set.ranges(protocol);
    let after = ranges.partition_point(|&(first, _)| first <= port);
    if let Some(&(_, last)) = after.checked_sub(1).and_then(|i| ranges.get(i))
        && port <= last
    {
        return (true, last);
    }
    let end = ranges
        .get(after)
        .map_or(u16::MAX, |&(first, _)| first.saturating_sub(1));
    (false, end)
}

/// What the kernel's table can tell about an address: every set or map element with a part
/// that is a literal address, prefix or range (identified by its set, its position and the
/// rest of the element, so that the members of one class, which map to the same chain, look
/// alike), and every address literal in a rule.
#[derive(Default)]
struct AddressView {
    exact: FxHashMap<IpAddr, Vec<u64>>,
    ranged: Vec<(IpAddr, IpAddr, u64)>,
}

enum AddrShape {
    Exact(IpAddr),
    Range(IpAddr, IpAddr),
}

fn addr_shape(v: &Value) -> Option<AddrShape> {
    let v = unwrap_elem(v);
    if let Some(ip) = v.as_str().and_then(|s| s.parse().ok()) {
        return Some(AddrShape::Exact(ip));
    }
    if let Some(prefix) = v.get("prefix") {
        let addr: IpAddr = prefix.get("addr")?.as_str()?.parse().ok()?;
        let len = u8::try_from(prefix.get("len")?.as_u64()?).ok()?;
        let net = ipnet::IpNet::new(addr, len).ok()?;
        return Some(AddrShape::Range(net.network(), net.broadcast()));
    }
    if let Some([lo, hi]) = v.get("range").and_then(Value::as_array).map(Vec::as_slice) {
        let lo: IpAddr = lo.as_str()?.parse().ok()?;
        let hi: IpAddr = hi.as_str()?.parse().ok()?;
        return Some(AddrShape::Range(lo, hi));
    }
    None
}

fn fingerprint(parts: &[&dyn Fn(&mut std::collections::hash_map::DefaultHasher)]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for part in parts {
        part(&mut h);
    }
    h.finish()
}

impl AddressView {
    fn new(table: Option<&KTable>) -> AddressView {
        let mut view = AddressView::default();
        let Some(table) = table else { return view };
        for (name, set) in &table.sets {
            for elem in &set.elems {
                let value = match elem.as_array().map(Vec::as_slice) {
                    Some([_, v]) => Some(v),
                    _ => None,
                };
                let key = element_key(elem);
                let parts: Vec<&Value> = match key.get("concat").and_then(Value::as_array) {
                    Some(parts) => parts.iter().map(unwrap_elem).collect(),
                    None => vec![key],
                };
                for (j, part) in parts.iter().enumerate() {
                    let Some(shape) = addr_shape(part) else {
                        continue;
                    };
                    let id = fingerprint(&[
                        &|h| name.hash(h),
                        &|h| j.hash(h),
                        &|h| {
                            for (k, other) in parts.iter().enumerate() {
                                if k != j {
                                    other.to_string().hash(h);
                                }
                            }
                        },
                        &|h| value.map(ToString::to_string).hash(h),
                    ]);
                    view.add(shape, id);
                }
            }
        }
        for chain in table.chains.values() {
            for rule in &chain.rules {
                for e in rule {
                    view.add_literals(e);
                }
            }
        }
        view
    }

    fn add(&mut self, shape: AddrShape, id: u64) {
        match shape {
            AddrShape::Exact(ip) => self.exact.entry(ip).or_default().push(id),
            AddrShape::Range(lo, hi) => self.ranged.push((lo, hi, id)),
        }
    }

    fn add_literals(&mut self, v: &Value) {
        if let Some(shape) = addr_shape(v) {
            let id = fingerprint(&[&|h| "rule".hash(h), &|h| v.to_string().hash(h)]);
            self.add(shape, id);
            return;
        }
        match v {
            Value::Array(a) => a.iter().for_each(|x| self.add_literals(x)),
            Value::Object(o) => o.values().for_each(|x| self.add_literals(x)),
            _ => {}
        }
    }

    /// The sorted ids of everything that holds `ip`.
    fn of(&self, ip: IpAddr) -> Vec<u64> {
        let mut ids: Vec<u64> = self.exact.get(&ip).cloned().unwrap_or_default();
        ids.extend(
            self.ranged
                .iter()
                .filter(|(lo, hi, _)| *lo <= ip && ip <= *hi)
                .map(|&(_, _, id)| id),
        );
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_a_port_set() {
        let mut set = PortSet::none();
        set.insert_range(Protocol::Tcp, 80, 90);
        set.insert_range(Protocol::Tcp, 443, 443);
        assert_eq!(run_of(&set, Protocol::Tcp, 1), (false, 79));
        assert_eq!(run_of(&set, Protocol::Tcp, 80), (true, 90));
        assert_eq!(run_of(&set, Protocol::Tcp, 85), (true, 90));
        assert_eq!(run_of(&set, Protocol::Tcp, 91), (false, 442));
        assert_eq!(run_of(&set, Protocol::Tcp, 443), (true, 443));
        assert_eq!(run_of(&set, Protocol::Tcp, 444), (false, u16::MAX));
        assert_eq!(run_of(&set, Protocol::Udp, 53), (false, u16::MAX));
        assert_eq!(run_of(&PortSet::all(), Protocol::Sctp, 7), (true, u16::MAX));
    }
}
