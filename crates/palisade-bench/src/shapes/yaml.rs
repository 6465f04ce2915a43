//! Just enough YAML writing for generated manifests: block mappings of plain scalars.

use std::fmt::Write as _;

/// A `key: value` label map at `indent`, or `{}` inline when empty.
pub fn labels(out: &mut String, indent: usize, key: &str, pairs: &[(String, String)]) {
    let pad = " ".repeat(indent);
    if pairs.is_empty() {
        let _ = writeln!(out, "{pad}{key}: {{}}");
        return;
    }
    let _ = writeln!(out, "{pad}{key}:");
    for (k, v) in pairs {
        let _ = writeln!(out, "{pad}  {k}: {}", quote(v));
    }
}

/// Quotes values YAML would read as something other than a string.
pub fn quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes().any(|b| b.is_ascii_alphabetic())
        && !matches!(
            v,
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/'));
    if plain {
        v.to_string()
    } else {
        format!("\"{v}\"")
    }
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
