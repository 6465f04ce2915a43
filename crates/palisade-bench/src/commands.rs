//! The commands users run, on every generated cluster, and the table of what they cost.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::measure::measure;
use crate::shapes::{self, Generated, Shape};

#[derive(Debug)]
pub struct Plan {
    pub shapes: Vec<Shape>,
    pub sizes: Vec<usize>,
    pub only: Vec<String>,
    pub palisade: PathBuf,
    pub work: PathBuf,
    pub timeout: Duration,
    pub memory_limit: Option<u64>,
    /// Runs per command: the fastest wall time and the largest peak RSS are reported.
    pub repeat: usize,
}

/// One command line of the benchmark, and the largest cluster it is run on (complete
/// per-pair answers grow with pods², so they are measured where they still fit on a disk).
struct Bench {
    label: &'static str,
    args: Vec<String>,
    max_pods: usize,
}

fn benches(g: &Generated, dir: &Path, out_dir: &Path) -> Vec<Bench> {
    let p = |name: &str| dir.join(name).display().to_string();
    let cluster = || vec![p("base.yaml"), p("policies.yaml")];
    let with = |head: &[&str], tail: Vec<String>| -> Vec<String> {
        head.iter().map(|s| s.to_string()).chain(tail).collect()
    };
    let ns = g.from.split('/').next().unwrap_or_default().to_string();
    let all = usize::MAX;
    vec![
        Bench {
            label: "check",
            args: with(&["check"], cluster()),
            max_pods: all,
        },
        Bench {
            label: "explain",
            args: with(&["explain"], cluster()),
            max_pods: all,
        },
        Bench {
            label: "why",
            args: with(
                &["why", "--from", &g.from, "--to", &g.to, "--probe", "tcp/80"],
                cluster(),
            ),
            max_pods: all,
        },
        Bench {
            label: "compile --node",
            args: with(&["compile", "--node", &g.node], cluster()),
            max_pods: all,
        },
        Bench {
            label: "diff",
            args: with(
                &[
                    "diff",
                    "--base",
                    &p("base.yaml"),
                    &p("policies.yaml"),
                    &p("policies-changed.yaml"),
                ],
                vec![],
            ),
            max_pods: all,
        },
        Bench {
            label: "reach",
            args: with(&["reach"], cluster()),
            max_pods: all,
        },
        Bench {
            label: "reach --to NS/*",
            args: with(&["reach", "--to", &format!("{ns}/*")], cluster()),
            max_pods: all,
        },
        Bench {
            label: "reach --group-by workload",
            args: with(&["reach", "--group-by", "workload"], cluster()),
            max_pods: all,
        },
        Bench {
            label: "graph",
            args: with(&["graph"], cluster()),
            max_pods: all,
        },
        Bench {
            label: "report",
            args: with(
                &[
                    "report",
                    "-o",
                    &out_dir.join("report.html").display().to_string(),
                ],
                cluster(),
            ),
            max_pods: all,
        },
        Bench {
            label: "reach --probe tcp/80 --format json",
            args: with(
                &["reach", "--probe", "tcp/80", "--format", "json"],
                cluster(),
            ),
            max_pods: 10_000,
        },
        Bench {
            label: "reach --format csv",
            args: with(&["reach", "--format", "csv"], cluster()),
            max_pods: 10_000,
        },
        Bench {
            label: "reach --group-by pod",
            args: with(&["reach", "--group-by", "pod"], cluster()),
            max_pods: 10_000,
        },
    ]
}

/// The memory every command must stay under: 1 GiB up to 10,000 pods, 4 GiB up to 100,000.
fn memory_bound(pods: usize) -> Option<u64> {
    match pods {
        0..=11_000 => Some(1 << 30),
        11_001..=110_000 => Some(4 << 30),
        _ => None,
    }
}

/// Generates each cluster, runs each command, prints a row as it goes and returns the table.
/// Fails (after the whole table) when a command exceeded its memory bound or did not finish.
pub fn run_all(plan: &Plan) -> anyhow::Result<String> {
    let mut over: Vec<String> = Vec::new();
    let mut table = String::from(
        "| shape | pods / ns / policies | input | command | wall | peak RSS | output | exit |\n|---|---|---|---|---|---|---|---|\n",
    );
    print!("{table}");
    for &shape in &plan.shapes {
        for &size in &plan.sizes {
            let dir = plan.work.join(format!("{shape}-{size}"));
            let g = shapes::generate(shape, size, &dir)?;
            let input = ["base.yaml", "policies.yaml"]
                .iter()
                .map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0))
                .sum::<u64>();
            let out_dir = dir.join("out");
            std::fs::create_dir_all(&out_dir)?;
            for bench in benches(&g, &dir, &out_dir) {
                if size > bench.max_pods {
                    continue;
                }
                if !plan.only.is_empty()
                    && !plan.only.iter().any(|w| bench.label.contains(w.as_str()))
                {
                    continue;
                }
                let stdout = out_dir.join("stdout");
                let mut argv = vec![plan.palisade.display().to_string()];
                argv.extend(bench.args);
                let mut m = measure(&stdout, plan.timeout, plan.memory_limit, &argv)?;
                for _ in 1..plan.repeat {
                    if m.timed_out {
                        break;
                    }
                    let again = measure(&stdout, plan.timeout, plan.memory_limit, &argv)?;
                    m.peak_rss_kib = m.peak_rss_kib.max(again.peak_rss_kib);
                    m.wall = m.wall.min(again.wall);
                }
                let mut output = m.output_bytes;
                if bench.label == "report" {
                    output += std::fs::metadata(out_dir.join("report.html"))
                        .map(|m| m.len())
                        .unwrap_or(0);
                }
                let wall = if m.timed_out {
                    format!("> {} s (killed)", plan.timeout.as_secs())
                } else {
                    seconds(m.wall)
                };
                let row = format!(
                    "| {shape} | {} / {} / {} | {} | `{}` | {wall} | {} | {} | {} |\n",
                    g.pods,
                    g.namespaces,
                    g.policies,
                    bytes(input),
                    bench.label,
                    bytes(m.peak_rss_kib * 1024),
                    bytes(output),
                    m.exit.map_or("signal".to_string(), |c| c.to_string()),
                );
                print!("{row}");
                table.push_str(&row);
                let bound = memory_bound(g.pods);
                if m.timed_out || bound.is_some_and(|b| m.peak_rss_kib * 1024 > b) {
                    over.push(format!("{shape} {size} `{}`", bench.label));
                }
                let _ = std::fs::remove_file(&stdout);
            }
        }
    }
    if !over.is_empty() {
        eprintln!("over the memory bound or unfinished: {}", over.join(", "));
        std::fs::write(plan.work.join("table.md"), &table)?;
        anyhow::bail!("{} command(s) over their bound", over.len());
    }
    Ok(table)
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn bytes(n: u64) -> String {
    let mut out = String::new();
    let n = n as f64;
    if n >= 1e9 {
        let _ = write!(out, "{:.2} GB", n / 1e9);
    } else if n >= 1e6 {
        let _ = write!(out, "{:.1} MB", n / 1e6);
    } else {
        let _ = write!(out, "{:.0} kB", n / 1e3);
    }
    out
}
