//! One module per subcommand: run it, print, return the exit code.

pub mod agent;
pub mod check;
pub mod cleanup;
pub mod compile;
pub mod diff;
pub mod explain;
pub mod graph;
pub mod lab;
pub mod reach;
pub mod report;
pub mod verify;
pub mod why;

use std::io::{self, Write};

/// Writes `text` to stdout; a closed pipe (`palisade reach ... | head`) is not an error.
pub fn print_stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
