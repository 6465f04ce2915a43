//! Diagnostics as text (rustc-style, the offending text underlined, a `help:` line) and JSON.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use palisade_core::Analysis;
use palisade_core::diag::{Diagnostic, Severity};
use palisade_core::source::{Sources, Span};
use serde_json::{Value, json};

/// Every I/O error and diagnostic of `analysis`, each followed by a blank line.
pub fn render_text(analysis: &Analysis, color: bool) -> String {
    render_text_where(analysis, color, |_| true)
}

/// [`render_text`] for the diagnostics (and I/O errors) that `keep` accepts.
pub fn render_text_where(
    analysis: &Analysis,
    color: bool,
    keep: impl Fn(&Diagnostic) -> bool,
) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in analysis
        .io_errors
        .iter()
        .chain(&analysis.diagnostics)
        .filter(|d| keep(d))
    {
        out.push_str(&renderer.render(&report(d, &analysis.sources)));
        out.push_str("\n\n");
    }
    out
}

fn report<'a>(d: &'a Diagnostic, sources: &'a Sources) -> Vec<Group<'a>> {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    let title = match &d.field {
        Some(field) => format!("{field}: {}", d.message),
        None => d.message.clone(),
    };
    let mut group = Group::with_title(level.primary_title(title).id(d.code));
    if let Some(span) = d.span {
        let file = sources.get(span.file);
        let range = underline_range(&file.text, span);
        // Only the span's line is shown (the underline stops at its end): handing the
        // renderer that line rather than the whole file keeps thousands of findings in a
        // large file linear.
        let text = file.text.as_str();
        let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[range.start..]
            .find('\n')
            .map_or(text.len(), |i| range.start + i);
        let local = (range.start - line_start)..(range.end - line_start);
        let mut annotation = AnnotationKind::Primary.span(local);
        if let Some(label) = &d.label {
            annotation = annotation.label(label.as_str());
        }
        group = group.element(
            Snippet::source(&text[line_start..line_end])
                .path(file.name.as_str())
                .line_start(span.line as usize)
                .fold(true)
                .annotation(annotation),
        );
    }
    if let Some(object) = &d.object {
        group = group.element(Level::NOTE.message(format!("in {object}")));
    }
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    vec![group]
}

/// The bytes to underline: the span, cut at the end of its first line (a whole map would
/// otherwise be underlined), and at least one character wide.
fn underline_range(text: &str, span: Span) -> std::ops::Range<usize> {
    let start = span.start.min(text.len());
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let mut end = span.end.clamp(start, line_end);
    if end == start {
        end = text[start..line_end]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8());
    }
    start..end
}

/// 1-based line and column (in characters) of a byte offset.
#[cfg(test)]
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// 1-based line and column of the end of `span`, counted from its start (whose line and
/// column the span holds), so the cost follows the span, not the file.
pub fn end_of(text: &str, span: Span) -> (usize, usize) {
    let start = text.floor_char_boundary(span.start.min(text.len()));
    let end = text.floor_char_boundary(span.end.clamp(start, text.len()));
    let inside = &text[start..end];
    let newlines = inside.matches('\n').count();
    let line = span.line as usize + newlines;
    let column = match inside.rfind('\n') {
        Some(i) => inside[i + 1..].chars().count() + 1,
        None => span.column as usize + inside.chars().count(),
    };
    (line, column)
}

pub fn to_json(d: &Diagnostic, sources: &Sources) -> Value {
    let mut v = json!({
        "severity": d.severity.as_str(),
        "code": d.code,
        "message": d.message,
        "field": d.field,
        "object": d.object,
        "help": d.help,
    });
    if let Some(span) = d.span {
        let file = sources.get(span.file);
        let (end_line, end_column) = end_of(&file.text, span);
        v["file"] = json!(file.name);
        v["line"] = json!(span.line);
        v["column"] = json!(span.column);
        v["endLine"] = json!(end_line);
        v["endColumn"] = json!(end_column);
    }
    v
}

/// `check --format json`: every diagnostic and a summary of what was read.
pub fn render_json(analysis: &Analysis) -> String {
    let diagnostics: Vec<Value> = analysis
        .io_errors
        .iter()
        .chain(&analysis.diagnostics)
        .map(|d| to_json(d, &analysis.sources))
        .collect();
    let doc = json!({
        "diagnostics": diagnostics,
        "summary": summary_json(analysis),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

pub fn summary_json(analysis: &Analysis) -> Value {
    json!({
        "files": analysis.sources.len(),
        "objects": analysis.read,
        "skipped": analysis.skipped,
        "rejected": analysis.rejected,
        "errors": analysis.error_count() + analysis.io_errors.len(),
        "warnings": analysis.warning_count(),
        "notes": analysis.note_count(),
    })
}

/// One line: what was read and what was found.
pub fn summary_line(analysis: &Analysis) -> String {
    let objects: usize = analysis.read.values().sum();
    let kinds: Vec<String> = analysis
        .read
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    let mut line = format!(
        "checked {} file(s), {objects} object(s)",
        analysis.sources.len()
    );
    if !kinds.is_empty() {
        line.push_str(&format!(" ({})", kinds.join(", ")));
    }
    if !analysis.skipped.is_empty() {
        let skipped: Vec<String> = analysis
            .skipped
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        line.push_str(&format!("; skipped {}", skipped.join(", ")));
    }
    let errors = analysis.error_count() + analysis.io_errors.len();
    let warnings = analysis.warning_count();
    line.push_str(&format!(
        ": {errors} error{}, {warnings} warning{}",
        plural(errors),
        plural(warnings)
    ));
    let notes = analysis.note_count();
    if notes > 0 {
        line.push_str(&format!(", {notes} note{}", plural(notes)));
    }
    line
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "a: 1\nbé: x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        // end_of counts from the span's own start and must agree with counting from the top.
        for (start, end) in [(0, 3), (2, 7), (5, 10), (0, text.len())] {
            let (line, column) = line_col(text, start);
            let span = Span {
                file: palisade_core::source::FileId(0),
                start,
                end,
                line: line as u32,
                column: column as u32,
            };
            assert_eq!(end_of(text, span), line_col(text, end), "{start}..{end}");
        }
        assert_eq!(line_col(text, 5), (2, 1));
        // after "bé: " (é is two bytes)
        assert_eq!(line_col(text, 10), (2, 5));
    }
}
