//! Diagnostics: what is wrong, where, and how to fix it.
//!
//! A [`Diagnostic`] is plain data. Rendering (text with the offending line underlined, JSON,
//! SARIF) belongs to the command line; this module only guarantees that every diagnostic can
//! name its file, line, column and field path when the input had one.

use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    /// Worth knowing, harmless as it stands (e.g. a redundant rule); never fails a run unless
    /// asked for by code.
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A stable identifier for a kind of problem (`P1xx` loading, `P2xx` validation, `P3xx` model).
pub type Code = &'static str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    /// One sentence: what is wrong. Starts lower-case, no trailing period (rustc style).
    pub message: String,
    /// The object it concerns, as `Kind namespace/name`, when known.
    pub object: Option<String>,
    /// Field path inside the object, e.g. `spec.egress[1].to`.
    pub field: Option<String>,
    /// Where in the input; `None` only for problems that have no place (e.g. an empty input).
    pub span: Option<Span>,
    /// Short text put under the underline.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, message)
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, message)
    }

    fn new(severity: Severity, code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            object: None,
            field: None,
            span: None,
            label: None,
            help: None,
        }
    }

    pub fn with_object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_span(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
