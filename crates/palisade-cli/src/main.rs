//! The `palisade` binary: parse arguments, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = palisade_cli::Cli::parse();
    palisade_cli::run(cli).into()
}
