//! Structural selector coverage, the ground the shadowing lints stand on: `sel_covers(b, a)`
//! must only say yes when every label set `a` matches is matched by `b`. Each case is checked
//! against brute force over a small universe of label sets, so a wrong "yes" cannot hide.

use std::collections::BTreeSet;

use super::shadow::sel_covers;
use crate::model::{Labels, Operator, Requirement, Selector};

fn sel(labels: &[(&str, &str)], exprs: Vec<Requirement>) -> Selector {
    Selector {
        match_labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        expressions: exprs,
    }
}

fn req(key: &str, operator: Operator) -> Requirement {
    Requirement {
        key: key.to_owned(),
        operator,
    }
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// Every label set over keys app/tier with values a, b or absent.
fn universe() -> Vec<Labels> {
    let values = [None, Some("a"), Some("b")];
    let mut out = Vec::new();
    for app in values {
        for tier in values {
            let mut l = Labels::new();
            if let Some(v) = app {
                l.insert("app".into(), v.into());
            }
            if let Some(v) = tier {
                l.insert("tier".into(), v.into());
            }
            out.push(l);
        }
    }
    out
}

fn truly_covers(b: &Selector, a: &Selector) -> bool {
    universe().iter().all(|l| !a.matches(l) || b.matches(l))
}

#[test]
fn coverage_is_never_claimed_wrongly_and_found_for_the_usual_shapes() {
    let cases: Vec<(&str, Selector, Selector, bool)> = vec![
        (
            "empty covers anything",
            sel(&[], vec![]),
            sel(&[("app", "a")], vec![]),
            true,
        ),
        (
            "fewer labels cover more labels",
            sel(&[("app", "a")], vec![]),
            sel(&[("app", "a"), ("tier", "b")], vec![]),
            true,
        ),
        (
            "more labels do not cover fewer",
            sel(&[("app", "a"), ("tier", "b")], vec![]),
            sel(&[("app", "a")], vec![]),
            false,
        ),
        (
            "In covers a fixed value",
            sel(&[], vec![req("app", Operator::In(set(&["a", "b"])))]),
            sel(&[("app", "a")], vec![]),
            true,
        ),
        (
            "In covers a smaller In",
            sel(&[], vec![req("app", Operator::In(set(&["a", "b"])))]),
            sel(&[], vec![req("app", Operator::In(set(&["a"])))]),
            true,
        ),
        (
            "In does not cover a wider In",
            sel(&[], vec![req("app", Operator::In(set(&["a"])))]),
            sel(&[], vec![req("app", Operator::In(set(&["a", "b"])))]),
            false,
        ),
        (
            "Exists covers a fixed value",
            sel(&[], vec![req("app", Operator::Exists)]),
            sel(&[("app", "b")], vec![]),
            true,
        ),
        (
            "Exists does not cover NotIn (absent key)",
            sel(&[], vec![req("app", Operator::Exists)]),
            sel(&[], vec![req("app", Operator::NotIn(set(&["a"])))]),
            false,
        ),
        (
            "NotIn covers DoesNotExist",
            sel(&[], vec![req("app", Operator::NotIn(set(&["a"])))]),
            sel(&[], vec![req("app", Operator::DoesNotExist)]),
            true,
        ),
        (
            "NotIn covers a disjoint In",
            sel(&[], vec![req("app", Operator::NotIn(set(&["a"])))]),
            sel(&[], vec![req("app", Operator::In(set(&["b"])))]),
            true,
        ),
        (
            "NotIn covers a wider NotIn",
            sel(&[], vec![req("app", Operator::NotIn(set(&["a"])))]),
            sel(&[], vec![req("app", Operator::NotIn(set(&["a", "b"])))]),
            true,
        ),
        (
            "NotIn does not cover a narrower NotIn",
            sel(&[], vec![req("app", Operator::NotIn(set(&["a", "b"])))]),
            sel(&[], vec![req("app", Operator::NotIn(set(&["a"])))]),
            false,
        ),
        (
            "a fixed value covered by matchLabels through a one-value In",
            sel(&[("app", "a")], vec![]),
            sel(&[], vec![req("app", Operator::In(set(&["a"])))]),
            true,
        ),
        (
            "DoesNotExist is not covered by Exists",
            sel(&[], vec![req("app", Operator::DoesNotExist)]),
            sel(&[("app", "a")], vec![]),
            false,
        ),
    ];
    for (label, b, a, expected) in cases {
        let claimed = sel_covers(&b, &a);
        assert_eq!(claimed, expected, "{label}");
        assert!(
            !claimed || truly_covers(&b, &a),
            "{label}: coverage claimed but false"
        );
    }
}
