//! `palisade compile --node NAME`: the ruleset that node's agent would load.

use crate::cli::CompileArgs;
use crate::inputs::analyze_for_answer;
use crate::{ColorChoice, Exit};

pub fn run(args: CompileArgs, color: ColorChoice) -> Exit {
    let analysis = match args
        .inputs
        .resolve()
        .and_then(|inputs| analyze_for_answer(&inputs, color))
    {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let cluster = &analysis.cluster;
    let local = cluster
        .pods
        .iter()
        .filter(|p| p.node.as_deref() == Some(args.node.as_str()))
        .count();
    if local == 0 {
        let mut nodes: Vec<&str> = cluster
            .pods
            .iter()
            .filter_map(|p| p.node.as_deref())
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        let known = if nodes.is_empty() {
            "no pod names a node (spec.nodeName)".to_string()
        } else {
            format!("nodes named by pods: {}", nodes.join(", "))
        };
        eprintln!(
            "warning: no pod runs on node `{}` ({known}); the ruleset polices nothing",
            args.node
        );
    }
    let ruleset = palisade_nft::compile(cluster, &args.node);
    for pod in &ruleset.pending_pods {
        eprintln!(
            "warning: {pod} runs on {} but has no IP yet: it is not programmed",
            args.node
        );
    }
    for conflict in &ruleset.address_conflicts {
        eprintln!(
            "warning: {} share the address {}; only {} is programmed",
            conflict.skipped.join(", "),
            conflict.address,
            conflict.programmed
        );
    }
    if ruleset.unclassified > 0 {
        eprintln!(
            "warning: {} addresses get no class: the node needs more than the {} classes of the \
             class mark mask {}; rules do not match them as peers",
            ruleset.unclassified,
            ruleset.class_mask.max_id(),
            ruleset.class_mask
        );
    }
    if args.stats {
        let s = ruleset.stats();
        eprintln!(
            "ruleset for {}: {} chains, {} sets, {} maps, {} elements, {} rules",
            args.node, s.chains, s.sets, s.maps, s.elements, s.rules
        );
    }
    let mut script = crate::inputs::invalid_first_line(&analysis, "# ") + &ruleset.to_nft();
    if !script.ends_with('\n') {
        script.push('\n');
    }
    super::print_stdout(&script);
    crate::inputs::finish(analysis)
}
