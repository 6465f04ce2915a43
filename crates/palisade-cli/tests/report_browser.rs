//! `palisade report` in a real browser: Debian's chromium, headless, dumps the DOM after the
//! page's script has run. Checked: the page is self-contained (nothing fetched), the matrix
//! cells equal `palisade reach --format json` for the same input, and the namespace filter
//! (driven by the URL fragment `#ns=...`) hides exactly the other namespaces.
//!
//! Skipped (with a note) when no chromium is installed; `PALISADE_REQUIRE_BROWSER_TESTS=1`
//! (CI) turns the skip into a failure.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{palisade, workspace};
use palisade_test_support::synth::{SynthParams, generate};
use serde_json::Value;

const SHOP: &str = "examples/shop";

fn browser() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var_os("PALISADE_REQUIRE_BROWSER_TESTS").is_none(),
            "browser tests required but no chromium on PATH (apt-get install chromium)"
        );
        eprintln!("SKIPPED browser test: no chromium on PATH");
    }
    found
}

/// Writes the report of `inputs` into a fresh temporary directory.
fn report(inputs: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("report.html");
    let mut args = vec!["report", "-o"];
    let file_arg = file.to_string_lossy().into_owned();
    args.push(&file_arg);
    args.extend_from_slice(inputs);
    let (code, stdout, stderr) = palisade(&args);
    assert_eq!(code, 0, "report failed: {stdout}{stderr}");
    (dir, file)
}

/// One browser at a time: the tests of this file run side by side, and on a small machine a
/// second chromium would slow down the page whose load time is measured.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The DOM after scripts ran, as chromium serializes it.
fn dump_dom(browser: &Path, file: &Path, fragment: &str) -> String {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}{fragment}", file.display());
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

/// Every start tag named `name` in `html`, as its attribute map (enough of an HTML reader
/// for serialized DOM: double-quoted values, `&quot;`/`&amp;`/`&lt;`/`&gt;` entities).
fn tags(html: &str, name: &str) -> Vec<BTreeMap<String, String>> {
    let open = format!("<{name}");
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        if !rest.starts_with([' ', '>']) {
            continue;
        }
        let end = rest.find('>').unwrap_or(rest.len());
        found.push(attributes(&rest[..end]));
        rest = &rest[end..];
    }
    found
}

fn attributes(mut s: &str) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    loop {
        s = s.trim_start();
        let Some(eq) = s.find(['=', ' ']) else {
            if !s.is_empty() {
                attrs.insert(s.to_string(), String::new());
            }
            return attrs;
        };
        let key = s[..eq].to_string();
        if s[eq..].starts_with(' ') {
            attrs.insert(key, String::new());
            s = &s[eq..];
            continue;
        }
        let after = &s[eq + 1..];
        let Some(value) = after.strip_prefix('"') else {
            return attrs;
        };
        let close = value.find('"').unwrap_or(value.len());
        attrs.insert(key, unescape(&value[..close]));
        s = value.get(close + 1..).unwrap_or("");
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn has_class(attrs: &BTreeMap<String, String>, class: &str) -> bool {
    attrs
        .get("class")
        .is_some_and(|c| c.split_whitespace().any(|c| c == class))
}

#[test]
fn report_is_self_contained() {
    let (_dir, file) = report(&[SHOP]);
    let page = std::fs::read_to_string(&file).expect("read report");
    for needle in ["http://", "https://", "<link", "@import", "src=", "//cdn"] {
        assert!(!page.contains(needle), "the page contains {needle:?}");
    }
    // url() only for references inside the page (the SVG arrow marker).
    for (at, _) in page.match_indices("url(") {
        assert!(
            page[at..].starts_with("url(#"),
            "external url(): {}",
            &page[at..(at + 40).min(page.len())]
        );
    }
    for (at, _) in page.match_indices("href=") {
        assert!(page[at..].starts_with("href=\"#"), "external href");
    }
    assert_eq!(page.matches("<script>").count(), 1, "one inline script");
    assert_eq!(
        page.matches("<script").count(),
        1 + page.matches("<script type=\"application/json\"").count(),
        "every other script element is inert data"
    );
    assert!(page.contains("<svg"), "inline SVG graph");
}

/// Kubernetes names cannot hold markup, but file names and the text of diagnostics (which
/// quote the offending input) can: neither may become markup in the page.
#[test]
fn report_escapes_what_it_quotes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifests = dir.path().join("<img onerror=x>");
    std::fs::create_dir(&manifests).expect("mkdir");
    std::fs::write(
        manifests.join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"<script>alert(1)</script>\"\n  namespace: shop\nspec:\n  containers: [{name: c, image: i}]\n",
    )
    .expect("write manifest");
    let out_file = dir.path().join("report.html");
    let out_arg = out_file.to_string_lossy().into_owned();
    let in_arg = manifests.to_string_lossy().into_owned();
    let (code, _, stderr) = palisade(&["report", "-o", &out_arg, &in_arg]);
    assert_eq!(code, 1, "an invalid pod name is an error: {stderr}");
    let page = std::fs::read_to_string(&out_file).expect("read report");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "quoted, escaped"
    );
    assert!(page.contains("&lt;img onerror=x&gt;"), "file name escaped");
    assert!(!page.contains("<script>alert"), "no injected script");
    assert!(!page.contains("<img"), "no injected element");
}

#[test]
fn browser_renders_the_matrix_of_reach() {
    let Some(browser) = browser() else { return };
    let (_dir, file) = report(&["--group-by", "pod", SHOP]);
    let dom = dump_dom(&browser, &file, "");
    assert!(
        dom.contains("data-filter-ready=\"1\""),
        "the page's script ran"
    );

    let (code, stdout, stderr) = palisade(&["reach", "--format", "json", SHOP]);
    assert_eq!(code, 0, "{stderr}");
    let reach: Value = serde_json::from_str(&stdout).expect("reach JSON");
    let mut want: BTreeMap<(String, String), String> = BTreeMap::new();
    for pair in reach["pairs"].as_array().expect("pairs") {
        let field = |k: &str| pair[k].as_str().expect("string field").to_string();
        want.insert((field("from"), field("to")), field("ports"));
    }
    let endpoints = reach["endpoints"].as_array().expect("endpoints").len();
    assert_eq!(
        want.len(),
        endpoints * (endpoints - 1),
        "every ordered pair"
    );

    let mut got: BTreeMap<(String, String), String> = BTreeMap::new();
    for td in tags(&dom, "td") {
        if let (Some(from), Some(to), Some(ports)) =
            (td.get("data-from"), td.get("data-to"), td.get("data-ports"))
        {
            let expected_class = match ports.as_str() {
                "none" => "none",
                "all" => "all",
                _ => "some",
            };
            assert!(
                has_class(&td, expected_class),
                "{from} -> {to} ({ports}) is colored {:?}",
                td.get("class")
            );
            got.insert((from.clone(), to.clone()), ports.clone());
        }
    }
    assert_eq!(got, want, "matrix cells in the DOM vs palisade reach");
    let selfs = tags(&dom, "td")
        .iter()
        .filter(|td| has_class(td, "self"))
        .count();
    assert_eq!(selfs, endpoints, "one diagonal cell per endpoint");
}

#[test]
fn browser_namespace_filter_from_the_url() {
    let Some(browser) = browser() else { return };
    let (_dir, file) = report(&["--group-by", "pod", SHOP]);
    for (fragment, shown) in [
        ("", vec!["ingress-nginx", "kube-system", "production"]),
        ("#ns=production", vec!["production"]),
        (
            "#ns=kube-system,ingress-nginx",
            vec!["ingress-nginx", "kube-system"],
        ),
        ("#ns=", vec![]),
    ] {
        let dom = dump_dom(&browser, &file, fragment);
        let rows: Vec<_> = tags(&dom, "tr")
            .into_iter()
            .filter(|tr| tr.contains_key("data-ns"))
            .collect();
        assert_eq!(rows.len(), 5, "{fragment}: one row per pod");
        for row in &rows {
            let ns = row.get("data-ns").map_or("", String::as_str);
            assert_eq!(
                has_class(row, "off"),
                !shown.contains(&ns),
                "{fragment}: row of namespace {ns}"
            );
        }
        for th in tags(&dom, "th")
            .into_iter()
            .filter(|th| th.contains_key("data-col-ns"))
        {
            let ns = th.get("data-col-ns").map_or("", String::as_str);
            assert_eq!(
                has_class(&th, "off"),
                !shown.contains(&ns),
                "{fragment}: column of {ns}"
            );
        }
        // Every policy of the shop is in production.
        let policies: Vec<_> = tags(&dom, "article")
            .into_iter()
            .filter(|a| has_class(a, "policy"))
            .collect();
        assert_eq!(policies.len(), 7, "{fragment}");
        let visible = policies.iter().filter(|a| !has_class(a, "off")).count();
        let want = if shown.contains(&"production") { 7 } else { 0 };
        assert_eq!(visible, want, "{fragment}: policies shown");
        let nodes_hidden = tags(&dom, "g")
            .into_iter()
            .filter(|g| has_class(g, "node") && has_class(g, "off"))
            .count();
        assert_eq!(
            nodes_hidden,
            5 - rows.iter().filter(|r| !has_class(r, "off")).count()
        );
        // The findings are `palisade check`'s, lints included: the shop's ingress-nginx and
        // kube-system have no default deny (L001 ingress, L002 egress), one item each per
        // namespace and direction, filtered with their namespace.
        let findings: Vec<_> = tags(&dom, "li")
            .into_iter()
            .filter(|li| li.contains_key("data-ns"))
            .collect();
        assert_eq!(findings.len(), 4, "{fragment}: the shop's lint findings");
        for li in &findings {
            let ns = li.get("data-ns").map_or("", String::as_str);
            assert_eq!(
                has_class(li, "off"),
                !shown.contains(&ns),
                "{fragment}: finding of {ns}"
            );
        }
    }
}

/// With `--group-by workload` the replicas collapse: one row and column per workload, cells
/// holding what the member pairs allow (db-0 and db-1 may not reach each other: db only
/// accepts web on TCP 5432).
#[test]
fn report_groups_by_workload() {
    let (_dir, file) = report(&[
        "--group-by",
        "workload",
        "crates/palisade-cli/tests/fixtures/workloads",
    ]);
    let page = std::fs::read_to_string(&file).expect("read report");
    let cells: BTreeMap<(String, String), String> = tags(&page, "td")
        .into_iter()
        .filter_map(|td| {
            Some((
                (td.get("data-from")?.clone(), td.get("data-to")?.clone()),
                td.get("data-ports")?.clone(),
            ))
        })
        .collect();
    let cell = |from: &str, to: &str| cells.get(&(from.to_string(), to.to_string())).cloned();
    assert_eq!(
        cells.len(),
        3 * 3 - 1,
        "3 workloads; debug is one pod, so no debug->debug"
    );
    assert_eq!(cell("shop/web", "shop/db").as_deref(), Some("TCP 5432"));
    assert_eq!(cell("shop/debug", "shop/db").as_deref(), Some("none"));
    assert_eq!(
        cell("shop/db", "shop/db").as_deref(),
        Some("none"),
        "db-0 <-> db-1"
    );
    assert_eq!(
        cell("shop/web", "shop/web").as_deref(),
        Some("all"),
        "between replicas"
    );
    assert!(
        page.contains(">shop/web (3 pods)</th>"),
        "group sizes in the headers"
    );
}

/// The committed screenshot exists and is a PNG (it is refreshed by hand, see docs/audit.md).
#[test]
fn screenshot_is_committed() {
    let png = std::fs::read(workspace().join("docs/report-example.png")).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
}

/// At 10,000 pods (the synthetic cluster) the default page groups by connectivity: it loads
/// and applies its filter in the real browser in under 2 s, and a namespace opened from the
/// URL shows exactly the connections into it that `palisade reach --group-by connectivity`
/// prints.
#[test]
fn browser_report_at_ten_thousand_pods() {
    let Some(browser) = browser() else { return };
    let cluster = generate(SynthParams {
        namespaces: 50,
        pods: 10_000,
        policies: 3_000,
        seed: 1,
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("cluster.json");
    std::fs::write(&input, palisade_lab::manifests::to_string(&cluster)).expect("write cluster");
    let input = input.to_string_lossy().into_owned();
    let (_out, file) = report(&[&input]);
    let ns = cluster
        .pods
        .last()
        .map(|p| p.namespace.clone())
        .expect("pods");
    let dom = dump_dom(&browser, &file, &format!("#ns={ns}&open={ns}"));
    let body = tags(&dom, "body").into_iter().next().expect("body");
    let ready: f64 = body
        .get("data-ready-ms")
        .and_then(|v| v.parse().ok())
        .expect("the page records when its filter was ready");
    eprintln!("report of 10,000 pods: loaded and filtered in {ready} ms");
    assert!(ready < 2000.0, "loaded and filtered in {ready} ms");

    let (code, stdout, stderr) = palisade(&[
        "reach",
        "--group-by",
        "connectivity",
        "--format",
        "json",
        &input,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let reach: Value = serde_json::from_str(&stdout).expect("reach JSON");
    let into_ns = |to: &str| to.split_once('/').is_some_and(|(n, _)| n == ns);
    let mut want: Vec<(String, String, String)> = reach["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter(|l| into_ns(l["to"].as_str().unwrap_or_default()))
        .map(|l| {
            let f = |k: &str| l[k].as_str().unwrap_or_default().to_string();
            (f("from"), f("to"), f("ports"))
        })
        .collect();
    let mut got: Vec<(String, String, String)> = tags(&dom, "tr")
        .into_iter()
        .filter(|tr| has_class(tr, "line"))
        .map(|tr| {
            let f = |k: &str| tr.get(k).cloned().unwrap_or_default();
            (f("data-from"), f("data-to"), f("data-ports"))
        })
        .collect();
    want.sort();
    got.sort();
    assert!(!want.is_empty(), "the namespace has connections to show");
    assert_eq!(
        got, want,
        "connections into {ns} in the DOM vs palisade reach"
    );
}
