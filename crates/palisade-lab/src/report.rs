//! What a run observed, how it compares with the prediction, and how both are printed.
//!
//! ```text
//!   LabReport ─┬─ endpoints          pods (namespace/name, cluster order) then externals
//!              ├─ tables[]           one per probe: cells[from][to] = attempts per IP family
//!              ├─ disagreements[]    attempt outcome != predicted
//!              ├─ problems[]         errors and untestable attempts (never counted as passed)
//!              └─ timings
//! ```
//!
//! A cell is allowed when any attempt got through: a connection that works over one family of a
//! dual-stack pair works. Renderers: [`LabReport::render_table`] (the `.`/`X` notation of
//! `expected.txt`, `?` where nothing could be observed) and [`LabReport::to_json`] (exactly the
//! `reach --probe` JSON shape, with observed values).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use palisade_core::eval::Probe;
use palisade_core::model::Cluster;
use serde_json::json;

use crate::plan::{EndpointPlan, NodePlan};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockReason {
    /// No answer within the timeout (dropped).
    TimedOut,
    /// Refused or unreachable: a reject rule answered.
    Rejected(String),
    /// A raw SCTP INIT never arrived at the destination.
    NotSeen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Blocked(BlockReason),
    /// The attempt itself went wrong; it says nothing about policy.
    Error(String),
    /// The pair cannot be tried (e.g. no common IP family).
    NotTestable(String),
}

impl Outcome {
    pub fn observed(&self) -> Option<bool> {
        match self {
            Outcome::Allowed => Some(true),
            Outcome::Blocked(_) => Some(false),
            Outcome::Error(_) | Outcome::NotTestable(_) => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Allowed => f.write_str("allowed"),
            Outcome::Blocked(BlockReason::TimedOut) => f.write_str("blocked (timed out)"),
            Outcome::Blocked(BlockReason::NotSeen) => {
                f.write_str("blocked (not seen at the destination)")
            }
            Outcome::Blocked(BlockReason::Rejected(why)) => write!(f, "blocked (rejected: {why})"),
            Outcome::Error(why) => write!(f, "error: {why}"),
            Outcome::NotTestable(why) => write!(f, "not testable: {why}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// One IP family's attempt for one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub family: Family,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cell {
    pub attempts: Vec<Attempt>,
}

impl Cell {
    /// Allowed if any attempt got through; `None` when no attempt observed anything.
    pub fn observed(&self) -> Option<bool> {
        let mut any = None;
        for a in &self.attempts {
            match a.outcome.observed() {
                Some(true) => return Some(true),
                Some(false) => any = Some(false),
                None => {}
            }
        }
        any
    }
}

/// How a table's results were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifiedBy {
    /// TCP connections and UDP echoes.
    Connections,
    /// Raw IP protocol-132 packets seen or not seen at the destination (no SCTP sockets).
    RawPackets,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTable {
    pub probe: Probe,
    pub verified_by: VerifiedBy,
    /// `cells[from][to]`.
    pub cells: Vec<Vec<Cell>>,
}

impl ObservedTable {
    /// The observed booleans; cells with nothing observed are `false` (never passed silently:
    /// they are listed in [`LabReport::problems`]).
    pub fn allowed(&self) -> Vec<Vec<bool>> {
        self.cells
            .iter()
            .map(|row| row.iter().map(|c| c.observed() == Some(true)).collect())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub probe: Probe,
    pub from: String,
    pub to: String,
    pub family: Family,
    pub predicted: bool,
    pub observed: Outcome,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {} ({}): predicted {}, observed {}",
            probe_name(self.probe),
            self.from,
            self.to,
            self.family,
            if self.predicted { "allowed" } else { "blocked" },
            self.observed
        )
    }
}

/// An attempt that observed nothing: an error or a pair that cannot be tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub probe: Probe,
    pub from: String,
    pub to: String,
    pub family: Option<Family>,
    pub outcome: Outcome,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", probe_name(self.probe), self.from, self.to)?;
        if let Some(family) = self.family {
            write!(f, " ({family})")?;
        }
        write!(f, ": {}", self.outcome)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Namespaces, links, addresses, routes, sysctls.
    pub topology: Duration,
    /// Binding every listener.
    pub servers: Duration,
    /// Until every node's enforcer reported ready.
    pub enforcers: Duration,
    pub probes: Duration,
    pub teardown: Duration,
}

#[derive(Debug, Clone)]
pub struct LabReport {
    /// `pl-<id>-`: the prefix of every namespace the run created.
    pub run_prefix: String,
    pub endpoints: Vec<String>,
    /// The cluster as laid out (nodes and IPs filled in): what predictions and agents used.
    pub cluster: Cluster,
    pub nodes: Vec<NodePlan>,
    pub placements: Vec<EndpointPlan>,
    /// `spec.nodeName`s that are not lab nodes, and the lab node each was mapped to.
    pub node_mapping: BTreeMap<String, String>,
    pub tables: Vec<ObservedTable>,
    /// The engine's tables for the adjusted cluster, same endpoint order.
    pub predicted: Vec<(Probe, Vec<Vec<bool>>)>,
    pub disagreements: Vec<Disagreement>,
    pub problems: Vec<Problem>,
    /// Probe attempts made (cells x families).
    pub attempts: usize,
    pub sockets: usize,
    pub timings: Timings,
}

/// `tcp/80`, as `--probe` takes it and `expected.txt` writes it.
pub fn probe_name(p: Probe) -> String {
    format!("{}/{}", p.protocol.as_str().to_ascii_lowercase(), p.port)
}

impl LabReport {
    /// No disagreement and nothing unobserved.
    pub fn passed(&self) -> bool {
        self.disagreements.is_empty() && self.problems.is_empty()
    }

    /// Every attempt whose observation contradicts `expected` (same endpoint order; tables for
    /// probes not in `expected` are skipped).
    pub fn disagreements_with(&self, expected: &[(Probe, Vec<Vec<bool>>)]) -> Vec<Disagreement> {
        let mut out = Vec::new();
        for table in &self.tables {
            let Some((_, predicted)) = expected.iter().find(|(p, _)| *p == table.probe) else {
                continue;
            };
            for (i, row) in table.cells.iter().enumerate() {
                for (j, cell) in row.iter().enumerate() {
                    let Some(&want) = predicted.get(i).and_then(|r| r.get(j)) else {
                        continue;
                    };
                    for attempt in &cell.attempts {
                        if attempt.outcome.observed().is_some_and(|got| got != want) {
                            out.push(Disagreement {
                                probe: table.probe,
                                from: self.endpoints.get(i).cloned().unwrap_or_default(),
                                to: self.endpoints.get(j).cloned().unwrap_or_default(),
                                family: attempt.family,
                                predicted: want,
                                observed: attempt.outcome.clone(),
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// Exactly `{"endpoints": [...], "probes": [{"protocol", "port", "allowed"}]}`, observed.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "endpoints": self.endpoints,
            "probes": self.tables.iter().map(|t| json!({
                "protocol": t.probe.protocol.as_str(),
                "port": t.probe.port,
                "allowed": t.allowed(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The observed tables in the notation of `expected.txt` (`external` lines, then `probe`
    /// blocks), `?` where nothing was observed: without `?` the text parses as an expectation.
    pub fn render_tables(&self) -> String {
        let mut out = String::new();
        let width = self.endpoints.iter().map(String::len).max().unwrap_or(1);
        for ext in self
            .placements
            .iter()
            .filter(|p| matches!(p.placement, crate::plan::Placement::External { .. }))
        {
            let _ = writeln!(out, "external {}", ext.name);
        }
        for table in &self.tables {
            let _ = write!(out, "probe {}", probe_name(table.probe));
            if table.verified_by == VerifiedBy::RawPackets {
                out.push_str(
                    "  # verified by raw packets: SCTP INIT seen or not seen at the destination",
                );
            }
            out.push('\n');
            let mut header = format!("{:width$}", "-");
            for name in &self.endpoints {
                let _ = write!(header, " {name:width$}");
            }
            out.push_str(header.trim_end());
            out.push('\n');
            for (name, row) in self.endpoints.iter().zip(&table.cells) {
                let mut line = format!("{name:width$}");
                for cell in row {
                    let mark = match cell.observed() {
                        Some(true) => ".",
                        Some(false) => "X",
                        None => "?",
                    };
                    let _ = write!(line, " {mark:width$}");
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
            out.push('\n');
        }
        out
    }

    /// [`Self::render_tables`], then [`Self::render_findings`].
    pub fn render_table(&self) -> String {
        format!("{}{}", self.render_tables(), self.render_findings())
    }

    /// Disagreements with the prediction, unobserved attempts, and timings.
    pub fn render_findings(&self) -> String {
        let mut out = String::new();
        if self.disagreements.is_empty() {
            out.push_str("no disagreement with the prediction\n");
        } else {
            let _ = writeln!(
                out,
                "{} disagreements with the prediction:",
                self.disagreements.len()
            );
            for d in &self.disagreements {
                let _ = writeln!(out, "  {d}");
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(
                out,
                "{} attempts observed nothing (not counted as passed):",
                self.problems.len()
            );
            for p in &self.problems {
                let _ = writeln!(out, "  {p}");
            }
        }
        let t = &self.timings;
        let _ = writeln!(
            out,
            "{} attempts; setup {} ms (topology {} ms, {} listeners {} ms, enforcers {} ms), probes {} ms",
            self.attempts,
            (t.topology + t.servers + t.enforcers).as_millis(),
            t.topology.as_millis(),
            self.sockets,
            t.servers.as_millis(),
            t.enforcers.as_millis(),
            t.probes.as_millis(),
        );
        out
    }
}
