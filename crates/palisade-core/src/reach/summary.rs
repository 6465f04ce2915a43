//! The answer of `reach` for people: endpoints with identical connectivity printed once, and
//! only the pairs that differ from what isolation alone implies.
//!
//! ```text
//!   groups    endpoints of one namespace and one profile (class, hostNetwork): every member
//!             connects to everything exactly like every other member
//!   default   a pair of groups gets everything when neither side is isolated (source for
//!             egress, destination for ingress), nothing otherwise
//!   lines     (from, to, ports) where the answer differs from the default; a source is a
//!             group, a namespace (`ns/*`), the pods of a namespace that no policy isolates for
//!             egress (`ns/* [no egress policy]`) or every endpoint (`*`); a destination is a
//!             group or a namespace (`ns/*`)
//!   reading   towards group b, the lines naming b decide, the most specific source winning;
//!             a source none of them covers reads the lines naming b's namespace alike, and
//!             without one there either, gets the default
//! ```
//!
//! After the lines per destination ([`super::lines`]): the pods of a namespace without egress
//! policy become one source where that takes fewer lines ([`super::egress_open`]), a namespace
//! whose groups all have the same lines is written once as destination (`merge_destinations`),
//! and a source group that says the same to most groups of a namespace says it once
//! ([`super::hoist`]).
//!
//! The answer is exact: [`Summary::ports`] gives back [`Reachability::ports`] for every pair
//! (the property tests check it), and its size follows the distinct connectivity patterns of
//! the cluster rather than pods². Work per destination follows the sources whose answer is not
//! their default (see [`super::lines`]).

use rustc_hash::FxHashMap;

use super::egress_open::{self, open_sources};
use super::hoist::hoist_sources;
use super::intern::{ALL, NONE};
use super::lines::{Exceptions, Sources};
use super::{Profile, Reachability, workload_name};
use crate::eval::{PortSet, Probe};
use crate::model::{Cluster, Labels, Pod};

/// Labels controllers write on every pod: they name no group.
const CONTROLLER_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "pod-template-generation",
    "batch.kubernetes.io/controller-uid",
    "controller-uid",
];

/// Endpoints that connect to everything exactly alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryGroup {
    /// `ns/workload`, `ns/{app=web}` or the address, unique within the summary.
    pub name: String,
    /// Index into [`Summary::namespaces`]; `None` for external addresses.
    pub namespace: Option<usize>,
    /// Endpoint indices of the reachability, ascending.
    pub members: Vec<usize>,
    /// Some policy selects the members for ingress / for egress.
    pub ingress_isolated: bool,
    pub egress_isolated: bool,
    /// hostNetwork pods (policies never apply to them).
    pub host_network: bool,
    /// The members are among the sources (destinations) the summary is about.
    pub source: bool,
    pub destination: bool,
}

/// Which endpoints a summary is about, as sources and as destinations (`None`: all).
#[derive(Debug, Clone, Default)]
pub struct Focused {
    pub from: Option<Vec<bool>>,
    pub to: Option<Vec<bool>>,
}

impl Focused {
    pub(super) fn source(&self, i: usize) -> bool {
        self.from
            .as_ref()
            .is_none_or(|f| f.get(i).copied().unwrap_or(false))
    }

    pub(super) fn destination(&self, i: usize) -> bool {
        self.to
            .as_ref()
            .is_none_or(|t| t.get(i).copied().unwrap_or(false))
    }
}

/// One side of a [`SummaryLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Every endpoint.
    Any,
    /// Every endpoint of a namespace (index into [`Summary::namespaces`]).
    Namespace(usize),
    /// As a source only: the endpoints of a namespace that no policy isolates for egress
    /// (see [`super::egress_open`]).
    OpenNamespace(usize),
    /// One group (index into [`Summary::groups`]).
    Group(usize),
}

/// Members of `from` may open exactly `ports` to members of `to` (distinct endpoints, own-node
/// pairs aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    pub from: Side,
    pub to: Side,
    pub ports: PortSet,
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Summary {
    pub groups: Vec<SummaryGroup>,
    pub namespaces: Vec<String>,
    /// Sorted by destination, then source.
    pub lines: Vec<SummaryLine>,
    /// Per endpoint, its group.
    group_of: Vec<usize>,
    /// Groups per namespace.
    by_namespace: Vec<Vec<usize>>,
    /// The probe the summary was made for, if any: ports are then "all" (allowed) or "none".
    pub probe: Option<Probe>,
}

impl Summary {
    /// The summary of every protocol/port.
    pub fn of(reach: &Reachability, cluster: &Cluster) -> Summary {
        Summary::build(reach, cluster, None, &Focused::default())
    }

    /// The summary of one probe: a line's ports are everything (allowed) or nothing.
    pub fn of_probe(reach: &Reachability, cluster: &Cluster, probe: Probe) -> Summary {
        Summary::build(reach, cluster, Some(probe), &Focused::default())
    }

    /// The summary of the pairs from `focus.from` to `focus.to` only (of one probe, or of
    /// every port). Groups never mix focused and other endpoints, and `*` or `ns/*` mean the
    /// focused sources (of that namespace).
    pub fn focused(
        reach: &Reachability,
        cluster: &Cluster,
        probe: Option<Probe>,
        focus: &Focused,
    ) -> Summary {
        Summary::build(reach, cluster, probe, focus)
    }

    fn build(
        reach: &Reachability,
        cluster: &Cluster,
        probe: Option<Probe>,
        focus: &Focused,
    ) -> Summary {
        let (namespaces, by_namespace, groups, group_of, profiles) = group(reach, cluster, focus);
        let canon: Vec<u32> = (0..reach.sets.len())
            .map(|id| {
                let set = reach.set(id as u32);
                match probe {
                    Some(p) if set.contains(p) => ALL,
                    Some(_) => NONE,
                    // Sets are interned by their representation: "all" and "none" reached
                    // by different unions are made one here.
                    None if set.is_empty() => NONE,
                    None if set.is_all() => ALL,
                    None => id as u32,
                }
            })
            .collect();
        let value = |a: usize, b: usize, set: Option<u32>| -> Option<u32> {
            let ga = groups.get(a)?;
            if a == b && ga.members.len() < 2 {
                return None;
            }
            canon.get(set? as usize).copied()
        };
        let mut by_order: Vec<u32> = (0..reach.sets.len()).map(|id| id as u32).collect();
        by_order.sort_by(|&a, &b| reach.set(a).cmp(reach.set(b)));
        let mut rank = vec![0u32; by_order.len()];
        for (place, &id) in by_order.iter().enumerate() {
            rank[id as usize] = place as u32;
        }
        let class_of_group: Vec<u32> = profiles.iter().map(|p| p.class).collect();
        let mut sources =
            Sources::new(&groups, &rank, namespaces.len(), &class_of_group, |class| {
                reach.class_isolation(class)
            });
        // Dense cells: the set ids of every source class to the destination's class, read
        // once per destination group (and kept while consecutive groups share a class).
        let mut class_ids: Vec<u32> = Vec::new();
        let mut class_ids_of: Option<u32> = None;
        let mut lines: Vec<(Side, Side, u32)> = Vec::new();
        for b in (0..groups.len()).filter(|&b| groups[b].destination) {
            let class = profiles[b].class;
            match reach.class_exceptions(class) {
                Some(list) => {
                    let set = |a: usize| Some(reach.profile_set_id(profiles[a], profiles[b]));
                    sources.lines_to(
                        b,
                        Exceptions::Only(list),
                        |a| value(a, b, set(a)),
                        &mut lines,
                    );
                }
                None => {
                    if class_ids_of != Some(class) {
                        reach.class_column(class, &mut class_ids);
                        class_ids_of = Some(class);
                    }
                    let set = |a: usize| class_ids.get(profiles[a].class as usize).copied();
                    sources.lines_to(b, Exceptions::Unknown, |a| value(a, b, set(a)), &mut lines);
                }
            }
        }
        drop(sources);
        let by_namespace_destinations: Vec<Vec<usize>> = by_namespace
            .iter()
            .map(|gs| {
                gs.iter()
                    .copied()
                    .filter(|&g| groups[g].destination)
                    .collect()
            })
            .collect();
        let lines = open_sources(
            lines,
            &groups,
            &egress_open::Namespaces::new(&groups, namespaces.len()),
            &rank,
        );
        let lines = merge_destinations(lines, &groups, &by_namespace_destinations);
        let mut lines = hoist_sources(lines, &groups, &by_namespace_destinations, &rank);
        let order = |side: &Side| match *side {
            Side::Any => (0, 0, 0),
            Side::Namespace(ns) | Side::OpenNamespace(ns) => (1, ns, 0),
            Side::Group(g) => (1, groups[g].namespace.unwrap_or(usize::MAX), g + 1),
        };
        // Sorted while a line is three small values: a million lines of port sets cost the
        // sort most of its time in moves.
        lines.sort_by_cached_key(|(from, to, _)| (order(to), order(from)));
        let lines: Vec<SummaryLine> = lines
            .into_iter()
            .map(|(from, to, id)| SummaryLine {
                from,
                to,
                ports: if probe.is_some() {
                    if id == ALL {
                        PortSet::all()
                    } else {
                        PortSet::none()
                    }
                } else {
                    reach.set(id).clone()
                },
            })
            .collect();
        Summary {
            groups,
            namespaces,
            lines,
            group_of,
            by_namespace,
            probe,
        }
    }

    /// The group of endpoint `i`.
    pub fn group_of(&self, i: usize) -> Option<usize> {
        self.group_of.get(i).copied()
    }

    /// The groups of namespace `ns` (index into [`Summary::namespaces`]).
    pub fn namespace_groups(&self, ns: usize) -> &[usize] {
        self.by_namespace.get(ns).map_or(&[], Vec::as_slice)
    }

    /// A side's name: `*`, `ns/*`, `ns/* [no egress policy]`, or the group's name.
    pub fn side_name(&self, side: Side) -> String {
        let namespace = |ns: usize| self.namespaces.get(ns).map_or("", String::as_str);
        match side {
            Side::Any => "*".to_string(),
            Side::Namespace(ns) => format!("{}/*", namespace(ns)),
            Side::OpenNamespace(ns) => format!("{}/* [no egress policy]", namespace(ns)),
            Side::Group(g) => self
                .groups
                .get(g)
                .map_or_else(String::new, |g| g.name.clone()),
        }
    }

    /// Endpoints on one side of a line: `*` and `ns/*` count the focused sources (as a
    /// source) or destinations (as a destination) they stand for.
    pub fn side_size(&self, side: Side, as_source: bool) -> usize {
        let counted = |g: &&SummaryGroup| {
            if as_source { g.source } else { g.destination }
        };
        match side {
            Side::Any => self
                .groups
                .iter()
                .filter(counted)
                .map(|g| g.members.len())
                .sum(),
            Side::Namespace(ns) => self
                .namespace_groups(ns)
                .iter()
                .map(|&g| &self.groups[g])
                .filter(counted)
                .map(|g| g.members.len())
                .sum(),
            Side::OpenNamespace(ns) => self
                .namespace_groups(ns)
                .iter()
                .map(|&g| &self.groups[g])
                .filter(|g| counted(g) && !g.egress_isolated)
                .map(|g| g.members.len())
                .sum(),
            Side::Group(g) => self.groups.get(g).map_or(0, |g| g.members.len()),
        }
    }

    fn covers(&self, side: Side, group: usize) -> bool {
        covers(&self.groups, side, group)
    }

    /// What the summary says about groups `a` -> `b`: among the lines naming `b`, the one
    /// with the most specific source covering `a` (the group, then its namespace, then `*`);
    /// without one, the same among the lines naming `b`'s namespace; else the default.
    pub fn between(&self, a: usize, b: usize) -> PortSet {
        let specificity = |side: Side| match side {
            Side::Group(_) => 2,
            Side::Namespace(_) | Side::OpenNamespace(_) => 1,
            Side::Any => 0,
        };
        let best = |to: Side| {
            self.lines
                .iter()
                .filter(|l| l.to == to && self.covers(l.from, a))
                .max_by_key(|l| specificity(l.from))
        };
        let namespace = self.groups.get(b).and_then(|g| g.namespace);
        if let Some(line) = best(Side::Group(b)).or_else(|| best(Side::Namespace(namespace?))) {
            return line.ports.clone();
        }
        match (self.groups.get(a), self.groups.get(b)) {
            (Some(ga), Some(gb)) if default_id(ga, gb) == ALL => PortSet::all(),
            _ => PortSet::none(),
        }
    }

    /// The answer for endpoints `from` -> `to` read back from the summary (own-node pairs and
    /// an endpoint to itself are always allowed, as the header of the text says). Linear in
    /// the lines: meant for checks, not for hot loops.
    pub fn ports(&self, reach: &Reachability, from: usize, to: usize) -> PortSet {
        if from == to || reach.own_node(from, to) {
            return PortSet::all();
        }
        match (self.group_of(from), self.group_of(to)) {
            (Some(a), Some(b)) => self.between(a, b),
            _ => PortSet::none(),
        }
    }
}

/// Whether a line's side stands for group `group`.
pub(super) fn covers(groups: &[SummaryGroup], side: Side, group: usize) -> bool {
    let Some(g) = groups.get(group) else {
        return false;
    };
    match side {
        Side::Any => true,
        Side::Namespace(ns) => g.namespace == Some(ns),
        Side::OpenNamespace(ns) => g.namespace == Some(ns) && !g.egress_isolated,
        Side::Group(other) => other == group,
    }
}

/// Everything when neither side is isolated, nothing otherwise (a non-pod side and a
/// hostNetwork pod impose nothing).
fn default_id(from: &SummaryGroup, to: &SummaryGroup) -> u32 {
    if from.egress_isolated || to.ingress_isolated {
        NONE
    } else {
        ALL
    }
}

/// When every group of a namespace has the same lines as sources (and the same default), its
/// lines are written once with `ns/*` as destination.
fn merge_destinations(
    lines: Vec<(Side, Side, u32)>,
    groups: &[SummaryGroup],
    by_namespace: &[Vec<usize>],
) -> Vec<(Side, Side, u32)> {
    let mut columns: FxHashMap<usize, Vec<(Side, u32)>> = FxHashMap::default();
    for &(from, to, v) in &lines {
        if let Side::Group(b) = to {
            columns.entry(b).or_default().push((from, v));
        }
    }
    let empty = Vec::new();
    let column = |b: usize| columns.get(&b).unwrap_or(&empty);
    let mut merged = vec![false; by_namespace.len()];
    for (ns, members) in by_namespace.iter().enumerate() {
        let Some(&first) = members.first() else {
            continue;
        };
        merged[ns] = members.len() > 1
            && !column(first).is_empty()
            && members.iter().all(|&b| {
                column(b) == column(first)
                    && groups[b].ingress_isolated == groups[first].ingress_isolated
            });
    }
    let mut out = Vec::with_capacity(lines.len());
    let mut written = vec![false; by_namespace.len()];
    for (from, to, v) in lines {
        let ns = match to {
            Side::Group(b) => groups[b].namespace.filter(|&ns| merged[ns]),
            _ => None,
        };
        match ns {
            Some(ns) => {
                if !written[ns] {
                    written[ns] = true;
                    if let Side::Group(b) = to {
                        out.extend(column(b).iter().map(|&(f, v)| (f, Side::Namespace(ns), v)));
                    }
                }
            }
            None => out.push((from, to, v)),
        }
    }
    out
}

type Grouped = (
    Vec<String>,
    Vec<Vec<usize>>,
    Vec<SummaryGroup>,
    Vec<usize>,
    Vec<Profile>,
);

/// Endpoints grouped by (namespace, profile), named, sorted by namespace then name.
fn group(reach: &Reachability, cluster: &Cluster, focus: &Focused) -> Grouped {
    let mut namespaces: Vec<String> = cluster
        .pods
        .iter()
        .map(|p| p.namespace.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    namespaces.dedup();
    let ns_index: FxHashMap<&str, usize> = namespaces
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let profiles = reach.profiles();
    type Key = (Option<usize>, Profile, bool, bool);
    let mut keyed: FxHashMap<Key, usize> = FxHashMap::default();
    let mut members: Vec<(Key, Vec<usize>)> = Vec::new();
    for (i, &profile) in profiles.iter().enumerate() {
        let ns = cluster
            .pods
            .get(i)
            .and_then(|p| ns_index.get(p.namespace.as_str()).copied());
        let key = (ns, profile, focus.source(i), focus.destination(i));
        let next = members.len();
        let g = *keyed.entry(key).or_insert(next);
        if g == next {
            members.push((key, Vec::new()));
        }
        members[g].1.push(i);
    }
    let isolation = Isolation::new(cluster);
    let mut groups: Vec<(SummaryGroup, Profile)> = members
        .into_iter()
        .map(|((namespace, profile, source, destination), members)| {
            let pods: Vec<&Pod> = members
                .iter()
                .filter_map(|&i| cluster.pods.get(i))
                .collect();
            let (ingress, egress) = match pods.first() {
                Some(p) if !p.host_network => isolation.of(p),
                _ => (false, false),
            };
            let name = match namespace {
                Some(_) => pod_group_name(&pods),
                None => members
                    .iter()
                    .filter_map(|&i| reach.names.get(i))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            (
                SummaryGroup {
                    name,
                    namespace,
                    members,
                    ingress_isolated: ingress,
                    egress_isolated: egress,
                    host_network: profile.host,
                    source,
                    destination,
                },
                profile,
            )
        })
        .collect();
    groups.sort_by(|(a, _), (b, _)| {
        (a.namespace.is_none(), a.namespace, &a.name, &a.members).cmp(&(
            b.namespace.is_none(),
            b.namespace,
            &b.name,
            &b.members,
        ))
    });
    // Two groups of one namespace may share a name (a workload whose pods differ in what
    // policies see): number them.
    number_repeated_names(groups.iter_mut().map(|(g, _)| &mut g.name));
    let mut group_of = vec![0; profiles.len()];
    let mut by_namespace = vec![Vec::new(); namespaces.len()];
    for (n, (g, _)) in groups.iter().enumerate() {
        for &m in &g.members {
            group_of[m] = n;
        }
        if let Some(ns) = g.namespace {
            by_namespace[ns].push(n);
        }
    }
    let profiles = groups.iter().map(|(_, p)| *p).collect();
    let groups = groups.into_iter().map(|(g, _)| g).collect();
    (namespaces, by_namespace, groups, group_of, profiles)
}

/// `ns/workload` when the pods are one workload, else `ns/{labels they share}`, else the
/// first workloads' names.
pub(super) fn pod_group_name(pods: &[&Pod]) -> String {
    let Some(first) = pods.first() else {
        return String::new();
    };
    let workload = workload_name(first);
    if pods.iter().all(|p| workload_name(p) == workload) {
        return workload;
    }
    let shared: Labels = first
        .labels
        .iter()
        .filter(|(k, v)| {
            !CONTROLLER_LABELS.contains(&k.as_str())
                && pods.iter().all(|p| p.labels.get(*k) == Some(v))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !shared.is_empty() {
        let labels: Vec<String> = shared.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return format!("{}/{{{}}}", first.namespace, labels.join(","));
    }
    let mut workloads: Vec<String> = pods.iter().map(|p| workload_name(p)).collect();
    workloads.sort();
    workloads.dedup();
    let names: Vec<&str> = workloads
        .iter()
        .take(3)
        .map(|w| w.split_once('/').map_or(w.as_str(), |(_, n)| n))
        .collect();
    let more = workloads.len().saturating_sub(3);
    let tail = if more > 0 {
        format!(", +{more}")
    } else {
        String::new()
    };
    format!("{}/[{}{tail}]", first.namespace, names.join(", "))
}

/// Which pods some policy isolates, per direction, looked up by namespace.
struct Isolation<'a> {
    policies: FxHashMap<&'a str, Vec<&'a crate::model::Policy>>,
}

impl<'a> Isolation<'a> {
    fn new(cluster: &'a Cluster) -> Isolation<'a> {
        let mut policies: FxHashMap<&str, Vec<_>> = FxHashMap::default();
        for p in &cluster.policies {
            policies.entry(p.namespace.as_str()).or_default().push(p);
        }
        Isolation { policies }
    }

    fn of(&self, pod: &Pod) -> (bool, bool) {
        let mut ingress = false;
        let mut egress = false;
        for p in self
            .policies
            .get(pod.namespace.as_str())
            .into_iter()
            .flatten()
        {
            if p.subject.matches(&pod.labels) {
                ingress |= p.ingress.is_some();
                egress |= p.egress.is_some();
            }
        }
        (ingress, egress)
    }
}

/// Makes names unique in order: the second `x` becomes `x #2`, the third `x #3`.
pub(crate) fn number_repeated_names<'a>(names: impl Iterator<Item = &'a mut String>) {
    let mut seen: FxHashMap<String, usize> = FxHashMap::default();
    for name in names {
        let count = seen.entry(name.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            *name = format!("{name} #{count}");
        }
    }
}
