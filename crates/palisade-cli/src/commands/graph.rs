//! `palisade graph`: who may talk to whom, as Graphviz DOT or a Mermaid flowchart.

use palisade_core::reach::Reachability;

use crate::cli::{GraphArgs, GraphFormat};
use crate::inputs::{analyze_for_answer, answer_exit};
use crate::render::graph::{self, Graph};
use crate::{ColorChoice, Exit};

pub fn run(args: GraphArgs, color: ColorChoice) -> Exit {
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
    let drawing = Graph::new(&reach.grouped(&grouping));
    let out = match args.format {
        GraphFormat::Dot => graph::dot(&drawing),
        GraphFormat::Mermaid => graph::mermaid(&drawing),
    };
    super::print_stdout(&out);
    answer_exit(&analysis)
}
