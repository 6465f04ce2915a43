//! `palisade check`: validate and report.

use palisade_core::analyze;

use crate::cli::{CheckArgs, CheckFormat};
use crate::inputs::to_inputs;
use crate::render::{diagnostics, sarif};
use crate::{ColorChoice, Exit};

pub fn run(args: CheckArgs, color: ColorChoice) -> Exit {
    let analysis = analyze(&to_inputs(&args.inputs.paths));
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
    if !analysis.io_errors.is_empty() {
        Exit::Usage
    } else if analysis.error_count() > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    }
}
