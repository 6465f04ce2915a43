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

use super::bitset::Bitset;
use super::classes::{Classes, Vocab};
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

    /// Per class: the union, over groups whose peers contain it, of the group's ports (named
    /// ones resolved on that class).
    fn fill(&mut self, groups: &[Group]) -> Vec<u32> {
        let n = self.classes.len();
        let mut out = vec![NONE; n];
        for chunk in groups.chunks(64) {
            let mut masks = vec![0u64; n];
            let mut named_mask = 0u64;
            for (g, group) in chunk.iter().enumerate() {
                if !group.named.is_empty() {
                    named_mask |= 1 << g;
                }
                for class in group.peers.iter() {
                    if let Some(m) = masks.get_mut(class) {
                        *m |= 1 << g;
                    }
                }
            }
            let mut memo: FxHashMap<(u64, u32), u32> = FxHashMap::default();
            for (class, (&mask, slot)) in masks.iter().zip(out.iter_mut()).enumerate() {
                if mask == 0 {
                    continue;
                }
                let named_sig = if mask & named_mask != 0 {
                    self.classes.keys.get(class).map_or(0, |k| k.named_ports)
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
                *slot = self.sets.union(*slot, id);
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

    /// Ingress column of a destination with these isolating policies and named ports.
    fn ingress_column(&mut self, policies: &[u32], named_sig: u32) -> Vec<u32> {
        let compiled = self.compiled;
        let mut rules = Vec::new();
        for rule in Builder::rules_of(compiled, policies, 0) {
            // Named ports resolve on the destination: the subject itself.
            let port = self.port_id(rule.ports.fixed, &rule.ports.named, named_sig);
            if let Some(peers) = compiled.peer_sets.get(rule.peers as usize) {
                rules.push((port, Vec::new(), peers));
            }
        }
        let groups = self.group(rules);
        self.fill(&groups)
    }

    /// Egress row of a source with these isolating policies.
    fn egress_row(&mut self, policies: &[u32]) -> Vec<u32> {
        let compiled = self.compiled;
        let rules = Builder::rules_of(compiled, policies, 1)
            .filter_map(|rule| {
                let peers = compiled.peer_sets.get(rule.peers as usize)?;
                Some((rule.ports.fixed, rule.ports.named.clone(), peers))
            })
            .collect();
        let groups = self.group(rules);
        self.fill(&groups)
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
fn fill_ingress(matrix: &mut [u32], n: usize, isig_of: &[Option<usize>], columns: &[Vec<u32>]) {
    for start in (0..n).step_by(SOURCE_BLOCK) {
        let end = (start + SOURCE_BLOCK).min(n);
        let Some(rows) = matrix.get_mut(start * n..end * n) else {
            return;
        };
        for (dst, sig) in isig_of.iter().enumerate() {
            let Some(column) = sig.and_then(|sig| columns.get(sig)) else {
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

/// Builds the `classes x classes` matrix (row = source class) and the interned sets it uses.
pub(crate) fn build(
    classes: &Classes,
    compiled: &Compiled,
    vocab: &Vocab<'_>,
    sets: PortSets,
) -> (Vec<u32>, PortSets, MatrixStats) {
    let n = classes.len();
    let mut b = Builder {
        classes,
        compiled,
        protocols: &vocab.named_protocols,
        sets,
    };
    let [ingress_of, egress_of] = &compiled.isolating;

    // Ingress columns, one per distinct signature.
    let mut isig_of: Vec<Option<usize>> = vec![None; n];
    let mut isig_ids: FxHashMap<(&[u32], u32), usize> = FxHashMap::default();
    let mut columns: Vec<Vec<u32>> = Vec::new();
    for (class, policies) in ingress_of.iter().enumerate() {
        if policies.is_empty() {
            continue;
        }
        let uses_named =
            Builder::rules_of(compiled, policies, 0).any(|r| !r.ports.named.is_empty());
        let named_sig = if uses_named {
            classes.keys.get(class).map_or(0, |k| k.named_ports)
        } else {
            u32::MAX
        };
        let sig = match isig_ids.get(&(policies.as_slice(), named_sig)) {
            Some(&sig) => sig,
            None => {
                let column = b.ingress_column(policies, named_sig);
                columns.push(column);
                isig_ids.insert((policies, named_sig), columns.len() - 1);
                columns.len() - 1
            }
        };
        if let Some(slot) = isig_of.get_mut(class) {
            *slot = Some(sig);
        }
    }
    let mut matrix = vec![ALL; n * n];
    fill_ingress(&mut matrix, n, &isig_of, &columns);

    // Sources grouped by egress signature, in order of first appearance; a source without
    // one keeps its ingress row as it is.
    let mut esig_ids: FxHashMap<&[u32], usize> = FxHashMap::default();
    let mut esigs: Vec<(&[u32], Vec<usize>)> = Vec::new();
    for (src, policies) in egress_of.iter().enumerate() {
        if policies.is_empty() {
            continue;
        }
        match esig_ids.get(policies.as_slice()) {
            Some(&sig) => {
                if let Some((_, members)) = esigs.get_mut(sig) {
                    members.push(src);
                }
            }
            None => {
                esig_ids.insert(policies, esigs.len());
                esigs.push((policies, vec![src]));
            }
        }
    }
    for (policies, members) in &esigs {
        let row = b.egress_row(policies);
        for &src in members {
            let cells = matrix.iter_mut().skip(src * n).take(n);
            for (cell, &e) in cells.zip(&row) {
                *cell = b.sets.intersection(e, *cell);
            }
        }
    }
    let stats = MatrixStats {
        ingress_signatures: columns.len(),
        egress_signatures: esigs.len(),
    };
    (matrix, b.sets, stats)
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
        let isig_of: Vec<Option<usize>> = (0..n)
            .map(|dst| (dst % 4 != 0).then_some(dst % 3))
            .collect();
        let mut matrix = vec![ALL; n * n];
        fill_ingress(&mut matrix, n, &isig_of, &columns);
        for src in 0..n {
            for dst in 0..n {
                let want = match isig_of[dst] {
                    Some(sig) => columns[sig][src],
                    None => ALL,
                };
                assert_eq!(matrix[src * n + dst], want, "{src} -> {dst}");
            }
        }
    }
}
