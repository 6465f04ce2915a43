//! `palisade check`: validate, lint and report.
//!
//! Lints run on the objects that passed validation (invalid ones are not in the model), and
//! join the validation diagnostics in one list sorted by position. `--allow` drops a lint,
//! `--deny warnings` turns warnings (not notes) into errors, `--deny CODE` one lint whatever its
//! level; errors are what make the exit status 1.

use palisade_core::analysis::sort_by_position;
use palisade_core::diag::{Diagnostic, Severity};
use palisade_core::{analyze, lint};

use crate::cli::{CheckArgs, CheckFormat};
use crate::render::{diagnostics, sarif};
use crate::{ColorChoice, Exit};

/// What `--allow` and `--deny` asked for.
#[derive(Debug, Default)]
struct Levels {
    allow: Vec<&'static str>,
    deny: Vec<&'static str>,
    deny_warnings: bool,
}

impl Levels {
    fn parse(args: &CheckArgs) -> Result<Levels, String> {
        let code = |s: &String| {
            lint::find(s).map(|l| l.code).ok_or_else(|| {
                format!("unknown lint `{s}`: expected a code (L001) or name (dns-unreachable), see docs/lints/README.md")
            })
        };
        let mut levels = Levels::default();
        for a in &args.allow {
            levels.allow.push(code(a)?);
        }
        for d in &args.deny {
            if d == "warnings" {
                levels.deny_warnings = true;
            } else {
                levels.deny.push(code(d)?);
            }
        }
        Ok(levels)
    }

    fn apply(&self, diagnostics: &mut Vec<Diagnostic>) {
        diagnostics.retain(|d| !self.allow.contains(&d.code));
        for d in diagnostics {
            if (self.deny_warnings && d.severity == Severity::Warning)
                || self.deny.contains(&d.code)
            {
                d.severity = Severity::Error;
            }
        }
    }
}

pub fn run(args: CheckArgs, color: ColorChoice) -> Exit {
    let levels = match Levels::parse(&args) {
        Ok(levels) => levels,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Usage;
        }
    };
    let inputs = match args.inputs.resolve() {
        Ok(inputs) => inputs,
        Err(exit) => return exit,
    };
    let mut analysis = analyze(&inputs);
    if !args.no_lints {
        let found = lint::lint(&analysis);
        analysis.diagnostics.extend(found);
        sort_by_position(&mut analysis.diagnostics);
    }
    levels.apply(&mut analysis.diagnostics);
    let out = match args.format {
        CheckFormat::Text => {
            let mut text = diagnostics::render_text(&analysis, color.for_stdout());
            text.push_str(&diagnostics::summary_line(&analysis));
            text.push('\n');
            text
        }
        CheckFormat::Json => diagnostics::render_json(&analysis) + "\n",
        CheckFormat::Sarif => sarif::render(&analysis) + "\n",
    };
    super::print_stdout(&out);
    let exit = if !analysis.io_errors.is_empty() {
        Exit::Usage
    } else if analysis.error_count() > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    };
    // The process exits next: see `inputs::finish`.
    std::mem::forget(analysis);
    exit
}
