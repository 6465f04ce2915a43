//! `palisade diff`: the connections a change gains and loses, grouped by destination, then
//! source, with `--fail-on` turning a kind of change into exit status 1 for CI.

use std::fmt::Write as _;
use std::io::Write as _;

use clap::ValueEnum as _;

use palisade_core::reach::{PairChange, PortDelta, ReachDiff, Reachability, workload_name};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::cli::{DiffArgs, DiffFormat, FailOn, GroupBy};
use crate::inputs::{analyze_sides, apply_changes, read_cluster, to_inputs};
use crate::{ColorChoice, Exit};
use palisade_core::load::Input;

pub fn run(args: DiffArgs, color: ColorChoice) -> Exit {
    let (old_inputs, new_inputs) = match sides(&args) {
        Ok(sides) => sides,
        Err(exit) => return exit,
    };
    let (mut old, mut new) = match analyze_sides(&args.base, &old_inputs, &new_inputs, color) {
        Ok(sides) => sides,
        Err(exit) => return exit,
    };
    // The spanned document trees serve diagnostics, which are printed already: two sides of
    // a large cluster hold hundreds of megabytes of them, freed beside the computation.
    let trees = (
        std::mem::take(&mut old.object_trees),
        std::mem::take(&mut new.object_trees),
    );
    let group_by = args.group_by.unwrap_or(match args.format {
        DiffFormat::Text => GroupBy::Connectivity,
        DiffFormat::Json | DiffFormat::Csv => GroupBy::Pod,
    });
    // The two sides are independent until they are compared.
    let (old_reach, new_reach) = std::thread::scope(|s| {
        s.spawn(move || drop(trees));
        let old_side = s.spawn(|| Reachability::compute(&old.cluster, &args.externals));
        let new_reach = Reachability::compute(&new.cluster, &args.externals);
        let old_reach = old_side
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (old_reach, new_reach)
    });
    let diff = match group_by {
        GroupBy::Connectivity => {
            let focus = focus_masks(&args, &old.cluster, &new.cluster, &new_reach);
            ReachDiff::by_connectivity(&old_reach, &new_reach, &new.cluster, &focus)
        }
        GroupBy::Pod => ReachDiff::compute(&old_reach, &new_reach, str::to_string),
        GroupBy::Workload => {
            // A pod's workload by its `namespace/name`; the new side wins where both have it.
            let mut workloads: HashMap<String, String> = HashMap::new();
            for pod in old.cluster.pods.iter().chain(&new.cluster.pods) {
                workloads.insert(pod.key(), workload_name(pod));
            }
            ReachDiff::compute(&old_reach, &new_reach, |name| {
                workloads
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| name.to_string())
            })
        }
    };
    let mut diff = diff;
    if args.focus.is_set() && group_by != GroupBy::Connectivity {
        focus_changes(&mut diff, &args, group_by, &old.cluster, &new.cluster);
    }
    match args.format {
        DiffFormat::Text => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let head = crate::inputs::invalid_first_line(&old, "")
                + &crate::inputs::invalid_first_line(&new, "");
            // A closed pipe (`palisade diff ... | head`) is not an error.
            let _ = out
                .write_all(head.as_bytes())
                .and_then(|()| write_text(&mut out, &diff, group_by, !args.focus.is_set()))
                .and_then(|()| out.flush());
        }
        DiffFormat::Json => super::print_stdout(
            &(serde_json::to_string_pretty(&to_json(&diff, group_by)).unwrap_or_default() + "\n"),
        ),
        DiffFormat::Csv => super::print_stdout(&csv(&diff)),
    }
    let failed = match args.fail_on {
        FailOn::Never => false,
        FailOn::Widen => diff.widens(),
        FailOn::Narrow => diff.narrows(),
        FailOn::Change => diff.widens() || diff.narrows(),
    };
    if failed {
        let what = match args.fail_on {
            FailOn::Narrow => "connections are lost",
            FailOn::Change => "connections change",
            FailOn::Widen | FailOn::Never => "connections are gained",
        };
        let _ = writeln!(
            std::io::stderr(),
            "error: {what} (--fail-on {})",
            args.fail_on
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        );
        Exit::Findings
    } else {
        match (crate::inputs::finish(old), crate::inputs::finish(new)) {
            (Exit::Ok, Exit::Ok) => Exit::Ok,
            _ => Exit::Findings,
        }
    }
}

/// The namespace of a group named `ns/...` (external addresses have none).
fn namespace_of(group: &str) -> Option<&str> {
    group.split_once('/').map(|(ns, _)| ns)
}

/// One line standing for most groups of a source namespace towards one destination: the
/// groups of `covered` all change alike, each for all of its pairs; `excluded` are the
/// namespace's other groups (changed otherwise or not at all), named on the line.
struct RollUp<'d> {
    ns: &'d str,
    covered: Vec<&'d str>,
    excluded: Vec<&'d str>,
}

/// The roll-ups of one destination's changes (sorted by source): per source namespace, the
/// most common change when at least two groups and three in four of the namespace's have it.
fn roll_ups<'d>(
    block: &'d [PairChange],
    namespace_groups: &HashMap<&'d str, Vec<&'d str>>,
) -> Vec<RollUp<'d>> {
    let full = |c: &PairChange| {
        (c.gained.is_empty() || c.gained_pairs == c.pairs)
            && (c.lost.is_empty() || c.lost_pairs == c.pairs)
    };
    let mut out = Vec::new();
    for run in block.chunk_by(|a, b| namespace_of(&a.from) == namespace_of(&b.from)) {
        let Some((ns, all)) = run
            .first()
            .and_then(|c| namespace_of(&c.from))
            .and_then(|ns| Some((ns, namespace_groups.get(ns)?)))
        else {
            continue;
        };
        // The most common change of the run, the first of them on a tie.
        let mut counts: HashMap<(&PortDelta, &PortDelta), usize> = HashMap::new();
        for c in run.iter().filter(|c| full(c)) {
            *counts.entry((&c.gained, &c.lost)).or_default() += 1;
        }
        let mut best: Option<(&PairChange, usize)> = None;
        for c in run.iter().filter(|c| full(c)) {
            let n = counts.get(&(&c.gained, &c.lost)).copied().unwrap_or(0);
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((c, n));
            }
        }
        let Some((pick, n)) = best else {
            continue;
        };
        // Worth a line when it stands for most of the namespace: at least three groups in
        // four (the others are named on the line).
        if n < 2 || n * 4 < all.len() * 3 {
            continue;
        }
        let covered: Vec<&str> = run
            .iter()
            .filter(|d| full(d) && d.gained == pick.gained && d.lost == pick.lost)
            .map(|d| d.from.as_str())
            .collect();
        let excluded = all
            .iter()
            .copied()
            .filter(|g| covered.binary_search(g).is_err())
            .collect();
        out.push(RollUp {
            ns,
            covered,
            excluded,
        });
    }
    out
}

/// `ns/* (12 pods)` or `ns/* except a, b and 3 more groups (12 pods)`.
fn roll_up_name(r: &RollUp<'_>, sizes: &HashMap<&str, usize>) -> String {
    const NAMED: usize = 3;
    let pods: usize = r
        .covered
        .iter()
        .map(|g| sizes.get(g).copied().unwrap_or(0))
        .sum();
    let pods = format!("{pods} {}", if pods == 1 { "pod" } else { "pods" });
    if r.excluded.is_empty() {
        return format!("{}/* ({pods})", r.ns);
    }
    let mut names: Vec<&str> = r
        .excluded
        .iter()
        .take(NAMED)
        .map(|g| g.split_once('/').map_or(*g, |(_, rest)| rest))
        .collect();
    let more = r.excluded.len().saturating_sub(NAMED);
    let names = if more > 0 {
        let last = if more == 1 { "group" } else { "groups" };
        format!("{} and {more} more {last}", names.join(", "))
    } else if names.len() > 1 {
        let last = names.pop().unwrap_or_default();
        format!("{} and {last}", names.join(", "))
    } else {
        names.join(", ")
    };
    format!("{}/* except {names} ({pods})", r.ns)
}

/// `(4 of 6 pairs)` when a grouped change does not hold for every member pair.
fn share(changed: usize, pairs: usize) -> String {
    if changed < pairs {
        format!("  ({changed} of {pairs} pairs)")
    } else {
        String::new()
    }
}

/// Per destination a header, then `+` (gained) and `-` (lost) lines per source; the endpoint
/// changes and a one-line summary last.
/// The text answer, streamed: a large diff can run to millions of lines.
fn write_text(
    out: &mut impl std::io::Write,
    diff: &ReachDiff,
    group_by: GroupBy,
    roll_up: bool,
) -> std::io::Result<()> {
    let sizes: HashMap<&str, usize> = diff
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.members.len()))
        .collect();
    // A connectivity group's name with its member count; an address is one endpoint.
    let label = |name: &str| -> String {
        match sizes.get(name) {
            Some(&n) if name.contains('/') => {
                format!("{name} ({n} {})", if n == 1 { "pod" } else { "pods" })
            }
            _ => name.to_string(),
        }
    };
    if group_by == GroupBy::Connectivity && diff.compared > 0 {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        writeln!(
            out,
            "{} compared, in {} of identical connectivity before and after the change \
             (--group-by pod lists every pair).\n",
            plural(diff.compared, "endpoint", "endpoints"),
            plural(diff.groups.len(), "group", "groups"),
        )?;
    }
    // Groups per namespace (sorted): most groups of a namespace changing alike towards one
    // destination are one `ns/*` line. Only when grouped by connectivity and unfocused, where
    // every group of the namespace is a source of the diff.
    let mut namespace_groups: HashMap<&str, Vec<&str>> = HashMap::new();
    if group_by == GroupBy::Connectivity && roll_up {
        for g in &diff.groups {
            if let Some(ns) = namespace_of(&g.name) {
                namespace_groups.entry(ns).or_default().push(&g.name);
            }
        }
        for list in namespace_groups.values_mut() {
            list.sort_unstable();
        }
    }
    let mut first = true;
    for block in diff.changes.chunk_by(|a, b| a.to == b.to) {
        let Some(head) = block.first() else {
            continue;
        };
        if !first {
            out.write_all(b"\n")?;
        }
        first = false;
        writeln!(out, "to {}", label(&head.to))?;
        let rolled = roll_ups(block, &namespace_groups);
        let mut written: Option<&str> = None;
        for change in block {
            let up = namespace_of(&change.from).and_then(|ns| {
                rolled
                    .iter()
                    .find(|r| r.ns == ns && r.covered.binary_search(&change.from.as_str()).is_ok())
            });
            let from = match up {
                Some(r) if written == Some(r.ns) => continue,
                Some(r) => {
                    written = Some(r.ns);
                    roll_up_name(r, &sizes)
                }
                None => label(&change.from),
            };
            for (sign, delta, changed) in [
                ('+', &change.gained, change.gained_pairs),
                ('-', &change.lost, change.lost_pairs),
            ] {
                if !delta.is_empty() {
                    writeln!(
                        out,
                        "  {sign} from {from}: {delta}{}",
                        share(changed, change.pairs)
                    )?;
                }
            }
        }
    }
    if !diff.changes.is_empty() {
        out.write_all(b"\n")?;
    }
    for (label, list) in [("added", &diff.added), ("removed", &diff.removed)] {
        if !list.is_empty() {
            writeln!(out, "{label} (not compared): {}", list.join(", "))?;
        }
    }
    let unit = match group_by {
        GroupBy::Connectivity => "group pair",
        GroupBy::Pod => "pair",
        GroupBy::Workload => "workload pair",
    };
    let gained = diff.changes.iter().filter(|c| !c.gained.is_empty()).count();
    let lost = diff.changes.iter().filter(|c| !c.lost.is_empty()).count();
    if gained + lost == 0 {
        writeln!(
            out,
            "no connection gained or lost ({} endpoints compared)",
            diff.compared
        )
    } else {
        writeln!(
            out,
            "{gained} {unit}(s) gained connections, {lost} lost some ({} endpoints compared)",
            diff.compared
        )
    }
}

fn delta_json(delta: &PortDelta) -> Value {
    if delta.is_empty() {
        Value::Null
    } else {
        json!(delta.to_string())
    }
}

fn change_json(c: &PairChange) -> Value {
    json!({
        "from": c.from,
        "to": c.to,
        "gained": delta_json(&c.gained),
        "lost": delta_json(&c.lost),
        "gainedPairs": c.gained_pairs,
        "lostPairs": c.lost_pairs,
        "pairs": c.pairs,
    })
}

/// `{"groupBy", "compared", "added", "removed", "widens", "narrows", "changes": [...]}`;
/// `gained`/`lost` are port sets in `reach`'s notation, or null.
/// Grouped by connectivity, `groups` lists every group's members.
pub fn to_json(diff: &ReachDiff, group_by: GroupBy) -> Value {
    let mut value = json!({
        "groupBy": match group_by {
            GroupBy::Connectivity => "connectivity",
            GroupBy::Pod => "pod",
            GroupBy::Workload => "workload",
        },
        "compared": diff.compared,
        "added": diff.added,
        "removed": diff.removed,
        "widens": diff.widens(),
        "narrows": diff.narrows(),
        "changes": diff.changes.iter().map(change_json).collect::<Vec<_>>(),
    });
    if group_by == GroupBy::Connectivity {
        value["groups"] = diff
            .groups
            .iter()
            .map(|g| json!({"name": g.name, "members": g.members}))
            .collect();
    }
    value
}

/// `to,from,change,ports,changed_pairs,pairs`: one row per gained or lost set.
pub fn csv(diff: &ReachDiff) -> String {
    let mut out = String::from("to,from,change,ports,changed_pairs,pairs\n");
    for c in &diff.changes {
        for (kind, delta, changed) in [
            ("gained", &c.gained, c.gained_pairs),
            ("lost", &c.lost, c.lost_pairs),
        ] {
            if !delta.is_empty() {
                let _ = writeln!(
                    out,
                    "{},{},{kind},{},{changed},{}",
                    super::reach::csv_field(&c.to),
                    super::reach::csv_field(&c.from),
                    super::reach::csv_field(&delta.to_string()),
                    c.pairs
                );
            }
        }
    }
    out
}

/// The inputs of each side: OLD and NEW, or with `--cluster` the cluster now and the cluster
/// with the change applied.
fn sides(args: &DiffArgs) -> Result<(Vec<Input>, Vec<Input>), Exit> {
    if args.cluster.cluster {
        let Some(change) = &args.old else {
            eprintln!("error: `palisade diff --cluster CHANGES`: give the change to compare");
            return Err(Exit::Usage);
        };
        let mut changes = to_inputs(std::slice::from_ref(change));
        // The change is read twice (to know what it replaces, then as input): stdin only once.
        for input in &mut changes {
            if matches!(input, Input::Stdin) {
                let mut text = String::new();
                if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                    eprintln!("error: cannot read standard input: {e}");
                    return Err(Exit::Usage);
                }
                *input = Input::Text {
                    name: "<stdin>".to_string(),
                    text,
                };
            }
        }
        let snapshot = read_cluster(&args.cluster)?;
        let changed = apply_changes(&snapshot, &changes);
        let now = vec![Input::Text {
            name: snapshot.name,
            text: snapshot.text,
        }];
        let mut then = vec![Input::Text {
            name: changed.name,
            text: changed.text,
        }];
        then.extend(changes);
        return Ok((now, then));
    }
    match (&args.old, &args.new) {
        (Some(old), Some(new)) => Ok((
            to_inputs(std::slice::from_ref(old)),
            to_inputs(std::slice::from_ref(new)),
        )),
        _ => {
            eprintln!("error: `palisade diff OLD NEW` needs both sides (or --cluster CHANGES)");
            Err(Exit::Usage)
        }
    }
}

/// Keeps the changes from a group with a pod `--from` picks to a group with a pod `--to`
/// picks (on either side of the change); external addresses by address.
fn focus_changes(
    diff: &mut ReachDiff,
    args: &DiffArgs,
    group_by: GroupBy,
    old: &palisade_core::model::Cluster,
    new: &palisade_core::model::Cluster,
) {
    use std::collections::HashSet;
    let key = |pod: &palisade_core::model::Pod| match group_by {
        GroupBy::Workload => workload_name(pod),
        GroupBy::Pod | GroupBy::Connectivity => pod.key(),
    };
    let picked = |focus: &Option<palisade_core::focus::Focus>| -> Option<HashSet<String>> {
        let focus = focus.as_ref()?;
        let mut keys = HashSet::new();
        for cluster in [old, new] {
            for i in focus.pods(cluster) {
                if let Some(pod) = cluster.pods.get(i) {
                    keys.insert(key(pod));
                }
            }
        }
        keys.extend(
            args.externals
                .iter()
                .filter(|ip| focus.matches_ip(**ip))
                .map(ToString::to_string),
        );
        Some(keys)
    };
    let (from, to) = (picked(&args.focus.from), picked(&args.focus.to));
    let keep =
        |set: &Option<HashSet<String>>, name: &str| set.as_ref().is_none_or(|s| s.contains(name));
    diff.changes
        .retain(|c| keep(&from, &c.from) && keep(&to, &c.to));
}

/// Per endpoint of the new side, whether `--from` (`--to`) picks it on either side of the
/// change (a pod the change relabels is picked by what picked it before, too).
fn focus_masks(
    args: &DiffArgs,
    old: &palisade_core::model::Cluster,
    new: &palisade_core::model::Cluster,
    new_reach: &Reachability,
) -> palisade_core::reach::Focused {
    let mut focus = args.focus.masks(new, &args.externals);
    let before = args.focus.masks(old, &args.externals);
    let old_index: HashMap<String, usize> = old
        .pods
        .iter()
        .enumerate()
        .map(|(i, p)| (p.key(), i))
        .collect();
    let names = new_reach.endpoint_names();
    for (mask, old_mask) in [(&mut focus.from, &before.from), (&mut focus.to, &before.to)] {
        let (Some(mask), Some(old_mask)) = (mask.as_mut(), old_mask.as_ref()) else {
            continue;
        };
        for (i, name) in names.iter().enumerate().take(new.pods.len()) {
            if let Some(&o) = old_index.get(name)
                && old_mask.get(o).copied().unwrap_or(false)
                && let Some(slot) = mask.get_mut(i)
            {
                *slot = true;
            }
        }
    }
    focus
}
