//! `reach` grouped by connectivity: each group of interchangeable endpoints once, and only
//! the pairs whose answer differs from what isolation implies (see
//! [`palisade_core::reach::Summary`]).

use std::io::{self, Write};

use palisade_core::eval::{PortSet, Probe};
use palisade_core::model::Cluster;
use palisade_core::reach::{Focused, Reachability, Side, Summary};
use serde_json::json;

use super::csv_field;
use crate::cli::{ReachFormat, probe_label};

pub fn write(
    out: &mut impl Write,
    reach: &Reachability,
    cluster: &Cluster,
    probes: &[Probe],
    format: ReachFormat,
    focus: &Focused,
) -> io::Result<()> {
    let summaries: Vec<Summary> = if probes.is_empty() {
        vec![Summary::focused(reach, cluster, None, focus)]
    } else {
        probes
            .iter()
            .map(|&p| Summary::focused(reach, cluster, Some(p), focus))
            .collect()
    };
    match format {
        ReachFormat::Table => {
            for (n, summary) in summaries.iter().enumerate() {
                if n > 0 {
                    out.write_all(b"\n")?;
                }
                write_text(out, reach, summary)?;
            }
            Ok(())
        }
        ReachFormat::Json => {
            let value: Vec<_> = summaries.iter().map(|s| to_json(reach, s)).collect();
            let value = if probes.is_empty() {
                value.into_iter().next().unwrap_or_default()
            } else {
                json!({ "probes": value })
            };
            serde_json::to_writer(&mut *out, &value)?;
            out.write_all(b"\n")
        }
        ReachFormat::Csv => {
            out.write_all(b"probe,from,to,from_endpoints,to_endpoints,ports\n")?;
            for summary in &summaries {
                let probe = summary.probe.as_ref().map(probe_label).unwrap_or_default();
                for line in &summary.lines {
                    writeln!(
                        out,
                        "{probe},{},{},{},{},{}",
                        csv_field(&summary.side_name(line.from)),
                        csv_field(&summary.side_name(line.to)),
                        summary.side_size(line.from, true),
                        summary.side_size(line.to, false),
                        csv_field(&ports_text(summary, &line.ports)),
                    )?;
                }
            }
            Ok(())
        }
    }
}

/// A header that says how to read the lines, then one line per group pair that differs from
/// the default.
fn write_text(out: &mut impl Write, reach: &Reachability, summary: &Summary) -> io::Result<()> {
    let pods = summary
        .groups
        .iter()
        .filter(|g| g.namespace.is_some())
        .map(|g| g.members.len())
        .sum::<usize>();
    let externals = reach.len() - pods;
    let mut endpoints = plural(pods, "pod", "pods");
    if externals > 0 {
        endpoints.push_str(&format!(
            " and {}",
            plural(externals, "external address", "external addresses")
        ));
    }
    if let Some(probe) = &summary.probe {
        writeln!(out, "probe {}", probe_label(probe))?;
    }
    let (all, none) = match summary.probe {
        Some(_) => ("allowed", "denied"),
        None => ("everything is allowed", "nothing is"),
    };
    writeln!(
        out,
        "{endpoints} in {} of identical connectivity (--group-by pod lists every pair).",
        plural(summary.groups.len(), "group", "groups")
    )?;
    if summary.groups.iter().any(|g| !g.source || !g.destination) {
        let count = |pick: fn(&palisade_core::reach::SummaryGroup) -> bool| {
            summary
                .groups
                .iter()
                .filter(|g| pick(g))
                .map(|g| g.members.len())
                .sum::<usize>()
        };
        writeln!(
            out,
            "Focus: connections from {} (--from) to {} (--to) only.",
            plural(count(|g| g.source), "endpoint", "endpoints"),
            plural(count(|g| g.destination), "endpoint", "endpoints"),
        )?;
    }
    writeln!(
        out,
        "Pairs not listed: {all} when neither side is isolated (source for egress, destination for \
         ingress), else {none}. A pod may always reach itself, and hostNetwork pods and the pods \
         of their node reach each other. Towards a pod, the lines naming its group decide before \
         those naming its namespace (ns/*), and among them the most specific source wins (a \
         group, then ns/*, then *)."
    )?;
    if summary
        .lines
        .iter()
        .any(|l| matches!(l.from, Side::OpenNamespace(_)))
    {
        writeln!(
            out,
            "A source ns/* [no egress policy] is the pods of ns that no policy isolates for \
             egress; a pod isolated for egress reads the lines naming its group, then * lines."
        )?;
    }
    if summary.lines.is_empty() {
        return writeln!(out, "No pair differs from that.");
    }
    out.write_all(b"\n")?;
    for line in &summary.lines {
        writeln!(
            out,
            "{} => {} : {}",
            side_label(summary, line.from, true),
            side_label(summary, line.to, false),
            ports_text(summary, &line.ports)
        )?;
    }
    Ok(())
}

fn ports_text(summary: &Summary, ports: &PortSet) -> String {
    match summary.probe {
        Some(_) if ports.is_all() => "allowed".to_string(),
        Some(_) => "denied".to_string(),
        None => ports.to_string(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A side's name with its member count (none for an external address: it is one).
fn side_label(summary: &Summary, side: Side, as_source: bool) -> String {
    let name = summary.side_name(side);
    let count = summary.side_size(side, as_source);
    match side {
        Side::Group(g) if summary.groups[g].namespace.is_none() => name,
        _ => format!("{name} ({})", plural(count, "pod", "pods")),
    }
}

fn to_json(reach: &Reachability, summary: &Summary) -> serde_json::Value {
    let names = reach.endpoint_names();
    let groups: Vec<_> = summary
        .groups
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "namespace": g.namespace.map(|ns| &summary.namespaces[ns]),
                "ingressIsolated": g.ingress_isolated,
                "egressIsolated": g.egress_isolated,
                "hostNetwork": g.host_network,
                "members": g.members.iter().map(|&m| &names[m]).collect::<Vec<_>>(),
            })
        })
        .collect();
    let lines: Vec<_> = summary
        .lines
        .iter()
        .map(|l| {
            json!({
                "from": summary.side_name(l.from),
                "to": summary.side_name(l.to),
                "ports": ports_text(summary, &l.ports),
            })
        })
        .collect();
    let mut value = json!({
        "default": "everything when neither side is isolated (source for egress, destination for ingress), else nothing",
        "precedence": "towards a pod, the lines naming its group before those naming its namespace; among them the most specific source (a group, then ns/* or ns/* [no egress policy], the pods of ns that no policy isolates for egress, then *)",
        "groups": groups,
        "lines": lines,
    });
    if let Some(p) = &summary.probe {
        value["probe"] = json!(probe_label(p));
    }
    value
}
