//! `palisade report`: the HTML page (render/html.rs), written to a file or standard output.

use std::io::Write as _;

use palisade_core::reach::Reachability;

use crate::cli::ReportArgs;
use crate::inputs::{analyze_for_answer, answer_exit};
use crate::render::html;
use crate::{ColorChoice, Exit};

pub fn run(args: ReportArgs, color: ColorChoice) -> Exit {
    let analysis = match args
        .inputs
        .resolve()
        .and_then(|inputs| analyze_for_answer(&inputs, color))
    {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let reach = Reachability::compute(&analysis.cluster, &args.externals);
    let grouping = super::grouping(args.group_by, &analysis.cluster, &reach, &args.externals);
    let page = html::page(
        &analysis,
        &reach.grouped(&grouping),
        !args.externals.is_empty(),
    );
    if args.output.as_os_str() == "-" {
        super::print_stdout(&page);
    } else if let Err(e) = std::fs::write(&args.output, page) {
        let _ = writeln!(
            std::io::stderr(),
            "error: cannot write {}: {e}",
            args.output.display()
        );
        return Exit::Usage;
    }
    answer_exit(&analysis)
}
