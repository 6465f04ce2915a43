//! The `palisade report` page: one self-contained HTML document.
//!
//! ```text
//!   header      what was read
//!   filter      a checkbox per namespace (and for external addresses); state in #ns=a,b
//!   matrix      rows = sources, columns = destinations; cell class none/some/all, ports in title
//!   graph       inline SVG (svg.rs)
//!   groups      (connectivity view) per namespace: its groups of identical connectivity, their
//!               pods, and the connections into them, drawn from embedded JSON when opened
//!   policies    each policy in plain words (palisade_core::describe)
//!   findings    every problem found (see `findings`)
//! ```
//!
//! CSS and JavaScript are inlined from `report.css` and `report.js`; nothing is fetched. Every
//! name and every sentence goes through [`escape`]: a pod called `<script>` stays text.

use std::collections::HashMap;
use std::fmt::Write as _;

use palisade_core::Analysis;
use palisade_core::describe;
use palisade_core::diag::Severity;
use palisade_core::reach::{GroupReach, Reachability, Side, Summary};
use palisade_core::source::Location;
use serde_json::json;

use super::graph::{EXTERNAL, Graph};
use super::svg;

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// Beyond this many groups a matrix is unreadable (and heavy): the page says to group by
/// workload instead.
pub const MAX_MATRIX: usize = 300;
/// Beyond this many nodes the circle layout is a blur.
pub const MAX_GRAPH: usize = 400;

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One entry of the findings section.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    /// `file:line:col`, when the finding has a place.
    pub location: Option<String>,
    /// `Kind namespace/name`, when it concerns one object.
    pub object: Option<String>,
    pub help: Option<String>,
}

impl Finding {
    /// The namespace the filter files this finding under (`None`: always shown).
    /// The namespace the finding is filed under: the object's own name for a Namespace
    /// (`Namespace shop`), the part before `/` for namespaced objects (`NetworkPolicy shop/x`).
    fn namespace(&self) -> Option<&str> {
        let (kind, key) = self.object.as_deref()?.split_once(' ')?;
        match key.split_once('/') {
            Some((ns, _)) => Some(ns),
            None if kind == "Namespace" => Some(key),
            None => None,
        }
    }
}

/// Every finding the report shows, in order. This is the one place that decides what the
/// findings section lists: load, validation and model diagnostics, then the lints (the same
/// findings `palisade check` prints, with every lint enabled).
pub fn findings(analysis: &Analysis) -> Vec<Finding> {
    let lints = palisade_core::lint::lint(analysis);
    analysis
        .io_errors
        .iter()
        .chain(&analysis.diagnostics)
        .chain(&lints)
        .map(|d| Finding {
            severity: d.severity,
            code: d.code.to_string(),
            message: match &d.field {
                Some(field) => format!("{field}: {}", d.message),
                None => d.message.clone(),
            },
            location: d
                .span
                .map(|s| Location::of(&s, &analysis.sources).to_string()),
            object: d.object.clone(),
            help: d.help.clone(),
        })
        .collect()
}

/// What the matrix and graph show: groups (pods or workloads), or namespaces with the
/// connectivity summary below them.
#[derive(Debug)]
pub enum View<'a> {
    Grouped(&'a GroupReach),
    Connectivity {
        namespaces: &'a GroupReach,
        summary: &'a Summary,
        reach: &'a Reachability,
    },
}

/// The whole page.
pub fn page(analysis: &Analysis, view: &View, externals: bool) -> String {
    let cluster = &analysis.cluster;
    let grouped = match view {
        View::Grouped(g) => g,
        View::Connectivity { namespaces, .. } => namespaces,
    };
    let graph = Graph::new(grouped);
    let findings = findings(analysis);
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>palisade report</title>\n<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>palisade report</h1>\n");
    let files: Vec<String> = analysis
        .sources
        .iter()
        .map(|(_, f)| escape(&f.name))
        .collect();
    let _ = writeln!(
        out,
        "<p>{} namespace(s), {} pod(s), {} NetworkPolic{} from {} file(s); {} finding(s).</p>",
        cluster.namespaces.len(),
        cluster.pods.len(),
        cluster.policies.len(),
        if cluster.policies.len() == 1 {
            "y"
        } else {
            "ies"
        },
        files.len(),
        findings.len()
    );
    if let Some(note) = crate::inputs::invalid_note(analysis) {
        let _ = writeln!(
            out,
            "<p class=\"invalid\" id=\"invalid-inputs\">{}</p>",
            escape(&note)
        );
    }
    let _ = writeln!(
        out,
        "<p class=\"files\">Files: {}</p>\n</header>\n<main>",
        files.join(", ")
    );
    filter(&mut out, analysis, externals);
    matrix(&mut out, grouped, &graph);
    graph_section(&mut out, &graph);
    if let View::Connectivity { summary, reach, .. } = view {
        groups_section(&mut out, summary, reach);
    }
    policies(&mut out, analysis);
    findings_section(&mut out, &findings);
    let _ = writeln!(
        out,
        "</main>\n<footer class=\"section note\">Generated by palisade {}. {}</footer>",
        escape(env!("CARGO_PKG_VERSION")),
        escape(describe::ALWAYS_ALLOWED)
    );
    out.push_str("<script>\n");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

fn filter(out: &mut String, analysis: &Analysis, externals: bool) {
    out.push_str(
        "<section id=\"filter\">\n<fieldset id=\"ns-filter\">\n<legend>Namespaces</legend>\n",
    );
    for (i, ns) in analysis.cluster.namespaces.iter().enumerate() {
        let name = escape(&ns.name);
        let _ = writeln!(
            out,
            "<label><input type=\"checkbox\" value=\"{name}\" checked><span class=\"swatch\" style=\"background:{}\"></span>{name}</label>",
            svg::namespace_color(i)
        );
    }
    if externals {
        let _ = writeln!(
            out,
            "<label><input type=\"checkbox\" value=\"{}\" checked>external addresses</label>",
            escape(EXTERNAL)
        );
    }
    out.push_str("<button type=\"button\" id=\"ns-all\">all</button><button type=\"button\" id=\"ns-none\">none</button>\n</fieldset>\n</section>\n");
}

/// Rows are sources, columns destinations. Each cell carries `data-from`, `data-to` and
/// `data-ports` (the ports in `reach`'s notation), which is what the browser test reads.
fn matrix(out: &mut String, grouped: &GroupReach, graph: &Graph) {
    out.push_str("<section id=\"matrix-section\">\n<h2>Who may reach whom</h2>\n");
    let groups = &grouped.grouping;
    if groups.len() > MAX_MATRIX {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} rows: too many for a matrix. Open the namespaces under <em>Groups of identical connectivity</em> (the default view), or focus with <code>--from</code>/<code>--to</code>.</p>\n</section>",
            groups.len()
        );
        return;
    }
    out.push_str("<p class=\"legend\">Rows are sources, columns destinations; hover a cell for its ports. <span class=\"cell none\">none</span><span class=\"cell some\">some ports</span><span class=\"cell all\">everything</span><span class=\"cell partial\">not every pod pair alike</span></p>\n");
    out.push_str("<div class=\"scroll\">\n<table class=\"matrix\" id=\"matrix\">\n<thead><tr><th>from \\ to</th>");
    let ns = |g: usize| {
        graph
            .nodes
            .get(g)
            .map_or(EXTERNAL, |n| n.filter_namespace())
    };
    // Headers name the group and, for groups of several pods, how many.
    let header = |g: usize, name: &str| match groups.size(g) {
        0 | 1 => escape(name),
        n => format!("{} ({n} pods)", escape(name)),
    };
    for (g, name) in groups.names().iter().enumerate() {
        let _ = write!(
            out,
            "<th class=\"col\" data-col-ns=\"{}\" title=\"{}\">{}</th>",
            escape(ns(g)),
            escape(name),
            header(g, name)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (from, from_name) in groups.names().iter().enumerate() {
        let _ = write!(
            out,
            "<tr data-ns=\"{}\"><th title=\"{}\">{}</th>",
            escape(ns(from)),
            escape(from_name),
            header(from, from_name)
        );
        for (to, to_name) in groups.names().iter().enumerate() {
            let col_ns = escape(ns(to));
            if groups.pair_count(from, to) == 0 {
                let _ = write!(
                    out,
                    "<td class=\"self\" data-col-ns=\"{col_ns}\" title=\"{} itself\">self</td>",
                    escape(from_name)
                );
                continue;
            }
            let (ports, class, partial) = match grouped.edge(from, to) {
                None => ("none".to_string(), "none", false),
                Some(e) if e.ports.is_all() => (e.ports.to_string(), "all", !e.uniform()),
                Some(e) => (e.ports.to_string(), "some", !e.uniform()),
            };
            let text = match class {
                "none" => String::new(),
                _ => short(&ports),
            };
            let partial_class = if partial { " partial" } else { "" };
            let partial_note = if partial { " (not every pod pair)" } else { "" };
            let ports = escape(&ports);
            let _ = write!(
                out,
                "<td class=\"{class}{partial_class}\" data-col-ns=\"{col_ns}\" data-from=\"{}\" data-to=\"{}\" data-ports=\"{ports}\" title=\"{} -&gt; {}: {ports}{partial_note}\">{}</td>",
                escape(from_name),
                escape(to_name),
                escape(from_name),
                escape(to_name),
                escape(&text)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

/// The ports as cell text: short sets in full, long ones cut (the title has them all).
fn short(ports: &str) -> String {
    const MAX: usize = 16;
    if ports.chars().count() <= MAX {
        ports.to_string()
    } else {
        let cut: String = ports.chars().take(MAX - 3).collect();
        format!("{cut}...")
    }
}

fn graph_section(out: &mut String, graph: &Graph) {
    out.push_str("<section id=\"graph\">\n<h2>Graph</h2>\n");
    if graph.nodes.len() > MAX_GRAPH {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} nodes: too many to draw. Focus with <code>--from</code>/<code>--to</code>, or use <code>palisade graph</code> for Graphviz.</p>\n</section>",
            graph.nodes.len()
        );
        return;
    }
    out.push_str("<p class=\"legend\">An arrow from A to B: A may open connections to B (hover for the ports; dashed: not every pod pair alike). Colors are namespaces.</p>\n");
    out.push_str(&svg::render(graph));
    out.push_str("</section>\n");
}

/// Per namespace a closed `<details>`: its groups with their pods, and the connections into
/// it. The lines are embedded as JSON and turned into rows when a namespace is opened (or
/// named in `#open=ns`), so a 10,000-pod page stays light to load.
fn groups_section(out: &mut String, summary: &Summary, reach: &Reachability) {
    out.push_str("<section id=\"groups\">\n<h2>Groups of identical connectivity</h2>\n");
    let _ = writeln!(
        out,
        "<p class=\"legend\">{} endpoints in {} groups. Connections not listed: everything when neither side is isolated (source for egress, destination for ingress), else nothing; towards a pod, the lines naming its group decide before those naming its namespace (<code>ns/*</code>), and among them the most specific source wins (a group, then <code>ns/*</code>, or <code>ns/* [no egress policy]</code> for the pods of the namespace that no policy isolates for egress, then <code>*</code>). Open a namespace for its groups, pods and incoming connections.</p>",
        reach.len(),
        summary.groups.len()
    );
    let names = reach.endpoint_names();
    let mut sections: Vec<(&str, Vec<usize>)> = summary
        .namespaces
        .iter()
        .enumerate()
        .map(|(ns, name)| (name.as_str(), summary.namespace_groups(ns).to_vec()))
        .collect();
    let outside: Vec<usize> = (0..summary.groups.len())
        .filter(|&g| summary.groups[g].namespace.is_none())
        .collect();
    // Lines into each namespace, and into the externals (the last section), each written
    // once: a 100,000-pod cluster has millions of them.
    let externals = sections.len();
    if !outside.is_empty() {
        sections.push((EXTERNAL, outside));
    }
    let mut into: Vec<String> = vec![String::new(); sections.len()];
    let mut counts = vec![0usize; sections.len()];
    let mut sizes: HashMap<(Side, bool), usize> = HashMap::new();
    let mut size = |side: Side, as_source: bool| match side {
        Side::Group(_) => summary.side_size(side, as_source),
        _ => *sizes
            .entry((side, as_source))
            .or_insert_with(|| summary.side_size(side, as_source)),
    };
    for l in &summary.lines {
        let section = match l.to {
            Side::Group(g) => summary.groups[g].namespace.unwrap_or(externals),
            Side::Namespace(ns) | Side::OpenNamespace(ns) => ns,
            Side::Any => continue,
        };
        let Some(text) = into.get_mut(section) else {
            continue;
        };
        let line = (
            summary.side_name(l.from),
            size(l.from, true),
            summary.side_name(l.to),
            size(l.to, false),
            l.ports.to_string(),
        );
        if counts[section] > 0 {
            text.push(',');
        }
        counts[section] += 1;
        if let Ok(json) = serde_json::to_string(&line) {
            text.push_str(&json);
        }
    }
    // `</` cannot end the script early: JSON escapes of `<` keep the data inert.
    let inert = |json: String| json.replace('<', "\\u003c");
    let mut data = String::from("{");
    for (n, (name, groups)) in sections.iter().enumerate() {
        let groups: Vec<_> = groups
            .iter()
            .map(|&g| {
                let group = &summary.groups[g];
                let mut isolated = Vec::new();
                if group.ingress_isolated {
                    isolated.push("ingress");
                }
                if group.egress_isolated {
                    isolated.push("egress");
                }
                json!({
                    "name": group.name,
                    "isolated": isolated,
                    "members": group.members.iter().map(|&m| &names[m]).collect::<Vec<_>>(),
                })
            })
            .collect();
        if n > 0 {
            data.push(',');
        }
        let _ = write!(
            data,
            "{}:{{\"groups\":{},\"lines\":[{}]}}",
            inert(serde_json::to_string(name).unwrap_or_default()),
            inert(serde_json::to_string(&groups).unwrap_or_default()),
            inert(std::mem::take(&mut into[n]))
        );
    }
    data.push('}');
    for (i, (name, groups)) in sections.iter().enumerate() {
        let pods: usize = groups
            .iter()
            .map(|&g| summary.groups[g].members.len())
            .sum();
        let _ = writeln!(
            out,
            "<details class=\"ns-groups\" data-ns=\"{n}\" data-group-ns=\"{n}\"><summary>{n}: {} groups, {pods} endpoints, {} connections in</summary><div class=\"ns-body\"></div></details>",
            groups.len(),
            counts[i],
            n = escape(name)
        );
    }
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"groups-data\">{data}</script>\n</section>"
    );
}

fn policies(out: &mut String, analysis: &Analysis) {
    let cluster = &analysis.cluster;
    let describer = describe::Describer::new(cluster);
    let _ = writeln!(
        out,
        "<section id=\"policies\">\n<h2>Policies (<span id=\"policies-shown\">{}</span> shown of {})</h2>",
        cluster.policies.len(),
        cluster.policies.len()
    );
    if cluster.policies.is_empty() {
        out.push_str(
            "<p>No NetworkPolicies: every pod accepts all ingress and may send all egress.</p>\n",
        );
    }
    for policy in &cluster.policies {
        let _ = writeln!(
            out,
            "<article class=\"policy\" data-ns=\"{}\">\n<h3>{}</h3>",
            escape(&policy.namespace),
            escape(&policy.key())
        );
        if let Some(span) = policy.span {
            let _ = writeln!(
                out,
                "<p class=\"where\">{}</p>",
                escape(&Location::of(&span, &analysis.sources).to_string())
            );
        }
        let _ = writeln!(
            out,
            "<div class=\"words\">{}</div>\n</article>",
            escape(describer.policy(policy).trim_end())
        );
    }
    out.push_str("</section>\n");
}

fn findings_section(out: &mut String, findings: &[Finding]) {
    let _ = writeln!(
        out,
        "<section id=\"findings\">\n<h2>Findings ({})</h2>",
        findings.len()
    );
    if findings.is_empty() {
        out.push_str("<p>No findings.</p>\n</section>\n");
        return;
    }
    out.push_str("<ul>\n");
    for f in findings {
        let ns = f
            .namespace()
            .map(|ns| format!(" data-ns=\"{}\"", escape(ns)))
            .unwrap_or_default();
        let severity = f.severity.as_str();
        let _ = write!(
            out,
            "<li{ns}><span class=\"sev-{severity}\">{severity}[{}]</span> {}",
            escape(&f.code),
            escape(&f.message)
        );
        if let Some(location) = &f.location {
            let _ = write!(out, " <span class=\"where\">at {}</span>", escape(location));
        }
        if let Some(object) = &f.object {
            let _ = write!(out, " <span class=\"where\">in {}</span>", escape(object));
        }
        if let Some(help) = &f.help {
            let _ = write!(
                out,
                "<br><span class=\"help\">help: {}</span>",
                escape(help)
            );
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn findings_are_filed_under_their_namespace() {
        let finding = |object: Option<&str>| Finding {
            severity: Severity::Warning,
            code: "P000".to_string(),
            message: String::new(),
            location: None,
            object: object.map(str::to_string),
            help: None,
        };
        assert_eq!(
            finding(Some("NetworkPolicy shop/allow")).namespace(),
            Some("shop")
        );
        // A namespace-wide lint (no default deny) is filed under that namespace.
        assert_eq!(finding(Some("Namespace shop")).namespace(), Some("shop"));
        assert_eq!(finding(Some("ClusterRole reader")).namespace(), None);
        assert_eq!(finding(None).namespace(), None);
    }

    /// The model accepts any string, so the page must not rely on validation for safety.
    #[test]
    fn names_from_the_model_stay_text() {
        use palisade_core::reach::{Grouping, Reachability};
        use palisade_test_support::builders::{mk_cluster, mk_policy, ns, pod};

        let evil = "<script>alert(1)</script>";
        let cluster = mk_cluster(
            vec![ns("x\"><b>", &[])],
            vec![pod("x\"><b>", evil, &[("app", evil)], "10.0.0.1")],
            vec![mk_policy("x\"><b>", "<i>deny</i>", |_| {})],
        );
        let analysis = Analysis {
            cluster,
            ..Analysis::default()
        };
        let reach = Reachability::compute(&analysis.cluster, &[]);
        let grouped = reach.grouped(&Grouping::by_endpoint(&reach));
        let page = page(&analysis, &View::Grouped(&grouped), false);
        assert_eq!(
            page.matches("<script").count(),
            1,
            "only the page's own script"
        );
        for injected in ["<b>", "<i>"] {
            assert!(!page.contains(injected), "{injected} leaked into the page");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
