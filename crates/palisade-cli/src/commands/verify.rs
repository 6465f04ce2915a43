//! `palisade verify --node NAME PATH...`: read the node's live ruleset back from the kernel
//! and check it against the engine (palisade_nft::kernel::verify).

use palisade_dataplane::Dataplane;
use palisade_nft::Decision;
use palisade_nft::kernel::{KernelRuleset, Verification};
use serde_json::json;

use crate::cli::{VerifyArgs, VerifyFormat};
use crate::inputs::analyze_for_answer;
use crate::{ColorChoice, Exit};

pub fn run(args: VerifyArgs, color: ColorChoice) -> Exit {
    let analysis = match args
        .inputs
        .resolve()
        .and_then(|inputs| analyze_for_answer(&inputs, color))
    {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let json = match Dataplane::new().list_ruleset_json() {
        Ok(json) => json,
        Err(e) => {
            eprintln!("error: cannot read the kernel's ruleset: {e}");
            return Exit::Usage;
        }
    };
    let kernel = match KernelRuleset::parse(&json) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let result =
        palisade_nft::kernel::verify(&analysis.cluster, &args.externals, &args.node, &kernel);
    let text = match args.format {
        VerifyFormat::Text => render_text(&result),
        VerifyFormat::Json => {
            let mut s = serde_json::to_string_pretty(&to_json(&result)).unwrap_or_default();
            s.push('\n');
            s
        }
    };
    super::print_stdout(&text);
    if result.verified() {
        Exit::Ok
    } else {
        Exit::Findings
    }
}

fn word(d: Decision) -> &'static str {
    match d {
        Decision::Accept => "accept",
        Decision::Drop => "drop",
    }
}

fn kernel_word(k: &Result<Decision, String>) -> String {
    match k {
        Ok(d) => word(*d).to_string(),
        Err(e) => format!("unreadable ({e})"),
    }
}

pub fn render_text(v: &Verification) -> String {
    let mut out = String::new();
    let table = if v.table_present {
        ""
    } else {
        " (no inet palisade forward chain in the kernel)"
    };
    if v.verified() {
        out.push_str(&format!(
            "verified: node {} enforces the policies: {} address pairs, {} protocol/port intervals, {} packets{table}\n",
            v.node, v.pairs, v.atoms, v.checked
        ));
    } else {
        if v.drift_count > 0 {
            out.push_str(&format!(
                "drift: node {}: {} of {} protocol/port intervals ({} address pairs) disagree with the policies{table}\n",
                v.node, v.drift_count, v.atoms, v.pairs
            ));
        }
        if !v.complete {
            out.push_str(&format!(
                "incomplete: node {}: stopped after {} address pairs; not proven\n",
                v.node, v.pairs
            ));
        }
        for d in &v.drift {
            out.push_str(&format!(
                "  {} ({}) -> {} ({}) {}: kernel {}, policies {}\n",
                d.from,
                d.src,
                d.to,
                d.dst,
                d.transport,
                kernel_word(&d.kernel),
                word(d.expected)
            ));
        }
        if v.drift_count > v.drift.len() {
            out.push_str(&format!(
                "  ... and {} more\n",
                v.drift_count - v.drift.len()
            ));
        }
    }
    for f in v.foreign.iter().filter(|f| f.can_drop || f.can_accept) {
        let can = match (f.can_drop, f.can_accept) {
            (true, true) => "drop or accept",
            (true, false) => "drop",
            _ => "accept",
        };
        out.push_str(&format!(
            "foreign: {} {} chain {} (hook {}, priority {}) runs {} palisade and can {can}\n",
            f.family,
            f.table,
            f.chain,
            f.hook,
            f.priority,
            if f.before { "before" } else { "after" }
        ));
    }
    out
}

pub fn to_json(v: &Verification) -> serde_json::Value {
    json!({
        "node": v.node,
        "verified": v.verified(),
        "table_present": v.table_present,
        "pairs": v.pairs,
        "atoms": v.atoms,
        "checked": v.checked,
        "complete": v.complete,
        "drift_count": v.drift_count,
        "drift": v.drift.iter().map(|d| json!({
            "from": d.from,
            "to": d.to,
            "src": d.src.to_string(),
            "dst": d.dst.to_string(),
            "probe": d.transport.to_string(),
            "expected": word(d.expected),
            "kernel": match &d.kernel { Ok(k) => json!(word(*k)), Err(_) => json!(null) },
            "error": match &d.kernel { Ok(_) => json!(null), Err(e) => json!(e) },
        })).collect::<Vec<_>>(),
        "foreign": v.foreign.iter().map(|f| json!({
            "family": f.family,
            "table": f.table,
            "chain": f.chain,
            "hook": f.hook,
            "priority": f.priority,
            "before": f.before,
            "can_drop": f.can_drop,
            "can_accept": f.can_accept,
        })).collect::<Vec<_>>(),
    })
}
