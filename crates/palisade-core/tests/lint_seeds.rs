//! The lints over every guide example (testdata/seeds/NNN-name: cluster.yaml + policies.yaml).
//! Each seed's `expect-lints.txt` lists the findings it must give, one per line, as
//! `CODE FILE:LINE FIELD` (FIELD `-` when the finding concerns a whole object); no file means
//! no finding. Each line was reviewed against the guide's own text (see the seed's README) to
//! be a true finding: the lints must not cry wolf on the guides' correct examples.
//!
//! `PALISADE_BLESS=1` rewrites the files from the engine; review the diff before committing.

use std::path::{Path, PathBuf};

use palisade_core::analyze;
use palisade_core::lint::lint;
use palisade_core::load::Input;
use palisade_core::source::Location;

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/seeds")
}

fn findings(dir: &Path) -> String {
    let analysis = analyze(&[
        Input::Path(dir.join("cluster.yaml")),
        Input::Path(dir.join("policies.yaml")),
    ]);
    assert_eq!(
        analysis.error_count(),
        0,
        "{}: {:#?}",
        dir.display(),
        analysis.diagnostics
    );
    let mut out = String::new();
    for d in lint(&analysis) {
        let place = d.span.map_or_else(String::new, |s| {
            let loc = Location::of(&s, &analysis.sources);
            let file = Path::new(&loc.file)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{file}:{}", loc.line)
        });
        out.push_str(&format!(
            "{} {place} {}\n",
            d.code,
            d.field.as_deref().unwrap_or("-")
        ));
    }
    out
}

#[test]
fn every_guide_example_gives_exactly_its_expected_lints() {
    let bless = std::env::var_os("PALISADE_BLESS").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(seeds())
        .expect("testdata/seeds")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("cluster.yaml").is_file() && p.join("policies.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 20, "the seeds are there");
    let mut failures = Vec::new();
    for dir in dirs {
        let got = findings(&dir);
        let file = dir.join("expect-lints.txt");
        if bless {
            if got.is_empty() {
                let _ = std::fs::remove_file(&file);
            } else {
                std::fs::write(&file, &got).expect("write expect-lints.txt");
            }
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- expected\n{want}--- got\n{got}",
                dir.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
