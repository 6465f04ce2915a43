//! Help lines carry the fix as YAML in flow style (one line, valid YAML, pasteable into a
//! manifest or `kubectl apply -f -`).

use crate::model::{Labels, Operator, Selector};

/// A YAML scalar, quoted when plain style would read as something else.
pub(super) fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !matches!(
            s,
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn labels(labels: &Labels) -> String {
    let items: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}: {}", scalar(k), scalar(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// A label selector: `{}`, `{matchLabels: {app: web}}`, with matchExpressions when it has some.
pub(super) fn selector(sel: &Selector) -> String {
    let mut parts = Vec::new();
    if !sel.match_labels.is_empty() {
        parts.push(format!("matchLabels: {}", labels(&sel.match_labels)));
    }
    if !sel.expressions.is_empty() {
        let exprs: Vec<String> = sel
            .expressions
            .iter()
            .map(|r| {
                let (op, values) = match &r.operator {
                    Operator::In(v) => ("In", Some(v)),
                    Operator::NotIn(v) => ("NotIn", Some(v)),
                    Operator::Exists => ("Exists", None),
                    Operator::DoesNotExist => ("DoesNotExist", None),
                };
                let values = values.map_or(String::new(), |v| {
                    let v: Vec<String> = v.iter().map(|s| scalar(s)).collect();
                    format!(", values: [{}]", v.join(", "))
                });
                format!("{{key: {}, operator: {op}{values}}}", scalar(&r.key))
            })
            .collect();
        parts.push(format!("matchExpressions: [{}]", exprs.join(", ")));
    }
    format!("{{{}}}", parts.join(", "))
}

/// A whole NetworkPolicy object.
pub(super) fn policy(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "{{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {{name: {}, namespace: {}}}, spec: {spec}}}",
        scalar(name),
        scalar(namespace)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_that_would_change_type_are_quoted() {
        assert_eq!(scalar("web"), "web");
        assert_eq!(
            scalar("kubernetes.io/metadata.name"),
            "kubernetes.io/metadata.name"
        );
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("8080"), "\"8080\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("a b"), "\"a b\"");
    }
}
