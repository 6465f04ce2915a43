//! `palisade reach`: allowed protocol/ports for every ordered pair, or truth tables per probe.

use std::fmt::Write as _;

use palisade_core::eval::Probe;
use palisade_core::reach::{GroupReach, Grouping, Reachability};
use serde_json::json;

use crate::cli::{GroupBy, ReachArgs, ReachFormat, probe_label};
use crate::inputs::{analyze_for_answer, answer_exit};
use crate::{ColorChoice, Exit};

pub fn run(args: ReachArgs, color: ColorChoice) -> Exit {
    let analysis = match args
        .inputs
        .resolve()
        .and_then(|inputs| analyze_for_answer(&inputs, color))
    {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let reach = Reachability::compute(&analysis.cluster, &args.externals);
    if args.group_by == GroupBy::Workload {
        let grouped = reach.grouped(&Grouping::by_workload(&analysis.cluster, &args.externals));
        let out = match (args.format, args.probes.is_empty()) {
            (ReachFormat::Table, false) => group_truth_tables(&grouped, &args.probes),
            (ReachFormat::Table, true) => group_lines(&grouped),
            (ReachFormat::Json, _) => group_json(&grouped, &args.probes),
            (ReachFormat::Csv, _) => group_csv(&grouped, &args.probes),
        };
        super::print_stdout(&out);
        return answer_exit(&analysis);
    }
    let names = reach.endpoint_names();
    let out = match (args.format, args.probes.is_empty()) {
        (ReachFormat::Table, false) => truth_tables(&reach, &names, &args.probes),
        (ReachFormat::Table, true) => pair_lines(&reach, &names),
        (ReachFormat::Json, false) => probes_json(&reach, &names, &args.probes),
        (ReachFormat::Json, true) => pairs_json(&reach, &names),
        (ReachFormat::Csv, false) => probes_csv(&reach, &names, &args.probes),
        (ReachFormat::Csv, true) => pairs_csv(&reach, &names),
    };
    super::print_stdout(&out);
    answer_exit(&analysis)
}

/// The upstream e2e notation: one table per probe, rows are sources, columns destinations,
/// `.` allowed, `X` blocked, `-` in the corner.
pub fn truth_tables(reach: &Reachability, names: &[String], probes: &[Probe]) -> String {
    let width = names.iter().map(String::len).max().unwrap_or(1).max(1);
    let mut out = String::new();
    for (n, probe) in probes.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "probe {}", probe_label(probe));
        let _ = write!(out, "{:width$}", "-");
        for name in names {
            let _ = write!(out, " {name:width$}");
        }
        trim_end(&mut out);
        out.push('\n');
        for (i, from) in names.iter().enumerate() {
            let _ = write!(out, "{from:width$}");
            for j in 0..names.len() {
                let cell = if reach.allowed(i, j, *probe) {
                    "."
                } else {
                    "X"
                };
                let _ = write!(out, " {cell:width$}");
            }
            trim_end(&mut out);
            out.push('\n');
        }
    }
    out
}

fn trim_end(s: &mut String) {
    let trimmed = s.trim_end_matches(' ').len();
    s.truncate(trimmed);
}

/// `x/a => y/b : TCP 80,UDP 53` for every ordered pair of distinct endpoints.
fn pair_lines(reach: &Reachability, names: &[String]) -> String {
    let mut out = String::new();
    for_each_pair(names, |i, j| {
        let _ = writeln!(out, "{} => {} : {}", names[i], names[j], reach.ports(i, j));
    });
    out
}

fn for_each_pair(names: &[String], mut f: impl FnMut(usize, usize)) {
    for i in 0..names.len() {
        for j in 0..names.len() {
            if i != j {
                f(i, j);
            }
        }
    }
}

/// Exactly the contract's shape: {"endpoints": [...], "probes": [{"protocol", "port", "allowed"}]}.
fn probes_json(reach: &Reachability, names: &[String], probes: &[Probe]) -> String {
    let probes: Vec<_> = probes
        .iter()
        .map(|probe| {
            let allowed: Vec<Vec<bool>> = (0..names.len())
                .map(|i| {
                    (0..names.len())
                        .map(|j| reach.allowed(i, j, *probe))
                        .collect()
                })
                .collect();
            json!({"protocol": probe.protocol.as_str(), "port": probe.port, "allowed": allowed})
        })
        .collect();
    serde_json::to_string(&json!({"endpoints": names, "probes": probes})).unwrap_or_default() + "\n"
}

fn pairs_json(reach: &Reachability, names: &[String]) -> String {
    let mut pairs = Vec::new();
    for_each_pair(names, |i, j| {
        pairs.push(
            json!({"from": names[i], "to": names[j], "ports": reach.ports(i, j).to_string()}),
        );
    });
    serde_json::to_string_pretty(&json!({"endpoints": names, "pairs": pairs})).unwrap_or_default()
        + "\n"
}

fn probes_csv(reach: &Reachability, names: &[String], probes: &[Probe]) -> String {
    let mut out = String::from("probe,from,to,allowed\n");
    for probe in probes {
        let label = probe_label(probe);
        for (i, from) in names.iter().enumerate() {
            for (j, to) in names.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{label},{},{},{}",
                    csv_field(from),
                    csv_field(to),
                    reach.allowed(i, j, *probe)
                );
            }
        }
    }
    out
}

fn pairs_csv(reach: &Reachability, names: &[String]) -> String {
    let mut out = String::from("from,to,ports\n");
    for_each_pair(names, |i, j| {
        let _ = writeln!(
            out,
            "{},{},{}",
            csv_field(&names[i]),
            csv_field(&names[j]),
            csv_field(&reach.ports(i, j).to_string())
        );
    });
    out
}

/// RFC 4180 quoting, only where needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A cell of a grouped table: allowed for every member pair, some, or none.
fn group_cell(edge: Option<&palisade_core::reach::GroupEdge>, probe: Probe) -> &'static str {
    match edge {
        Some(e) if e.every_pair.contains(probe) && e.allowed_pairs == e.pairs => ".",
        Some(e) if e.ports.contains(probe) => "~",
        _ => "X",
    }
}

fn edge_between(
    grouped: &GroupReach,
    from: usize,
    to: usize,
) -> Option<&palisade_core::reach::GroupEdge> {
    grouped
        .edges
        .binary_search_by(|e| (e.from, e.to).cmp(&(from, to)))
        .ok()
        .and_then(|i| grouped.edges.get(i))
}

/// Truth tables over workloads: `.` every member pair allowed, `~` some, `X` none.
fn group_truth_tables(grouped: &GroupReach, probes: &[Probe]) -> String {
    let names = grouped.grouping.names();
    let width = names.iter().map(String::len).max().unwrap_or(1).max(1);
    let mut out = String::new();
    for (n, probe) in probes.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "probe {} (. every pod pair, ~ some, X none)",
            probe_label(probe)
        );
        let _ = write!(out, "{:width$}", "-");
        for name in names {
            let _ = write!(out, " {name:width$}");
        }
        trim_end(&mut out);
        out.push('\n');
        for (i, from) in names.iter().enumerate() {
            let _ = write!(out, "{from:width$}");
            for j in 0..names.len() {
                let cell = if i == j && grouped.grouping.pair_count(i, j) == 0 {
                    "."
                } else {
                    group_cell(edge_between(grouped, i, j), *probe)
                };
                let _ = write!(out, " {cell:width$}");
            }
            trim_end(&mut out);
            out.push('\n');
        }
    }
    out
}

/// `ns/a => ns/b : TCP 80` per workload pair with anything allowed; when the member pairs
/// disagree, what every pair gets and how many pairs get anything.
fn group_lines(grouped: &GroupReach) -> String {
    let names = grouped.grouping.names();
    let mut out = String::new();
    for e in &grouped.edges {
        let (Some(from), Some(to)) = (names.get(e.from), names.get(e.to)) else {
            continue;
        };
        let _ = write!(out, "{from} => {to} : {}", e.ports);
        if e.every_pair != e.ports || e.allowed_pairs != e.pairs {
            let _ = write!(
                out,
                " (every pod pair: {}; {}/{} pod pairs allowed something)",
                e.every_pair, e.allowed_pairs, e.pairs
            );
        }
        out.push('\n');
    }
    out
}

fn group_json(grouped: &GroupReach, probes: &[Probe]) -> String {
    let names = grouped.grouping.names();
    let edges: Vec<_> = grouped
        .edges
        .iter()
        .map(|e| {
            let mut edge = json!({
                "from": names.get(e.from),
                "to": names.get(e.to),
                "some": e.ports.to_string(),
                "every": e.every_pair.to_string(),
                "allowedPairs": e.allowed_pairs,
                "pairs": e.pairs,
            });
            if !probes.is_empty() {
                edge["probes"] = probes
                    .iter()
                    .map(|p| json!({ "probe": probe_label(p), "cell": group_cell(Some(e), *p) }))
                    .collect();
            }
            edge
        })
        .collect();
    let value = json!({ "groups": names, "edges": edges });
    serde_json::to_string(&value).unwrap_or_default() + "\n"
}

fn group_csv(grouped: &GroupReach, probes: &[Probe]) -> String {
    let names = grouped.grouping.names();
    let mut out = String::from("from,to,some,every,allowed_pairs,pairs");
    for p in probes {
        let _ = write!(out, ",{}", probe_label(p));
    }
    out.push('\n');
    for e in &grouped.edges {
        let (Some(from), Some(to)) = (names.get(e.from), names.get(e.to)) else {
            continue;
        };
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            csv_field(from),
            csv_field(to),
            csv_field(&e.ports.to_string()),
            csv_field(&e.every_pair.to_string()),
            e.allowed_pairs,
            e.pairs
        );
        for p in probes {
            let _ = write!(out, ",{}", group_cell(Some(e), *p));
        }
        out.push('\n');
    }
    out
}
