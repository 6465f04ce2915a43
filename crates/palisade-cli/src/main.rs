//! The `palisade` binary: parse arguments, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

// Loading a big cluster allocates and frees millions of small strings and tree nodes on
// several threads; mimalloc's per-thread free lists make that cheaper than glibc's malloc
// (whole commands 10-35% faster at 10,000 pods, BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = palisade_cli::Cli::parse();
    palisade_cli::run(cli).into()
}
