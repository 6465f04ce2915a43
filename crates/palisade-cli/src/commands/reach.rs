//! `palisade reach`: allowed protocol/ports for every ordered pair, or truth tables per probe.

use std::fmt::Write as _;

use palisade_core::eval::Probe;
use palisade_core::reach::Reachability;
use serde_json::json;

use crate::cli::{ReachArgs, ReachFormat, probe_label};
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
