//! All-pairs reachability over a cluster, computed on equivalence classes of endpoints.
//!
//! ```text
//!   Cluster + externals
//!     -> Vocab        what policies can observe (label keys/values, named ports, ipBlocks)
//!     -> Classes      endpoints grouped by what the policies observe about them   (classes.rs)
//!     -> Compiled     per policy: selected classes; per rule: peer bitset + ports (rules.rs)
//!     -> matrix       class x class interned PortSet ids, dense or sparse  (matrix.rs, cells.rs)
//!   lookup(from, to): same endpoint or pod<->own-node host traffic -> all; else matrix[class(from)][class(to)]
//! ```
//!
//! The result agrees with [`crate::eval::evaluate`] on every pair and probe (the engine
//! proptests check exactly that); it only avoids repeating the work for endpoints the policies
//! cannot tell apart. Dense cost grows with classes² and with rules x classes (sparse, above
//! 1,024 classes: with the cells that differ from what isolation implies), never with
//! pods x pods x policies. Nothing is expanded to endpoint pairs until asked.

mod atoms;
mod bitset;
mod cells;
mod classes;
mod diff;
mod egress_open;
mod group;
mod hoist;
mod intern;
mod lines;
mod matrix;
mod rules;
mod summary;
mod workload;

use std::net::IpAddr;

use crate::eval::{Endpoint, PortSet, Probe};
use crate::model::Cluster;

use cells::Cells;
use classes::{Classes, Namespaces, Vocab};
use intern::{ALL, NONE, PortSets};

pub use diff::{DiffGroup, PairChange, PortDelta, ReachDiff};
pub use group::{GroupEdge, GroupReach, Grouping};
pub use summary::{Focused, Side, Summary, SummaryGroup, SummaryLine};
pub(crate) use workload::workload_base;
pub use workload::workload_name;

static EMPTY: PortSet = PortSet::EMPTY;

/// Allowed protocol/ports for every ordered pair of endpoints: the cluster's pods (in
/// [`Cluster::pods`] order) followed by the external addresses (in the order given).
#[derive(Debug, Clone)]
pub struct Reachability {
    names: Vec<String>,
    externals: Vec<IpAddr>,
    pod_count: usize,
    class_of: Vec<u32>,
    class_count: usize,
    /// Class x class ids into `sets`.
    cells: Cells,
    sets: Vec<PortSet>,
    /// Per endpoint: node id (pods with a node name) and hostNetwork, for the own-node rule.
    node_of: Vec<Option<u32>>,
    host_network: Vec<bool>,
    stats: ReachStats,
}

/// What decides an endpoint's connections to every other endpoint, own-node traffic aside:
/// its class, and whether it is hostNetwork.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Profile {
    class: u32,
    host: bool,
}

/// How the class x class answer is held. Both give the same answer to every question;
/// [`Layout::Auto`] chooses by the number of classes and how many cells are their default,
/// the others are for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Auto,
    /// Every cell (4 bytes x classes²).
    Dense,
    /// Only the cells that differ from what isolation alone implies.
    Sparse,
}

/// Sizes of the intermediate structures (for benchmarks and `--verbose` output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReachStats {
    pub endpoints: usize,
    /// Endpoint equivalence classes.
    pub classes: usize,
    /// Distinct (namespace-free) label sets after projection onto what selectors mention.
    pub label_sets: usize,
    /// Distinct ipBlocks in all policies, and the address atoms their boundaries cut.
    pub ip_blocks: usize,
    pub ip_atoms: usize,
    /// Distinct sets of policies isolating a class (ingress, egress).
    pub ingress_signatures: usize,
    pub egress_signatures: usize,
    /// Distinct port sets interned.
    pub port_sets: usize,
    /// Class x class cells held (classes² when dense).
    pub stored_cells: usize,
    pub sparse: bool,
}

impl Reachability {
    pub fn compute(cluster: &Cluster, externals: &[IpAddr]) -> Reachability {
        Reachability::compute_with(cluster, externals, Layout::Auto)
    }

    /// [`Reachability::compute`] with the cells held as `layout` says.
    pub fn compute_with(cluster: &Cluster, externals: &[IpAddr], layout: Layout) -> Reachability {
        let vocab = Vocab::collect(cluster);
        let namespaces = Namespaces::collect(cluster);
        let classes = Classes::build(cluster, externals, &vocab, &namespaces);
        let mut sets = PortSets::new();
        let compiled = rules::compile(cluster, &classes, &vocab, &namespaces, &mut sets);
        let (cells, sets, mstats) = matrix::build(&classes, &compiled, &vocab, sets, layout);

        let mut nodes: rustc_hash::FxHashMap<&str, u32> = Default::default();
        let mut node_of = Vec::with_capacity(classes.class_of.len());
        for pod in &cluster.pods {
            node_of.push(pod.node.as_deref().map(|name| {
                let next = classes::id(nodes.len());
                *nodes.entry(name).or_insert(next)
            }));
        }
        node_of.extend(externals.iter().map(|_| None));
        let host_network = cluster
            .pods
            .iter()
            .map(|p| p.host_network)
            .chain(externals.iter().map(|_| false))
            .collect();
        let names = cluster
            .pods
            .iter()
            .map(|p| p.key())
            .chain(externals.iter().map(ToString::to_string))
            .collect::<Vec<_>>();
        let stats = ReachStats {
            endpoints: names.len(),
            classes: classes.len(),
            label_sets: classes.labelset_pods.len(),
            ip_blocks: vocab.block_list().len(),
            ip_atoms: classes.atom_count,
            ingress_signatures: mstats.ingress_signatures,
            egress_signatures: mstats.egress_signatures,
            port_sets: sets.len(),
            stored_cells: cells.stored(),
            sparse: matches!(cells, Cells::Sparse { .. }),
        };
        Reachability {
            names,
            externals: externals.to_vec(),
            pod_count: cluster.pods.len(),
            class_count: classes.len(),
            class_of: classes.class_of,
            cells,
            sets: sets.into_sets(),
            node_of,
            host_network,
            stats,
        }
    }

    /// Per endpoint (pods, then `externals`), its equivalence class, without the class matrix:
    /// for callers that only need to know which endpoints the policies cannot tell apart (the
    /// matrix grows with classes², which on a large cluster is most of the cost).
    pub fn classes_only(cluster: &Cluster, externals: &[IpAddr]) -> Vec<u32> {
        let vocab = Vocab::collect(cluster);
        let namespaces = Namespaces::collect(cluster);
        Classes::build(cluster, externals, &vocab, &namespaces).class_of
    }

    /// `namespace/name` for pods, the address for externals.
    pub fn endpoint_names(&self) -> Vec<String> {
        self.names.clone()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The endpoint at index `i`, as [`crate::eval::evaluate`] takes it.
    pub fn endpoint(&self, i: usize) -> Option<Endpoint> {
        if i < self.pod_count {
            Some(Endpoint::Pod(i))
        } else {
            self.externals
                .get(i - self.pod_count)
                .map(|&ip| Endpoint::External(ip))
        }
    }

    /// Number of endpoint equivalence classes.
    pub fn class_count(&self) -> usize {
        self.class_count
    }

    /// The class of endpoint `i`: endpoints of one class are indistinguishable to every policy.
    pub fn class_of(&self, i: usize) -> Option<usize> {
        self.class_of.get(i).map(|&c| c as usize)
    }

    pub fn stats(&self) -> ReachStats {
        self.stats
    }

    /// The id of the set for `from -> to`, applying the endpoint-level exemptions first.
    fn set_id(&self, from: usize, to: usize) -> u32 {
        let (Some(&a), Some(&b)) = (self.class_of.get(from), self.class_of.get(to)) else {
            return NONE;
        };
        if from == to || self.own_node(from, to) {
            return ALL;
        }
        self.cells.get(a as usize, b as usize)
    }

    /// A hostNetwork pod and a pod on the same known node: node traffic, always allowed.
    fn own_node(&self, a: usize, b: usize) -> bool {
        let host = |i: usize| self.host_network.get(i).copied().unwrap_or(false);
        let node = |i: usize| self.node_of.get(i).copied().flatten();
        (host(a) || host(b)) && node(a).is_some() && node(a) == node(b)
    }

    /// The protocol/ports `from` may use to reach `to` (everything when `from == to`; nothing
    /// for an index out of range).
    pub fn ports(&self, from: usize, to: usize) -> &PortSet {
        self.sets
            .get(self.set_id(from, to) as usize)
            .unwrap_or(&EMPTY)
    }

    /// Per endpoint, what decides its connections to other endpoints apart from own-node
    /// traffic (see [`Profile`]). Endpoints with equal profiles are interchangeable, so
    /// grouped answers and diffs work on distinct profiles rather than on endpoint pairs.
    fn profiles(&self) -> Vec<Profile> {
        (0..self.len())
            .map(|i| Profile {
                class: self.class_of.get(i).copied().unwrap_or(0),
                host: self.host_network.get(i).copied().unwrap_or(false),
            })
            .collect()
    }

    /// The set id for two distinct endpoints with profiles `a` and `b` that are not an
    /// own-node pair (see [`Reachability::own_node_pairs`]).
    fn profile_set_id(&self, a: Profile, b: Profile) -> u32 {
        self.cells.get(a.class as usize, b.class as usize)
    }

    /// The set id of every source class to destination class `dst`, into `out`: what a
    /// pass over all sources of one destination reads, at one lookup per source.
    fn class_column(&self, dst: u32, out: &mut Vec<u32>) {
        self.cells.column(dst as usize, out);
    }

    /// When the cells are sparse: the (source class, set id) cells towards class `dst` that
    /// are not their default (see [`Reachability::class_isolation`]).
    fn class_exceptions(&self, dst: u32) -> Option<&[(u32, u32)]> {
        self.cells.exceptions(dst as usize)
    }

    /// When the cells are sparse: whether class `class` is isolated for (egress, ingress),
    /// which decides the default of its cells.
    fn class_isolation(&self, class: u32) -> Option<(bool, bool)> {
        self.cells.isolation(class as usize)
    }

    /// Every ordered pair of distinct endpoints on one node where one side is hostNetwork:
    /// node traffic, allowed whatever the classes say. Few: hostNetwork pods times the pods
    /// of their node.
    fn own_node_pairs(&self) -> Vec<(usize, usize)> {
        let mut by_node: rustc_hash::FxHashMap<u32, Vec<usize>> = Default::default();
        for (i, node) in self.node_of.iter().enumerate() {
            if let Some(node) = node {
                by_node.entry(*node).or_default().push(i);
            }
        }
        let host = |i: usize| self.host_network.get(i).copied().unwrap_or(false);
        let mut pairs = Vec::new();
        for members in by_node.values() {
            for &h in members.iter().filter(|&&h| host(h)) {
                for &m in members.iter().filter(|&&m| m != h) {
                    pairs.push((h, m));
                    if !host(m) {
                        // A host-host pair is found from both ends already.
                        pairs.push((m, h));
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs
    }

    fn set(&self, id: u32) -> &PortSet {
        self.sets.get(id as usize).unwrap_or(&EMPTY)
    }

    /// Every distinct port set of the answer; [`Reachability::port_set_index`] points into it.
    /// Lets a writer format each set once rather than once per pair.
    pub fn port_sets(&self) -> &[PortSet] {
        &self.sets
    }

    /// The index into [`Reachability::port_sets`] of what `from` may open to `to`.
    pub fn port_set_index(&self, from: usize, to: usize) -> usize {
        self.set_id(from, to) as usize
    }

    /// One probe decided once per class pair, for writers that go over every pair.
    pub fn probe_view(&self, probe: Probe) -> ProbeView<'_> {
        ProbeView {
            reach: self,
            by_set: self.sets.iter().map(|s| s.contains(probe)).collect(),
        }
    }

    pub fn allowed(&self, from: usize, to: usize, probe: Probe) -> bool {
        self.ports(from, to).contains(probe)
    }

    /// The truth table of one probe: `m[i][j]` says whether endpoint `i` may connect to `j`.
    /// Decided once per port set, then expanded.
    pub fn allowed_matrix(&self, probe: Probe) -> Vec<Vec<bool>> {
        let view = self.probe_view(probe);
        let n = self.len();
        (0..n)
            .map(|i| (0..n).map(|j| view.allowed(i, j)).collect())
            .collect()
    }
}

/// A probe's verdict for every pair, read from a class table (see
/// [`Reachability::probe_view`]).
#[derive(Debug)]
pub struct ProbeView<'a> {
    reach: &'a Reachability,
    /// Per interned set: whether it holds the probe.
    by_set: Vec<bool>,
}

impl ProbeView<'_> {
    /// Whether endpoint `from` may connect to `to` on the probe.
    pub fn allowed(&self, from: usize, to: usize) -> bool {
        let id = self.reach.set_id(from, to);
        self.by_set.get(id as usize).copied().unwrap_or(false)
    }
}
