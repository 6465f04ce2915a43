//! `palisade-bench`: whole-command benchmarks of the real `palisade` binary.
//!
//! ```text
//!   palisade-bench gen SHAPE PODS DIR     write one generated cluster
//!   palisade-bench run [--shapes] [--sizes] [--out FILE]
//!                                         generate every shape x size, run every command,
//!                                         output to a file, wall time and peak RSS each
//! ```

mod commands;
mod measure;
mod shapes;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use shapes::Shape;

#[derive(Debug, Parser)]
#[command(
    name = "palisade-bench",
    about = "Whole-command benchmarks of the palisade binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Write one generated cluster (base.yaml, policies.yaml, policies-changed.yaml) into DIR.
    Gen {
        shape: Shape,
        pods: usize,
        dir: PathBuf,
    },
    /// Generate every shape at every size, run every command and print the table.
    Run {
        /// Shapes to run (default: all).
        #[arg(long, value_delimiter = ',')]
        shapes: Vec<Shape>,
        /// Pod counts (default: 1000,10000,100000).
        #[arg(long, value_delimiter = ',', default_values_t = [1000, 10000, 100000])]
        sizes: Vec<usize>,
        /// Only commands whose label contains one of these words.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// The palisade binary to measure.
        #[arg(long, default_value = "target/release/palisade")]
        palisade: PathBuf,
        /// Where clusters and outputs go.
        #[arg(long, default_value = "target/bench")]
        work: PathBuf,
        /// Also write the table (Markdown) here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A command still running after this many seconds is killed and reported.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Address-space limit per command, in GiB: a command needing more fails and is
        /// reported instead of exhausting the machine.
        #[arg(long, default_value_t = 12)]
        memory_limit_gib: u64,
        /// Run each command this many times and report the fastest wall time (and the
        /// largest peak RSS): on a shared machine one run can be slowed by a neighbour.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    },
    /// Internal: run one command and print its wall time and peak RSS as JSON.
    #[command(hide = true)]
    Measure {
        #[arg(long)]
        stdout: PathBuf,
        #[arg(long)]
        timeout: u64,
        #[arg(long)]
        memory_limit: Option<u64>,
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Gen { shape, pods, dir } => {
            let g = shapes::generate(shape, pods, &dir)?;
            println!(
                "{shape}: {} pods, {} namespaces, {} policies in {} (node {}, pair {} -> {})",
                g.pods,
                g.namespaces,
                g.policies,
                dir.display(),
                g.node,
                g.from,
                g.to
            );
            Ok(())
        }
        Cmd::Run {
            shapes,
            sizes,
            only,
            palisade,
            work,
            out,
            timeout,
            memory_limit_gib,
            repeat,
        } => {
            let shapes = if shapes.is_empty() {
                Shape::ALL.to_vec()
            } else {
                shapes
            };
            let result = commands::run_all(&commands::Plan {
                shapes,
                sizes,
                only,
                palisade,
                work: work.clone(),
                timeout: Duration::from_secs(timeout),
                memory_limit: Some(memory_limit_gib << 30),
                repeat: repeat.max(1),
            });
            // The table is written even when a bound was missed: the figures are the point.
            if let Some(path) = out {
                let table = match &result {
                    Ok(table) => table.clone(),
                    Err(_) => std::fs::read_to_string(work.join("table.md")).unwrap_or_default(),
                };
                std::fs::write(path, table)?;
            }
            result.map(|_| ())
        }
        Cmd::Measure {
            stdout,
            timeout,
            memory_limit,
            argv,
        } => measure::measure_here(&stdout, Duration::from_secs(timeout), memory_limit, &argv),
    }
}
