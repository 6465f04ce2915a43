//! Turning command line paths into an analysis, and the reporting every command shares.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use palisade_core::Analysis;
use palisade_core::diag::Diagnostic;
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

/// The two sides of a comparison (`diff`): `base` + `old` and `base` + `new`, analyzed
/// separately. Problems go to stderr once: a problem in a base file is found on both sides but
/// printed only with the old side. `Err` = stop with that exit code.
pub fn analyze_sides(
    base: &[PathBuf],
    old: &Path,
    new: &Path,
    color: ColorChoice,
) -> Result<(Analysis, Analysis), Exit> {
    let is_stdin = |p: &Path| p.as_os_str() == "-";
    let mut stderr = std::io::stderr().lock();
    if base.iter().any(|p| is_stdin(p)) || (is_stdin(old) && is_stdin(new)) {
        let _ = writeln!(
            stderr,
            "error: standard input (`-`) can be read once: use it for OLD or NEW, not for \
             --base nor for both"
        );
        return Err(Exit::Usage);
    }
    let side = |path: &Path| {
        let mut paths = base.to_vec();
        paths.push(path.to_path_buf());
        palisade_core::analyze(&to_inputs(&paths))
    };
    let (old, new) = (side(old), side(new));
    let color = color.for_stderr();
    let key = |a: &Analysis, d: &Diagnostic| {
        let place = d
            .span
            .map(|s| (a.sources.get(s.file).name.clone(), s.start));
        (place, d.code, d.message.clone())
    };
    let seen: HashSet<_> = old
        .io_errors
        .iter()
        .chain(&old.diagnostics)
        .map(|d| key(&old, d))
        .collect();
    let _ = stderr.write_all(diagnostics::render_text(&old, color).as_bytes());
    let _ = stderr.write_all(
        diagnostics::render_text_where(&new, color, |d| !seen.contains(&key(&new, d))).as_bytes(),
    );
    if !old.io_errors.is_empty() || !new.io_errors.is_empty() {
        return Err(Exit::Usage);
    }
    for (label, a) in [("old", &old), ("new", &new)] {
        if a.rejected > 0 {
            let _ = writeln!(
                stderr,
                "warning: {} invalid object(s) left out of the {label} side; the answer below \
                 ignores them",
                a.rejected
            );
        }
    }
    Ok((old, new))
}
