//! The report's graph as inline SVG, laid out here (no script, no external library): nodes on
//! a circle, namespace by namespace with a gap between namespaces, each namespace in its own
//! color; edges are curves bent towards the centre with an arrowhead at the destination.
//!
//! A circle keeps every node visible and every edge distinguishable without a layout
//! engine, and the same input always gives the same picture.

use std::f64::consts::PI;
use std::fmt::Write as _;

use super::graph::{EXTERNAL, Graph};
use super::html::escape;

/// Node fill colors, one per namespace in order (cycled).
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];
/// Up to this many edges, each is labelled with its ports.
const MAX_EDGE_LABELS: usize = 40;
/// Externals are drawn in grey.
const OUTSIDE: &str = "#888888";

/// The color of the `index`-th namespace (also used by the legend of the report).
pub fn namespace_color(index: usize) -> &'static str {
    PALETTE
        .get(index % PALETTE.len())
        .copied()
        .unwrap_or(OUTSIDE)
}

struct Placed {
    x: f64,
    y: f64,
    angle: f64,
    color: &'static str,
}

/// `<svg>` markup for `graph`. Nodes carry `data-ns`, edges `data-from-ns`/`data-to-ns`
/// (`(external)` for external addresses), so the page's filter can hide them.
pub fn render(graph: &Graph) -> String {
    let count = graph.nodes.len();
    let groups = graph.namespaces.len() + usize::from(!graph.outside.is_empty());
    let slots = (count + groups).max(1);
    let radius = (slots as f64 * 34.0 / (2.0 * PI)).max(150.0);
    let label_room = 150.0;
    let size = 2.0 * (radius + label_room);
    let centre = size / 2.0;

    let mut placed: Vec<Option<Placed>> = (0..count).map(|_| None).collect();
    let mut slot = 0usize;
    let mut place = |n: usize, color: &'static str, slot: usize| {
        let angle = -PI / 2.0 + 2.0 * PI * slot as f64 / slots as f64;
        if let Some(p) = placed.get_mut(n) {
            *p = Some(Placed {
                x: centre + radius * angle.cos(),
                y: centre + radius * angle.sin(),
                angle,
                color,
            });
        }
    };
    for (i, (_, members)) in graph.namespaces.iter().enumerate() {
        for &n in members {
            place(n, namespace_color(i), slot);
            slot += 1;
        }
        slot += 1;
    }
    for &n in &graph.outside {
        place(n, OUTSIDE, slot);
        slot += 1;
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg id=\"graph-svg\" viewBox=\"0 0 {size:.0} {size:.0}\" width=\"{size:.0}\" height=\"{size:.0}\" role=\"img\" aria-label=\"who may talk to whom\">"
    );
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n",
    );
    let ns_of = |n: usize| {
        graph
            .nodes
            .get(n)
            .map_or(EXTERNAL, |node| node.filter_namespace())
    };
    let name_of = |n: usize| graph.nodes.get(n).map_or("", |node| node.name.as_str());
    // Port labels on the edges while they stay legible; beyond that the titles carry them.
    let with_labels = graph.edges.len() <= MAX_EDGE_LABELS;
    let mut labels = Vec::new();
    out.push_str("<g class=\"edges\">\n");
    for e in &graph.edges {
        let (Some(Some(a)), Some(Some(b))) = (placed.get(e.from), placed.get(e.to)) else {
            continue;
        };
        let path = if e.from == e.to {
            // A loop outside the circle: members of one group reaching each other.
            let (dx, dy) = (a.angle.cos(), a.angle.sin());
            let (px, py) = (-dy, dx);
            let (ox, oy) = (a.x + dx * 40.0, a.y + dy * 40.0);
            format!(
                "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                a.x + px * 4.0,
                a.y + py * 4.0,
                ox + px * 22.0,
                oy + py * 22.0,
                ox - px * 22.0,
                oy - py * 22.0,
                a.x - px * 6.0 + dx * 6.0,
                a.y - py * 6.0 + dy * 6.0
            )
        } else {
            // Bent towards the centre, and a little to the left of the direction of travel
            // so that A->B and B->A stay apart.
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let d = (dx * dx + dy * dy).sqrt().max(1.0);
            let (cx, cy) = (
                centre + ((a.x + b.x) / 2.0 - centre) * 0.35 + dy / d * 18.0,
                centre + ((a.y + b.y) / 2.0 - centre) * 0.35 - dx / d * 18.0,
            );
            // Stop short of the destination's circle so the arrowhead stays visible.
            let (vx, vy) = (b.x - cx, b.y - cy);
            let len = (vx * vx + vy * vy).sqrt().max(1.0);
            let (ex, ey) = (b.x - vx / len * 8.0, b.y - vy / len * 8.0);
            if with_labels {
                labels.push((
                    0.25 * a.x + 0.5 * cx + 0.25 * ex,
                    0.25 * a.y + 0.5 * cy + 0.25 * ey,
                    e,
                ));
            }
            format!("M{:.1},{:.1} Q{cx:.1},{cy:.1} {ex:.1},{ey:.1}", a.x, a.y)
        };
        let dash = if e.uniform {
            ""
        } else {
            " stroke-dasharray=\"5,3\""
        };
        let _ = writeln!(
            out,
            "<path class=\"edge\" d=\"{path}\" data-from-ns=\"{}\" data-to-ns=\"{}\" data-from=\"{}\" data-to=\"{}\" marker-end=\"url(#arrow)\"{dash}><title>{} -&gt; {}: {}</title></path>",
            escape(ns_of(e.from)),
            escape(ns_of(e.to)),
            escape(name_of(e.from)),
            escape(name_of(e.to)),
            escape(name_of(e.from)),
            escape(name_of(e.to)),
            escape(&e.label())
        );
    }
    out.push_str("</g>\n<g class=\"edge-labels\">\n");
    for (x, y, e) in labels {
        let _ = writeln!(
            out,
            "<text class=\"edge-label\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" data-from-ns=\"{}\" data-to-ns=\"{}\">{}</text>",
            escape(ns_of(e.from)),
            escape(ns_of(e.to)),
            escape(&e.label())
        );
    }
    out.push_str("</g>\n<g class=\"nodes\">\n");
    for (n, node) in graph.nodes.iter().enumerate() {
        let Some(Some(p)) = placed.get(n) else {
            continue;
        };
        let (lx, ly) = (p.x + p.angle.cos() * 12.0, p.y + p.angle.sin() * 12.0);
        let anchor = if p.angle.cos() >= -1e-9 {
            "start"
        } else {
            "end"
        };
        let _ = writeln!(
            out,
            "<g class=\"node\" data-ns=\"{}\" data-name=\"{}\"><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"7\" fill=\"{}\"/><text x=\"{lx:.1}\" y=\"{ly:.1}\" dy=\"0.35em\" text-anchor=\"{anchor}\">{}</text><title>{}</title></g>",
            escape(node.filter_namespace()),
            escape(&node.name),
            p.x,
            p.y,
            p.color,
            escape(&node.label),
            escape(&node.name)
        );
    }
    out.push_str("</g>\n</svg>\n");
    out
}
