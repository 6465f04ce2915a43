//! `palisade graph`: who may talk to whom, as Graphviz DOT or a Mermaid flowchart.

use palisade_core::reach::{Grouping, Reachability, Summary};

use crate::cli::{GraphArgs, GraphFormat, ReachGroupBy};
use crate::inputs::analyze_for_answer;
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
    let drawing = match args.group_by {
        ReachGroupBy::Connectivity => {
            let focus = args.focus.masks(&analysis.cluster, &args.externals);
            Graph::from_summary(&Summary::focused(&reach, &analysis.cluster, None, &focus))
        }
        ReachGroupBy::Workload => {
            Graph::new(&reach.grouped(&Grouping::by_workload(&analysis.cluster, &args.externals)))
        }
        ReachGroupBy::Pod => Graph::new(&reach.grouped(&Grouping::by_endpoint(&reach))),
    };
    let out = match args.format {
        GraphFormat::Dot => {
            crate::inputs::invalid_first_line(&analysis, "// ") + &graph::dot(&drawing)
        }
        GraphFormat::Mermaid => {
            crate::inputs::invalid_first_line(&analysis, "%% ") + &graph::mermaid(&drawing)
        }
    };
    super::print_stdout(&out);
    crate::inputs::finish(analysis)
}
