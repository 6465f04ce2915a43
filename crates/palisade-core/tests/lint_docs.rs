//! Every lint has a page, docs/lints/CODE.md, whose "Fires" example must produce the lint and
//! whose "Does not fire" example must not. The examples are the fixtures: a page cannot drift
//! from what the engine does.

use std::path::{Path, PathBuf};

use palisade_core::analyze_text;
use palisade_core::lint::{CATALOGUE, lint};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/lints")
}

/// The first ```yaml block after the heading `## {heading}`.
fn example(page: &str, heading: &str) -> Option<String> {
    let start = page.find(&format!("\n## {heading}\n"))?;
    let rest = &page[start..];
    let open = rest.find("```yaml\n")? + "```yaml\n".len();
    let close = rest[open..].find("\n```")?;
    Some(rest[open..open + close + 1].to_string())
}

/// The codes `lint` reports for `yaml`, after checking the example is valid (lints run on
/// valid objects only, so an invalid example would prove nothing).
fn codes(name: &str, yaml: &str) -> Vec<&'static str> {
    let analysis = analyze_text(name, yaml);
    assert_eq!(
        analysis.error_count(),
        0,
        "{name} must be valid: {:#?}",
        analysis.diagnostics
    );
    lint(&analysis).iter().map(|d| d.code).collect()
}

#[test]
fn every_lint_page_has_an_example_that_fires_and_one_that_does_not() {
    for info in CATALOGUE {
        let path = docs().join(format!("{}.md", info.code));
        let page =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            page.starts_with(&format!("# {}: ", info.code)),
            "{} must start with its code",
            path.display()
        );
        let fires = example(&page, "Fires")
            .unwrap_or_else(|| panic!("{}: no `## Fires` yaml block", info.code));
        let quiet = example(&page, "Does not fire")
            .unwrap_or_else(|| panic!("{}: no `## Does not fire` yaml block", info.code));
        let found = codes(&format!("{}-fires.yaml", info.code), &fires);
        assert!(
            found.contains(&info.code),
            "{}: the `Fires` example must produce it, got {found:?}",
            info.code
        );
        let found = codes(&format!("{}-quiet.yaml", info.code), &quiet);
        assert!(
            !found.contains(&info.code),
            "{}: the `Does not fire` example must not produce it, got {found:?}",
            info.code
        );
    }
}

#[test]
fn the_index_lists_every_lint() {
    let index = std::fs::read_to_string(docs().join("README.md")).expect("docs/lints/README.md");
    for info in CATALOGUE {
        assert!(
            index.contains(&format!("[{}]({}.md)", info.code, info.code)),
            "README.md must link {}",
            info.code
        );
        let row = format!("| `{}` | {} |", info.name, info.severity.as_str());
        assert!(index.contains(&row), "README.md must have the row {row}");
    }
}
