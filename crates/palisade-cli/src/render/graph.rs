//! Who may talk to whom as a graph: one node per group (pod or workload) inside a box per
//! namespace, one edge per ordered pair with something allowed, labelled with the ports.
//! Rendered as Graphviz DOT or a Mermaid flowchart; the HTML report draws the same [`Graph`]
//! as SVG (`svg.rs`).
//!
//! Node ids are generated (`n0`, `n1`...), never taken from names, and every name is escaped
//! for the target syntax, so a pod name cannot break or inject into the output.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use palisade_core::reach::{GroupReach, Side, Summary};

/// The drawing, independent of the output syntax. Everything is in a stable order.
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// Namespaces in name order, each with its nodes (indices into `nodes`) in name order.
    pub namespaces: Vec<(String, Vec<usize>)>,
    /// Nodes outside every namespace: external addresses.
    pub outside: Vec<usize>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone)]
pub struct Node {
    /// The group's full name (`namespace/name`, or an address).
    pub name: String,
    /// The namespace, `None` for an external address.
    pub namespace: Option<String>,
    /// What to print in the node: the name without its namespace, with the member count when
    /// the group has several.
    pub label: String,
}

/// The filter value of external addresses in the report (namespace names cannot contain
/// parentheses, so it never collides with one).
pub const EXTERNAL: &str = "(external)";

impl Node {
    /// The namespace the report's filter files this node under.
    pub fn filter_namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(EXTERNAL)
    }
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// The ports allowed for some member pair, in `reach`'s notation.
    pub ports: String,
    /// False when member pairs differ (some allow less, or nothing).
    pub uniform: bool,
}

impl Edge {
    pub fn label(&self) -> String {
        if self.uniform {
            self.ports.clone()
        } else {
            format!("{} (some pairs)", self.ports)
        }
    }
}

/// `namespace/name` -> (`namespace`, `name`); an address has no namespace.
pub fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((ns, rest)) => (Some(ns), rest),
        None => (None, name),
    }
}

impl Graph {
    /// The drawing of `reach`.
    pub fn new(reach: &GroupReach) -> Graph {
        let grouping = &reach.grouping;
        let mut nodes = Vec::with_capacity(grouping.len());
        let mut namespaces: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut outside = Vec::new();
        for (g, name) in grouping.names().iter().enumerate() {
            let (namespace, short) = split_name(name);
            let size = grouping.size(g);
            let label = if size > 1 {
                format!("{short} ({size} pods)")
            } else {
                short.to_string()
            };
            match namespace {
                Some(ns) => namespaces.entry(ns.to_string()).or_default().push(g),
                None => outside.push(g),
            }
            nodes.push(Node {
                name: name.clone(),
                namespace: namespace.map(str::to_string),
                label,
            });
        }
        for members in namespaces.values_mut() {
            members.sort_by(|&a, &b| {
                let name = |i: usize| nodes.get(i).map(|n: &Node| n.name.as_str());
                name(a).cmp(&name(b))
            });
        }
        let edges = reach
            .edges
            .iter()
            .map(|e| Edge {
                from: e.from,
                to: e.to,
                ports: e.ports.to_string(),
                uniform: e.uniform(),
            })
            .collect();
        Graph {
            nodes,
            namespaces: namespaces.into_iter().collect(),
            outside,
            edges,
        }
    }
}

impl Graph {
    /// The drawing of a connectivity summary: a node per group, a node `all pods` per
    /// namespace and one `every endpoint` when lines name them, an edge per line. What the
    /// defaults imply (everything between pods no policy isolates) is not drawn.
    pub fn from_summary(summary: &Summary) -> Graph {
        let mut nodes: Vec<Node> = summary
            .groups
            .iter()
            .map(|g| {
                let (_, short) = split_name(&g.name);
                let label = match g.members.len() {
                    n if n > 1 && g.namespace.is_some() => format!("{short} ({n} pods)"),
                    _ => short.to_string(),
                };
                Node {
                    name: g.name.clone(),
                    namespace: g.namespace.map(|ns| summary.namespaces[ns].clone()),
                    label,
                }
            })
            .collect();
        let mut extra: BTreeMap<Side, usize> = BTreeMap::new();
        let mut node_of = |side: Side, nodes: &mut Vec<Node>| -> usize {
            match side {
                Side::Group(g) => g,
                _ => *extra.entry(side).or_insert_with(|| {
                    nodes.push(match side {
                        Side::Namespace(ns) => Node {
                            name: summary.side_name(side),
                            namespace: Some(summary.namespaces[ns].clone()),
                            label: "all pods".to_string(),
                        },
                        Side::OpenNamespace(ns) => Node {
                            name: summary.side_name(side),
                            namespace: Some(summary.namespaces[ns].clone()),
                            label: "pods without egress policy".to_string(),
                        },
                        _ => Node {
                            name: "*".to_string(),
                            namespace: None,
                            label: "every endpoint".to_string(),
                        },
                    });
                    nodes.len() - 1
                }),
            }
        };
        let edges: Vec<Edge> = summary
            .lines
            .iter()
            .map(|l| Edge {
                from: node_of(l.from, &mut nodes),
                to: node_of(l.to, &mut nodes),
                ports: l.ports.to_string(),
                uniform: true,
            })
            .collect();
        // Groups no line names connect only as isolation implies: left out of the drawing.
        let mut drawn = vec![false; nodes.len()];
        for e in &edges {
            drawn[e.from] = true;
            drawn[e.to] = true;
        }
        let mut namespaces: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut outside = Vec::new();
        for (i, n) in nodes.iter().enumerate().filter(|(i, _)| drawn[*i]) {
            match &n.namespace {
                Some(ns) => namespaces.entry(ns.clone()).or_default().push(i),
                None => outside.push(i),
            }
        }
        for members in namespaces.values_mut() {
            members.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
        }
        Graph {
            nodes,
            namespaces: namespaces.into_iter().collect(),
            outside,
            edges,
        }
    }
}

/// A DOT double-quoted string's content: backslash and quote escaped, line breaks removed.
fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Graphviz DOT: a `cluster_` subgraph per namespace (drawn as a box), externals outside.
pub fn dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph palisade {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
    );
    for (c, (namespace, members)) in graph.namespaces.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{c} {{");
        let _ = writeln!(
            out,
            "    label=\"namespace {}\";\n    style=dashed;",
            dot_escape(namespace)
        );
        for &n in members {
            if let Some(node) = graph.nodes.get(n) {
                let _ = writeln!(
                    out,
                    "    n{n} [label=\"{}\", tooltip=\"{}\"];",
                    dot_escape(&node.label),
                    dot_escape(&node.name)
                );
            }
        }
        out.push_str("  }\n");
    }
    for &n in &graph.outside {
        if let Some(node) = graph.nodes.get(n) {
            let _ = writeln!(
                out,
                "  n{n} [label=\"{}\", shape=ellipse, style=dashed];",
                dot_escape(&node.label)
            );
        }
    }
    for e in &graph.edges {
        let style = if e.uniform { "" } else { ", style=dashed" };
        let _ = writeln!(
            out,
            "  n{} -> n{} [label=\"{}\"{style}];",
            e.from,
            e.to,
            dot_escape(&e.label())
        );
    }
    out.push_str("}\n");
    out
}

/// Text inside a Mermaid `"..."` label: quotes, angle brackets, `#`, `&` and line breaks as
/// entity codes, which Mermaid decodes for display (so no HTML reaches its renderer).
fn mermaid_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid flowchart: a subgraph per namespace, externals outside.
pub fn mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (c, (namespace, members)) in graph.namespaces.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph ns{c}[\"namespace {}\"]",
            mermaid_escape(namespace)
        );
        for &n in members {
            if let Some(node) = graph.nodes.get(n) {
                let _ = writeln!(out, "    n{n}[\"{}\"]", mermaid_escape(&node.label));
            }
        }
        out.push_str("  end\n");
    }
    for &n in &graph.outside {
        if let Some(node) = graph.nodes.get(n) {
            let _ = writeln!(out, "  n{n}([\"{}\"])", mermaid_escape(&node.label));
        }
    }
    for e in &graph.edges {
        let arrow = if e.uniform { "-->" } else { "-.->" };
        let _ = writeln!(
            out,
            "  n{} {arrow}|\"{}\"| n{}",
            e.from,
            mermaid_escape(&e.label()),
            e.to
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_out_of_labels() {
        assert_eq!(dot_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(dot_escape("x\ny"), "x y");
        assert_eq!(mermaid_escape(r#"<script>"x"#), "#lt;script#gt;#quot;x");
        assert_eq!(mermaid_escape("a#b&c"), "a#35;b#amp;c");
    }
}
