//! Reading files, directories and stdin.
//!
//! A directory is searched recursively for `*.yaml`, `*.yml` and `*.json` (the extensions
//! `kubectl apply -R -f DIR` takes), in sorted order so every run sees the same sequence,
//! skipping hidden entries and not following symlinked directories (which could loop). A file
//! named explicitly is read whatever its name. Names are shown as the user gave them, joined
//! with the path inside the directory, never canonicalised.
//!
//! What cannot be read at all (missing, unreadable, not UTF-8) goes to `Loaded::io_errors`
//! (P100). A directory holding no manifest is only a warning (P100 in `Loaded::diagnostics`):
//! the run can go on with the other inputs.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Input, Loaded, decode, yaml};
use crate::diag::Diagnostic;
use crate::source::FileId;

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

pub fn load(inputs: &[Input]) -> Loaded {
    load_onto(Loaded::default(), inputs)
}

/// Reads `inputs` after what `loaded` holds already, as if they had followed its inputs on
/// the command line: their files are numbered after its files, their objects and
/// diagnostics come after its own.
pub fn load_onto(mut loaded: Loaded, inputs: &[Input]) -> Loaded {
    let mut steps = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => {
                let mut bytes = Vec::new();
                match std::io::stdin().lock().read_to_end(&mut bytes) {
                    Ok(_) => add_bytes(&mut loaded, &mut steps, "<stdin>", bytes),
                    Err(e) => loaded.io_errors.push(io_error("<stdin>", &e)),
                }
            }
            Input::Path(path) => add_path(&mut loaded, &mut steps, path),
            Input::Text { name, text } => {
                steps.push(Step::File(loaded.sources.add(name, text.clone())));
            }
        }
    }
    // Every text is read: parse and decode the files side by side, then add what they hold
    // in input order, so the answer is the one a single thread gives.
    let files: Vec<FileId> = steps
        .iter()
        .filter_map(|s| match s {
            Step::File(f) => Some(*f),
            Step::Warning(_) => None,
        })
        .collect();
    let sources = &loaded.sources;
    let mut parsed =
        crate::parallel::map(files, |file| parse_file(file, &sources.get(file).text)).into_iter();
    for step in steps {
        match step {
            Step::File(_) => {
                if let Some(file) = parsed.next() {
                    file.add_to(&mut loaded);
                }
            }
            Step::Warning(d) => loaded.diagnostics.push(d),
        }
    }
    loaded
}

/// What reading the inputs found, in order: a file to parse, or a warning about an input.
enum Step {
    File(FileId),
    Warning(Diagnostic),
}

/// One file parsed and decoded.
struct ParsedFile {
    /// Syntax problems and what decoding found, in file order.
    diagnostics: Vec<Diagnostic>,
    decoded: Vec<decode::Output>,
}

impl ParsedFile {
    fn add_to(self, loaded: &mut Loaded) {
        let first = loaded.diagnostics.len();
        loaded.diagnostics.extend(self.diagnostics);
        for out in self.decoded {
            out.add_to(loaded);
        }
        loaded.diagnostics[first..].sort_by_key(|d| d.span.map_or(usize::MAX, |s| s.start));
    }
}

fn parse_file(file: FileId, text: &str) -> ParsedFile {
    let (documents, diagnostics) = yaml::parse_documents(file, text);
    let decoded = if text.len() >= PARALLEL_DECODE_MIN {
        crate::parallel::map(documents, |doc| decode::decode(file, text, doc))
    } else {
        documents
            .into_iter()
            .map(|doc| decode::decode(file, text, doc))
            .collect()
    };
    ParsedFile {
        diagnostics,
        decoded,
    }
}

/// Parses and decodes one text, adding it to `loaded.sources` under `name`.
/// The file's diagnostics come out in file order, whichever stage found them.
pub fn load_one_text(loaded: &mut Loaded, name: &str, text: String) {
    let file = loaded.sources.add(name, text);
    let parsed = parse_file(file, &loaded.sources.get(file).text);
    parsed.add_to(loaded);
}

/// Files smaller than this decode on one thread.
const PARALLEL_DECODE_MIN: usize = 1 << 20;

fn add_path(loaded: &mut Loaded, steps: &mut Vec<Step>, path: &Path) {
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        Err(e) => loaded.io_errors.push(io_error(&shown, &e)),
        Ok(meta) if meta.is_dir() => {
            let mut files = Vec::new();
            let mut errors = Vec::new();
            collect_manifests(path, &mut files, &mut errors);
            loaded.io_errors.extend(errors);
            if files.is_empty() {
                steps.push(Step::Warning(
                    Diagnostic::warning("P100", format!("no manifests found in directory `{shown}`"))
                        .with_help("palisade reads `*.yaml`, `*.yml` and `*.json` files (hidden ones are skipped)"),
                ));
            }
            for file in files {
                read_file(loaded, steps, &file);
            }
        }
        Ok(_) => read_file(loaded, steps, path),
    }
}

/// Depth-first, entries sorted by name, like `filepath.Walk` under `kubectl apply -R`.
fn collect_manifests(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(io_error(&dir.display().to_string(), &e));
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // `dir.join(name)` keeps the user's spelling of `dir` in the displayed name.
        let path = dir.join(entry.file_name());
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            collect_manifests(&path, files, errors);
        } else if has_manifest_extension(&path) && (file_type.is_file() || path.is_file()) {
            files.push(path);
        }
    }
}

fn has_manifest_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e))
}

fn read_file(loaded: &mut Loaded, steps: &mut Vec<Step>, path: &Path) {
    let shown = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => add_bytes(loaded, steps, &shown, bytes),
        Err(e) => loaded.io_errors.push(io_error(&shown, &e)),
    }
}

fn add_bytes(loaded: &mut Loaded, steps: &mut Vec<Step>, name: &str, bytes: Vec<u8>) {
    match String::from_utf8(bytes) {
        Ok(text) => steps.push(Step::File(loaded.sources.add(name, text))),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            loaded.io_errors.push(
                Diagnostic::error(
                    "P100",
                    format!(
                        "cannot read `{name}`: not valid UTF-8 at line {line} (byte offset {at})"
                    ),
                )
                .with_help("save the file as UTF-8"),
            );
        }
    }
}

fn io_error(name: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error("P100", format!("cannot read `{name}`: {e}"))
}
