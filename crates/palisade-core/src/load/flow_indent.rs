//! Flow collections indented the way kubectl accepts them.
//!
//! kubectl reads YAML with go-yaml, a port of libyaml, which does not look at indentation
//! inside a flow collection (`[...]`, `{...}`) at all: a continuation line may start with a tab
//! or sit left of the block that holds the collection. saphyr follows YAML 1.2 here and refuses
//! both ("tabs disallowed within this context", "invalid indentation in flow construct").
//!
//! When saphyr refuses a chunk for one of those reasons, [`relax`] rewrites the leading
//! whitespace of every line that starts inside a flow collection to plain spaces, one column
//! right of the collection's opening bracket, and the chunk is parsed again. Inside a flow
//! collection leading whitespace carries no meaning (line folding drops it from multi-line
//! scalars too), so the rewrite changes positions only; [`Relaxed::to_original`] maps them back.
//!
//! The scanner below only needs to know where flow collections start and end, so it tracks
//! quotes, comments and block scalars (whose lines may hold brackets) and nothing else.

/// saphyr's messages for indentation that go-yaml does not check inside flow collections.
pub const FLOW_INDENT_ERRORS: [&str; 2] = [
    "tabs disallowed within this context (block indentation)",
    "invalid indentation in flow construct",
];

/// A chunk with its flow continuation lines re-indented.
pub struct Relaxed {
    pub text: String,
    /// Byte offset in the original chunk of every character of `text`, plus its end.
    pub to_original: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq)]
enum Quote {
    Single,
    Double,
}

/// Scanner state carried from line to line.
struct Scan {
    /// Column (in characters) of the outermost open flow collection, and the nesting depth.
    flow_col: usize,
    flow_depth: usize,
    quote: Option<Quote>,
    /// The last character that was neither blank nor in a comment; `'\n'` at the start of a
    /// block-context line.
    prev_sig: char,
    /// Indentation of the line that opened a block scalar whose content lines follow.
    block_scalar: Option<usize>,
}

/// Returns `None` when no line starts inside a flow collection with whitespace to rewrite.
pub fn relax(text: &str) -> Option<Relaxed> {
    let mut scan = Scan {
        flow_col: 0,
        flow_depth: 0,
        quote: None,
        prev_sig: '\n',
        block_scalar: None,
    };
    let mut out = String::with_capacity(text.len() + 64);
    let mut map = Vec::with_capacity(text.len() + 65);
    let mut changed = false;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_start_matches([' ', '\t']);
        let lead = &line[..line.len() - content.len()];
        let blank = content.trim_end_matches(['\r', '\n']).is_empty();
        if let Some(indent) = scan.block_scalar {
            if blank || lead.len() > indent && !lead.contains('\t') {
                copy(&mut out, &mut map, line, line_start);
                line_start += line.len();
                continue;
            }
            scan.block_scalar = None;
        }
        let needed = scan.flow_col + 1;
        let rewrite = scan.flow_depth > 0 && (lead.contains('\t') || lead.len() < needed);
        if rewrite {
            changed = true;
            let content_at = line_start + lead.len();
            for _ in 0..needed {
                out.push(' ');
                map.push(content_at);
            }
            copy(&mut out, &mut map, content, content_at);
        } else {
            copy(&mut out, &mut map, line, line_start);
        }
        if scan.flow_depth == 0 && scan.quote.is_none() && is_document_marker(line) {
            scan.prev_sig = '\n';
        } else {
            let col = if rewrite {
                needed
            } else {
                lead.chars().count()
            };
            scan.line(content, col, lead.len());
        }
        line_start += line.len();
    }
    map.push(text.len());
    changed.then_some(Relaxed {
        text: out,
        to_original: map,
    })
}

fn copy(out: &mut String, map: &mut Vec<usize>, s: &str, at: usize) {
    out.push_str(s);
    map.extend(s.char_indices().map(|(i, _)| at + i));
}

fn is_document_marker(line: &str) -> bool {
    ["---", "..."].iter().any(|m| {
        line.strip_prefix(m).is_some_and(|rest| {
            rest.trim_end_matches(['\r', '\n']).is_empty() || rest.starts_with([' ', '\t'])
        })
    })
}

impl Scan {
    /// Scans `content`, a line without its leading whitespace, that starts at column `col`
    /// of a line indented by `indent` bytes.
    fn line(&mut self, content: &str, col: usize, indent: usize) {
        let mut prev_blank = true;
        let mut chars = content.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            match self.quote {
                Some(Quote::Double) => {
                    if c == '\\' {
                        chars.next();
                    } else if c == '"' {
                        self.quote = None;
                        self.prev_sig = c;
                    }
                    continue;
                }
                Some(Quote::Single) => {
                    if c == '\'' {
                        if chars.peek().is_some_and(|&(_, n)| n == '\'') {
                            chars.next();
                        } else {
                            self.quote = None;
                            self.prev_sig = c;
                        }
                    }
                    continue;
                }
                None => {}
            }
            let blank = matches!(c, ' ' | '\t' | '\r' | '\n');
            if blank {
                prev_blank = true;
                continue;
            }
            if c == '#' && prev_blank {
                break;
            }
            let at_token_start = self.at_token_start(prev_blank);
            match c {
                '[' | '{' if self.flow_depth > 0 || at_token_start => {
                    if self.flow_depth == 0 {
                        self.flow_col = col + i;
                    }
                    self.flow_depth += 1;
                }
                ']' | '}' if self.flow_depth > 0 => self.flow_depth -= 1,
                '"' if at_token_start => self.quote = Some(Quote::Double),
                '\'' if at_token_start => self.quote = Some(Quote::Single),
                '|' | '>' if self.flow_depth == 0 && at_token_start => {
                    self.block_scalar = Some(indent);
                }
                _ => {}
            }
            prev_blank = false;
            self.prev_sig = c;
        }
        if self.flow_depth == 0 && self.quote.is_none() {
            self.prev_sig = '\n';
        }
    }

    /// Whether a node may start here: where a bracket opens a collection and a quote a
    /// scalar, rather than being part of a plain scalar.
    fn at_token_start(&self, prev_blank: bool) -> bool {
        if self.flow_depth > 0 {
            matches!(self.prev_sig, '[' | '{' | ',' | ':' | '?')
        } else {
            self.prev_sig == '\n' || prev_blank && matches!(self.prev_sig, ':' | '-' | '?')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relaxed(text: &str) -> String {
        relax(text)
            .map(|r| r.text)
            .unwrap_or_else(|| text.to_string())
    }

    #[test]
    fn tabs_and_shallow_lines_inside_flow_become_spaces() {
        let text = "spec:\n  policyTypes: [\n\tIngress,\nEgress]\n";
        assert_eq!(
            relaxed(text),
            "spec:\n  policyTypes: [\n                Ingress,\n                Egress]\n"
        );
    }

    #[test]
    fn positions_map_back_to_the_original() {
        let text = "a: [\n\tb]\n";
        let r = relax(text).unwrap();
        let b = r.text.find('b').unwrap();
        let char_index = r.text[..b].chars().count();
        assert_eq!(r.to_original[char_index], text.find('b').unwrap());
        assert_eq!(*r.to_original.last().unwrap(), text.len());
        assert_eq!(r.to_original.len(), r.text.chars().count() + 1);
    }

    #[test]
    fn block_context_is_left_alone() {
        for text in [
            "a: b[0]\n\tc\n",
            "a: 'x [\n\ty'\n",
            "a: |\n  [x\n\ty\n",
            "a: b # [\n\tc\n",
            "a: [x] # ok\n\tb\n",
        ] {
            assert!(relax(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn quotes_and_comments_inside_flow_do_not_close_it() {
        let text = "a: [\"]\", 'it''s ]', x # ]\n\ty]\n";
        assert_eq!(relaxed(text), "a: [\"]\", 'it''s ]', x # ]\n    y]\n");
    }

    #[test]
    fn a_plain_scalar_may_hold_a_quote_inside_flow() {
        let text = "a: [it's, b,\n\tc]\n";
        assert_eq!(relaxed(text), "a: [it's, b,\n    c]\n");
    }
}
