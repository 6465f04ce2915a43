//! `palisade reach`: allowed protocol/ports for every ordered pair, or truth tables per probe.

mod connectivity;

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};

use palisade_core::eval::Probe;
use palisade_core::reach::{GroupReach, Grouping, Reachability};
use serde_json::json;

use crate::cli::{ReachArgs, ReachFormat, ReachGroupBy, probe_label};
use crate::inputs::analyze_for_answer;
use crate::{ColorChoice, Exit};

/// Truth tables up to this many endpoints are printed whole by default; beyond, the grouped
/// answer is (a table that wide is not read by anyone).
const TRUTH_TABLE_LIMIT: usize = 100;

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
    let group_by = args.group_by.unwrap_or(match args.format {
        ReachFormat::Table if !args.probes.is_empty() && reach.len() <= TRUTH_TABLE_LIMIT => {
            ReachGroupBy::Pod
        }
        ReachFormat::Table => ReachGroupBy::Connectivity,
        ReachFormat::Json | ReachFormat::Csv => ReachGroupBy::Pod,
    });
    let focus = args.focus.masks(&analysis.cluster, &args.externals);
    let picked = |mask: &Option<Vec<bool>>| -> Vec<usize> {
        (0..reach.len())
            .filter(|&i| mask.as_ref().is_none_or(|m| m[i]))
            .collect()
    };
    let (rows, cols) = (picked(&focus.from), picked(&focus.to));
    // Truth tables are square: over the endpoints either focus picks.
    let square: Vec<usize> = (0..reach.len())
        .filter(|i| {
            !args.focus.is_set() || rows.binary_search(i).is_ok() || cols.binary_search(i).is_ok()
        })
        .collect();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    if args.format == ReachFormat::Table {
        let _ = out.write_all(crate::inputs::invalid_first_line(&analysis, "").as_bytes());
    }
    let written = match group_by {
        ReachGroupBy::Workload => {
            let mut grouped =
                reach.grouped(&Grouping::by_workload(&analysis.cluster, &args.externals));
            if args.focus.is_set() {
                focus_edges(&mut grouped, &rows, &cols);
            }
            match (args.format, args.probes.is_empty()) {
                (ReachFormat::Table, false) => {
                    out.write_all(group_truth_tables(&grouped, &args.probes).as_bytes())
                }
                (ReachFormat::Table, true) => write_group_lines(&mut out, &grouped),
                (ReachFormat::Json, _) => {
                    out.write_all(group_json(&grouped, &args.probes).as_bytes())
                }
                (ReachFormat::Csv, _) => write_group_csv(&mut out, &grouped, &args.probes),
            }
        }
        ReachGroupBy::Connectivity => connectivity::write(
            &mut out,
            &reach,
            &analysis.cluster,
            &args.probes,
            args.format,
            &focus,
        ),
        ReachGroupBy::Pod => {
            let names = reach.endpoint_names();
            let pairs = Pairs {
                rows: &rows,
                cols: &cols,
            };
            match (args.format, args.probes.is_empty()) {
                (ReachFormat::Table, false) => {
                    out.write_all(truth_tables(&reach, &names, &square, &args.probes).as_bytes())
                }
                (ReachFormat::Table, true) => write_pair_lines(&mut out, &reach, &names, pairs),
                (ReachFormat::Json, false) => {
                    write_probes_json(&mut out, &reach, &names, &square, &args.probes)
                }
                (ReachFormat::Json, true) => write_pairs_json(&mut out, &reach, &names, pairs),
                (ReachFormat::Csv, false) => {
                    write_probes_csv(&mut out, &reach, &names, &square, &args.probes)
                }
                (ReachFormat::Csv, true) => write_pairs_csv(&mut out, &reach, &names, pairs),
            }
        }
    };
    // A closed pipe (`palisade reach ... | head`) is not an error.
    let _ = written.and_then(|()| out.flush());
    crate::inputs::finish(analysis)
}

/// The upstream e2e notation: one table per probe, rows are sources, columns destinations,
/// `.` allowed, `X` blocked, `-` in the corner.
/// Over the endpoints `subset` (indices, ascending).
fn truth_tables(
    reach: &Reachability,
    all_names: &[String],
    subset: &[usize],
    probes: &[Probe],
) -> String {
    let names: Vec<&String> = subset.iter().map(|&i| &all_names[i]).collect();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(1).max(1);
    let mut out = String::new();
    for (n, probe) in probes.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "probe {}", probe_label(probe));
        let _ = write!(out, "{:width$}", "-");
        for name in &names {
            let _ = write!(out, " {name:width$}");
        }
        trim_end(&mut out);
        out.push('\n');
        for (&i, from) in subset.iter().zip(&names) {
            let _ = write!(out, "{from:width$}");
            for &j in subset {
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

/// Each distinct port set formatted once, for writers that go over every pair.
fn port_texts(reach: &Reachability, escape: impl Fn(&str) -> String) -> Vec<String> {
    reach
        .port_sets()
        .iter()
        .map(|s| escape(&s.to_string()))
        .collect()
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The ordered pairs an answer lists: sources `rows` x destinations `cols` (indices,
/// ascending), an endpoint never paired with itself.
#[derive(Clone, Copy)]
struct Pairs<'a> {
    rows: &'a [usize],
    cols: &'a [usize],
}

impl Pairs<'_> {
    fn each(self, mut f: impl FnMut(usize, usize) -> io::Result<()>) -> io::Result<()> {
        for &i in self.rows {
            for &j in self.cols {
                if i != j {
                    f(i, j)?;
                }
            }
        }
        Ok(())
    }
}

/// `x/a => y/b : TCP 80,UDP 53` for every listed pair, streamed.
fn write_pair_lines(
    out: &mut impl Write,
    reach: &Reachability,
    names: &[String],
    pairs: Pairs,
) -> io::Result<()> {
    let ports = port_texts(reach, str::to_string);
    pairs.each(|i, j| {
        let set = &ports[reach.port_set_index(i, j)];
        writeln!(out, "{} => {} : {set}", names[i], names[j])
    })
}

/// Exactly the contract's shape, compact:
/// {"endpoints": [...], "probes": [{"protocol", "port", "allowed"}]}; streamed row by row,
/// over the endpoints `subset`.
fn write_probes_json(
    out: &mut impl Write,
    reach: &Reachability,
    all_names: &[String],
    subset: &[usize],
    probes: &[Probe],
) -> io::Result<()> {
    out.write_all(b"{\"endpoints\":[")?;
    for (n, &i) in subset.iter().enumerate() {
        if n > 0 {
            out.write_all(b",")?;
        }
        out.write_all(json_string(&all_names[i]).as_bytes())?;
    }
    out.write_all(b"],\"probes\":[")?;
    for (n, probe) in probes.iter().enumerate() {
        if n > 0 {
            out.write_all(b",")?;
        }
        write!(
            out,
            "{{\"protocol\":{},\"port\":{},\"allowed\":[",
            json_string(probe.protocol.as_str()),
            probe.port
        )?;
        let view = reach.probe_view(*probe);
        let mut row = Vec::with_capacity(subset.len() * 6 + 2);
        for (r, &i) in subset.iter().enumerate() {
            row.clear();
            if r > 0 {
                row.push(b',');
            }
            row.push(b'[');
            for (c, &j) in subset.iter().enumerate() {
                if c > 0 {
                    row.push(b',');
                }
                row.extend_from_slice(if view.allowed(i, j) {
                    b"true"
                } else {
                    b"false"
                });
            }
            row.push(b']');
            out.write_all(&row)?;
        }
        out.write_all(b"]}")?;
    }
    out.write_all(b"]}\n")
}

/// {"endpoints": [...], "pairs": [{"from", "to", "ports"}]}, pretty-printed as serde_json's
/// pretty printer writes it, streamed pair by pair. `endpoints` lists every endpoint.
fn write_pairs_json(
    out: &mut impl Write,
    reach: &Reachability,
    names: &[String],
    pairs: Pairs,
) -> io::Result<()> {
    let ports = port_texts(reach, json_string);
    let quoted: Vec<String> = names.iter().map(|n| json_string(n)).collect();
    out.write_all(b"{\n  \"endpoints\": [")?;
    for (i, name) in quoted.iter().enumerate() {
        out.write_all(if i > 0 { b",\n    " } else { b"\n    " })?;
        out.write_all(name.as_bytes())?;
    }
    out.write_all(if quoted.is_empty() {
        b"],\n  \"pairs\": ["
    } else {
        b"\n  ],\n  \"pairs\": ["
    })?;
    let mut first = true;
    pairs.each(|i, j| {
        let set = &ports[reach.port_set_index(i, j)];
        let sep = if first { "" } else { "," };
        first = false;
        write!(
            out,
            "{sep}\n    {{\n      \"from\": {},\n      \"to\": {},\n      \"ports\": {set}\n    }}",
            quoted[i], quoted[j]
        )
    })?;
    out.write_all(if first { b"]\n}\n" } else { b"\n  ]\n}\n" })
}

fn write_probes_csv(
    out: &mut impl Write,
    reach: &Reachability,
    names: &[String],
    subset: &[usize],
    probes: &[Probe],
) -> io::Result<()> {
    out.write_all(b"probe,from,to,allowed\n")?;
    let fields: Vec<String> = names.iter().map(|n| csv_field(n)).collect();
    for probe in probes {
        let label = probe_label(probe);
        let view = reach.probe_view(*probe);
        for &i in subset {
            for &j in subset {
                writeln!(
                    out,
                    "{label},{},{},{}",
                    fields[i],
                    fields[j],
                    view.allowed(i, j)
                )?;
            }
        }
    }
    Ok(())
}

fn write_pairs_csv(
    out: &mut impl Write,
    reach: &Reachability,
    names: &[String],
    pairs: Pairs,
) -> io::Result<()> {
    out.write_all(b"from,to,ports\n")?;
    let ports = port_texts(reach, csv_field);
    let fields: Vec<String> = names.iter().map(|n| csv_field(n)).collect();
    pairs.each(|i, j| {
        writeln!(
            out,
            "{},{},{}",
            fields[i],
            fields[j],
            ports[reach.port_set_index(i, j)]
        )
    })
}

/// Keeps the workload edges with a focused source member and a focused destination member.
fn focus_edges(grouped: &mut GroupReach, rows: &[usize], cols: &[usize]) {
    let groups = grouped.grouping.len();
    let mark = |picked: &[usize]| {
        let mut m = vec![false; groups];
        for &i in picked {
            if let Some(g) = grouped.grouping.group_of(i) {
                m[g] = true;
            }
        }
        m
    };
    let (from, to) = (mark(rows), mark(cols));
    grouped.edges.retain(|e| from[e.from] && to[e.to]);
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
/// disagree, what every pair gets and how many pairs get anything. Streamed: on a big
/// cluster the pairs run to millions of lines.
fn write_group_lines(out: &mut impl Write, grouped: &GroupReach) -> io::Result<()> {
    let names = grouped.grouping.names();
    for e in &grouped.edges {
        let (Some(from), Some(to)) = (names.get(e.from), names.get(e.to)) else {
            continue;
        };
        write!(out, "{from} => {to} : {}", e.ports)?;
        if e.every_pair != e.ports || e.allowed_pairs != e.pairs {
            write!(
                out,
                " (every pod pair: {}; {}/{} pod pairs allowed something)",
                e.every_pair, e.allowed_pairs, e.pairs
            )?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
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

/// One CSV row per workload pair with anything allowed, streamed like the lines.
fn write_group_csv(out: &mut impl Write, grouped: &GroupReach, probes: &[Probe]) -> io::Result<()> {
    let names = grouped.grouping.names();
    out.write_all(b"from,to,some,every,allowed_pairs,pairs")?;
    for p in probes {
        write!(out, ",{}", probe_label(p))?;
    }
    out.write_all(b"\n")?;
    for e in &grouped.edges {
        let (Some(from), Some(to)) = (names.get(e.from), names.get(e.to)) else {
            continue;
        };
        write!(
            out,
            "{},{},{},{},{},{}",
            csv_field(from),
            csv_field(to),
            csv_field(&e.ports.to_string()),
            csv_field(&e.every_pair.to_string()),
            e.allowed_pairs,
            e.pairs
        )?;
        for p in probes {
            write!(out, ",{}", group_cell(Some(e), *p))?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The streamed writers against the straightforward builders they replaced (the whole
    //! answer as a `serde_json::Value` or a `String`): byte for byte equal.

    use super::*;
    use palisade_core::model::Protocol;
    use palisade_test_support::arbitrary;
    use proptest::prelude::*;

    fn all_pairs(names: &[String]) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for i in 0..names.len() {
            for j in 0..names.len() {
                if i != j {
                    v.push((i, j));
                }
            }
        }
        v
    }

    fn built_pairs_json(reach: &Reachability, names: &[String]) -> String {
        let pairs: Vec<_> = all_pairs(names)
            .into_iter()
            .map(|(i, j)| json!({"from": names[i], "to": names[j], "ports": reach.ports(i, j).to_string()}))
            .collect();
        serde_json::to_string_pretty(&json!({"endpoints": names, "pairs": pairs})).unwrap() + "\n"
    }

    fn built_probes_json(reach: &Reachability, names: &[String], probes: &[Probe]) -> String {
        let probes: Vec<_> = probes
            .iter()
            .map(|p| {
                let allowed: Vec<Vec<bool>> = (0..names.len())
                    .map(|i| (0..names.len()).map(|j| reach.allowed(i, j, *p)).collect())
                    .collect();
                json!({"protocol": p.protocol.as_str(), "port": p.port, "allowed": allowed})
            })
            .collect();
        serde_json::to_string(&json!({"endpoints": names, "probes": probes})).unwrap() + "\n"
    }

    fn built_pairs_csv(reach: &Reachability, names: &[String]) -> String {
        let mut out = String::from("from,to,ports\n");
        for (i, j) in all_pairs(names) {
            let _ = writeln!(
                out,
                "{},{},{}",
                csv_field(&names[i]),
                csv_field(&names[j]),
                csv_field(&reach.ports(i, j).to_string())
            );
        }
        out
    }

    fn built_probes_csv(reach: &Reachability, names: &[String], probes: &[Probe]) -> String {
        let mut out = String::from("probe,from,to,allowed\n");
        for p in probes {
            for i in 0..names.len() {
                for j in 0..names.len() {
                    let _ = writeln!(
                        out,
                        "{},{},{},{}",
                        probe_label(p),
                        csv_field(&names[i]),
                        csv_field(&names[j]),
                        reach.allowed(i, j, *p)
                    );
                }
            }
        }
        out
    }

    fn streamed(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut buf = Vec::new();
        f(&mut buf).expect("writing to memory");
        String::from_utf8(buf).expect("UTF-8")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn streamed_answers_equal_built_ones(
            (cluster, externals) in arbitrary::cluster(arbitrary::Addresses::Distinct),
            port in 1u16..100,
        ) {
            let reach = Reachability::compute(&cluster, &externals);
            let names = reach.endpoint_names();
            let every: Vec<usize> = (0..names.len()).collect();
            let pairs = Pairs { rows: &every, cols: &every };
            let probes = [Probe { protocol: Protocol::Tcp, port }, Probe { protocol: Protocol::Udp, port: 53 }];
            prop_assert_eq!(streamed(|o| write_pairs_json(o, &reach, &names, pairs)), built_pairs_json(&reach, &names));
            prop_assert_eq!(
                streamed(|o| write_probes_json(o, &reach, &names, &every, &probes)),
                built_probes_json(&reach, &names, &probes)
            );
            prop_assert_eq!(streamed(|o| write_pairs_csv(o, &reach, &names, pairs)), built_pairs_csv(&reach, &names));
            prop_assert_eq!(
                streamed(|o| write_probes_csv(o, &reach, &names, &every, &probes)),
                built_probes_csv(&reach, &names, &probes)
            );
        }
    }
}
