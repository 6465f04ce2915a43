//! `check --format sarif` against the SARIF 2.1.0 schema (the definitions palisade uses, vendored
//! in testdata/sarif/), plus what code-scanning services need beyond the schema: a rule for
//! every result, help pages that exist, relative artifact URIs, 1-based regions.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sarif(args: &[&str]) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("check")
        .arg("--format")
        .arg("sarif")
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("palisade runs");
    let doc = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    (doc, out.status.code().unwrap_or(-1))
}

fn validator() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(workspace().join("testdata/sarif/sarif-2.1.0-subset.schema.json"))
            .expect("vendored schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

fn assert_valid(doc: &Value) {
    let errors: Vec<String> = validator()
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF:\n{}", errors.join("\n"));
}

#[test]
fn validation_errors_and_lints_are_valid_sarif() {
    for input in [
        "crates/palisade-cli/tests/fixtures/mistakes",
        "testdata/seeds/012-blog-allow-prometheus-scraping",
        "testdata/seeds/013-recipes-default-deny-trio",
        "examples/shop",
    ] {
        let (doc, _) = sarif(&[input]);
        assert_valid(&doc);
    }
}

#[test]
fn the_schema_rejects_what_code_scanning_would() {
    let (mut doc, _) = sarif(&["testdata/seeds/012-blog-allow-prometheus-scraping"]);
    doc["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(
        !validator().is_valid(&doc),
        "a level outside the enum must be rejected"
    );
    let (mut doc, _) = sarif(&["testdata/seeds/012-blog-allow-prometheus-scraping"]);
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    assert!(!validator().is_valid(&doc), "lines are 1-based");
}

#[test]
fn lint_rules_carry_name_level_and_an_existing_help_page() {
    let (doc, code) = sarif(&["testdata/seeds/012-blog-allow-prometheus-scraping"]);
    assert_eq!(code, 0, "warnings alone exit 0");
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let results = doc["runs"][0]["results"].as_array().expect("results");
    let l004 = rules
        .iter()
        .find(|r| r["id"] == "L004")
        .expect("a rule for L004");
    // SARIF's friendly name is Pascal case; the kebab-case name (for --allow) is in the text.
    assert_eq!(l004["name"], "OrProbablyMeantAnd");
    assert!(
        l004["fullDescription"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("--allow or-probably-meant-and")),
        "{l004}"
    );
    assert_eq!(l004["defaultConfiguration"]["level"], "warning");
    // GitHub code scanning refuses rules without a full description and help text.
    for rule in rules {
        assert!(rule["fullDescription"]["text"].is_string(), "{rule}");
        assert!(rule["help"]["text"].is_string(), "{rule}");
    }
    for rule in rules
        .iter()
        .filter(|r| r["id"].as_str().is_some_and(|id| id.starts_with('L')))
    {
        let uri = rule["helpUri"].as_str().expect("helpUri");
        let page = uri
            .split("/blob/main/")
            .nth(1)
            .expect("a path in the repository");
        assert!(
            workspace().join(page).is_file(),
            "{uri} must name a file of the repository"
        );
    }
    for result in results {
        let id = result["ruleId"].as_str().expect("ruleId");
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], id, "ruleIndex points at the rule");
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(
            !uri.starts_with('/') && uri.starts_with("testdata/"),
            "relative: {uri}"
        );
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert!(location["region"]["startLine"].as_u64().unwrap_or(0) >= 1);
        assert!(location["region"]["startColumn"].as_u64().unwrap_or(0) >= 1);
    }
    let l004_result = results
        .iter()
        .find(|r| r["ruleId"] == "L004")
        .expect("an L004 result");
    assert_eq!(l004_result["level"], "warning");
    assert_eq!(
        l004_result["locations"][0]["physicalLocation"]["region"]["startLine"], 16,
        "the podSelector item of policies.yaml"
    );
}

#[test]
fn deny_warnings_turns_lints_into_errors_and_exit_1() {
    let (doc, code) = sarif(&[
        "--deny",
        "warnings",
        "testdata/seeds/012-blog-allow-prometheus-scraping",
    ]);
    assert_eq!(code, 1);
    assert_valid(&doc);
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert!(!results.is_empty() && results.iter().all(|r| r["level"] == "error"));
}
