//! Reading inputs: directory walking, names, and every way a file can fail to be read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use palisade_core::diag::Severity;
use palisade_core::load::{Input, load};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("palisade-load-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ns(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
}

fn names(loaded: &palisade_core::load::Loaded) -> Vec<String> {
    loaded.sources.iter().map(|(_, f)| f.name.clone()).collect()
}

#[test]
fn directories_are_walked_sorted_skipping_hidden_and_other_files() {
    let t = TempDir::new();
    t.write("b.yaml", ns("b"));
    t.write("a.yml", ns("a"));
    t.write(
        "sub/c.json",
        r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "c"}}"#,
    );
    t.write("sub/deeper/d.yaml", ns("d"));
    t.write("notes.txt", "not yaml: [");
    t.write("README.md", "# docs");
    t.write("x.YAML", ns("upper")); // kubectl matches extensions exactly
    t.write(".hidden.yaml", ns("hidden"));
    t.write(".git/config.yaml", ns("git"));
    let loaded = load(&[Input::Path(t.0.clone())]);
    assert!(
        loaded.io_errors.is_empty() && loaded.diagnostics.is_empty(),
        "{loaded:#?}"
    );
    let shown = |rel: &str| t.0.join(rel).display().to_string();
    assert_eq!(
        names(&loaded),
        [
            shown("a.yml"),
            shown("b.yaml"),
            shown("sub/c.json"),
            shown("sub/deeper/d.yaml")
        ]
    );
    let objects: Vec<String> = loaded.objects.iter().map(|o| o.describe()).collect();
    assert_eq!(
        objects,
        ["Namespace a", "Namespace b", "Namespace c", "Namespace d"]
    );
    // Every file's text is kept for diagnostics.
    assert!(
        loaded
            .sources
            .iter()
            .all(|(_, f)| f.text.contains("Namespace"))
    );
}

#[test]
fn names_keep_the_spelling_the_user_gave() {
    let t = TempDir::new();
    t.write("m/p.yaml", ns("p"));
    let given = PathBuf::from(format!("{}/./m/", t.0.display()));
    let loaded = load(&[Input::Path(given.clone())]);
    assert_eq!(names(&loaded), [given.join("p.yaml").display().to_string()]);
    assert!(names(&loaded)[0].contains("/./m/"));
}

#[test]
fn a_file_named_explicitly_is_read_whatever_its_extension() {
    let t = TempDir::new();
    let path = t.write("policy.txt", ns("explicit"));
    let loaded = load(&[Input::Path(path.clone())]);
    assert_eq!(names(&loaded), [path.display().to_string()]);
    assert_eq!(loaded.objects.len(), 1);
}

#[test]
fn unreadable_inputs_are_io_errors_naming_the_path() {
    let t = TempDir::new();
    let missing = t.0.join("nope.yaml");
    let latin1 = t.write("latin1.yaml", b"metadata:\n  name: caf\xe9\n");
    let loaded = load(&[Input::Path(missing.clone()), Input::Path(latin1.clone())]);
    assert_eq!(loaded.io_errors.len(), 2, "{:#?}", loaded.io_errors);
    let missing_err = &loaded.io_errors[0];
    assert_eq!(missing_err.code, "P100");
    assert!(missing_err.message.contains(&missing.display().to_string()));
    assert!(
        missing_err.message.contains("No such file or directory"),
        "{}",
        missing_err.message
    );
    let utf8_err = &loaded.io_errors[1];
    assert_eq!(utf8_err.code, "P100");
    assert!(utf8_err.message.contains(&latin1.display().to_string()));
    assert!(
        utf8_err
            .message
            .contains("not valid UTF-8 at line 2 (byte offset 21)"),
        "{}",
        utf8_err.message
    );
    assert!(loaded.sources.is_empty() && loaded.objects.is_empty());
}

#[test]
fn a_directory_without_manifests_is_a_warning() {
    let t = TempDir::new();
    t.write("notes.txt", "hello");
    let loaded = load(&[Input::Path(t.0.clone())]);
    assert!(loaded.io_errors.is_empty());
    assert_eq!(loaded.diagnostics.len(), 1);
    let d = &loaded.diagnostics[0];
    assert_eq!((d.code, d.severity), ("P100", Severity::Warning));
    assert!(d.message.contains("no manifests found"), "{}", d.message);
}

#[test]
fn several_inputs_are_read_in_the_order_given() {
    let t = TempDir::new();
    let z = t.write("z.yaml", ns("z"));
    let a = t.write("a.yaml", ns("a"));
    let loaded = load(&[Input::Path(z), Input::Path(a)]);
    let objects: Vec<String> = loaded.objects.iter().map(|o| o.describe()).collect();
    assert_eq!(objects, ["Namespace z", "Namespace a"]);
    assert_eq!(loaded.objects[1].file, palisade_core::source::FileId(1));
}

#[cfg(unix)]
#[test]
fn symlinked_files_are_read_and_symlinked_directories_not_followed() {
    let t = TempDir::new();
    let real = t.write("real/p.yaml", ns("p"));
    std::os::unix::fs::symlink(&real, t.0.join("link.yaml")).unwrap();
    // A loop back to the root would never end if followed.
    std::os::unix::fs::symlink(&t.0, t.0.join("real/loop")).unwrap();
    let loaded = load(&[Input::Path(t.0.clone())]);
    let shown: Vec<String> = names(&loaded)
        .iter()
        .map(|n| {
            Path::new(n)
                .strip_prefix(&t.0)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(shown, ["link.yaml", "real/p.yaml"]);
}
