//! Cluster + node name -> [`Ruleset`]: local pods, their chains, and the sets the chains read.
//!
//! ```text
//!   for each local pod (node == this node, not hostNetwork):
//!     no address                 -> pending_pods
//!     isolating egress policies  -> egress chain  (memo by policy list)         ┐ named by a hash
//!     isolating ingress policies -> ingress chain (memo by policy list + ports) ┘ of their rules
//!     every address              -> egress/ingress map entry: jump to that chain
//!   each policy rule -> chain rules:  [class set | cidr set] [ports] return
//!                                      named ports: ingress resolves on the local pod itself;
//!                                      egress uses a class . proto . port set per destination
//!   then: every address some class set observes -> its class id (peers::assign_classes)
//! ```
//!
//! A chain matches the other side of a connection by its class, which the base chain XORs
//! into the packet mark before the chain runs and out again after it (see [`crate::ClassMask`]),
//! so a broad peer costs one class id per class it covers, not one element per pod. Chains end
//! a match with `return` (the base chain unstamps, then runs the destination's ingress chain
//! or accepts) and end with `counter drop`.
//! [`CompileOptions`] add a rate-limited `log group` rule before that drop, named counters on
//! the allow rules and the drop, and the fail-closed guard ([`Guard`]). Pods with
//! the same policy view get the same chain content, hence the same chain. Traffic between a pod
//! and its own node never crosses the forward hook, and hostNetwork pods are not policed, so
//! neither needs a rule.

mod incremental;
mod intervals;
mod peers;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use palisade_core::eval::{Endpoint, PortSet, resolve_named_port, selects};
use palisade_core::model::{Cluster, ContainerPort, Direction, Peers, PortMatch, PortSpec, Ports};
use rustc_hash::FxHashMap;

use crate::names;
use crate::render;
use crate::ruleset::{
    AddrField, AddressConflict, Chain, CompileOptions, CounterDef, Family, Guard, LogStatement,
    MapEntry, MapKind, Match, Rule, Ruleset, Set, SetElements, Verdict,
};
pub use incremental::{Changes, Incremental, Work};
use peers::{SetTable, fam};

pub(crate) use intervals::{prefix_len, ranges_contain};

/// Converts a count into an id; counts are bounded by the input, far below `u32::MAX`.
fn id(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Compiles the ruleset node `node` needs to enforce `cluster`'s policies on its pods.
///
/// Pure and deterministic: the same cluster and node always give the same value. Pods on the
/// node without an address are listed in [`Ruleset::pending_pods`]; local pods sharing an
/// address in [`Ruleset::address_conflicts`].
pub fn compile(cluster: &Cluster, node: &str) -> Ruleset {
    compile_with(cluster, node, &CompileOptions::default())
}

/// [`compile`] with logging, counters or the fail-closed guard. The options never change a
/// verdict for known pods; the guard drops unknown pod-CIDR addresses while it is armed.
pub fn compile_with(cluster: &Cluster, node: &str, options: &CompileOptions) -> Ruleset {
    let (mut ruleset, mut table) = local_part(cluster, node, options);
    (ruleset.classes, ruleset.unclassified) = table.assign_classes(options.class_mask);
    ruleset.sets.extend(table.sets);
    ruleset
}

/// Everything but the classes: the local pods' maps and chains, counters, the guard, and the
/// definitions the chains' class sets stand for, whose sets (in the returned table) are still
/// empty. What it reads of the cluster: the policies, the namespaces' labels, the local pods,
/// whether pods have addresses of each family or several addresses, and (for the guard) every
/// pod address in the guarded CIDRs.
fn local_part<'a>(
    cluster: &'a Cluster,
    node: &str,
    options: &'a CompileOptions,
) -> (Ruleset, SetTable<'a>) {
    let mut builder = Builder {
        cluster,
        options,
        table: SetTable::new(cluster),
        chains: BTreeMap::new(),
        counters: BTreeMap::new(),
        egress_memo: FxHashMap::default(),
        ingress_memo: FxHashMap::default(),
    };
    let by_namespace = PoliciesByNamespace::new(cluster);
    let mut ruleset = Ruleset::empty(node);
    if options.counters {
        ruleset.pod_counters = Some(BTreeMap::new());
    }
    let mut owners: BTreeMap<IpAddr, String> = BTreeMap::new();
    let mut conflicts: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
    for (i, pod) in cluster.pods.iter().enumerate() {
        if pod.node.as_deref() != Some(node) || pod.host_network {
            continue;
        }
        let key = pod.key();
        if pod.ips.is_empty() {
            ruleset.pending_pods.push(key);
            continue;
        }
        let egress = by_namespace.isolating(i, Direction::Egress);
        let ingress = by_namespace.isolating(i, Direction::Ingress);
        let egress_chain = (!egress.is_empty()).then(|| builder.egress_chain(&egress));
        let ingress_chain = (!ingress.is_empty()).then(|| builder.ingress_chain(&ingress, i));
        for ip in &pod.ips {
            match owners.entry(*ip) {
                Entry::Occupied(owner) => {
                    if *owner.get() != key {
                        conflicts.entry(*ip).or_default().push(key.clone());
                    }
                    continue;
                }
                Entry::Vacant(slot) => {
                    slot.insert(key.clone());
                }
            }
            let entry = |chain: &String| MapEntry {
                chain: chain.clone(),
                pod: key.clone(),
            };
            for (kind, chain) in [
                (MapKind::Egress, &egress_chain),
                (MapKind::Ingress, &ingress_chain),
            ] {
                let Some(chain) = chain else { continue };
                match kind {
                    MapKind::Egress => ruleset.egress.insert(*ip, entry(chain)),
                    MapKind::Ingress => ruleset.ingress.insert(*ip, entry(chain)),
                };
                if let Some(pod_counters) = ruleset.pod_counters.as_mut() {
                    let direction = match kind {
                        MapKind::Egress => Direction::Egress,
                        MapKind::Ingress => Direction::Ingress,
                    };
                    let name = builder.counter(CounterDef::PodDenied {
                        namespace: pod.namespace.clone(),
                        pod: pod.name.clone(),
                        direction,
                    });
                    pod_counters.insert((kind, *ip), name);
                }
            }
        }
    }
    ruleset.address_conflicts = conflicts
        .into_iter()
        .map(|(address, skipped)| AddressConflict {
            address,
            programmed: owners.get(&address).cloned().unwrap_or_default(),
            skipped,
        })
        .collect();
    if !options.guard_cidrs.is_empty() {
        builder.guard(node, &mut ruleset, &by_namespace);
    }
    ruleset.class_mask = options.class_mask;
    ruleset.chains = builder.chains;
    ruleset.counters = builder.counters;
    (ruleset, builder.table)
}

/// The policies of each namespace, so that finding a pod's policies reads its namespace's
/// alone rather than every policy of the cluster.
struct PoliciesByNamespace<'a> {
    cluster: &'a Cluster,
    of: FxHashMap<&'a str, Vec<usize>>,
}

impl<'a> PoliciesByNamespace<'a> {
    fn new(cluster: &'a Cluster) -> PoliciesByNamespace<'a> {
        let mut of: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
        for (i, policy) in cluster.policies.iter().enumerate() {
            of.entry(policy.namespace.as_str()).or_default().push(i);
        }
        PoliciesByNamespace { cluster, of }
    }

    /// `palisade_core::eval::isolating_policies`: the policies selecting pod `pod` that have
    /// rules for `direction`, ascending.
    fn isolating(&self, pod: usize, direction: Direction) -> Vec<usize> {
        let Some(p) = self.cluster.pods.get(pod) else {
            return Vec::new();
        };
        if p.host_network {
            return Vec::new();
        }
        let Some(candidates) = self.of.get(p.namespace.as_str()) else {
            return Vec::new();
        };
        candidates
            .iter()
            .copied()
            .filter(|&i| {
                let policy = &self.cluster.policies[i];
                policy.rules(direction).is_some() && selects(policy, p)
            })
            .collect()
    }
}

/// `palisade <chain>`: what the log rule of `chain` writes as its nflog prefix.
pub fn log_prefix(chain: &str) -> String {
    format!("{LOG_PREFIX}{chain}")
}

const LOG_PREFIX: &str = "palisade ";

/// Where a logged drop happened, read back from its nflog prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    /// The chain that dropped the packet.
    pub chain: String,
    /// Egress: the source pod's policies dropped it; ingress: the destination pod's.
    pub direction: Direction,
    /// Dropped by the fail-closed guard, not by a policy chain.
    pub guard: bool,
}

/// The inverse of [`log_prefix`]; `None` for a prefix palisade did not write.
pub fn parse_log_prefix(prefix: &str) -> Option<LogSource> {
    let chain = prefix.trim_end_matches('\0').strip_prefix(LOG_PREFIX)?;
    let (direction, guard) = if chain == Guard::chain(MapKind::Egress) {
        (Direction::Egress, true)
    } else if chain == Guard::chain(MapKind::Ingress) {
        (Direction::Ingress, true)
    } else if chain.starts_with("eg-") {
        (Direction::Egress, false)
    } else if chain.starts_with("in-") {
        (Direction::Ingress, false)
    } else {
        return None;
    };
    Some(LogSource {
        chain: chain.to_string(),
        direction,
        guard,
    })
}

struct Builder<'a> {
    cluster: &'a Cluster,
    options: &'a CompileOptions,
    table: SetTable<'a>,
    chains: BTreeMap<String, Chain>,
    counters: BTreeMap<String, CounterDef>,
    egress_memo: FxHashMap<Vec<usize>, String>,
    ingress_memo: FxHashMap<(Vec<usize>, Vec<ContainerPort>), String>,
}

impl Builder<'_> {
    fn egress_chain(&mut self, policies: &[usize]) -> String {
        if let Some(name) = self.egress_memo.get(policies) {
            return name.clone();
        }
        let name = self.chain(Direction::Egress, policies, None);
        self.egress_memo.insert(policies.to_vec(), name.clone());
        name
    }

    /// Named ports of ingress rules resolve on the pod itself, so its declared ports are part
    /// of the key.
    fn ingress_chain(&mut self, policies: &[usize], pod: usize) -> String {
        let mut ports = self
            .cluster
            .pods
            .get(pod)
            .map(|p| p.ports.clone())
            .unwrap_or_default();
        ports.sort();
        let key = (policies.to_vec(), ports);
        if let Some(name) = self.ingress_memo.get(&key) {
            return name.clone();
        }
        let name = self.chain(Direction::Ingress, policies, Some(pod));
        self.ingress_memo.insert(key, name.clone());
        name
    }

    /// Builds (or finds) the chain for pods isolated by `policies`; `local` is the pod whose
    /// named ports ingress rules use.
    fn chain(&mut self, direction: Direction, policies: &[usize], local: Option<usize>) -> String {
        let mut rules = Vec::new();
        let mut hint = None;
        for &index in policies {
            let Some(policy) = self.cluster.policies.get(index) else {
                continue;
            };
            for (n, rule) in policy
                .rules(direction)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let origin = format!("{} {}[{n}]", policy.key(), direction.as_str());
                let counter = self.options.counters.then(|| CounterDef::Allowed {
                    namespace: policy.namespace.clone(),
                    policy: policy.name.clone(),
                    direction,
                    rule: n,
                });
                let counter = counter.map(|def| self.counter(def));
                let before = rules.len();
                self.rule(
                    direction,
                    &policy.namespace,
                    &rule.peers,
                    &rule.ports,
                    local,
                    (&origin, counter.as_deref()),
                    &mut rules,
                );
                if hint.is_none() && rules.len() > before {
                    hint = Some(policy.key());
                }
            }
        }
        let mut denied = Vec::new();
        if self.options.counters {
            for &index in policies {
                let Some(policy) = self.cluster.policies.get(index) else {
                    continue;
                };
                denied.push(self.counter(CounterDef::Denied {
                    namespace: policy.namespace.clone(),
                    policy: policy.name.clone(),
                    direction,
                }));
            }
        }
        if self.options.counters {
            // One rule per family: an `ip saddr` lookup never matches an IPv6 packet.
            let kind = match direction {
                Direction::Egress => MapKind::Egress,
                Direction::Ingress => MapKind::Ingress,
            };
            for family in Family::ALL {
                rules.push(Rule {
                    matches: Vec::new(),
                    log: None,
                    counters: Vec::new(),
                    counter_map: Some((family, kind)),
                    counter: false,
                    verdict: Verdict::Continue,
                    comment: None,
                });
            }
        }
        rules.push(Rule {
            matches: Vec::new(),
            log: None,
            counters: denied,
            counter_map: None,
            counter: true,
            verdict: Verdict::Drop,
            comment: None,
        });
        let chain = Chain { rules };
        let (prefix, verdict_word) = match direction {
            Direction::Egress => ("eg", "egress"),
            Direction::Ingress => ("in", "ingress"),
        };
        let content = render::chain_body(&chain, self.options.class_mask);
        let hint = hint.unwrap_or_else(|| "deny-all".to_string());
        // The name comes from the rules without the log rule, whose prefix is the name.
        let base = names::name(prefix, &hint, &format!("{verdict_word}\n{content}"));
        // Distinct contents with one name would need a 40-bit hash collision; stay correct
        // anyway, deterministically.
        let mut name = base.clone();
        let mut n = 1;
        loop {
            let chain = self.with_log(chain.clone(), &name);
            match self.chains.get(&name) {
                Some(existing) if *existing == chain => return name,
                Some(_) => {
                    n += 1;
                    name = format!("{base}-{n}");
                }
                None => {
                    self.chains.insert(name.clone(), chain);
                    return name;
                }
            }
        }
    }

    /// `chain` with a rate-limited log rule before its final drop, if logging is on.
    fn with_log(&self, mut chain: Chain, name: &str) -> Chain {
        if let Some(log) = &self.options.log {
            let at = chain.rules.len().saturating_sub(1);
            chain.rules.insert(
                at,
                Rule {
                    matches: Vec::new(),
                    log: Some(LogStatement {
                        group: log.group,
                        prefix: log_prefix(name),
                        rate_per_second: log.rate_per_second,
                        burst: log.burst,
                    }),
                    counters: Vec::new(),
                    counter_map: None,
                    counter: false,
                    verdict: Verdict::Continue,
                    comment: None,
                },
            );
        }
        chain
    }

    /// Registers a named counter; its name comes from what it counts.
    fn counter(&mut self, def: CounterDef) -> String {
        let (prefix, hint) = match &def {
            CounterDef::Allowed {
                namespace, policy, ..
            } => ("allow", format!("{namespace} {policy}")),
            CounterDef::Denied {
                namespace, policy, ..
            } => ("deny", format!("{namespace} {policy}")),
            CounterDef::PodDenied { namespace, pod, .. } => ("drops", format!("{namespace} {pod}")),
            CounterDef::Guard { direction } => ("guard", direction.as_str().to_string()),
        };
        let name = names::name(prefix, &hint, &def.comment());
        self.counters.insert(name.clone(), def);
        name
    }

    /// The fail-closed guard's sets and chains; see [`Guard`].
    fn guard(&mut self, node: &str, ruleset: &mut Ruleset, by_namespace: &PoliciesByNamespace) {
        let cluster = self.cluster;
        let pending_isolated: Vec<String> = cluster
            .pods
            .iter()
            .enumerate()
            .filter(|(i, pod)| {
                pod.node.as_deref() == Some(node)
                    && !pod.host_network
                    && pod.ips.is_empty()
                    && [Direction::Egress, Direction::Ingress]
                        .into_iter()
                        .any(|d| !by_namespace.isolating(*i, d).is_empty())
            })
            .map(|(_, pod)| pod.key())
            .collect();
        let armed = !pending_isolated.is_empty();
        let cidrs = &self.options.guard_cidrs;
        let known: BTreeSet<IpAddr> = cluster
            .pods
            .iter()
            .flat_map(|pod| pod.ips.iter().copied())
            .filter(|ip| cidrs.iter().any(|net| net.contains(ip)))
            .collect();
        for family in Family::ALL {
            let blocks: Vec<(&ipnet::IpNet, &[ipnet::IpNet])> =
                cidrs.iter().map(|net| (net, &[][..])).collect();
            let ranges = if armed {
                intervals::block_ranges(&blocks, family)
            } else {
                Vec::new()
            };
            ruleset.sets.insert(
                Guard::net_set(family),
                Set {
                    family,
                    comment: "guard: pod CIDRs while an isolated pod is pending".to_string(),
                    elements: SetElements::Intervals(ranges),
                },
            );
            ruleset.sets.insert(
                Guard::known_set(family),
                Set {
                    family,
                    comment: "guard: known pod addresses".to_string(),
                    elements: SetElements::Addresses(
                        known
                            .iter()
                            .filter(|ip| Family::of(ip) == family)
                            .copied()
                            .collect(),
                    ),
                },
            );
        }
        for kind in MapKind::ALL {
            let direction = match kind {
                MapKind::Egress => Direction::Egress,
                MapKind::Ingress => Direction::Ingress,
            };
            let counters = if self.options.counters {
                vec![self.counter(CounterDef::Guard { direction })]
            } else {
                Vec::new()
            };
            let chain = Chain {
                rules: vec![Rule {
                    matches: Vec::new(),
                    log: None,
                    counters,
                    counter_map: None,
                    counter: true,
                    verdict: Verdict::Drop,
                    comment: Some("fail-closed guard: a pod-CIDR address no pod owns".to_string()),
                }],
            };
            let name = Guard::chain(kind);
            let chain = self.with_log(chain, name);
            self.chains.insert(name.to_string(), chain);
        }
        ruleset.guard = Some(Guard { pending_isolated });
    }

    /// The chain rules of one policy rule.
    #[allow(clippy::too_many_arguments)]
    fn rule(
        &mut self,
        direction: Direction,
        policy_ns: &str,
        peers: &Peers,
        ports: &Ports,
        local: Option<usize>,
        (origin, counter): (&str, Option<&str>),
        out: &mut Vec<Rule>,
    ) {
        // Both directions return to the base chain, which XORs the class back out of the mark
        // (and then accepts, or runs the destination's ingress chain).
        let verdict = Verdict::Return;
        let field = match direction {
            Direction::Egress => AddrField::Destination,
            Direction::Ingress => AddrField::Source,
        };
        let (static_ports, named) = self.static_ports(ports, local);
        // `None`: the static part matches nothing; `Some(None)`: it matches everything.
        let port_match = if static_ports.is_all() {
            Some(None)
        } else if static_ports.is_empty() {
            None
        } else {
            Some(Some(Match::Ports(static_ports)))
        };
        let make = |matches: Vec<Match>| Rule {
            matches,
            log: None,
            counters: counter.map(str::to_string).into_iter().collect(),
            counter_map: None,
            counter: false,
            verdict,
            comment: Some(names::comment(origin)),
        };
        match (peers, &port_match) {
            (Peers::Any, Some(ports)) => out.push(make(ports.iter().cloned().collect())),
            (Peers::OneOf(items), Some(ports)) => {
                let sets = self.table.peers(policy_ns, items);
                if let Some(set) = &sets.classes {
                    let mut matches = vec![Match::Class { set: set.clone() }];
                    matches.extend(ports.iter().cloned());
                    out.push(make(matches));
                }
                for family in Family::ALL {
                    if let Some(set) = &sets.blocks[fam(family)] {
                        let mut matches = vec![Match::Address {
                            family,
                            field,
                            set: set.clone(),
                        }];
                        matches.extend(ports.iter().cloned());
                        out.push(make(matches));
                    }
                }
            }
            (_, None) => {}
        }
        if !named.is_empty()
            && let Some(set) = self.table.named(policy_ns, peers, &named)
        {
            out.push(make(vec![Match::ClassPort { set }]));
        }
    }

    /// The ports a rule allows whatever the destination, and its named ports still to resolve
    /// per destination (egress only: for ingress, `local` is the destination and they resolve
    /// here).
    fn static_ports<'p>(
        &self,
        ports: &'p Ports,
        local: Option<usize>,
    ) -> (PortSet, Vec<&'p PortMatch>) {
        let Ports::OneOf(items) = ports else {
            return (PortSet::all(), Vec::new());
        };
        let mut set = PortSet::none();
        let mut named = Vec::new();
        for item in items {
            match &item.port {
                PortSpec::Any => set.insert_range(item.protocol, 0, u16::MAX),
                PortSpec::Range { first, last } => set.insert_range(item.protocol, *first, *last),
                PortSpec::Named(name) => match local {
                    Some(pod) => {
                        for port in resolve_named_port(self.cluster, Endpoint::Pod(pod), name, item)
                        {
                            set.insert_range(item.protocol, port, port);
                        }
                    }
                    None => named.push(item),
                },
            }
        }
        (set, named)
    }
}
