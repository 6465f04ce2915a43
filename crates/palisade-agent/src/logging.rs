//! Log output: a subscriber for binaries, and diagnostics as one log line each.

use std::io::IsTerminal;
use std::path::Path;

use palisade_core::diag::Diagnostic;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event (colored on a terminal).
    #[default]
    Text,
    /// One JSON object per line, fields flattened: what log collectors (Loki, Elasticsearch,
    /// Cloud Logging) parse without a custom pattern.
    Json,
}

/// Logs to stderr as text, filtered by `RUST_LOG` (default `info`). For binaries and test
/// children; does nothing if a subscriber is already installed.
pub fn init_tracing() {
    init_tracing_as(LogFormat::Text);
}

/// [`init_tracing`] in the given format.
pub fn init_tracing_as(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// `dir/np.yaml:12:7: error[P221]: ... (NetworkPolicy prod/db, spec.ingress[0].ports[0].port); help: ...`
pub fn diagnostic(path: &Path, d: &Diagnostic) -> String {
    let mut line = match d.span {
        Some(span) => format!("{}:{}:{}: ", path.display(), span.line, span.column),
        None => format!("{}: ", path.display()),
    };
    line.push_str(&format!(
        "{}[{}]: {}",
        d.severity.as_str(),
        d.code,
        d.message
    ));
    match (&d.object, &d.field) {
        (Some(object), Some(field)) => line.push_str(&format!(" ({object}, {field})")),
        (Some(object), None) => line.push_str(&format!(" ({object})")),
        (None, Some(field)) => line.push_str(&format!(" ({field})")),
        (None, None) => {}
    }
    if let Some(help) = &d.help {
        line.push_str("; help: ");
        line.push_str(help);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::source::{FileId, Span};

    #[test]
    fn a_diagnostic_is_one_line_with_its_place() {
        let d = Diagnostic::error("P221", "port 0 is not in 1-65535")
            .with_object("NetworkPolicy prod/db")
            .with_field("spec.ingress[0].ports[0].port")
            .with_span(Some(Span {
                file: FileId(0),
                start: 0,
                end: 1,
                line: 12,
                column: 7,
            }))
            .with_help("use a port number between 1 and 65535");
        assert_eq!(
            diagnostic(Path::new("m/np.yaml"), &d),
            "m/np.yaml:12:7: error[P221]: port 0 is not in 1-65535 (NetworkPolicy prod/db, \
             spec.ingress[0].ports[0].port); help: use a port number between 1 and 65535"
        );
        let bare = Diagnostic::warning("P100", "empty");
        assert_eq!(
            diagnostic(Path::new("x.yaml"), &bare),
            "x.yaml: warning[P100]: empty"
        );
    }
}
