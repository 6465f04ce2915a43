//! The summary's lines towards one destination group, visiting only the sources whose answer
//! differs from what isolation alone implies.
//!
//! ```text
//!   visited      sources whose class has a cell of its own towards the destination's class
//!                (all sources when the cells are dense), and sources whose default cannot
//!                be read off their class
//!   the others   get their default (everything when neither side is isolated, else
//!                nothing): they enter each level's choice as two counts, never one by one
//!   levels       `*`, then each namespace, then the groups that still differ, exactly as a
//!                pass over every source would choose them
//! ```
//!
//! On a cluster of tens of thousands of groups, most pairs are their default, so the work per
//! destination follows its exceptions and the namespaces rather than the number of sources.

use rustc_hash::FxHashMap;

use super::intern::{ALL, NONE};
use super::summary::{Side, SummaryGroup};

/// The sources of a summary, indexed for [`Sources::lines_to`].
pub(super) struct Sources<'g> {
    groups: &'g [SummaryGroup],
    /// Per set id, its place among the sets in [`crate::eval::PortSet`] order: ties between
    /// equally common values go to the smaller set, whatever order the ids were made in.
    rank: &'g [u32],
    /// Every source group, ascending.
    all: Vec<usize>,
    /// Per namespace, then one bucket for sources outside any namespace: source groups not
    /// isolated for egress / isolated for egress, ascending.
    open: Vec<Vec<usize>>,
    closed: Vec<Vec<usize>>,
    open_total: usize,
    /// Per class, its source groups whose default is the class's (see `regular`).
    by_class: Vec<Vec<usize>>,
    /// Source groups visited for every destination.
    always: Vec<usize>,
    /// Per group: its isolation is its class's, so its default towards a destination is
    /// the default of their classes' cell.
    regular: Vec<bool>,
    is_source: Vec<bool>,
    column: Vec<Option<u32>>,
    visited_flag: Vec<bool>,
    visited: Vec<usize>,
}

/// What a destination's class says about the sources' classes.
pub(super) enum Exceptions<'a> {
    /// Nothing known: visit every source.
    Unknown,
    /// The source classes whose cell towards the destination's class is not their default.
    Only(&'a [(u32, u32)]),
}

impl<'g> Sources<'g> {
    /// `class_isolation(class)`: the class's (egress, ingress) isolation when the cells are
    /// held sparse, `None` otherwise.
    pub(super) fn new(
        groups: &'g [SummaryGroup],
        rank: &'g [u32],
        namespaces: usize,
        class_of_group: &[u32],
        class_isolation: impl Fn(u32) -> Option<(bool, bool)>,
    ) -> Sources<'g> {
        let bucket = |g: &SummaryGroup| g.namespace.unwrap_or(namespaces);
        let mut open = vec![Vec::new(); namespaces + 1];
        let mut closed = vec![Vec::new(); namespaces + 1];
        let mut by_class: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        let mut all = Vec::new();
        let mut regular = vec![false; groups.len()];
        for (g, group) in groups.iter().enumerate() {
            let class = class_of_group.get(g).copied().unwrap_or(0);
            regular[g] =
                class_isolation(class) == Some((group.egress_isolated, group.ingress_isolated));
            if !group.source {
                continue;
            }
            all.push(g);
            let side = if group.egress_isolated {
                &mut closed
            } else {
                &mut open
            };
            if let Some(list) = side.get_mut(bucket(group)) {
                list.push(g);
            }
            if regular[g] {
                let c = class as usize;
                if by_class.len() <= c {
                    by_class.resize(c + 1, Vec::new());
                }
                by_class[c].push(g);
            } else {
                always.push(g);
            }
        }
        Sources {
            groups,
            rank,
            open_total: open.iter().map(Vec::len).sum(),
            is_source: groups.iter().map(|g| g.source).collect(),
            column: vec![None; groups.len()],
            visited_flag: vec![false; groups.len()],
            visited: Vec::new(),
            all,
            open,
            closed,
            by_class,
            always,
            regular,
        }
    }

    /// Whether destination `b`'s default towards a regular source is its class cell's default.
    pub(super) fn regular(&self, b: usize) -> bool {
        self.regular.get(b).copied().unwrap_or(false)
    }

    /// Appends the lines towards destination group `b`: `*`, then namespaces, then groups
    /// (ascending), as [`super::summary`] defines them. `value(a)` is the canonical answer of
    /// source `a` (`None`: no pair, a lone endpoint to itself).
    pub(super) fn lines_to(
        &mut self,
        b: usize,
        exceptions: Exceptions<'_>,
        value: impl Fn(usize) -> Option<u32>,
        lines: &mut Vec<(Side, Side, u32)>,
    ) {
        let groups = self.groups;
        let Some(gb) = groups.get(b) else {
            return;
        };
        let open_dst = !gb.ingress_isolated;
        let default = |a: usize| {
            if open_dst && !groups[a].egress_isolated {
                ALL
            } else {
                NONE
            }
        };
        self.visit(b, exceptions);
        for &a in &self.visited {
            self.column[a] = value(a);
        }
        let column = &self.column;
        let visited = &self.visited;
        let namespaces = self.open.len() - 1;
        let bucket = |a: usize| groups[a].namespace.unwrap_or(namespaces);

        // `*`: every source, the unvisited ones at their defaults.
        let visited_open = visited
            .iter()
            .filter(|&&a| !groups[a].egress_isolated)
            .count();
        let unvisited = Defaults::new(
            self.all.len() - visited.len(),
            self.open_total - visited_open,
            open_dst,
        );
        let mut counts: FxHashMap<u32, usize> = FxHashMap::default();
        let rank = self.rank;
        let any = choose(
            &mut counts,
            rank,
            visited.iter().map(|&a| (column[a], default(a))),
            unvisited,
            None,
        );
        if let Some(v) = any {
            lines.push((Side::Any, Side::Group(b), v));
        }

        // Each namespace: its visited sources are one run of `visited` (groups are sorted by
        // namespace).
        let mut level: Vec<Option<u32>> = vec![any; namespaces + 1];
        let mut runs: Vec<(usize, usize)> = vec![(0, 0); namespaces + 1];
        let mut start = 0;
        while start < visited.len() {
            let ns = bucket(visited[start]);
            let mut end = start;
            while end < visited.len() && bucket(visited[end]) == ns {
                end += 1;
            }
            runs[ns] = (start, end);
            start = end;
        }
        for ns in 0..namespaces {
            let (start, end) = runs[ns];
            if any.is_none() && start == end {
                // Every source here is at its default and expects it: nothing to gain.
                continue;
            }
            let run = &visited[start..end];
            let run_open = run.iter().filter(|&&a| !groups[a].egress_isolated).count();
            let members = self.open[ns].len() + self.closed[ns].len();
            let unvisited = Defaults::new(
                members - run.len(),
                self.open[ns].len() - run_open,
                open_dst,
            );
            let expected = |a: usize| any.unwrap_or_else(|| default(a));
            if let Some(v) = choose(
                &mut counts,
                rank,
                run.iter().map(|&a| (column[a], expected(a))),
                unvisited,
                any,
            ) {
                lines.push((Side::Namespace(ns), Side::Group(b), v));
                level[ns] = Some(v);
            }
        }

        // Groups that still differ: visited ones by their value, unvisited ones where their
        // level said something other than their default.
        let mut own: Vec<(usize, u32)> = Vec::new();
        for &a in visited {
            let expected = level[bucket(a)].unwrap_or_else(|| default(a));
            if let Some(x) = column[a].filter(|&x| x != expected) {
                own.push((a, x));
            }
        }
        for (ns, said) in level.iter().enumerate() {
            let Some(said) = *said else {
                continue;
            };
            let open_default = if open_dst { ALL } else { NONE };
            let lists: [(&[usize], u32); 2] =
                [(&self.open[ns], open_default), (&self.closed[ns], NONE)];
            for (list, default) in lists {
                if default == said {
                    continue;
                }
                own.extend(
                    list.iter()
                        .filter(|&&a| !self.visited_flag[a])
                        .map(|&a| (a, default)),
                );
            }
        }
        own.sort_unstable();
        lines.extend(
            own.into_iter()
                .map(|(a, x)| (Side::Group(a), Side::Group(b), x)),
        );

        for &a in &self.visited {
            self.visited_flag[a] = false;
        }
    }

    /// Fills `visited` (ascending, each once) and its flags.
    fn visit(&mut self, b: usize, exceptions: Exceptions<'_>) {
        self.visited.clear();
        match exceptions {
            Exceptions::Only(list) if self.regular(b) => {
                let Sources {
                    by_class,
                    always,
                    visited,
                    visited_flag,
                    is_source,
                    ..
                } = self;
                let lone = is_source.get(b).copied().unwrap_or(false).then_some(b);
                let classes = list
                    .iter()
                    .filter_map(|&(class, _)| by_class.get(class as usize))
                    .flatten();
                for &a in classes.chain(always.iter()).chain(lone.iter()) {
                    if !visited_flag[a] {
                        visited_flag[a] = true;
                        visited.push(a);
                    }
                }
                visited.sort_unstable();
            }
            _ => {
                self.visited.extend_from_slice(&self.all);
                for &a in &self.all {
                    self.visited_flag[a] = true;
                }
            }
        }
    }
}

/// Unvisited sources of one level, by their default: `all` of them get ALL, `none` NONE.
#[derive(Clone, Copy)]
struct Defaults {
    all: usize,
    none: usize,
}

impl Defaults {
    /// `count` unvisited sources of which `open` are not isolated for egress.
    fn new(count: usize, open: usize, open_dst: bool) -> Defaults {
        let all = if open_dst { open } else { 0 };
        Defaults {
            all,
            none: count - all,
        }
    }

    /// How many of them have default `v`.
    fn with(self, v: u32) -> usize {
        match v {
            ALL => self.all,
            NONE => self.none,
            _ => 0,
        }
    }

    fn total(self) -> usize {
        self.all + self.none
    }
}

/// The value a line for one level should carry, if one saves lines: the most common value,
/// when more sources get it than it would wrongly cover. `visited` yields (value, expected)
/// per visited source; the unvisited ones have their default as value, and expect `said`
/// (the level above's value) or else their default.
fn choose(
    counts: &mut FxHashMap<u32, usize>,
    rank: &[u32],
    visited: impl Iterator<Item = (Option<u32>, u32)> + Clone,
    unvisited: Defaults,
    said: Option<u32>,
) -> Option<u32> {
    counts.clear();
    for v in [ALL, NONE] {
        let n = unvisited.with(v);
        if n > 0 {
            *counts.entry(v).or_insert(0) += n;
        }
    }
    for (value, _) in visited.clone() {
        if let Some(x) = value {
            *counts.entry(x).or_insert(0) += 1;
        }
    }
    let (&v, _) = counts.iter().max_by_key(|&(&v, &n)| {
        let rank = rank.get(v as usize).copied().unwrap_or(u32::MAX);
        (n, std::cmp::Reverse(rank))
    })?;
    let mut gained = 0usize;
    let mut lost = 0usize;
    for (value, expected) in visited {
        match value {
            Some(x) if x == v && expected != v => gained += 1,
            Some(x) if x == expected && x != v => lost += 1,
            _ => {}
        }
    }
    match said {
        // Unvisited sources expect their default.
        None => lost += unvisited.total() - unvisited.with(v),
        // They expect `w`: those whose default is `v` gain, those whose default is `w` lose.
        Some(w) if w != v => {
            gained += unvisited.with(v);
            lost += unvisited.with(w);
        }
        Some(_) => {}
    }
    (gained > lost + 1).then_some(v)
}
