//! Reachability between groups of endpoints (pods, or workloads): what `graph` and `report`
//! draw.
//!
//! ```text
//!   Grouping   endpoint -> group (by endpoint, or by workload)
//!   cells      (group, profile) with a member count; members of one cell are interchangeable
//!   GroupReach per ordered pair of groups: union and intersection of the member pairs' ports
//! ```
//!
//! Work grows with cells², not endpoints²: replicas of a workload share a profile, so a
//! workload is one cell however many pods it has.

use std::collections::BTreeSet;
use std::net::IpAddr;

use rustc_hash::FxHashMap;

use super::intern::{ALL, NONE};
use super::{Reachability, workload::workload_name};
use crate::eval::PortSet;
use crate::model::Cluster;

/// A partition of a [`Reachability`]'s endpoints into named groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    names: Vec<String>,
    sizes: Vec<usize>,
    /// Per endpoint, its group.
    of: Vec<u32>,
}

impl Grouping {
    /// Every endpoint its own group, named and ordered like the endpoints.
    pub fn by_endpoint(reach: &Reachability) -> Grouping {
        Grouping::from_keys(reach.endpoint_names())
    }

    /// Pods grouped by [`workload_name`] (groups sorted by name), then each external address
    /// as its own group, in the order given. `externals` must be those the reachability was
    /// computed with.
    pub fn by_workload(cluster: &Cluster, externals: &[IpAddr]) -> Grouping {
        let workloads: Vec<String> = cluster.pods.iter().map(workload_name).collect();
        let sorted: BTreeSet<&String> = workloads.iter().collect();
        let mut index: FxHashMap<&str, u32> = FxHashMap::default();
        let mut names = Vec::with_capacity(sorted.len() + externals.len());
        for name in sorted {
            index.insert(name, id(names.len()));
            names.push(name.clone());
        }
        let mut of: Vec<u32> = workloads
            .iter()
            .map(|w| index.get(w.as_str()).copied().unwrap_or(0))
            .collect();
        for ip in externals {
            of.push(id(names.len()));
            names.push(ip.to_string());
        }
        Grouping::new(names, of)
    }

    /// Endpoint `i` belongs to the group named `keys[i]`; groups keep the order in which
    /// their names first appear.
    pub fn from_keys(keys: Vec<String>) -> Grouping {
        let mut index: FxHashMap<String, u32> = FxHashMap::default();
        let mut names = Vec::new();
        let mut of = Vec::with_capacity(keys.len());
        for key in keys {
            let next = id(names.len());
            let g = *index.entry(key.clone()).or_insert_with(|| {
                names.push(key);
                next
            });
            of.push(g);
        }
        Grouping::new(names, of)
    }

    fn new(names: Vec<String>, of: Vec<u32>) -> Grouping {
        let mut sizes = vec![0; names.len()];
        for &g in &of {
            if let Some(size) = sizes.get_mut(g as usize) {
                *size += 1;
            }
        }
        Grouping { names, sizes, of }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of endpoints in group `g`.
    pub fn size(&self, g: usize) -> usize {
        self.sizes.get(g).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The group of endpoint `i`.
    pub fn group_of(&self, i: usize) -> Option<usize> {
        self.of.get(i).map(|&g| g as usize)
    }

    /// Ordered pairs of distinct endpoints from group `from` to group `to`.
    pub fn pair_count(&self, from: usize, to: usize) -> usize {
        let (a, b) = (self.size(from), self.size(to));
        if from == to {
            a * a.saturating_sub(1)
        } else {
            a * b
        }
    }
}

/// Reachability between groups: one [`GroupEdge`] per ordered pair of groups where some
/// member pair may connect.
#[derive(Debug, Clone)]
pub struct GroupReach {
    pub grouping: Grouping,
    /// Sorted by (from, to); only pairs with something allowed.
    pub edges: Vec<GroupEdge>,
}

/// What members of group `from` may open to members of group `to` (distinct endpoints only:
/// an endpoint reaching itself is not an edge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEdge {
    pub from: usize,
    pub to: usize,
    /// Allowed for at least one member pair.
    pub ports: PortSet,
    /// Allowed for every member pair (equal to `ports` when the members agree).
    pub every_pair: PortSet,
    /// Member pairs with anything allowed, out of [`Grouping::pair_count`].
    pub allowed_pairs: usize,
    pub pairs: usize,
}

impl GroupEdge {
    /// True when every member pair is allowed exactly [`GroupEdge::ports`].
    pub fn uniform(&self) -> bool {
        self.ports == self.every_pair && self.allowed_pairs == self.pairs
    }
}

impl GroupReach {
    /// The edge from group `from` to group `to`, if anything is allowed.
    pub fn edge(&self, from: usize, to: usize) -> Option<&GroupEdge> {
        self.edges
            .binary_search_by_key(&(from, to), |e| (e.from, e.to))
            .ok()
            .and_then(|i| self.edges.get(i))
    }
}

/// Members of one group that share a profile.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cell<P> {
    pub group: u32,
    pub profile: P,
    pub members: usize,
}

/// Endpoints bucketed by (group, profile), in a stable order, and each endpoint's cell
/// (`u32::MAX` for endpoints not listed).
pub(super) fn cells<P: Copy + Ord>(
    grouping: &Grouping,
    endpoints: usize,
    profiles: impl Iterator<Item = (usize, P)>,
) -> (Vec<Cell<P>>, Vec<u32>) {
    let keyed: Vec<(usize, (u32, P))> = profiles
        .filter_map(|(endpoint, profile)| {
            Some((endpoint, (id(grouping.group_of(endpoint)?), profile)))
        })
        .collect();
    let mut index: std::collections::BTreeMap<(u32, P), u32> = Default::default();
    for (_, key) in &keyed {
        index.entry(*key).or_insert(0);
    }
    let mut cells = Vec::with_capacity(index.len());
    for (n, (&(group, profile), slot)) in index.iter_mut().enumerate() {
        *slot = id(n);
        cells.push(Cell {
            group,
            profile,
            members: 0,
        });
    }
    let mut cell_of = vec![u32::MAX; endpoints];
    for (endpoint, key) in keyed {
        if let Some(&c) = index.get(&key) {
            if let Some(slot) = cell_of.get_mut(endpoint) {
                *slot = c;
            }
            if let Some(cell) = cells.get_mut(c as usize) {
                cell.members += 1;
            }
        }
    }
    (cells, cell_of)
}

/// How many of the pairs between two cells are own-node pairs, keyed by cell pair.
pub(super) fn exempt_counts(
    pairs: &[(usize, usize)],
    cell_of: &[u32],
) -> FxHashMap<(u32, u32), usize> {
    let mut counts: FxHashMap<(u32, u32), usize> = FxHashMap::default();
    for &(a, b) in pairs {
        if let (Some(&ca), Some(&cb)) = (cell_of.get(a), cell_of.get(b)) {
            *counts.entry((ca, cb)).or_insert(0) += 1;
        }
    }
    counts
}

/// Ordered pairs of distinct endpoints between two cells (`same`: they are one cell).
pub(super) fn cell_pairs<P>(a: &Cell<P>, b: &Cell<P>, same: bool) -> usize {
    if same {
        a.members * a.members.saturating_sub(1)
    } else {
        a.members * b.members
    }
}

impl Reachability {
    /// Reachability between the groups of `grouping` (which must partition this
    /// reachability's endpoints).
    pub fn grouped(&self, grouping: &Grouping) -> GroupReach {
        let profiles = self.profiles();
        let (cells, cell_of) = cells(grouping, self.len(), profiles.iter().copied().enumerate());
        // Own-node pairs are allowed whatever their classes say: counted apart, one by one.
        let own_node = self.own_node_pairs();
        let exempt = exempt_counts(&own_node, &cell_of);
        struct Acc {
            ids: Vec<u32>,
            allowed_pairs: usize,
        }
        let mut acc: FxHashMap<(u32, u32), Acc> = FxHashMap::default();
        let mut add = |from: u32, to: u32, set: u32, pairs: usize| {
            let entry = acc.entry((from, to)).or_insert(Acc {
                ids: Vec::new(),
                allowed_pairs: 0,
            });
            if !entry.ids.contains(&set) {
                entry.ids.push(set);
            }
            entry.allowed_pairs += pairs;
        };
        for &(a, b) in &own_node {
            if let (Some(g), Some(h)) = (grouping.group_of(a), grouping.group_of(b)) {
                add(id(g), id(h), ALL, 1);
            }
        }
        // Per destination cell, the set ids from every source class read once (one column,
        // kept while consecutive cells share a class), and the pair count looked up only for
        // the pairs that allow something.
        let mut column: Vec<u32> = Vec::new();
        let mut column_of: Option<u32> = None;
        for (j, b) in cells.iter().enumerate() {
            if column_of != Some(b.profile.class) {
                self.class_column(b.profile.class, &mut column);
                column_of = Some(b.profile.class);
            }
            for (i, a) in cells.iter().enumerate() {
                let set = column
                    .get(a.profile.class as usize)
                    .copied()
                    .unwrap_or(NONE);
                if set == NONE || self.set(set).is_empty() {
                    continue;
                }
                let (ci, cj) = (id(i), id(j));
                let pairs = cell_pairs(a, b, i == j)
                    .saturating_sub(exempt.get(&(ci, cj)).copied().unwrap_or(0));
                if pairs == 0 {
                    continue;
                }
                add(a.group, b.group, set, pairs);
            }
        }
        let mut edges: Vec<GroupEdge> = acc
            .into_iter()
            .map(|((from, to), acc)| {
                let (from, to) = (from as usize, to as usize);
                let pairs = grouping.pair_count(from, to);
                let sets = acc.ids.iter().map(|&id| self.set(id));
                let ports = sets
                    .clone()
                    .fold(PortSet::none(), |union, s| union.union(s));
                let every_pair = if acc.allowed_pairs == pairs {
                    sets.fold(PortSet::all(), |inter, s| inter.intersection(s))
                } else {
                    PortSet::none()
                };
                GroupEdge {
                    from,
                    to,
                    ports,
                    every_pair,
                    allowed_pairs: acc.allowed_pairs,
                    pairs,
                }
            })
            .collect();
        edges.sort_by_key(|e| (e.from, e.to));
        GroupReach {
            grouping: grouping.clone(),
            edges,
        }
    }
}

/// Group and cell counts fit in u32: they are bounded by the number of endpoints.
fn id(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
