//! Turning command line paths into an analysis, and the reporting every command shares.

use std::io::Write;
use std::path::PathBuf;

use palisade_core::Analysis;
use palisade_core::load::Input;

use crate::render::diagnostics;
use crate::{ColorChoice, Exit};

pub fn to_inputs(paths: &[PathBuf]) -> Vec<Input> {
    paths
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::Path(p.clone())
            }
        })
        .collect()
}

/// Analyzes the inputs for a command that answers questions (explain, reach, why): problems go
/// to stderr, and the caller learns whether it may go on (`Err` = stop with that exit code).
///
/// Invalid objects are left out of the answer, so an answer given despite errors could be wrong:
/// the command still answers from what is valid, and its exit code is then 1.
pub fn analyze_for_answer(paths: &[PathBuf], color: ColorChoice) -> Result<Analysis, Exit> {
    let analysis = palisade_core::analyze(&to_inputs(paths));
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(diagnostics::render_text(&analysis, color.for_stderr()).as_bytes());
    if !analysis.io_errors.is_empty() {
        return Err(Exit::Usage);
    }
    if analysis.rejected > 0 {
        let _ = writeln!(
            stderr,
            "warning: {} invalid object(s) left out; the answer below ignores them",
            analysis.rejected
        );
    }
    Ok(analysis)
}

/// The exit code of an answering command once its answer is printed.
pub fn answer_exit(analysis: &Analysis) -> Exit {
    if analysis.error_count() > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    }
}
