//! `palisade explain`: every policy, then every pod's effective isolation, in plain words.
//! Pods described alike (replicas, mostly) share one paragraph; see `describe::PodGroup`.

use palisade_core::describe;
use palisade_core::source::{Location, Span};

use crate::cli::ExplainArgs;
use crate::inputs::analyze_for_answer;
use crate::{ColorChoice, Exit};

pub fn run(args: ExplainArgs, color: ColorChoice) -> Exit {
    let analysis = match args
        .inputs
        .resolve()
        .and_then(|inputs| analyze_for_answer(&inputs, color))
    {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let cluster = &analysis.cluster;
    let describer = describe::Describer::new(cluster);
    let mut out = crate::inputs::invalid_first_line(&analysis, "");
    if cluster.policies.is_empty() {
        out.push_str(
            "No NetworkPolicies: every pod accepts all ingress and may send all egress.\n",
        );
    } else {
        out.push_str(&format!("Policies ({})\n\n", cluster.policies.len()));
    }
    for policy in &cluster.policies {
        out.push_str(&format!(
            "NetworkPolicy {}{}\n",
            policy.key(),
            at(policy.span, &analysis)
        ));
        out.push_str(&indent(&describer.policy(policy)));
        out.push('\n');
    }
    let groups = describer.pod_groups();
    match (cluster.pods.len(), groups.len()) {
        (0, _) => {}
        (pods, paragraphs) if pods == paragraphs => {
            out.push_str(&format!("Pods ({pods})\n\n"));
        }
        (pods, paragraphs) => {
            out.push_str(&format!("Pods ({pods}, in {paragraphs} groups)\n\n"));
        }
    }
    for group in &groups {
        out.push_str(&indent(&describer.pod_group(group)));
        out.push('\n');
    }
    out.push_str(&wrap(describe::ALWAYS_ALLOWED, ""));
    super::print_stdout(&out);
    crate::inputs::finish(analysis)
}

/// `  (file:line:col)` when the object has a place.
pub fn at(span: Option<Span>, analysis: &palisade_core::Analysis) -> String {
    span.map(|s| format!("  ({})", Location::of(&s, &analysis.sources)))
        .unwrap_or_default()
}

/// Each line of `text` indented by two spaces and wrapped for a terminal.
fn indent(text: &str) -> String {
    text.lines().map(|l| wrap(l, "  ")).collect()
}

/// Wraps one paragraph at 100 columns; continuation lines get two more spaces.
fn wrap(paragraph: &str, indent: &str) -> String {
    if paragraph.is_empty() {
        return "\n".to_string();
    }
    let rest = format!("{indent}  ");
    let options = textwrap::Options::new(100)
        .initial_indent(indent)
        .subsequent_indent(&rest)
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    let mut out = textwrap::fill(paragraph, options);
    out.push('\n');
    out
}
