//! Lines of one source group that say the same towards most groups of a destination
//! namespace, written once with `ns/*` as destination.
//!
//! ```text
//!   reading   towards group b: the lines naming b first (most specific source wins); a source
//!             none of them covers reads the lines naming b's namespace, then the default
//!   hoisting  source group a, destination namespace ns: the line (a, b, v) of every b whose
//!             column has no other line covering a becomes one (a, ns/*, v); the groups of ns
//!             that said nothing about a and whose default is not v get (a, b, default)
//!   when      it saves lines: the common value of a's lines against the overrides it adds
//! ```
//!
//! An egress-isolated source whose rules admit whole namespaces otherwise repeats its line for
//! every open destination group of those namespaces: the answer grows with sources x
//! destination groups, while the policies behind it are a handful of rules.

use rustc_hash::{FxHashMap, FxHashSet};

use super::intern::{ALL, NONE};
use super::summary::{Side, SummaryGroup};

type Line = (Side, Side, u32);

/// `lines` sorted by destination group (the lines of one namespace's groups consecutive), as
/// [`super::lines`] writes them; `rank` breaks ties between equally common values.
pub(super) fn hoist_sources(
    lines: Vec<Line>,
    groups: &[SummaryGroup],
    destinations_of: &[Vec<usize>],
    rank: &[u32],
) -> Vec<Line> {
    let namespace_of = |line: &Line| match line.1 {
        Side::Group(b) => groups.get(b).and_then(|g| g.namespace),
        _ => None,
    };
    let mut out = Vec::with_capacity(lines.len());
    let mut start = 0;
    while start < lines.len() {
        let ns = namespace_of(&lines[start]);
        let mut end = start + 1;
        while end < lines.len() && ns.is_some() && namespace_of(&lines[end]) == ns {
            end += 1;
        }
        let run = &lines[start..end];
        match ns.and_then(|ns| Some((ns, destinations_of.get(ns)?))) {
            Some((ns, destinations)) if destinations.len() > 1 => {
                Namespace::new(run, groups, destinations).hoist(ns, rank, &mut out);
            }
            _ => out.extend_from_slice(run),
        }
        start = end;
    }
    out
}

/// The lines towards the destination groups of one namespace, indexed.
struct Namespace<'a> {
    run: &'a [Line],
    groups: &'a [SummaryGroup],
    /// The namespace's destination groups, ascending.
    destinations: &'a [usize],
    /// Per destination (place in `destinations`): a `*` line names it.
    any: Vec<bool>,
    /// (destination place, source namespace) with a `ns/*` line, and with a
    /// `ns/* [no egress policy]` one.
    by_namespace: FxHashSet<(usize, usize)>,
    open_namespace: FxHashSet<(usize, usize)>,
    /// Per source group, its lines: (destination place, value), ascending.
    own: FxHashMap<usize, Vec<(usize, u32)>>,
}

impl<'a> Namespace<'a> {
    fn new(run: &'a [Line], groups: &'a [SummaryGroup], destinations: &'a [usize]) -> Self {
        let mut any = vec![false; destinations.len()];
        let mut by_namespace = FxHashSet::default();
        let mut open_namespace = FxHashSet::default();
        let mut own: FxHashMap<usize, Vec<(usize, u32)>> = FxHashMap::default();
        for &(from, to, v) in run {
            let Side::Group(b) = to else { continue };
            let Ok(place) = destinations.binary_search(&b) else {
                continue;
            };
            match from {
                Side::Any => any[place] = true,
                Side::Namespace(na) => {
                    by_namespace.insert((place, na));
                }
                Side::OpenNamespace(na) => {
                    open_namespace.insert((place, na));
                }
                Side::Group(a) => own.entry(a).or_default().push((place, v)),
            }
        }
        Namespace {
            run,
            groups,
            destinations,
            any,
            by_namespace,
            open_namespace,
            own,
        }
    }

    /// Per destination place, whether a line other than a source's own covers the sources
    /// of namespace `na` isolated for egress or not (a `*` line, one naming `na/*`, or for
    /// sources not isolated one naming `na/* [no egress policy]`).
    fn cover(&self, na: Option<usize>, egress_isolated: bool, cover: &mut Vec<bool>) {
        cover.clear();
        cover.extend((0..self.destinations.len()).map(|place| {
            self.any[place]
                || na.is_some_and(|na| {
                    self.by_namespace.contains(&(place, na))
                        || (!egress_isolated && self.open_namespace.contains(&(place, na)))
                })
        }));
    }

    fn default(&self, a: usize, b: usize) -> u32 {
        if self.groups[a].egress_isolated || self.groups[b].ingress_isolated {
            NONE
        } else {
            ALL
        }
    }

    /// Appends the run's lines to `out`, hoisted where it saves lines.
    fn hoist(&self, ns: usize, rank: &[u32], out: &mut Vec<Line>) {
        let mut sources: Vec<usize> = self.own.keys().copied().collect();
        // By namespace and egress isolation: the cover changes once per run of one kind.
        sources.sort_unstable_by_key(|&a| {
            let g = &self.groups[a];
            (g.namespace, g.egress_isolated, a)
        });
        let mut cover = Vec::new();
        let mut cover_of = None;
        // Uncovered destinations, ingress-open and ingress-isolated ones.
        let (mut open, mut closed) = (0usize, 0usize);
        let mut added: Vec<Line> = Vec::new();
        let mut dropped: FxHashSet<(usize, usize)> = FxHashSet::default();
        let mut named = vec![false; self.destinations.len()];
        let mut counts: FxHashMap<u32, usize> = FxHashMap::default();
        for &a in &sources {
            let kind = (self.groups[a].namespace, self.groups[a].egress_isolated);
            if cover_of != Some(kind) {
                self.cover(kind.0, kind.1, &mut cover);
                cover_of = Some(kind);
                (open, closed) = (0, 0);
                for (place, &b) in self.destinations.iter().enumerate() {
                    if !cover[place] {
                        if self.groups[b].ingress_isolated {
                            closed += 1;
                        } else {
                            open += 1;
                        }
                    }
                }
            }
            // Destinations that would fall through to the new line: uncovered ones a has no
            // line for (and not a lone endpoint to itself), by their default.
            let (mut fall_open, mut fall_closed) = (open, closed);
            let mut leave_out = |b: usize| {
                if self.groups[b].ingress_isolated {
                    fall_closed -= 1;
                } else {
                    fall_open -= 1;
                }
            };
            counts.clear();
            let lines = &self.own[&a];
            for &(place, v) in lines {
                if !cover[place] {
                    *counts.entry(v).or_insert(0) += 1;
                    leave_out(self.destinations[place]);
                }
            }
            if let Ok(place) = self.destinations.binary_search(&a)
                && !cover[place]
                && lone_self(self.groups, a, a)
                && !lines.iter().any(|&(p, _)| p == place)
            {
                leave_out(a);
            }
            let (fall_all, fall_none) = if self.groups[a].egress_isolated {
                (0, fall_open + fall_closed)
            } else {
                (fall_open, fall_closed)
            };
            let gain = |v: u32, n: usize| {
                let overrides = match v {
                    ALL => fall_none,
                    NONE => fall_all,
                    _ => fall_all + fall_none,
                };
                n as i64 - 1 - overrides as i64
            };
            let best = counts.iter().max_by_key(|&(&v, &n)| {
                let rank = rank.get(v as usize).copied().unwrap_or(u32::MAX);
                (gain(v, n), std::cmp::Reverse(rank))
            });
            let Some((&v, _)) = best.filter(|&(&v, &n)| gain(v, n) > 0) else {
                continue;
            };
            added.push((Side::Group(a), Side::Namespace(ns), v));
            for &(place, x) in lines {
                named[place] = true;
                if !cover[place] && x == v {
                    dropped.insert((a, self.destinations[place]));
                }
            }
            for (place, &b) in self.destinations.iter().enumerate() {
                if named[place] || cover[place] || lone_self(self.groups, a, b) {
                    continue;
                }
                let default = self.default(a, b);
                if default != v {
                    added.push((Side::Group(a), Side::Group(b), default));
                }
            }
            for &(place, _) in lines {
                named[place] = false;
            }
        }
        out.extend(
            self.run
                .iter()
                .copied()
                .filter(|&(from, to, _)| match (from, to) {
                    (Side::Group(a), Side::Group(b)) => !dropped.contains(&(a, b)),
                    _ => true,
                }),
        );
        out.append(&mut added);
    }
}

/// A group of one endpoint towards itself: there is no pair to answer for.
fn lone_self(groups: &[SummaryGroup], a: usize, b: usize) -> bool {
    a == b && groups[a].members.len() < 2
}
