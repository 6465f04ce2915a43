//! palisade-cli: argument parsing, rendering and exit codes. No semantics live here: every
//! answer comes from `palisade-core`; this crate only decides how it is shown.
//!
//! ```text
//!   Cli (cli.rs) ──run()──> commands::{check, explain, reach, why, diff, graph, report, ...}
//!                              └─ render::{diagnostics (text/json/sarif), graph (dot/mermaid),
//!                                          html (the report page), svg (its graph)}
//! ```

mod cli;
mod commands;
mod inputs;
mod render;

pub use cli::{Cli, ColorChoice, Command};

/// The documented exit codes: 0 fine, 1 problems found, 2 usage or I/O error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Findings = 1,
    Usage = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

pub fn run(cli: Cli) -> Exit {
    let color = cli.color;
    match cli.command {
        Command::Check(args) => commands::check::run(args, color),
        Command::Explain(args) => commands::explain::run(args, color),
        Command::Reach(args) => commands::reach::run(args, color),
        Command::Why(args) => commands::why::run(args, color),
        Command::Diff(args) => commands::diff::run(args, color),
        Command::Graph(args) => commands::graph::run(args, color),
        Command::Report(args) => commands::report::run(args, color),
        Command::Agent(args) => commands::agent::run(args),
        Command::Compile(args) => commands::compile::run(args, color),
        Command::Lab(args) => commands::lab::run(args, color),
        Command::Cleanup(args) => commands::cleanup::run(args),
        Command::Verify(args) => commands::verify::run(args, color),
    }
}
