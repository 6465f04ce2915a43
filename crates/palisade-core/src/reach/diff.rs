//! What changes between two reachabilities: the connections gained and lost (`palisade diff`).
//!
//! ```text
//!   old, new: Reachability      endpoints matched by name; the rest are added / removed
//!   joint profile = (old profile, new profile) of a common endpoint
//!   for each ordered pair of joint profiles: old set vs new set   (profiles², not endpoints²)
//!     changed -> expanded onto the (group, joint profile) cells of both sides
//!   PairChange per ordered pair of groups: gained = new - old, lost = old - new
//! ```
//!
//! Only endpoints present on both sides are compared: a pod that exists on one side only has
//! no "before" (or "after") to compare with, so it is listed as added or removed instead.

use std::collections::BTreeMap;
use std::fmt;

use rustc_hash::FxHashMap;

use super::classes::id;
use super::group::{Grouping, cell_pairs, cells, exempt_counts};
use super::summary::{Focused, pod_group_name};
use super::{Profile, Reachability};
use crate::eval::ports::PortRange;
use crate::eval::{PortSet, Probe};
use crate::model::{Cluster, Pod, Protocol};

/// The difference of two port sets. "Every protocol" minus some ports cannot be written as a
/// [`PortSet`] (ICMP and the other port-less protocols stay in), hence `other_protocols`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PortDelta {
    /// TCP, UDP and SCTP ports; never [`PortSet::is_all`].
    ports: PortSet,
    /// Protocols other than TCP, UDP and SCTP (ICMP...).
    other_protocols: bool,
}

impl PortDelta {
    /// What `set` allows and `minus` does not.
    pub fn between(set: &PortSet, minus: &PortSet) -> PortDelta {
        if minus.is_all() {
            return PortDelta::default();
        }
        let mut ports = PortSet::none();
        for protocol in Protocol::ALL {
            for (first, last) in subtract(set.ranges(protocol), minus.ranges(protocol)) {
                ports.insert_range(protocol, first, last);
            }
        }
        PortDelta {
            ports,
            other_protocols: set.is_all(),
        }
    }

    pub fn union(&self, other: &PortDelta) -> PortDelta {
        PortDelta {
            ports: self.ports.union(&other.ports),
            other_protocols: self.other_protocols || other.other_protocols,
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.other_protocols && self.ports.is_empty()
    }

    /// Whether a connection on `probe` is in the difference.
    pub fn contains(&self, probe: Probe) -> bool {
        self.ports.contains(probe)
    }

    /// The TCP/UDP/SCTP part.
    pub fn ports(&self) -> &PortSet {
        &self.ports
    }

    /// Whether protocols other than TCP, UDP and SCTP are in the difference.
    pub fn other_protocols(&self) -> bool {
        self.other_protocols
    }
}

impl fmt::Display for PortDelta {
    /// Like [`PortSet`]'s form; with other protocols, `all` or `all except TCP 8080,UDP 53`,
    /// which reads better than the complement's ranges.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.other_protocols {
            return self.ports.fmt(f);
        }
        let full = [(0, u16::MAX)];
        let mut missing = PortSet::none();
        for protocol in Protocol::ALL {
            for (first, last) in subtract(&full, self.ports.ranges(protocol)) {
                missing.insert_range(protocol, first, last);
            }
        }
        if missing.is_empty() {
            f.write_str("all")
        } else if Protocol::ALL.iter().all(|&p| missing.covers_protocol(p)) {
            f.write_str("protocols other than TCP, UDP and SCTP")
        } else {
            write!(f, "all except {missing}")
        }
    }
}

/// `a` minus `b`, both sorted, disjoint inclusive range lists.
fn subtract(a: &[PortRange], b: &[PortRange]) -> Vec<PortRange> {
    let mut out = Vec::new();
    for &(first, last) in a {
        let mut start = u32::from(first);
        let end = u32::from(last);
        for &(b0, b1) in b {
            let (b0, b1) = (u32::from(b0), u32::from(b1));
            if b1 < start || b0 > end {
                continue;
            }
            if b0 > start {
                out.push((start, b0 - 1));
            }
            start = start.max(b1 + 1);
        }
        if start <= end {
            out.push((start, end));
        }
    }
    // Values come from u16 ranges, so they fit back.
    out.into_iter()
        .filter_map(|(s, e)| Some((u16::try_from(s).ok()?, u16::try_from(e).ok()?)))
        .collect()
}

/// The connections gained and lost between two reachabilities, per ordered pair of groups.
#[derive(Debug, Clone, Default)]
pub struct ReachDiff {
    /// Endpoints only in the new reachability, sorted.
    pub added: Vec<String>,
    /// Endpoints only in the old reachability, sorted.
    pub removed: Vec<String>,
    /// Endpoints present on both sides (the ones compared).
    pub compared: usize,
    /// Sorted by destination group, then source group.
    pub changes: Vec<PairChange>,
    /// The members (endpoint names) of every group, when groups are not endpoints or
    /// workloads but found by [`ReachDiff::by_connectivity`]; sorted by name.
    pub groups: Vec<DiffGroup>,
}

/// Endpoints whose connections were alike before the change and are alike after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffGroup {
    pub name: String,
    pub members: Vec<String>,
}

/// What changed from members of group `from` to members of group `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairChange {
    pub from: String,
    pub to: String,
    /// Allowed now and not before, for at least one member pair.
    pub gained: PortDelta,
    /// Allowed before and not now, for at least one member pair.
    pub lost: PortDelta,
    /// Member pairs that gained (lost) something, out of `pairs`.
    pub gained_pairs: usize,
    pub lost_pairs: usize,
    pub pairs: usize,
}

/// A joint profile (old, new) and the cells of common endpoints that have it.
type JointCells<'a> = (&'a (Profile, Profile), &'a Vec<usize>);

/// What changed from one group to another so far, per ordered pair of group ids.
#[derive(Default)]
struct Changes(FxHashMap<(u32, u32), Change>);

#[derive(Default)]
struct Change {
    gained: PortDelta,
    lost: PortDelta,
    gained_pairs: usize,
    lost_pairs: usize,
}

impl Changes {
    /// `pairs` member pairs of `groups` gained and lost these.
    fn add(&mut self, groups: (u32, u32), gained: &PortDelta, lost: &PortDelta, pairs: usize) {
        let entry = self.0.entry(groups).or_default();
        if !gained.is_empty() {
            entry.gained = entry.gained.union(gained);
            entry.gained_pairs += pairs;
        }
        if !lost.is_empty() {
            entry.lost = entry.lost.union(lost);
            entry.lost_pairs += pairs;
        }
    }

    fn merge(&mut self, other: Changes) {
        for (groups, change) in other.0 {
            let entry = self.0.entry(groups).or_default();
            entry.gained = entry.gained.union(&change.gained);
            entry.lost = entry.lost.union(&change.lost);
            entry.gained_pairs += change.gained_pairs;
            entry.lost_pairs += change.lost_pairs;
        }
    }
}

/// The source profiles whose cell towards one destination profile may differ between the
/// two sides. When both sides hold their cells sparse, a cell that is its default on both
/// sides differs only if the default does, and a default follows the isolation of the two
/// ends: the sources to visit are then the exceptions of either side towards the
/// destination and the sources whose egress isolation changed, or every source when the
/// destination's ingress isolation changed. Dense cells: every source.
struct Candidates<'r> {
    old: &'r Reachability,
    new: &'r Reachability,
    all: Vec<usize>,
    /// Both sides sparse: profile indices by old class and by new class, and those whose
    /// egress isolation differs between the sides.
    sparse: Option<SparseIndex>,
}

struct SparseIndex {
    by_old_class: FxHashMap<u32, Vec<usize>>,
    by_new_class: FxHashMap<u32, Vec<usize>>,
    egress_changed: Vec<usize>,
}

fn egress_isolated(r: &Reachability, class: u32) -> Option<bool> {
    r.class_isolation(class).map(|(egress, _)| egress)
}

fn ingress_isolated(r: &Reachability, class: u32) -> Option<bool> {
    r.class_isolation(class).map(|(_, ingress)| ingress)
}

impl<'r> Candidates<'r> {
    fn new(
        old: &'r Reachability,
        new: &'r Reachability,
        profiles: &[JointCells<'_>],
    ) -> Candidates<'r> {
        let all: Vec<usize> = (0..profiles.len()).collect();
        let sparse_sides = old.class_exceptions(0).is_some() && new.class_exceptions(0).is_some();
        let sparse = sparse_sides.then(|| {
            let mut index = SparseIndex {
                by_old_class: FxHashMap::default(),
                by_new_class: FxHashMap::default(),
                egress_changed: Vec::new(),
            };
            for (p, &(&(a_old, a_new), _)) in profiles.iter().enumerate() {
                index.by_old_class.entry(a_old.class).or_default().push(p);
                index.by_new_class.entry(a_new.class).or_default().push(p);
                if egress_isolated(old, a_old.class) != egress_isolated(new, a_new.class) {
                    index.egress_changed.push(p);
                }
            }
            index
        });
        Candidates {
            old,
            new,
            all,
            sparse,
        }
    }

    /// The source profiles to compare towards destination profile `b`, into `out`.
    fn sources(&self, (b_old, b_new): (Profile, Profile), out: &mut Visit) {
        out.clear();
        let (old, new) = (self.old, self.new);
        let lists = self.sparse.as_ref().and_then(|index| {
            if ingress_isolated(old, b_old.class)? != ingress_isolated(new, b_new.class)? {
                return None;
            }
            Some((
                index,
                old.class_exceptions(b_old.class)?,
                new.class_exceptions(b_new.class)?,
            ))
        });
        let Some((index, old_exceptions, new_exceptions)) = lists else {
            out.list.extend_from_slice(&self.all);
            return;
        };
        let sides = [
            (&index.by_old_class, old_exceptions),
            (&index.by_new_class, new_exceptions),
        ];
        for (by_class, exceptions) in sides {
            for (class, _) in exceptions {
                for &p in by_class.get(class).into_iter().flatten() {
                    out.insert(p);
                }
            }
        }
        for &p in &index.egress_changed {
            out.insert(p);
        }
    }
}

/// A list of distinct indices, cleared in time proportional to its length.
struct Visit {
    list: Vec<usize>,
    seen: Vec<bool>,
}

impl Visit {
    fn new(n: usize) -> Visit {
        Visit {
            list: Vec::new(),
            seen: vec![false; n],
        }
    }

    fn insert(&mut self, i: usize) {
        if let Some(seen) = self.seen.get_mut(i).filter(|s| !**s) {
            *seen = true;
            self.list.push(i);
        }
    }

    fn clear(&mut self) {
        for &i in &self.list {
            if let Some(seen) = self.seen.get_mut(i) {
                *seen = false;
            }
        }
        self.list.clear();
    }
}

impl ReachDiff {
    /// Compares `old` with `new`, grouping the common endpoints by `group_of(endpoint name)`
    /// (the identity for one line per endpoint pair).
    pub fn compute(
        old: &Reachability,
        new: &Reachability,
        group_of: impl Fn(&str) -> String,
    ) -> ReachDiff {
        let old_names = old.endpoint_names();
        let new_names = new.endpoint_names();
        let old_index: FxHashMap<&str, usize> = old_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let new_index: FxHashMap<&str, usize> = new_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut added: Vec<String> = new_names
            .iter()
            .filter(|n| !old_index.contains_key(n.as_str()))
            .cloned()
            .collect();
        let mut removed: Vec<String> = old_names
            .iter()
            .filter(|n| !new_index.contains_key(n.as_str()))
            .cloned()
            .collect();
        added.sort();
        removed.sort();

        let common: Vec<(usize, usize)> = new_names
            .iter()
            .enumerate()
            .filter_map(|(n, name)| old_index.get(name.as_str()).map(|&o| (o, n)))
            .collect();
        let grouping = Grouping::from_keys(
            common
                .iter()
                .map(|&(_, n)| group_of(new_names.get(n).map_or("", String::as_str)))
                .collect(),
        );
        let old_profiles = old.profiles();
        let new_profiles = new.profiles();
        let joint = |(o, n): (usize, usize)| -> Option<(Profile, Profile)> {
            Some((*old_profiles.get(o)?, *new_profiles.get(n)?))
        };
        let (cells, cell_of) = cells(
            &grouping,
            common.len(),
            common
                .iter()
                .enumerate()
                .filter_map(|(k, &pair)| Some((k, joint(pair)?))),
        );
        let mut by_profile: BTreeMap<(Profile, Profile), Vec<usize>> = BTreeMap::new();
        for (c, cell) in cells.iter().enumerate() {
            by_profile.entry(cell.profile).or_default().push(c);
        }

        // Own-node pairs of either side (as common-endpoint indices) are compared one by one:
        // the class matrices do not hold their sets.
        let mut old_to_common = vec![usize::MAX; old_names.len()];
        let mut new_to_common = vec![usize::MAX; new_names.len()];
        for (k, &(o, n)) in common.iter().enumerate() {
            if let Some(slot) = old_to_common.get_mut(o) {
                *slot = k;
            }
            if let Some(slot) = new_to_common.get_mut(n) {
                *slot = k;
            }
        }
        let mut own_node: Vec<(usize, usize)> = Vec::new();
        for (pairs, to_common) in [
            (old.own_node_pairs(), &old_to_common),
            (new.own_node_pairs(), &new_to_common),
        ] {
            for (a, b) in pairs {
                let (Some(&ka), Some(&kb)) = (to_common.get(a), to_common.get(b)) else {
                    continue;
                };
                if ka != usize::MAX && kb != usize::MAX {
                    own_node.push((ka, kb));
                }
            }
        }
        own_node.sort_unstable();
        own_node.dedup();
        let exempt = exempt_counts(&own_node, &cell_of);

        let mut acc = Changes::default();
        for &(ka, kb) in &own_node {
            let (Some(&(oa, na)), Some(&(ob, nb))) = (common.get(ka), common.get(kb)) else {
                continue;
            };
            let (before, after) = (old.ports(oa, ob), new.ports(na, nb));
            if before != after {
                let (Some(g), Some(h)) = (grouping.group_of(ka), grouping.group_of(kb)) else {
                    continue;
                };
                acc.add(
                    (id(g), id(h)),
                    &PortDelta::between(after, before),
                    &PortDelta::between(before, after),
                    1,
                );
            }
        }

        // Set ids of the two sides come from different interners: translate the new side's
        // ids into the old side's once, so that "unchanged" is one array lookup per pair of
        // profiles, and only changed pairs reach the delta cache.
        let old_ids: FxHashMap<&PortSet, u32> = old
            .sets
            .iter()
            .enumerate()
            .map(|(n, set)| (set, id(n)))
            .collect();
        let as_old_id: Vec<Option<u32>> = new
            .sets
            .iter()
            .map(|set| old_ids.get(set).copied())
            .collect();
        let profiles: Vec<JointCells<'_>> = by_profile.iter().collect();
        let candidates = Candidates::new(old, new, &profiles);
        // Destinations of the comparison on every core, each run with its own delta cache;
        // the sums and unions merged afterwards do not depend on the split.
        let per_run = profiles
            .len()
            .div_ceil(crate::parallel::threads() * 4)
            .max(1);
        let runs: Vec<&[JointCells<'_>]> = profiles.chunks(per_run).collect();
        let compare_rows = |destinations: &[JointCells<'_>]| -> Changes {
            let mut acc = Changes::default();
            let mut deltas: FxHashMap<(u32, u32), (PortDelta, PortDelta)> = FxHashMap::default();
            let mut sources = Visit::new(profiles.len());
            for &(&(b_old, b_new), b_cells) in destinations {
                candidates.sources((b_old, b_new), &mut sources);
                for &a in &sources.list {
                    let Some(&(&(a_old, a_new), a_cells)) = profiles.get(a) else {
                        continue;
                    };
                    let ids = (
                        old.profile_set_id(a_old, b_old),
                        new.profile_set_id(a_new, b_new),
                    );
                    if as_old_id.get(ids.1 as usize).copied().flatten() == Some(ids.0) {
                        continue;
                    }
                    let (gained, lost) = deltas.entry(ids).or_insert_with(|| {
                        let (before, after) = (old.set(ids.0), new.set(ids.1));
                        (
                            PortDelta::between(after, before),
                            PortDelta::between(before, after),
                        )
                    });
                    for &ca in a_cells {
                        for &cb in b_cells {
                            let (Some(a), Some(b)) = (cells.get(ca), cells.get(cb)) else {
                                continue;
                            };
                            let pairs = cell_pairs(a, b, ca == cb).saturating_sub(
                                exempt.get(&(id(ca), id(cb))).copied().unwrap_or(0),
                            );
                            if pairs > 0 {
                                acc.add((a.group, b.group), gained, lost, pairs);
                            }
                        }
                    }
                }
            }
            acc
        };
        for run in crate::parallel::map(runs, compare_rows) {
            acc.merge(run);
        }
        let names = grouping.names();
        let name = |g: u32| names.get(g as usize).cloned().unwrap_or_default();
        let mut changes: Vec<PairChange> = acc
            .0
            .into_iter()
            .map(|((from, to), acc)| PairChange {
                from: name(from),
                to: name(to),
                gained: acc.gained,
                lost: acc.lost,
                gained_pairs: acc.gained_pairs,
                lost_pairs: acc.lost_pairs,
                pairs: grouping.pair_count(from as usize, to as usize),
            })
            .collect();
        changes.sort_by(|a, b| (&a.to, &a.from).cmp(&(&b.to, &b.from)));
        ReachDiff {
            added,
            removed,
            compared: common.len(),
            changes,
            groups: Vec::new(),
        }
    }

    /// Compares `old` with `new`, grouping the common endpoints whose connectivity is the
    /// same on both sides: one namespace, one class before and one after (the joint profile),
    /// and the same place in `focus` (indices of `new`). Every member of a group gains and
    /// loses the same connections, so the answer grows with the connectivity patterns the
    /// change touches, not with pods². Only changes from focused sources to focused
    /// destinations are kept. `cluster` is the new side's, whose pods `new` indexes.
    pub fn by_connectivity(
        old: &Reachability,
        new: &Reachability,
        cluster: &Cluster,
        focus: &Focused,
    ) -> ReachDiff {
        let old_index: FxHashMap<&str, usize> = old
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let (old_profiles, new_profiles) = (old.profiles(), new.profiles());
        type Key<'c> = (Option<&'c str>, Profile, Profile, bool, bool);
        let mut keyed: FxHashMap<Key<'_>, usize> = FxHashMap::default();
        let mut members: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
        for (n, name) in new.names.iter().enumerate() {
            let Some(&o) = old_index.get(name.as_str()) else {
                continue;
            };
            let (Some(&before), Some(&after)) = (old_profiles.get(o), new_profiles.get(n)) else {
                continue;
            };
            let ns = cluster
                .pods
                .get(n)
                .filter(|_| n < new.pod_count)
                .map(|p| p.namespace.as_str());
            let key = (ns, before, after, focus.source(n), focus.destination(n));
            let next = members.len();
            let g = *keyed.entry(key).or_insert(next);
            if g == next {
                members.push((ns, Vec::new()));
            }
            members[g].1.push(n);
        }
        let mut groups: Vec<(DiffGroup, bool, bool)> = keyed
            .into_iter()
            .map(|((ns, _, _, source, destination), g)| {
                let indices = &members[g].1;
                let name = match ns {
                    Some(_) => {
                        let pods: Vec<&Pod> = indices
                            .iter()
                            .filter_map(|&i| cluster.pods.get(i))
                            .collect();
                        pod_group_name(&pods)
                    }
                    None => indices
                        .iter()
                        .filter_map(|&i| new.names.get(i))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                let names = indices
                    .iter()
                    .filter_map(|&i| new.names.get(i))
                    .cloned()
                    .collect();
                (
                    DiffGroup {
                        name,
                        members: names,
                    },
                    source,
                    destination,
                )
            })
            .collect();
        groups.sort_by(|(a, ..), (b, ..)| (&a.name, &a.members).cmp(&(&b.name, &b.members)));
        // A workload whose pods differ in what policies see makes two groups of one name.
        super::summary::number_repeated_names(groups.iter_mut().map(|(g, ..)| &mut g.name));
        let mut group_of: FxHashMap<&str, usize> = FxHashMap::default();
        for (g, (group, ..)) in groups.iter().enumerate() {
            for m in &group.members {
                group_of.insert(m.as_str(), g);
            }
        }
        let mut diff = ReachDiff::compute(old, new, |name| {
            group_of
                .get(name)
                .map_or_else(|| name.to_string(), |&g| groups[g].0.name.clone())
        });
        let focused: FxHashMap<&str, (bool, bool)> = groups
            .iter()
            .map(|(g, source, destination)| (g.name.as_str(), (*source, *destination)))
            .collect();
        diff.changes.retain(|c| {
            focused.get(c.from.as_str()).is_some_and(|f| f.0)
                && focused.get(c.to.as_str()).is_some_and(|f| f.1)
        });
        diff.groups = groups.into_iter().map(|(g, ..)| g).collect();
        diff
    }

    /// True when some connection is allowed now that was not before.
    pub fn widens(&self) -> bool {
        self.changes.iter().any(|c| !c.gained.is_empty())
    }

    /// True when some connection allowed before is not any more.
    pub fn narrows(&self) -> bool {
        self.changes.iter().any(|c| !c.lost.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(first: u16, last: u16) -> PortSet {
        PortSet::range(Protocol::Tcp, first, last)
    }

    #[test]
    fn deltas_subtract_and_print() {
        let udp53 = PortSet::port(Protocol::Udp, 53);
        let cases: Vec<(&str, PortSet, PortSet, &str)> = vec![
            (
                "nothing from nothing",
                PortSet::none(),
                PortSet::none(),
                "none",
            ),
            ("all minus all", PortSet::all(), PortSet::all(), "none"),
            ("all minus nothing", PortSet::all(), PortSet::none(), "all"),
            (
                "a default deny keeps a few ports",
                PortSet::all(),
                tcp(8080, 8080).union(&udp53),
                "all except TCP 8080,UDP 53",
            ),
            (
                "range with a hole",
                tcp(80, 90),
                tcp(85, 85),
                "TCP 80-84,86-90",
            ),
            ("disjoint", tcp(80, 80), udp53.clone(), "TCP 80"),
            ("covered", tcp(80, 80), tcp(1, 1000), "none"),
            ("ranges minus all", tcp(80, 80), PortSet::all(), "none"),
            (
                "all minus every port of the three protocols",
                PortSet::all(),
                PortSet::protocol(Protocol::Tcp)
                    .union(&PortSet::protocol(Protocol::Udp))
                    .union(&PortSet::protocol(Protocol::Sctp)),
                "protocols other than TCP, UDP and SCTP",
            ),
            (
                "edges of the port space",
                PortSet::protocol(Protocol::Tcp),
                tcp(0, 0).union(&tcp(65535, 65535)),
                "TCP 1-65534",
            ),
        ];
        for (label, set, minus, want) in cases {
            assert_eq!(
                PortDelta::between(&set, &minus).to_string(),
                want,
                "{label}"
            );
        }
    }

    #[test]
    fn delta_membership_agrees_with_the_sets() {
        let sets = [
            PortSet::all(),
            PortSet::none(),
            tcp(80, 90),
            tcp(0, 0).union(&PortSet::port(Protocol::Udp, 53)),
            PortSet::protocol(Protocol::Sctp),
        ];
        let probes: Vec<Probe> = Protocol::ALL
            .iter()
            .flat_map(|&protocol| {
                [0, 1, 53, 79, 80, 85, 90, 91, 65535].map(|port| Probe { protocol, port })
            })
            .collect();
        for a in &sets {
            for b in &sets {
                let delta = PortDelta::between(a, b);
                for &p in &probes {
                    assert_eq!(
                        delta.contains(p),
                        a.contains(p) && !b.contains(p),
                        "{a} minus {b} at {p:?}"
                    );
                }
            }
        }
    }
}
