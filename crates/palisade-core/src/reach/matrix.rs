//! The class x class matrix of allowed port sets.
//!
//! ```text
//!   ingress signature (policies isolating the destination, its named ports if used)
//!       -> column over source classes      I[sig][src]
//!   egress signature (policies isolating the source)
//!       -> row over destination classes    E[sig][dst]   (named ports resolved per destination)
//!   M[src][dst] = E[esig(src)][dst] ∩ I[isig(dst)][src]     (ALL where a side is unrestricted)
//! ```
//!
//! Classes sharing a signature share its row or column, so the work is about
//! (signatures x classes x rules per signature / 64) bit operations plus classes² memoized
//! intersections: it never multiplies pods by pods by policies.

use rustc_hash::FxHashMap;

use super::Layout;
use super::bitset::Bitset;
use super::cells::Cells;
use super::classes::{self, Classes, Vocab};
use super::intern::{ALL, NONE, PortSets};
use super::rules::{Compiled, CompiledRule};
use crate::eval::PortSet;
use crate::model::Protocol;

/// Signatures and sizes, for benchmarks and curiosity.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MatrixStats {
    pub(crate) ingress_signatures: usize,
    pub(crate) egress_signatures: usize,
}

/// One group of rules that share a port specification, with the union of their peers.
struct Group {
    fixed: u32,
    named: Vec<u32>,
    peers: Bitset,
}

/// Named ports as numbers on a destination with declared `(named id, number)` pairs.
fn resolve(named: &[u32], declared: &[(u32, u16)], protocols: &[Protocol]) -> PortSet {
    let mut set = PortSet::none();
    for &(id, port) in declared {
        if named.binary_search(&id).is_ok()
            && let Some(&protocol) = protocols.get(id as usize)
        {
            set.insert_range(protocol, port, port);
        }
    }
    set
}

struct Builder<'x> {
    classes: &'x Classes,
    compiled: &'x Compiled,
    protocols: &'x [Protocol],
    sets: PortSets,
}

impl Builder<'_> {
    fn declared(&self, named_sig: u32) -> &[(u32, u16)] {
        self.classes
            .named_sigs
            .get(named_sig as usize)
            .map_or(&[][..], Vec::as_slice)
    }

    /// A rule's ports with its named ports resolved on a destination with `named_sig`.
    fn port_id(&mut self, fixed: u32, named: &[u32], named_sig: u32) -> u32 {
        if named.is_empty() {
            return fixed;
        }
        let named = resolve(named, self.declared(named_sig), self.protocols);
        let named = self.sets.intern(named);
        self.sets.union(fixed, named)
    }

    /// Per class whose peers some group contains, ascending: the union of those groups'
    /// ports (named ones resolved on that class). Visits the groups' members only, so a row
    /// or column of a few named peers costs a few cells, not one per class.
    fn fill_sparse(&mut self, groups: &[Group], scratch: &mut Scratch) -> Vec<(u32, u32)> {
        let mut touched: Vec<u32> = Vec::new();
        for chunk in groups.chunks(64) {
            let mut in_chunk: Vec<u32> = Vec::new();
            let mut named_mask = 0u64;
            for (g, group) in chunk.iter().enumerate() {
                if !group.named.is_empty() {
                    named_mask |= 1 << g;
                }
                for class in group.peers.iter() {
                    if let Some(m) = scratch.masks.get_mut(class) {
                        if *m == 0 {
                            in_chunk.push(classes::id(class));
                        }
                        *m |= 1 << g;
                    }
                }
            }
            // In class order, as a scan of every class would meet them: ids are interned in
            // the same order whatever the peers' order.
            in_chunk.sort_unstable();
            let mut memo: FxHashMap<(u64, u32), u32> = FxHashMap::default();
            for class in in_chunk {
                let c = class as usize;
                let mask = std::mem::take(&mut scratch.masks[c]);
                let named_sig = if mask & named_mask != 0 {
                    self.classes.keys.get(c).map_or(0, |k| k.named_ports)
                } else {
                    u32::MAX
                };
                let id = match memo.get(&(mask, named_sig)) {
                    Some(&id) => id,
                    None => {
                        let mut id = NONE;
                        for (g, group) in chunk.iter().enumerate() {
                            if mask & (1 << g) != 0 {
                                let port = self.port_id(group.fixed, &group.named, named_sig);
                                id = self.sets.union(id, port);
                            }
                        }
                        memo.insert((mask, named_sig), id);
                        id
                    }
                };
                let slot = &mut scratch.acc[c];
                if *slot == UNTOUCHED {
                    touched.push(class);
                    *slot = NONE;
                }
                *slot = self.sets.union(*slot, id);
            }
        }
        touched.sort_unstable();
        touched
            .into_iter()
            .map(|class| {
                let id = std::mem::replace(&mut scratch.acc[class as usize], UNTOUCHED);
                (class, id)
            })
            .collect()
    }

    /// [`Builder::fill_sparse`] spread over every class (`NONE` where no group reaches).
    fn fill(&mut self, groups: &[Group], scratch: &mut Scratch) -> Vec<u32> {
        let mut out = vec![NONE; self.classes.len()];
        for (class, id) in self.fill_sparse(groups, scratch) {
            if let Some(slot) = out.get_mut(class as usize) {
                *slot = id;
            }
        }
        out
    }

    /// Groups rules by port specification, OR-ing their peers.
    fn group(&mut self, rules: Vec<(u32, Vec<u32>, &Bitset)>) -> Vec<Group> {
        let mut index: FxHashMap<(u32, Vec<u32>), usize> = FxHashMap::default();
        let mut groups: Vec<Group> = Vec::new();
        for (fixed, named, peers) in rules {
            if fixed == NONE && named.is_empty() {
                continue;
            }
            let key = (fixed, named);
            match index.get(&key) {
                Some(&g) => {
                    if let Some(group) = groups.get_mut(g) {
                        group.peers.union_with(peers);
                    }
                }
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push(Group {
                        fixed: key.0,
                        named: key.1,
                        peers: peers.clone(),
                    });
                }
            }
        }
        groups
    }

    /// The rule groups deciding who may reach a destination with these isolating policies
    /// and named ports.
    fn ingress_groups(&mut self, policies: &[u32], named_sig: u32) -> Vec<Group> {
        let compiled = self.compiled;
        let mut rules = Vec::new();
        for rule in Builder::rules_of(compiled, policies, 0) {
            // Named ports resolve on the destination: the subject itself.
            let port = self.port_id(rule.ports.fixed, &rule.ports.named, named_sig);
            if let Some(peers) = compiled.peer_sets.get(rule.peers as usize) {
                rules.push((port, Vec::new(), peers));
            }
        }
        self.group(rules)
    }

    /// The rule groups deciding what a source with these isolating policies may reach.
    fn egress_groups(&mut self, policies: &[u32]) -> Vec<Group> {
        let compiled = self.compiled;
        let rules = Builder::rules_of(compiled, policies, 1)
            .filter_map(|rule| {
                let peers = compiled.peer_sets.get(rule.peers as usize)?;
                Some((rule.ports.fixed, rule.ports.named.clone(), peers))
            })
            .collect();
        self.group(rules)
    }

    fn rules_of<'c>(
        compiled: &'c Compiled,
        policies: &'c [u32],
        dir: usize,
    ) -> impl Iterator<Item = &'c CompiledRule> {
        policies.iter().flat_map(move |&p| {
            compiled
                .rules
                .get(p as usize)
                .and_then(|r| r.get(dir))
                .and_then(Option::as_ref)
                .map_or(&[][..], Vec::as_slice)
        })
    }
}

/// Sources per block of [`fill_ingress`]: the block's rows are written as that many parallel
/// streams, which the caches and the TLB hold.
const SOURCE_BLOCK: usize = 64;

/// `matrix[src][dst] = I[isig(dst)][src]` for every isolated destination (the others stay
/// ALL). The columns are stored per signature, so a row-at-a-time fill reads one cell of a
/// different column, on a different page, for every destination: on a cluster of thousands
/// of classes that was three quarters of the whole build in cache and TLB misses. Blocks of
/// sources read each column as one short contiguous slice instead.
fn fill_ingress(matrix: &mut [u32], n: usize, isig_of: &[Option<u32>], columns: &[Vec<u32>]) {
    for start in (0..n).step_by(SOURCE_BLOCK) {
        let end = (start + SOURCE_BLOCK).min(n);
        let Some(rows) = matrix.get_mut(start * n..end * n) else {
            return;
        };
        for (dst, sig) in isig_of.iter().enumerate() {
            let Some(column) = sig.and_then(|sig| columns.get(sig as usize)) else {
                continue;
            };
            for (k, row) in rows.chunks_exact_mut(n).enumerate() {
                if let Some(cell) = row.get_mut(dst) {
                    *cell = column.get(start + k).copied().unwrap_or(NONE);
                }
            }
        }
    }
}

/// Classes grouped by the policies isolating them (and, for ingress, the named ports those
/// policies resolve on them): classes of one signature share a row or a column.
struct Signatures<'c, K> {
    /// Per class, its signature (`None`: not isolated in this direction).
    of: Vec<Option<u32>>,
    /// Per signature, in order of first appearance: its key and member classes, ascending.
    list: Vec<(K, Vec<u32>)>,
    _lifetime: std::marker::PhantomData<&'c ()>,
}

impl<'c, K: std::hash::Hash + Eq + Copy> Signatures<'c, K> {
    fn collect(keys: impl Iterator<Item = Option<K>>) -> Signatures<'c, K> {
        let mut ids: FxHashMap<K, u32> = FxHashMap::default();
        let mut of = Vec::new();
        let mut list: Vec<(K, Vec<u32>)> = Vec::new();
        for (class, key) in keys.enumerate() {
            let sig = key.map(|key| {
                let next = classes::id(list.len());
                let sig = *ids.entry(key).or_insert(next);
                if sig == next {
                    list.push((key, Vec::new()));
                }
                if let Some((_, members)) = list.get_mut(sig as usize) {
                    members.push(classes::id(class));
                }
                sig
            });
            of.push(sig);
        }
        Signatures {
            of,
            list,
            _lifetime: std::marker::PhantomData,
        }
    }
}

type IngressKey<'c> = (&'c [u32], u32);

fn ingress_signatures<'c>(
    classes: &Classes,
    compiled: &'c Compiled,
) -> Signatures<'c, IngressKey<'c>> {
    Signatures::collect(
        compiled.isolating[0]
            .iter()
            .enumerate()
            .map(|(class, policies)| {
                if policies.is_empty() {
                    return None;
                }
                let uses_named =
                    Builder::rules_of(compiled, policies, 0).any(|r| !r.ports.named.is_empty());
                let named_sig = if uses_named {
                    classes.keys.get(class).map_or(0, |k| k.named_ports)
                } else {
                    u32::MAX
                };
                Some((policies.as_slice(), named_sig))
            }),
    )
}

fn egress_signatures(compiled: &Compiled) -> Signatures<'_, &[u32]> {
    Signatures::collect(
        compiled.isolating[1]
            .iter()
            .map(|policies| (!policies.is_empty()).then_some(policies.as_slice())),
    )
}

/// Reused per-class buffers of [`Builder::fill_sparse`], left as they were found.
struct Scratch {
    masks: Vec<u64>,
    acc: Vec<u32>,
}

const UNTOUCHED: u32 = u32::MAX;

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            masks: vec![0; n],
            acc: vec![UNTOUCHED; n],
        }
    }
}

/// Builds the `classes x classes` cells (row = source class) and the interned sets they use.
pub(crate) fn build(
    classes: &Classes,
    compiled: &Compiled,
    vocab: &Vocab<'_>,
    sets: PortSets,
    layout: Layout,
) -> (Cells, PortSets, MatrixStats) {
    let n = classes.len();
    let mut b = Builder {
        classes,
        compiled,
        protocols: &vocab.named_protocols,
        sets,
    };
    let isigs = ingress_signatures(classes, compiled);
    let esigs = egress_signatures(compiled);
    let stats = MatrixStats {
        ingress_signatures: isigs.list.len(),
        egress_signatures: esigs.list.len(),
    };
    let sparse = match layout {
        Layout::Dense => false,
        Layout::Sparse => true,
        Layout::Auto => n > SPARSE_MIN_CLASSES,
    };
    let cells = if sparse {
        let cells = build_sparse(&mut b, &isigs, &esigs);
        // Most cells their own (8 bytes each where dense holds 4): dense is smaller, while it
        // stays affordable.
        if layout == Layout::Auto && n <= DENSE_MAX_CLASSES && cells.stored() * 2 > n * n {
            cells.to_dense(n)
        } else {
            cells
        }
    } else {
        build_dense(&mut b, &isigs, &esigs)
    };
    (cells, b.sets, stats)
}

/// Up to this many classes the cells are dense: small, and read without a search. Above it
/// they are built sparse, which on most clusters (isolated classes naming their peers) holds
/// a small share of classes² and is faster to build and to read per destination: at 10,000
/// pods and 2,000-4,800 classes, `reach` and `diff` took 15-65% less time and up to 180 MB
/// less memory, with the same output (BENCHMARKS.md).
const SPARSE_MIN_CLASSES: usize = 1024;

/// Up to this many classes, cells built sparse that are mostly not their default are made
/// dense instead (4 bytes x classes²: 256 MiB at this bound, 10 GB at 50,000 classes).
const DENSE_MAX_CLASSES: usize = 8192;

/// Every cell: ingress columns written first, egress rows intersected into them.
fn build_dense(
    b: &mut Builder<'_>,
    isigs: &Signatures<'_, IngressKey<'_>>,
    esigs: &Signatures<'_, &[u32]>,
) -> Cells {
    let n = b.classes.len();
    let mut scratch = Scratch::new(n);
    let columns: Vec<Vec<u32>> = isigs
        .list
        .iter()
        .map(|&((policies, named_sig), _)| {
            let groups = b.ingress_groups(policies, named_sig);
            b.fill(&groups, &mut scratch)
        })
        .collect();
    let mut matrix = vec![ALL; n * n];
    fill_ingress(&mut matrix, n, &isigs.of, &columns);
    drop(columns);
    // A source without an egress signature keeps its ingress row as it is.
    for &(policies, ref members) in &esigs.list {
        let groups = b.egress_groups(policies);
        let row = b.fill(&groups, &mut scratch);
        for &src in members {
            let cells = matrix.iter_mut().skip(src as usize * n).take(n);
            for (cell, &e) in cells.zip(&row) {
                *cell = b.sets.intersection(e, *cell);
            }
        }
    }
    Cells::dense(n, matrix)
}

/// Only the cells that differ from what isolation alone implies (see [`Cells`]), a column
/// per destination class. An egress row is kept as its few reached destinations, an ingress
/// column as its few admitted sources; a cell is their intersection.
fn build_sparse(
    b: &mut Builder<'_>,
    isigs: &Signatures<'_, IngressKey<'_>>,
    esigs: &Signatures<'_, &[u32]>,
) -> Cells {
    let n = b.classes.len();
    let mut scratch = Scratch::new(n);
    // Egress rows turned around: per destination, the egress signatures reaching it.
    let mut reaching: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
    for (e, &(policies, _)) in esigs.list.iter().enumerate() {
        let groups = b.egress_groups(policies);
        for (dst, id) in b.fill_sparse(&groups, &mut scratch) {
            if id != NONE
                && let Some(list) = reaching.get_mut(dst as usize)
            {
                list.push((classes::id(e), id));
            }
        }
    }
    let mut columns: Vec<Box<[(u32, u32)]>> = vec![Box::default(); n];
    // Isolated destinations: a cell is set only for a source some ingress rule admits.
    let mut egress_at_dst = vec![NONE; esigs.list.len()];
    for &((policies, named_sig), ref members) in &isigs.list {
        let groups = b.ingress_groups(policies, named_sig);
        let admitted = b.fill_sparse(&groups, &mut scratch);
        for &dst in members {
            let reached_by = reaching.get(dst as usize).map_or(&[][..], Vec::as_slice);
            for &(e, id) in reached_by {
                egress_at_dst[e as usize] = id;
            }
            let mut column = Vec::new();
            for &(src, ingress) in &admitted {
                let egress = match esigs.of.get(src as usize).copied().flatten() {
                    Some(e) => egress_at_dst[e as usize],
                    None => ALL,
                };
                let id = b.sets.intersection(egress, ingress);
                if id != NONE {
                    column.push((src, id));
                }
            }
            for &(e, _) in reached_by {
                egress_at_dst[e as usize] = NONE;
            }
            columns[dst as usize] = column.into_boxed_slice();
        }
    }
    // Open destinations: a cell is set only for an isolated source an egress rule lets out.
    for (dst, sig) in isigs.of.iter().enumerate() {
        if sig.is_some() {
            continue;
        }
        let mut column: Vec<(u32, u32)> = reaching
            .get(dst)
            .into_iter()
            .flatten()
            .flat_map(|&(e, id)| {
                let members = esigs.list.get(e as usize).map_or(&[][..], |(_, m)| m);
                members.iter().map(move |&src| (src, id))
            })
            .collect();
        column.sort_unstable();
        columns[dst] = column.into_boxed_slice();
    }
    let isolated = |of: &[Option<u32>]| of.iter().map(Option::is_some).collect();
    Cells::sparse(isolated(&esigs.of), isolated(&isigs.of), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocked fill writes what the direct formula says, across block edges, for isolated
    /// and open destinations alike.
    #[test]
    fn blocked_ingress_fill_is_the_direct_formula() {
        let n = 2 * SOURCE_BLOCK + 5;
        let columns: Vec<Vec<u32>> = (0..3u32)
            .map(|sig| {
                (0..n as u32)
                    .map(|src| 2 + (src * 7 + sig * 13) % 11)
                    .collect()
            })
            .collect();
        let isig_of: Vec<Option<u32>> = (0..n)
            .map(|dst| (dst % 4 != 0).then_some((dst % 3) as u32))
            .collect();
        let mut matrix = vec![ALL; n * n];
        fill_ingress(&mut matrix, n, &isig_of, &columns);
        for src in 0..n {
            for dst in 0..n {
                let want = match isig_of[dst] {
                    Some(sig) => columns[sig as usize][src],
                    None => ALL,
                };
                assert_eq!(matrix[src * n + dst], want, "{src} -> {dst}");
            }
        }
    }
}
