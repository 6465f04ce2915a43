//! `palisade report`: the HTML page (render/html.rs), written to a file or standard output.

use std::io::Write as _;

use palisade_core::reach::{Grouping, Reachability, Summary};

use crate::cli::{ReachGroupBy, ReportArgs};
use crate::inputs::analyze_for_answer;
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
    let externals = !args.externals.is_empty();
    let page = match args.group_by {
        ReachGroupBy::Connectivity => {
            let focus = args.focus.masks(&analysis.cluster, &args.externals);
            // The summary and the namespace matrix read the same cells independently: one on
            // each core (seconds apiece at 100,000 pods).
            let (summary, namespaces) = std::thread::scope(|scope| {
                let namespaces = scope.spawn(|| reach.grouped(&by_namespace(&reach)));
                let summary = Summary::focused(&reach, &analysis.cluster, None, &focus);
                match namespaces.join() {
                    Ok(namespaces) => (summary, namespaces),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            });
            let view = html::View::Connectivity {
                namespaces: &namespaces,
                summary: &summary,
                reach: &reach,
            };
            html::page(&analysis, &view, externals)
        }
        ReachGroupBy::Workload => {
            let grouped = reach.grouped(&Grouping::by_workload(&analysis.cluster, &args.externals));
            html::page(&analysis, &html::View::Grouped(&grouped), externals)
        }
        ReachGroupBy::Pod => {
            let grouped = reach.grouped(&Grouping::by_endpoint(&reach));
            html::page(&analysis, &html::View::Grouped(&grouped), externals)
        }
    };
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
    crate::inputs::finish(analysis)
}

/// Pods by namespace (`ns/*`), each external address on its own.
fn by_namespace(reach: &Reachability) -> Grouping {
    Grouping::from_keys(
        reach
            .endpoint_names()
            .into_iter()
            .map(|name| match name.split_once('/') {
                Some((ns, _)) => format!("{ns}/*"),
                None => name,
            })
            .collect(),
    )
}
