//! The pods of a namespace that no policy isolates for egress, as one source.
//!
//! ```text
//!   side      `ns/* [no egress policy]`: the source groups of ns not isolated for egress
//!   why       towards a destination that admits a namespace (its ingress names the namespace,
//!             or every namespace with some label), those pods get what the destination admits,
//!             while each pod isolated for egress gets what its own rules also allow, most often
//!             nothing: with `ns/*` that is one override per isolated group, with group lines
//!             one line per open group; this side says it in one line
//!   when      per destination and source namespace, when it takes fewer lines than the lines
//!             [`super::lines`] chose; a group isolated for egress then reads its own line, or
//!             the `*` line, or the default
//! ```

use rustc_hash::FxHashMap;

use super::intern::{ALL, NONE};
use super::summary::{Side, SummaryGroup};

type Line = (Side, Side, u32);

/// The source groups of each namespace, not isolated for egress and isolated, ascending.
pub(super) struct Namespaces {
    open: Vec<Vec<usize>>,
    closed: Vec<Vec<usize>>,
}

impl Namespaces {
    pub(super) fn new(groups: &[SummaryGroup], namespaces: usize) -> Namespaces {
        let mut open = vec![Vec::new(); namespaces];
        let mut closed = vec![Vec::new(); namespaces];
        for (g, group) in groups.iter().enumerate().filter(|(_, g)| g.source) {
            let Some(ns) = group.namespace else { continue };
            let side = if group.egress_isolated {
                &mut closed
            } else {
                &mut open
            };
            if let Some(list) = side.get_mut(ns) {
                list.push(g);
            }
        }
        Namespaces { open, closed }
    }
}

/// `lines` as [`super::lines`] wrote them (the lines towards one destination group
/// consecutive), with `ns/* [no egress policy]` sources where they save lines.
pub(super) fn open_sources(
    lines: Vec<Line>,
    groups: &[SummaryGroup],
    namespaces: &Namespaces,
    rank: &[u32],
) -> Vec<Line> {
    let mut out = Vec::with_capacity(lines.len());
    let mut start = 0;
    while start < lines.len() {
        let to = lines[start].1;
        let mut end = start + 1;
        while end < lines.len() && lines[end].1 == to {
            end += 1;
        }
        match to {
            Side::Group(b) if groups.get(b).is_some() => {
                Column::new(&lines[start..end], groups, b).rewrite(namespaces, rank, &mut out);
            }
            _ => out.extend_from_slice(&lines[start..end]),
        }
        start = end;
    }
    out
}

/// What one destination's lines say about the sources of one namespace.
#[derive(Default)]
struct FromNamespace {
    line: Option<u32>,
    open: Vec<(usize, u32)>,
    closed: Vec<(usize, u32)>,
}

struct Column<'a> {
    groups: &'a [SummaryGroup],
    b: usize,
    /// The `*` line's value.
    any: Option<u32>,
    by_namespace: FxHashMap<usize, FromNamespace>,
    /// Lines left as they are (`*`, external sources), in order.
    kept: Vec<Line>,
}

impl<'a> Column<'a> {
    fn new(column: &[Line], groups: &'a [SummaryGroup], b: usize) -> Column<'a> {
        let mut any = None;
        let mut by_namespace: FxHashMap<usize, FromNamespace> = FxHashMap::default();
        let mut kept = Vec::new();
        for &line in column {
            match line.0 {
                Side::Any => {
                    any = Some(line.2);
                    kept.push(line);
                }
                Side::Namespace(na) => by_namespace.entry(na).or_default().line = Some(line.2),
                Side::Group(a) => match groups[a].namespace {
                    Some(na) => {
                        let from = by_namespace.entry(na).or_default();
                        if groups[a].egress_isolated {
                            from.closed.push((a, line.2));
                        } else {
                            from.open.push((a, line.2));
                        }
                    }
                    None => kept.push(line),
                },
                _ => kept.push(line),
            }
        }
        Column {
            groups,
            b,
            any,
            by_namespace,
            kept,
        }
    }

    /// What a source of this kind gets when no line of its own or of its namespace covers it.
    fn fallback(&self, egress_isolated: bool) -> u32 {
        match self.any {
            Some(v) => v,
            None if egress_isolated || self.groups[self.b].ingress_isolated => NONE,
            None => ALL,
        }
    }

    /// A lone endpoint towards itself has no pair: it needs no line whatever the others say.
    fn lone_self(&self, a: usize) -> bool {
        a == self.b && self.groups[a].members.len() < 2
    }

    fn rewrite(self, namespaces: &Namespaces, rank: &[u32], out: &mut Vec<Line>) {
        let b = self.b;
        let (fall_open, fall_closed) = (self.fallback(false), self.fallback(true));
        out.extend_from_slice(&self.kept);
        let mut sources: Vec<(&usize, &FromNamespace)> = self.by_namespace.iter().collect();
        sources.sort_unstable_by_key(|(na, _)| **na);
        for (&na, from) in sources {
            let all_open = namespaces.open.get(na).map_or(&[][..], Vec::as_slice);
            let all_closed = namespaces.closed.get(na).map_or(&[][..], Vec::as_slice);
            // Listed groups are among `all` (the column's sources of that kind); a lone
            // destination towards itself is never listed.
            let unlisted = |all: &[usize], listed: &[(usize, u32)]| {
                let lone = usize::from(all.binary_search(&b).is_ok() && self.lone_self(b));
                all.len().saturating_sub(listed.len() + lone)
            };
            let (open_unlisted, closed_unlisted) = (
                unlisted(all_open, &from.open),
                unlisted(all_closed, &from.closed),
            );
            // What the unlisted sources get today.
            let (open_value, closed_value) = (
                from.line.unwrap_or(fall_open),
                from.line.unwrap_or(fall_closed),
            );
            let current = from.open.len() + from.closed.len() + usize::from(from.line.is_some());
            let closed_cost = from
                .closed
                .iter()
                .filter(|&&(_, x)| x != fall_closed)
                .count()
                + if closed_value != fall_closed {
                    closed_unlisted
                } else {
                    0
                };
            let cost = |v: u32| {
                1 + from.open.iter().filter(|&&(_, x)| x != v).count()
                    + if open_value != v { open_unlisted } else { 0 }
                    + closed_cost
            };
            let candidates = from.open.iter().map(|&(_, x)| x).chain([open_value]);
            let best = candidates
                .min_by_key(|&v| (cost(v), rank.get(v as usize).copied().unwrap_or(u32::MAX)));
            let Some(v) =
                best.filter(|&v| open_unlisted + from.open.len() > 0 && cost(v) < current)
            else {
                if let Some(y) = from.line {
                    out.push((Side::Namespace(na), Side::Group(b), y));
                }
                out.extend(
                    from.open
                        .iter()
                        .chain(&from.closed)
                        .map(|&(a, x)| (Side::Group(a), Side::Group(b), x)),
                );
                continue;
            };
            out.push((Side::OpenNamespace(na), Side::Group(b), v));
            // Per kind of source: its listed groups that differ from what covers them now
            // (`expected`), and its unlisted ones when what they had (`before`) differs too.
            let mut lines_of =
                |all: &[usize], listed: &[(usize, u32)], before: u32, expected: u32| {
                    out.extend(
                        listed
                            .iter()
                            .filter(|&&(_, x)| x != expected)
                            .map(|&(a, x)| (Side::Group(a), Side::Group(b), x)),
                    );
                    if before == expected {
                        return;
                    }
                    // Lines are written by ascending source.
                    let is_listed = |a: usize| listed.binary_search_by_key(&a, |&(l, _)| l).is_ok();
                    out.extend(
                        all.iter()
                            .filter(|&&a| !self.lone_self(a) && !is_listed(a))
                            .map(|&a| (Side::Group(a), Side::Group(b), before)),
                    );
                };
            lines_of(all_open, &from.open, open_value, v);
            lines_of(all_closed, &from.closed, closed_value, fall_closed);
        }
    }
}
