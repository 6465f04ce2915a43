//! Cluster + node name -> [`Ruleset`]: local pods, their chains, and the sets the chains read.
//!
//! ```text
//!   for each local pod (node == this node, not hostNetwork):
//!     no address                 -> pending_pods
//!     isolating egress policies  -> egress chain  (memo by policy list)         ┐ named by a hash
//!     isolating ingress policies -> ingress chain (memo by policy list + ports) ┘ of their rules
//!     every address              -> egress/ingress map entry: jump to that chain
//!   each policy rule -> chain rules:  [peer set] [ports] verdict      (one per peer set & family)
//!                                      named ports: ingress resolves on the local pod itself;
//!                                      egress uses an address . proto . port set per destination
//! ```
//!
//! Egress chains end a match with `return` so the destination's ingress chain still runs when
//! both pods live on this node; ingress chains `accept`. Both end with `counter drop`. Pods with
//! the same policy view get the same chain content, hence the same chain. Traffic between a pod
//! and its own node never crosses the forward hook, and hostNetwork pods are not policed, so
//! neither needs a rule.

mod intervals;
mod peers;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::net::IpAddr;

use palisade_core::eval::{Endpoint, PortSet, isolating_policies, resolve_named_port};
use palisade_core::model::{Cluster, ContainerPort, Direction, Peers, PortMatch, PortSpec, Ports};
use rustc_hash::FxHashMap;

use crate::names;
use crate::render;
use crate::ruleset::{
    AddrField, AddressConflict, Chain, Family, MapEntry, Match, Rule, Ruleset, Verdict,
};
use peers::{SetTable, fam};

pub(crate) use intervals::{prefix_len, ranges_contain};

/// Compiles the ruleset node `node` needs to enforce `cluster`'s policies on its pods.
///
/// Pure and deterministic: the same cluster and node always give the same value. Pods on the
/// node without an address are listed in [`Ruleset::pending_pods`]; local pods sharing an
/// address in [`Ruleset::address_conflicts`].
pub fn compile(cluster: &Cluster, node: &str) -> Ruleset {
    let mut builder = Builder {
        cluster,
        table: SetTable::new(cluster),
        chains: BTreeMap::new(),
        egress_memo: FxHashMap::default(),
        ingress_memo: FxHashMap::default(),
    };
    let mut ruleset = Ruleset::empty(node);
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
        let egress = isolating_policies(cluster, i, Direction::Egress);
        let ingress = isolating_policies(cluster, i, Direction::Ingress);
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
            if let Some(chain) = &egress_chain {
                ruleset.egress.insert(*ip, entry(chain));
            }
            if let Some(chain) = &ingress_chain {
                ruleset.ingress.insert(*ip, entry(chain));
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
    ruleset.chains = builder.chains;
    ruleset.sets = builder.table.sets;
    ruleset
}

struct Builder<'a> {
    cluster: &'a Cluster,
    table: SetTable<'a>,
    chains: BTreeMap<String, Chain>,
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
                let before = rules.len();
                self.rule(
                    direction,
                    &policy.namespace,
                    &rule.peers,
                    &rule.ports,
                    local,
                    &origin,
                    &mut rules,
                );
                if hint.is_none() && rules.len() > before {
                    hint = Some(policy.key());
                }
            }
        }
        rules.push(Rule {
            matches: Vec::new(),
            counter: true,
            verdict: Verdict::Drop,
            comment: None,
        });
        let chain = Chain { rules };
        let (prefix, verdict_word) = match direction {
            Direction::Egress => ("eg", "egress"),
            Direction::Ingress => ("in", "ingress"),
        };
        let content = render::chain_body(&chain);
        let hint = hint.unwrap_or_else(|| "deny-all".to_string());
        let base = names::name(prefix, &hint, &format!("{verdict_word}\n{content}"));
        // Distinct contents with one name would need a 40-bit hash collision; stay correct
        // anyway, deterministically.
        let mut name = base.clone();
        let mut n = 1;
        while let Some(existing) = self.chains.get(&name) {
            if *existing == chain {
                return name;
            }
            n += 1;
            name = format!("{base}-{n}");
        }
        self.chains.insert(name.clone(), chain);
        name
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
        origin: &str,
        out: &mut Vec<Rule>,
    ) {
        let (verdict, field) = match direction {
            Direction::Egress => (Verdict::Return, AddrField::Destination),
            Direction::Ingress => (Verdict::Accept, AddrField::Source),
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
            counter: false,
            verdict,
            comment: Some(names::comment(origin)),
        };
        match (peers, &port_match) {
            (Peers::Any, Some(ports)) => out.push(make(ports.iter().cloned().collect())),
            (Peers::OneOf(items), Some(ports)) => {
                let sets = self.table.peers(policy_ns, items);
                for family in Family::ALL {
                    let f = fam(family);
                    for set in [&sets.pods[f], &sets.blocks[f]].into_iter().flatten() {
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
        if !named.is_empty() {
            let sets = self.table.named(policy_ns, peers, &named);
            for family in Family::ALL {
                if let Some(set) = &sets[fam(family)] {
                    out.push(make(vec![Match::AddressPort {
                        family,
                        set: set.clone(),
                    }]));
                }
            }
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
