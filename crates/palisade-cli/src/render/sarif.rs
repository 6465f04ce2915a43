//! `check --format sarif`: SARIF 2.1.0, the format code-scanning services ingest.

use std::collections::BTreeMap;

use palisade_core::Analysis;
use palisade_core::diag::Severity;
use palisade_core::lint;
use serde_json::{Value, json};

use super::diagnostics::end_of;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn render(analysis: &Analysis) -> String {
    let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
    for d in analysis.io_errors.iter().chain(&analysis.diagnostics) {
        rules.entry(d.code).or_insert_with(|| rule(d.code));
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut results = Vec::new();
    for d in analysis.io_errors.iter().chain(&analysis.diagnostics) {
        let mut text = match &d.field {
            Some(field) => format!("{field}: {}", d.message),
            None => d.message.clone(),
        };
        if let Some(help) = &d.help {
            text.push_str(&format!("\nhelp: {help}"));
        }
        let mut result = json!({
            "ruleId": d.code,
            "ruleIndex": index.get(d.code).copied().unwrap_or_default(),
            "level": level(d.severity),
            "message": {"text": text},
        });
        if let Some(span) = d.span {
            let file = analysis.sources.get(span.file);
            let widened = palisade_core::source::Span {
                end: span.end.max(span.start + 1),
                ..span
            };
            let (end_line, end_column) = end_of(&file.text, widened);
            result["locations"] = json!([{
                "physicalLocation": {
                    "artifactLocation": artifact(&file.name),
                    "region": {
                        "startLine": span.line,
                        "startColumn": span.column,
                        "endLine": end_line,
                        "endColumn": end_column,
                    }
                }
            }]);
        }
        results.push(result);
    }
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "palisade",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// A `reportingDescriptor`: lints have a name, a page and a default level of their own.
/// GitHub code scanning requires `fullDescription` and `help` on every rule (the SARIF
/// Multitool's GH2012 check); `name` is the Pascal-case friendly name SARIF recommends
/// (SARIF2012), while `--allow` keeps taking the kebab-case name.
fn rule(code: &'static str) -> Value {
    match lint::find(code) {
        Some(info) => {
            let page = format!(
                "{}/blob/main/docs/lints/{}.md",
                env!("CARGO_PKG_REPOSITORY"),
                info.code
            );
            json!({
                "id": info.code,
                "name": pascal_case(info.name),
                "shortDescription": {"text": info.summary},
                "fullDescription": {"text": format!(
                    "{}. Computed by palisade over the whole inventory (pods, namespaces and \
                     every policy); silence it with `palisade check --allow {}`.",
                    info.summary, info.name
                )},
                "help": {
                    "text": format!("{}. What it means, a failing and a passing example, and the fix: {page}", info.summary),
                    "markdown": format!("{}. What it means, a failing and a passing example, and the fix: [{}]({page})", info.summary, info.code),
                },
                "helpUri": page,
                "defaultConfiguration": {"level": level(info.severity)},
            })
        }
        None => json!({
            "id": code,
            "shortDescription": {"text": family(code)},
            "fullDescription": {"text": format!(
                "{}: the Kubernetes API server would refuse or misread this manifest.",
                family(code)
            )},
            "help": {"text": "Each result's message says what is wrong at that line and how to fix it."},
            "defaultConfiguration": {"level": "error"},
        }),
    }
}

/// `no-default-deny-ingress` -> `NoDefaultDenyIngress`.
fn pascal_case(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// A relative path is resolved against the checkout (`%SRCROOT%`, the base code-scanning
/// services use); an absolute one becomes a `file:` URI.
fn artifact(name: &str) -> Value {
    if name.starts_with('/') {
        json!({"uri": format!("file://{}", uri(name))})
    } else {
        json!({"uri": uri(name.strip_prefix("./").unwrap_or(name)), "uriBaseId": "%SRCROOT%"})
    }
}

/// What a family of codes is about (the rule's short description).
fn family(code: &str) -> &'static str {
    match code.get(..2) {
        Some("P1") => "The manifest cannot be read as Kubernetes objects",
        Some("P2") => "The object would be rejected by the Kubernetes API server",
        Some("P3") => "The objects conflict with each other",
        _ => "palisade diagnostic",
    }
}

/// SARIF wants URI references: forward slashes, spaces and the like percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.replace('\\', "/").chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | '/' => out.push(c),
            _ => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri("dir/my file.yaml"), "dir/my%20file.yaml");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
    }
}
