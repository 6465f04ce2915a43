//! Turning command line paths into an analysis, and the reporting every command shares.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use palisade_core::Analysis;
use palisade_core::diag::Diagnostic;
use palisade_core::load::{self, Input};
use palisade_kube::{ClusterTarget, Snapshot};

use crate::cli::{ClusterArgs, Inputs};
use crate::render::diagnostics;
use crate::{ColorChoice, Exit};

impl Inputs {
    /// The paths, then the cluster's snapshot when `--cluster` is given. `Err`: the cluster
    /// could not be read (said on stderr); stop with that exit code.
    pub fn resolve(&self) -> Result<Vec<Input>, Exit> {
        let mut inputs = to_inputs(&self.paths);
        if self.cluster.cluster {
            let snapshot = read_cluster(&self.cluster)?;
            inputs.push(Input::Text {
                name: snapshot.name,
                text: snapshot.text,
            });
        }
        Ok(inputs)
    }
}

/// Lists the cluster once; a failure is reported on stderr as a usage/I/O error (exit 2).
pub fn read_cluster(args: &ClusterArgs) -> Result<Snapshot, Exit> {
    let target = ClusterTarget {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    palisade_kube::snapshot_blocking(&target).map_err(|e| {
        eprintln!("error: cannot read the cluster: {e}");
        Exit::Usage
    })
}

/// `snapshot` with `changes` applied the way `kubectl apply` would: every object of the
/// snapshot that a change file also defines (same kind, namespace and name) is left out, so
/// the change's version replaces it instead of conflicting with it.
pub fn apply_changes(snapshot: &Snapshot, changes: &[Input]) -> Snapshot {
    let loaded = load::load(changes);
    let replaced: HashSet<(String, String, String)> = loaded
        .objects
        .iter()
        .map(|o| identity_of(o.object.kind(), o.object.metadata()))
        .collect();
    let text = match serde_json::from_str::<serde_json::Value>(&snapshot.text) {
        Ok(mut list) => {
            if let Some(items) = list.get_mut("items").and_then(|i| i.as_array_mut()) {
                items.retain(|item| {
                    let meta = item.get("metadata");
                    let field = |name: &str| {
                        meta.and_then(|m| m.get(name))
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let kind = item
                        .get("kind")
                        .and_then(|k| k.as_str())
                        .unwrap_or_default();
                    let namespace = match kind {
                        "Namespace" => String::new(),
                        _ => non_empty_or_default(field("namespace")),
                    };
                    !replaced.contains(&(kind.to_string(), namespace, field("name")))
                });
            }
            serde_json::to_string_pretty(&list).unwrap_or_else(|_| snapshot.text.clone())
        }
        // Not JSON (cannot happen with palisade-kube's snapshots): keep it whole; duplicates
        // are then reported as conflicts rather than silently dropped.
        Err(_) => snapshot.text.clone(),
    };
    Snapshot {
        name: format!("{} (with the change applied)", snapshot.name),
        text,
    }
}

fn identity_of(
    kind: &str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> (String, String, String) {
    let namespace = match kind {
        "Namespace" => String::new(),
        _ => non_empty_or_default(meta.namespace.clone().unwrap_or_default()),
    };
    (
        kind.to_string(),
        namespace,
        meta.name.clone().unwrap_or_default(),
    )
}

/// Objects without a namespace go to `default`, as kubectl puts them.
fn non_empty_or_default(namespace: String) -> String {
    if namespace.is_empty() {
        "default".to_string()
    } else {
        namespace
    }
}

pub fn to_inputs(paths: &[PathBuf]) -> Vec<Input> {
    paths
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::Path(p.clone())
            }
        })
        .collect()
}

/// Analyzes the inputs for a command that answers questions (explain, reach, why): problems go
/// to stderr, and the caller learns whether it may go on (`Err` = stop with that exit code).
///
/// Invalid objects are left out of the answer, so an answer given despite errors could be wrong:
/// the command still answers from what is valid, and its exit code is then 1.
pub fn analyze_for_answer(inputs: &[Input], color: ColorChoice) -> Result<Analysis, Exit> {
    let analysis = palisade_core::analyze(inputs);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(diagnostics::render_text(&analysis, color.for_stderr()).as_bytes());
    if !analysis.io_errors.is_empty() {
        return Err(Exit::Usage);
    }
    if analysis.rejected > 0 {
        let _ = writeln!(
            stderr,
            "warning: {} invalid object(s) left out; the answer below ignores them",
            analysis.rejected
        );
    }
    Ok(analysis)
}

/// When some input was invalid, the sentence an answer must start with: objects with errors
/// are left out, so the answer is about the others only. `None` when every object was valid.
/// Text outputs print it as their first line (as a comment where the format has comments);
/// JSON outputs keep their shape and rely on stderr and the exit code.
pub fn invalid_note(analysis: &Analysis) -> Option<String> {
    let errors: Vec<&palisade_core::diag::Diagnostic> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    if errors.is_empty() {
        return None;
    }
    let mut places: Vec<String> = errors
        .iter()
        .take(3)
        .map(|d| {
            let place = d
                .span
                .map(|s| palisade_core::source::Location::of(&s, &analysis.sources).to_string())
                .unwrap_or_else(|| "input".to_string());
            match &d.object {
                Some(object) => format!("{place} {object}"),
                None => place,
            }
        })
        .collect();
    if errors.len() > 3 {
        places.push(format!("{} more", errors.len() - 3));
    }
    Some(format!(
        "warning: {} error(s) in the inputs ({}); objects with errors are left out and this answer ignores them",
        errors.len(),
        places.join("; ")
    ))
}

/// [`invalid_note`] as the first line of a text answer (empty when there is nothing to say).
pub fn invalid_first_line(analysis: &Analysis, comment: &str) -> String {
    invalid_note(analysis)
        .map(|note| format!("{comment}{note}\n"))
        .unwrap_or_default()
}

/// The exit code of an answering command once its answer is printed, letting go of the
/// analysis without freeing it: the process exits next, and freeing the document trees of a
/// large cluster node by node costs a tenth of the run, where the kernel takes the pages back
/// at once.
pub fn finish(analysis: Analysis) -> Exit {
    let exit = answer_exit(&analysis);
    std::mem::forget(analysis);
    exit
}

/// The exit code of an answering command once its answer is printed.
pub fn answer_exit(analysis: &Analysis) -> Exit {
    if analysis.error_count() > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    }
}

/// The two sides of a comparison (`diff`): `base` + `old` and `base` + `new`, analyzed
/// separately. Problems go to stderr once: a problem in a base file is found on both sides but
/// printed only with the old side. `Err` = stop with that exit code.
pub fn analyze_sides(
    base: &[PathBuf],
    old: &[Input],
    new: &[Input],
    color: ColorChoice,
) -> Result<(Analysis, Analysis), Exit> {
    let is_stdin = |i: &Input| matches!(i, Input::Stdin);
    if base.iter().any(|p| p.as_os_str() == "-")
        || (old.iter().any(is_stdin) && new.iter().any(is_stdin))
    {
        let _ = writeln!(
            std::io::stderr(),
            "error: standard input (`-`) can be read once: use it for OLD or NEW, not for \
             --base nor for both"
        );
        return Err(Exit::Usage);
    }
    let (old, new) = palisade_core::analyze_pair(&to_inputs(base), old, new);
    // Locked once the sides are read: loading may warn from its own threads.
    let mut stderr = std::io::stderr().lock();
    let color = color.for_stderr();
    let key = |a: &Analysis, d: &Diagnostic| {
        let place = d
            .span
            .map(|s| (a.sources.get(s.file).name.clone(), s.start));
        (place, d.code, d.message.clone())
    };
    let seen: HashSet<_> = old
        .io_errors
        .iter()
        .chain(&old.diagnostics)
        .map(|d| key(&old, d))
        .collect();
    let _ = stderr.write_all(diagnostics::render_text(&old, color).as_bytes());
    let _ = stderr.write_all(
        diagnostics::render_text_where(&new, color, |d| !seen.contains(&key(&new, d))).as_bytes(),
    );
    if !old.io_errors.is_empty() || !new.io_errors.is_empty() {
        return Err(Exit::Usage);
    }
    for (label, a) in [("old", &old), ("new", &new)] {
        if a.rejected > 0 {
            let _ = writeln!(
                stderr,
                "warning: {} invalid object(s) left out of the {label} side; the answer below \
                 ignores them",
                a.rejected
            );
        }
    }
    Ok((old, new))
}
