//! YAML/JSON text -> one spanned [`Node`] tree per document.
//!
//! ```text
//!   text ──saphyr-parser events──> frames (one per open map/list) ──> Node per document
//!          │                         │ anchors kept per document, aliases cloned (capped)
//!          │                         │ keys typed then stringified, duplicates rejected,
//!          │                         │ `<<` merge keys applied when the map closes
//!          └─ syntax error ──> P101, skip to the next `---` line and go on
//! ```
//!
//! Scalars are typed with go-yaml v2's YAML 1.1 rules ([`super::scalar`]) because kubectl
//! converts YAML to JSON with them before anything reaches the API server. JSON is YAML flow
//! syntax and takes the same road.
//!
//! saphyr reports positions in characters; [`Span`]s hold byte offsets, so every marker is
//! converted through [`Positions`].

use rustc_hash::FxHashMap;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span as ParserSpan, Tag};

use super::flow_indent::{self, FLOW_INDENT_ERRORS, Relaxed};
use super::scalar::{self, CoreScalarTag};
use super::syntax::{self, Lines, find_forbidden_char, to_u32};
use super::tree::{Key, Node, Value};
use crate::diag::Diagnostic;
use crate::path::FieldPath;
use crate::source::{FileId, Span};

/// Nodes an alias may add to one document. go-yaml guards the same way against "billion
/// laughs" documents; a real manifest stays far below.
pub const ALIAS_EXPANSION_LIMIT: usize = 200_000;

/// Deepest nesting accepted. Kubernetes objects nest about 20 levels (a CronJob's container
/// ports); the limit keeps every later recursive walk of the tree well inside the stack.
pub const MAX_DEPTH: usize = 200;

/// Parses every document of `text`. A syntax error drops the document it is in; parsing
/// resumes at the next `---` line, so later documents are still read (kubectl splits files on
/// such lines too). Duplicate keys, bad tags and invalid keys are reported and their document
/// dropped. Empty and null documents are skipped, as `kubectl apply` skips them.
pub fn parse_documents(file: FileId, text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
    // Plain JSON (`kubectl get -o json`) takes a reader many times faster, which builds the
    // same tree; anything else, and every error, takes the YAML parser.
    if let Some(root) = super::json_text::parse(file, text) {
        return (vec![root], Vec::new());
    }
    let pos = Positions::new(text);
    let lines = Lines::new(text);
    let threads = crate::parallel::threads();
    let parts = split_points(text, &lines, threads);
    if parts.len() <= 2 {
        if threads > 1 && text.len() >= PARALLEL_PARSE_MIN {
            let parsed = parse_split_list(file, text, &pos, &lines, threads)
                .or_else(|| parse_split_json_list(file, text, &lines));
            if let Some(parsed) = parsed {
                return parsed;
            }
        }
        return parse_range(file, text, &pos, &lines, 0, text.len());
    }
    // kubectl splits a stream at `---` lines before parsing, so the stretches between chosen
    // `---` lines parse alone to the same documents, and do so side by side.
    let ranges: Vec<(usize, usize)> = parts.windows(2).map(|w| (w[0], w[1])).collect();
    let results = crate::parallel::map(ranges, |(start, end)| {
        parse_range(file, text, &pos, &lines, start, end)
    });
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    for (d, g) in results {
        docs.extend(d);
        diags.extend(g);
    }
    (docs, diags)
}

/// Text smaller than this is parsed by one thread: starting another costs more.
const PARALLEL_PARSE_MIN: usize = 1 << 20;

/// `0`, then up to `threads - 1` starts of `---` lines spread evenly over the text, then its
/// length.
fn split_points(text: &str, lines: &Lines<'_>, threads: usize) -> Vec<usize> {
    let mut points = vec![0];
    if text.len() >= PARALLEL_PARSE_MIN {
        for k in 1..threads {
            let target = text.len() / threads * k;
            let last = *points.last().unwrap_or(&0);
            if let Some(at) = lines.next_separator_from(target.max(last), last)
                && at > last
                && at < text.len()
            {
                points.push(at);
            }
        }
    }
    points.push(text.len());
    points
}

fn parse_range(
    file: FileId,
    text: &str,
    pos: &Positions,
    lines: &Lines<'_>,
    start: usize,
    end: usize,
) -> (Vec<Node>, Vec<Diagnostic>) {
    if let Some(docs) = super::json_text::parse_stream(file, text, start, end, lines.line_of(start))
    {
        return (docs, Vec::new());
    }
    let (docs, diags, _) = parse_documentwise(file, text, pos, lines, start, end);
    (docs, diags)
}

/// [`parse_range_counting`], document by document: a document in the subset of block YAML
/// that exports are written in is read by [`super::block_yaml`], any other by the YAML parser
/// alone (cutting at `---` lines changes nothing, see [`parse_documents`]).
fn parse_documentwise(
    file: FileId,
    text: &str,
    pos: &Positions,
    lines: &Lines<'_>,
    start: usize,
    end: usize,
) -> (Vec<Node>, Vec<Diagnostic>, usize) {
    let (mut docs, mut diags, mut anchors) = (Vec::new(), Vec::new(), 0);
    let mut at = start;
    while at < end {
        let next = lines
            .next_separator_from(at, at)
            .filter(|&n| n < end)
            .unwrap_or(end);
        match super::block_yaml::document(file, text, at, next, lines.line_of(at)) {
            Some(doc) => docs.extend(doc),
            None => {
                let (d, g, a) = parse_range_counting(file, text, pos, lines, at, next);
                docs.extend(d);
                diags.extend(g);
                anchors += a;
            }
        }
        at = next;
    }
    (docs, diags, anchors)
}

/// Every document of `text` read by the YAML parser alone, in one stretch: what the fast
/// readers are compared with, in tests here and in other crates.
#[doc(hidden)]
pub fn parse_by_yaml_alone(file: FileId, text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
    parse_stretch_by_yaml_alone(file, text, 0, text.len())
}

/// [`parse_by_yaml_alone`] of `text[start..end]`, positions in the whole text.
#[doc(hidden)]
pub fn parse_stretch_by_yaml_alone(
    file: FileId,
    text: &str,
    start: usize,
    end: usize,
) -> (Vec<Node>, Vec<Diagnostic>) {
    let (docs, diags, _) = parse_range_counting(
        file,
        text,
        &Positions::new(text),
        &Lines::new(text),
        start,
        end,
    );
    (docs, diags)
}

/// [`parse_range`], with the number of anchors the stretch defines.
fn parse_range_counting(
    file: FileId,
    text: &str,
    pos: &Positions,
    lines: &Lines<'_>,
    start: usize,
    end: usize,
) -> (Vec<Node>, Vec<Diagnostic>, usize) {
    let mut builder = Builder {
        file,
        text,
        limit: end,
        pos,
        lines,
        docs: Vec::new(),
        diags: Vec::new(),
        doc: DocState::default(),
        chunk: Chunk::default(),
        relaxed: None,
        anchors: 0,
    };
    builder.run(start);
    (builder.docs, builder.diags, builder.anchors)
}

/// A big single-document `List` as `kubectl get -o yaml` writes it: `items:` at the left
/// margin, each item a `- ` line there. Its items are parsed in stretches side by side and
/// put back into the one document. Anything unusual (a finding, an anchor, a comment or tab at
/// the margin, keys around `items` that clash) gives `None`, and the file is parsed whole.
fn parse_split_list(
    file: FileId,
    text: &str,
    pos: &Positions,
    lines: &Lines<'_>,
    threads: usize,
) -> Option<(Vec<Node>, Vec<Diagnostic>)> {
    let layout = list_layout(text)?;
    let cuts = even_cuts(&layout.item_starts, layout.items_end, threads);
    let mut ranges = vec![(0, layout.items_start)];
    ranges.extend(cuts.windows(2).map(|w| (w[0], w[1])));
    ranges.push((layout.items_end, text.len()));
    let mut parts = crate::parallel::map(ranges, |(start, end)| {
        parse_documentwise(file, text, pos, lines, start, end)
    });
    if parts
        .iter()
        .any(|(_, diags, anchors)| !diags.is_empty() || *anchors > 0)
    {
        return None;
    }
    let (tail, _, _) = parts.pop()?;
    let mut parts = parts.into_iter();
    let (head, _, _) = parts.next()?;
    let [head] = <[Node; 1]>::try_from(head).ok()?;
    let Value::Map(mut entries) = head.value else {
        return None;
    };
    let (items_key, items_value) = entries.pop()?;
    if items_key.name != "items" || items_value.value != Value::Null {
        return None;
    }
    let mut items = Vec::new();
    let mut items_span: Option<Span> = None;
    for (docs, _, _) in parts {
        let [seq] = <[Node; 1]>::try_from(docs).ok()?;
        let Value::Seq(run) = seq.value else {
            return None;
        };
        items_span = Some(match items_span {
            None => seq.span,
            Some(span) => Span {
                end: seq.span.end,
                ..span
            },
        });
        items.extend(run);
    }
    let items_span = items_span?;
    // The whole document's depth limit counts from its root: items sit two levels down.
    if items.iter().any(|n| height(n) + 2 > MAX_DEPTH) {
        return None;
    }
    let mut end = items_span.end;
    entries.push((
        items_key,
        Node {
            span: items_span,
            value: Value::Seq(items),
        },
    ));
    match <[Node; 1]>::try_from(tail) {
        Ok([tail]) => {
            let Value::Map(more) = tail.value else {
                return None;
            };
            if more
                .iter()
                .any(|(k, _)| entries.iter().any(|(e, _)| e.name == k.name))
            {
                return None;
            }
            end = tail.span.end;
            entries.extend(more);
        }
        Err(tail) if tail.is_empty() => {}
        Err(_) => return None,
    }
    let root = Node {
        span: Span { end, ..head.span },
        value: Value::Map(entries),
    };
    Some((vec![root], Vec::new()))
}

/// A big pretty-printed JSON `List` (`kubectl get -o json`): `"items": [` on its own line,
/// each item a `{` ... `}` block at one indentation. Each item is parsed alone (a JSON object is
/// a YAML document), side by side; the rest of the file is parsed with the items blanked out
/// (every byte but line breaks turned into a space, so that positions stay), and the items go
/// back in. Anything unusual gives `None`, and the file is parsed whole.
fn parse_split_json_list(
    file: FileId,
    text: &str,
    lines: &Lines<'_>,
) -> Option<(Vec<Node>, Vec<Diagnostic>)> {
    if !text.is_ascii() {
        return None;
    }
    let items = json_list_items(text)?;
    let threads = crate::parallel::threads();
    let per = items.len().div_ceil(threads).max(1);
    let runs: Vec<&[(usize, usize)]> = items.chunks(per).collect();
    let pos = Positions::new(text);
    let parsed = crate::parallel::map(runs, |run| {
        let mut nodes = Vec::with_capacity(run.len());
        for &(start, end) in run {
            let (docs, diags, anchors) = parse_range_counting(file, text, &pos, lines, start, end);
            let [item] = <[Node; 1]>::try_from(docs).ok()?;
            if !diags.is_empty() || anchors > 0 || !matches!(item.value, Value::Map(_)) {
                return None;
            }
            nodes.push(item);
        }
        Some(nodes)
    });
    let mut skeleton = text.as_bytes().to_vec();
    let (first, last) = (items.first()?.0, items.last()?.1);
    for b in &mut skeleton[first..last] {
        if *b != b'\n' && *b != b'\r' {
            *b = b' ';
        }
    }
    // Blanking ASCII keeps it UTF-8.
    let skeleton = String::from_utf8(skeleton).ok()?;
    let skeleton_lines = Lines::new(&skeleton);
    let (docs, diags, _) = parse_range_counting(
        file,
        &skeleton,
        &Positions::new(&skeleton),
        &skeleton_lines,
        0,
        skeleton.len(),
    );
    let [mut root] = <[Node; 1]>::try_from(docs).ok()?;
    if !diags.is_empty() {
        return None;
    }
    let Value::Map(entries) = &mut root.value else {
        return None;
    };
    let (_, slot) = entries.iter_mut().find(|(k, _)| k.name == "items")?;
    if slot.value != Value::Seq(Vec::new()) {
        return None;
    }
    let mut all = Vec::with_capacity(items.len());
    for run in parsed {
        all.extend(run?);
    }
    if all.iter().any(|n| height(n) + 2 > MAX_DEPTH) {
        return None;
    }
    slot.value = Value::Seq(all);
    Some((vec![root], Vec::new()))
}

/// The byte ranges of the items of a pretty-printed JSON `List`, from the start of each item's
/// `{` line to just after its closing `}`.
fn json_list_items(text: &str) -> Option<Vec<(usize, usize)>> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let mut offset = 0;
    let mut indent: Option<&str> = None;
    let mut in_items = false;
    let mut open: Option<usize> = None;
    let mut items = Vec::new();
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        if !in_items {
            if body.trim() == "\"items\": [" {
                in_items = true;
            }
            continue;
        }
        let trimmed = body.trim_start();
        let lead = &body[..body.len() - trimmed.len()];
        match (open, trimmed) {
            (None, "{") => {
                if *indent.get_or_insert(lead) != lead {
                    return None;
                }
                open = Some(at);
            }
            (None, "]" | "],") if indent.is_none_or(|i| lead.len() < i.len()) => break,
            (None, _) => return None,
            (Some(start), "}" | "},") if Some(lead) == indent => {
                items.push((start, at + lead.len() + 1));
                open = None;
            }
            (Some(_), _) => {}
        }
    }
    (open.is_none() && !items.is_empty()).then_some(items)
}

fn height(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(height).max().unwrap_or(0),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| height(v)).max().unwrap_or(0),
        _ => 1,
    }
}

/// Where a margin `items:` list lies in a single-document file.
struct ListLayout {
    /// The line after `items:`.
    items_start: usize,
    /// The start of every `- ` line at the margin below it.
    item_starts: Vec<usize>,
    /// The first margin line after the items (or the end of the text).
    items_end: usize,
}

fn list_layout(text: &str) -> Option<ListLayout> {
    let mut offset = 0;
    let mut items_start = None;
    let mut item_starts = Vec::new();
    let mut items_end = text.len();
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let first = body.chars().next();
        if body.starts_with("---") || body.starts_with("...") {
            if at == 0 && items_start.is_none() {
                continue;
            }
            return None;
        }
        if matches!(first, Some('#' | '\t' | '%')) {
            return None;
        }
        match items_start {
            None => {
                if body == "items:" {
                    items_start = Some(offset);
                }
            }
            Some(_) if items_end < text.len() => {}
            Some(_) => match first {
                Some('-') if body == "-" || body.starts_with("- ") => item_starts.push(at),
                None | Some(' ') => {}
                Some(_) => items_end = at,
            },
        }
    }
    let items_start = items_start?;
    if item_starts.first() != Some(&items_start) {
        return None;
    }
    Some(ListLayout {
        items_start,
        item_starts,
        items_end,
    })
}

/// Up to `threads` runs of whole items of about equal size: the first item's start, the chosen
/// item starts in between, and the end of the items.
fn even_cuts(item_starts: &[usize], end: usize, threads: usize) -> Vec<usize> {
    let first = item_starts.first().copied().unwrap_or(end);
    let mut cuts = vec![first];
    let size = end - first;
    for k in 1..threads {
        let target = first + size / threads * k;
        let i = item_starts.partition_point(|&s| s < target);
        if let Some(&at) = item_starts.get(i)
            && at > *cuts.last().unwrap_or(&first)
            && at < end
        {
            cuts.push(at);
        }
    }
    cuts.push(end);
    cuts
}

/// Character index -> byte offset.
struct Positions {
    /// Byte offset of every character, plus the text length; empty for ASCII text, where the
    /// two coincide.
    offsets: Vec<usize>,
    len: usize,
}

impl Positions {
    fn new(text: &str) -> Positions {
        let offsets = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect()
        };
        Positions {
            offsets,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.offsets.is_empty() {
            char_index.min(self.len)
        } else {
            self.offsets.get(char_index).copied().unwrap_or(self.len)
        }
    }

    fn char_index(&self, byte: usize) -> usize {
        if self.offsets.is_empty() {
            byte
        } else {
            self.offsets.partition_point(|&b| b < byte)
        }
    }
}

/// The slice of the text one parser instance sees: from a line start to the end of the text
/// or to the first forbidden character.
#[derive(Debug, Default, Clone, Copy)]
struct Chunk {
    start_byte: usize,
    end_byte: usize,
    start_char: usize,
    /// Lines before the chunk, added to saphyr's 1-based lines.
    line_offset: usize,
    /// The chunk stops at a forbidden character: the document running into it is incomplete.
    poisoned: bool,
}

/// A finished node on its way to its parent.
struct Built {
    node: Node,
    size: usize,
    height: usize,
    /// A plain, untagged `<<` (or `!!merge`) key.
    merge_key: bool,
    /// Where the node's text ends in the source: for an alias, the alias itself rather than
    /// the anchored node it copies.
    src_end: usize,
}

impl Built {
    /// A null leaf standing in for a node that could not be built (a bad alias, a skipped
    /// subtree), so the parent's key/value pairing stays intact; the document fails anyway.
    fn placeholder(span: Span) -> Built {
        Built {
            node: Node {
                span,
                value: Value::Null,
            },
            size: 1,
            height: 1,
            merge_key: false,
            src_end: span.end,
        }
    }
}

struct Anchored {
    node: Node,
    size: usize,
    height: usize,
}

enum Pending {
    None,
    Key(Key),
    Merge(Span),
    /// The key was invalid (already reported): drop its value.
    Skip,
}

struct MapFrame {
    entries: Vec<(Key, Node)>,
    /// Key name -> line, built once the map is large enough for a scan to cost more.
    index: Option<FxHashMap<String, u32>>,
    pending: Pending,
    merges: Vec<Node>,
    merge_seen: Option<Span>,
}

impl MapFrame {
    /// Small maps are scanned; from this size on, keys are hashed.
    const INDEX_FROM: usize = 16;

    /// The line of the entry named `name`, if there is one.
    fn line_of(&self, name: &str) -> Option<u32> {
        match &self.index {
            Some(index) => index.get(name).copied(),
            None => self
                .entries
                .iter()
                .find(|(k, _)| k.name == name)
                .map(|(k, _)| k.span.line),
        }
    }

    fn push(&mut self, key: Key, value: Node) {
        if self.index.is_none() && self.entries.len() + 1 >= Self::INDEX_FROM {
            let index = self
                .entries
                .iter()
                .map(|(k, _)| (k.name.clone(), k.span.line));
            self.index = Some(index.collect());
        }
        if let Some(index) = &mut self.index {
            index.insert(key.name.clone(), key.span.line);
        }
        self.entries.push((key, value));
    }
}

enum FrameKind {
    Seq(Vec<Node>),
    Map(MapFrame),
}

struct Frame {
    start: Span,
    anchor: usize,
    kind: FrameKind,
    size: usize,
    height: usize,
    src_end: usize,
}

#[derive(Default)]
struct DocState {
    frames: Vec<Frame>,
    /// Depth of collections opened beyond [`MAX_DEPTH`] and not closed yet: their content is
    /// dropped.
    skipping: usize,
    anchors: FxHashMap<usize, Anchored>,
    failed: bool,
    expanded: usize,
    root: Option<Node>,
    reported_depth: bool,
    reported_expansion: bool,
}

struct Builder<'t> {
    file: FileId,
    /// The whole file; this builder parses it from where `run` starts to `limit`.
    text: &'t str,
    limit: usize,
    pos: &'t Positions,
    lines: &'t Lines<'t>,
    docs: Vec<Node>,
    diags: Vec<Diagnostic>,
    doc: DocState,
    chunk: Chunk,
    /// While the current chunk is parsed with its flow collections re-indented (saphyr
    /// refused their indentation, see [`flow_indent`]): the chunk byte of every character.
    relaxed: Option<Vec<usize>>,
    /// Anchors defined so far (a stretch holding one cannot be parsed apart from the rest).
    anchors: usize,
}

impl<'t> Builder<'t> {
    fn run(&mut self, from: usize) {
        let mut start = from;
        let text = self.text.get(..self.limit).unwrap_or(self.text);
        while start <= text.len() {
            let poison = find_forbidden_char(text, start);
            let end = poison.map_or(text.len(), |(b, _)| b);
            self.chunk = Chunk {
                start_byte: start,
                end_byte: end,
                start_char: self.pos.char_index(start),
                line_offset: self.lines.line_of(start) - 1,
                poisoned: poison.is_some(),
            };
            let syntax_error = self.parse_chunk();
            let stop = match (syntax_error, poison) {
                (Some(err_byte), _) => err_byte,
                (None, Some((at, c))) => {
                    self.report_forbidden_char(at, c);
                    at
                }
                (None, None) => break,
            };
            match self.lines.next_separator_from(stop, start) {
                Some(next) if next < text.len() => start = next,
                _ => break,
            }
        }
    }

    /// Runs one parser over the current chunk. Returns the byte offset of a syntax error.
    ///
    /// A chunk refused only for indentation inside a flow collection, which kubectl does not
    /// check, is parsed again relaxed; the documents and findings of the first try are dropped.
    fn parse_chunk(&mut self) -> Option<usize> {
        let text: &'t str = self
            .text
            .get(self.chunk.start_byte..self.chunk.end_byte)
            .unwrap_or("");
        let (docs, diags) = (self.docs.len(), self.diags.len());
        let (mut at, mut info) = self.parse_chunk_once(text)?;
        if FLOW_INDENT_ERRORS.contains(&info.as_str())
            && let Some(Relaxed { text, to_original }) = flow_indent::relax(text)
        {
            self.docs.truncate(docs);
            self.diags.truncate(diags);
            self.relaxed = Some(to_original);
            let retried = self.parse_chunk_once(&text);
            self.relaxed = None;
            (at, info) = retried?;
        }
        self.report_syntax_error(at, &info);
        Some(at)
    }

    /// One parser run over `text` (the chunk, or its relaxed form); returns where and why it
    /// failed.
    fn parse_chunk_once(&mut self, text: &str) -> Option<(usize, String)> {
        let chunk = self.chunk;
        let mut parser = Parser::new_from_str(text);
        self.doc = DocState::default();
        loop {
            match parser.next_event() {
                None => return None,
                Some(Ok((event, span))) => self.event(event, span),
                Some(Err(err)) => {
                    let at = self.byte_of(*err.marker());
                    // A chunk cut short at a forbidden character ends in an error that only
                    // echoes it; the forbidden character is reported instead.
                    if chunk.poisoned
                        && self.lines.line_of(at) >= self.lines.line_of(chunk.end_byte)
                    {
                        return None;
                    }
                    return Some((at, err.info().to_string()));
                }
            }
        }
    }

    /// Byte offset in the file of a parser position.
    fn byte_of(&self, m: Marker) -> usize {
        match &self.relaxed {
            Some(to_original) => {
                let i = m.index().min(to_original.len() - 1);
                self.chunk.start_byte + to_original[i]
            }
            None => self.pos.byte(self.chunk.start_char + m.index()),
        }
    }

    fn event(&mut self, event: Event<'_>, span: ParserSpan) {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => self.doc = DocState::default(),
            Event::DocumentEnd => self.end_document(span),
            Event::Scalar(value, style, anchor, tag) => {
                if self.doc.skipping > 0 {
                    return;
                }
                let built = self.scalar(&value, style, tag.as_deref(), span);
                self.register_anchor(anchor, &built);
                self.attach(built);
            }
            Event::Alias(id) => {
                if self.doc.skipping > 0 {
                    return;
                }
                let built = self.alias(id, span);
                self.attach(built);
            }
            Event::SequenceStart(anchor, tag) => self.open(span, anchor, tag.as_deref(), false),
            Event::MappingStart(anchor, tag) => self.open(span, anchor, tag.as_deref(), true),
            Event::SequenceEnd | Event::MappingEnd => self.close(span),
        }
    }

    fn end_document(&mut self, span: ParserSpan) {
        let doc = std::mem::take(&mut self.doc);
        // The document that runs into a forbidden character is incomplete.
        let truncated = self.chunk.poisoned && self.byte_of(span.start) >= self.chunk.end_byte;
        if doc.failed || truncated {
            return;
        }
        if let Some(root) = doc.root
            && root.value != Value::Null
        {
            self.docs.push(root);
        }
    }

    // ---- spans ------------------------------------------------------------------------

    fn span(&self, start: Marker, end: Marker) -> Span {
        let c = self.chunk;
        let s = self.byte_of(start);
        let e = self.byte_of(end).max(s);
        if self.relaxed.is_some() {
            // Columns of the relaxed text are not the file's.
            let mut span = self.point(s);
            span.end = e;
            return span;
        }
        if s >= c.end_byte {
            // At the end of the input saphyr counts a line break that may not be there.
            let mut span = self.point(s);
            span.end = e;
            return span;
        }
        Span {
            file: self.file,
            start: s,
            end: e,
            line: to_u32(c.line_offset + start.line()),
            column: to_u32(start.col() + 1),
        }
    }

    /// A span of the character at `byte` (empty at the end of a line or of the text).
    fn point(&self, byte: usize) -> Span {
        self.lines.point(self.file, byte)
    }

    // ---- scalars and aliases ----------------------------------------------------------

    fn scalar(
        &mut self,
        value: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        ps: ParserSpan,
    ) -> Built {
        let mut span = self.span(ps.start, ps.end);
        // Block scalars and folded text end after their trailing line breaks; point at the
        // text itself.
        let trimmed_end = self.text[span.start..span.end].trim_end().len();
        span.end = span.start + trimmed_end;
        let plain = style == ScalarStyle::Plain;
        let mut merge_key = false;
        let typed = match classify_tag(tag) {
            TagKind::None if plain => {
                merge_key = value == "<<";
                if value.is_empty() {
                    // An empty value's span can cover the next line's `---`; keep it empty.
                    span.end = span.start;
                }
                scalar::resolve_plain(value)
            }
            TagKind::None | TagKind::NonSpecific => Value::Str(value.to_string()),
            TagKind::Core(core) => match core_scalar_tag(&core) {
                Some(t) => match scalar::resolve_tagged(t, value) {
                    Ok(v) => v,
                    Err(why) => {
                        self.fail(
                            Diagnostic::error("P105", format!("{why} (it is tagged `!!{core}`)"))
                                .with_span(Some(span))
                                .with_label(format!("tagged `!!{core}`"))
                                .with_help(format!(
                                    "remove the `!!{core}` tag or write {} here",
                                    t.describe()
                                )),
                        );
                        Value::Str(value.to_string())
                    }
                },
                None if core == "merge" && value == "<<" => {
                    merge_key = true;
                    Value::Str(value.to_string())
                }
                None => {
                    self.bad_tag(&format!("!!{core}"), span, "a scalar");
                    Value::Str(value.to_string())
                }
            },
            TagKind::Other(name) => {
                self.bad_tag(&name, span, "a scalar");
                Value::Str(value.to_string())
            }
        };
        Built {
            src_end: span.end,
            node: Node { span, value: typed },
            size: 1,
            height: 1,
            merge_key,
        }
    }

    fn bad_tag(&mut self, name: &str, span: Span, on: &str) {
        let known = [
            "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq",
        ];
        let message = if known.contains(&name) {
            format!("tag `{name}` cannot be used on {on}")
        } else {
            format!("unsupported tag `{name}`")
        };
        self.fail(
            Diagnostic::error("P101", message)
                .with_span(Some(span))
                .with_label("tag")
                .with_help(
                    "remove the tag; kubectl only understands the YAML core tags \
                     (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq) on matching values",
                ),
        );
    }

    fn register_anchor(&mut self, anchor: usize, built: &Built) {
        if anchor > 0 {
            self.anchors += 1;
            self.doc.anchors.insert(
                anchor,
                Anchored {
                    node: built.node.clone(),
                    size: built.size,
                    height: built.height,
                },
            );
        }
    }

    fn alias(&mut self, id: usize, ps: ParserSpan) -> Built {
        let span = self.span(ps.start, ps.end);
        let Some(anchored) = self.doc.anchors.get(&id) else {
            // saphyr keeps anchors across documents; YAML (and go-yaml) scope them to one.
            self.fail(
                Diagnostic::error("P101", "this alias refers to an anchor of another document")
                    .with_span(Some(span))
                    .with_label("unknown anchor")
                    .with_help("anchors (`&name`) only apply inside their own document; define it again here"),
            );
            return Built::placeholder(span);
        };
        let (size, height) = (anchored.size, anchored.height);
        if self.doc.expanded + size > ALIAS_EXPANSION_LIMIT {
            if std::mem::replace(&mut self.doc.reported_expansion, true) {
                self.doc.failed = true;
                return Built::placeholder(span);
            }
            self.fail(
                Diagnostic::error(
                    "P101",
                    format!("aliases expand this document beyond {ALIAS_EXPANSION_LIMIT} nodes"),
                )
                .with_span(Some(span))
                .with_label("expansion limit reached here")
                .with_help(
                    "nested aliases multiply (a \"billion laughs\" document); write the values out \
                     or reduce the aliasing",
                ),
            );
            return Built::placeholder(span);
        }
        if self.doc.frames.len() + height > MAX_DEPTH {
            self.too_deep(span);
            return Built::placeholder(span);
        }
        self.doc.expanded += size;
        let node = anchored.node.clone();
        Built {
            node,
            size,
            height,
            merge_key: false,
            src_end: span.end,
        }
    }

    // ---- collections ------------------------------------------------------------------

    fn open(&mut self, ps: ParserSpan, anchor: usize, tag: Option<&Tag>, is_map: bool) {
        if self.doc.skipping > 0 || self.doc.frames.len() >= MAX_DEPTH {
            if self.doc.skipping == 0 {
                let span = self.span(ps.start, ps.end);
                self.too_deep(span);
            }
            self.doc.skipping += 1;
            return;
        }
        let mut start = self.span(ps.start, ps.end);
        if !is_map && start.start == start.end {
            // saphyr starts a list that is not indented under its key (`key:\n- a`) after
            // the first `- `; move back so that the list starts at its first dash.
            let before = &self.text[..start.start];
            let spaces = before.len() - before.trim_end_matches(' ').len();
            // Unless saphyr is already at a dash (a list nested in a list's item, `- - a`);
            // a first item that merely starts with one (`- -1`) does not count.
            let rest = &self.text[start.start..];
            let at_dash = rest.starts_with("- ") || rest.starts_with("-\n") || rest == "-";
            if before[..before.len() - spaces].ends_with('-') && !at_dash {
                start.start -= spaces + 1;
                start.end = start.start;
                start.column = start.column.saturating_sub(to_u32(spaces + 1)).max(1);
            }
        }
        let (want, on) = if is_map {
            ("map", "a map")
        } else {
            ("seq", "a list")
        };
        match classify_tag(tag) {
            TagKind::None | TagKind::NonSpecific => {}
            TagKind::Core(core) if core == want => {}
            TagKind::Core(core) => self.bad_tag(&format!("!!{core}"), start, on),
            TagKind::Other(name) => self.bad_tag(&name, start, on),
        }
        let kind = if is_map {
            FrameKind::Map(MapFrame {
                entries: Vec::new(),
                index: None,
                pending: Pending::None,
                merges: Vec::new(),
                merge_seen: None,
            })
        } else {
            FrameKind::Seq(Vec::new())
        };
        self.doc.frames.push(Frame {
            start,
            anchor,
            kind,
            size: 1,
            height: 1,
            src_end: start.end,
        });
    }

    fn close(&mut self, ps: ParserSpan) {
        if self.doc.skipping > 0 {
            self.doc.skipping -= 1;
            if self.doc.skipping == 0 {
                // Keep the parent's key/value pairing intact; the document is failed anyway.
                let span = self.span(ps.start, ps.end);
                self.attach(Built::placeholder(span));
            }
            return;
        }
        let Some(frame) = self.doc.frames.pop() else {
            return;
        };
        let close = self.span(ps.start, ps.end);
        // A flow collection closes with `]` or `}`; a block one just stops after its last
        // child.
        let end = if close.end > close.start {
            close.end
        } else {
            frame.src_end
        };
        let mut span = frame.start;
        span.end = end.max(span.start);
        // saphyr ends some flow collections after the blank that follows their bracket
        // (`{ "a": { "b": 1 } }`); end at the bracket, as scalars end at their text.
        span.end = span.start + self.text[span.start..span.end].trim_end().len();
        let value = match frame.kind {
            FrameKind::Seq(items) => Value::Seq(items),
            FrameKind::Map(map) => Value::Map(apply_merges(map)),
        };
        let built = Built {
            node: Node { span, value },
            size: frame.size,
            height: frame.height,
            merge_key: false,
            src_end: end,
        };
        self.register_anchor(frame.anchor, &built);
        self.attach(built);
    }

    fn attach(&mut self, built: Built) {
        let Some(frame) = self.doc.frames.last_mut() else {
            self.doc.root = Some(built.node);
            return;
        };
        frame.size += built.size;
        frame.height = frame.height.max(built.height + 1);
        frame.src_end = frame.src_end.max(built.src_end);
        match &mut frame.kind {
            FrameKind::Seq(items) => items.push(built.node),
            FrameKind::Map(map) => match std::mem::replace(&mut map.pending, Pending::None) {
                Pending::None => self.take_key(built),
                Pending::Key(key) => self.insert_entry(key, built.node),
                Pending::Merge(span) => self.add_merge(span, built.node),
                Pending::Skip => {}
            },
        }
    }

    fn take_key(&mut self, built: Built) {
        let span = built.node.span;
        let pending = if built.merge_key {
            Pending::Merge(span)
        } else {
            match scalar::key_string(&built.node.value) {
                Some(name) => Pending::Key(Key { name, span }),
                None => {
                    let found = built.node.type_name();
                    let help = if built.node.value == Value::Null {
                        "kubectl cannot turn a null key into JSON; write the key as a quoted string"
                    } else {
                        "JSON objects only have string keys; write the key as a plain string"
                    };
                    self.fail(
                        Diagnostic::error(
                            "P105",
                            format!("a map key must be a string, found {found}"),
                        )
                        .with_span(Some(span))
                        .with_field(self.current_path().to_string())
                        .with_label("this key")
                        .with_help(help),
                    );
                    Pending::Skip
                }
            }
        };
        if let Some(Frame {
            kind: FrameKind::Map(map),
            ..
        }) = self.doc.frames.last_mut()
        {
            map.pending = pending;
        }
    }

    fn insert_entry(&mut self, key: Key, value: Node) {
        let Some(Frame {
            kind: FrameKind::Map(map),
            ..
        }) = self.doc.frames.last_mut()
        else {
            return;
        };
        match map.line_of(&key.name) {
            Some(first_line) => {
                let diag = duplicate_key(&key, first_line, &self.current_path());
                self.fail(diag);
            }
            None => map.push(key, value),
        }
    }

    fn add_merge(&mut self, key_span: Span, value: Node) {
        let path = self.current_path();
        let Some(Frame {
            kind: FrameKind::Map(map),
            ..
        }) = self.doc.frames.last_mut()
        else {
            return;
        };
        if let Some(first) = map.merge_seen {
            let key = Key {
                name: "<<".to_string(),
                span: key_span,
            };
            let diag = duplicate_key(&key, first.line, &path);
            self.fail(diag);
            return;
        }
        map.merge_seen = Some(key_span);
        let sources = match value.value {
            Value::Map(_) => vec![value],
            Value::Seq(items) if items.iter().all(|n| matches!(n.value, Value::Map(_))) => items,
            _ => {
                let found = value.type_name();
                self.fail(
                    Diagnostic::error(
                        "P105",
                        format!("a merge key `<<` takes a map or a list of maps, found {found}"),
                    )
                    .with_span(Some(value.span))
                    .with_field(path.field("<<").to_string())
                    .with_label("merged value")
                    .with_help("merge an anchored map (`<<: *defaults`) or quote `\"<<\"` to use it as a plain key"),
                );
                return;
            }
        };
        map.merges.extend(sources);
    }

    /// The path of the innermost open collection, for diagnostics.
    fn current_path(&self) -> FieldPath {
        let mut path = FieldPath::root();
        for frame in self
            .doc
            .frames
            .iter()
            .take(self.doc.frames.len().saturating_sub(1))
        {
            match &frame.kind {
                FrameKind::Seq(items) => path = path.index(items.len()),
                FrameKind::Map(map) => match &map.pending {
                    Pending::Key(k) => path = path.field(&k.name),
                    Pending::Merge(_) => path = path.field("<<"),
                    Pending::None | Pending::Skip => {}
                },
            }
        }
        path
    }

    fn too_deep(&mut self, span: Span) {
        if self.doc.reported_depth {
            self.doc.failed = true;
            return;
        }
        self.doc.reported_depth = true;
        self.fail(
            Diagnostic::error(
                "P101",
                format!("this document nests deeper than {MAX_DEPTH} levels"),
            )
            .with_span(Some(span))
            .with_label("too deep")
            .with_help(
                "no Kubernetes object nests this deep; check for runaway brackets or aliases",
            ),
        );
    }

    fn fail(&mut self, diag: Diagnostic) {
        self.doc.failed = true;
        self.diags.push(diag);
    }

    // ---- syntax errors ----------------------------------------------------------------

    fn report_forbidden_char(&mut self, at: usize, c: char) {
        self.diags.push(
            Diagnostic::error(
                "P101",
                format!(
                    "control character U+{:04X} is not allowed in YAML",
                    u32::from(c)
                ),
            )
            .with_span(Some(self.point(at)))
            .with_label("control character")
            .with_help("remove it; kubectl rejects files that contain control characters"),
        );
    }

    fn report_syntax_error(&mut self, at: usize, info: &str) {
        let explained = syntax::explain(self.lines, self.chunk.start_byte, at, info);
        let diag = Diagnostic::error("P101", explained.message)
            .with_span(Some(self.point(explained.at)))
            .with_label(format!("parser: {info}"))
            .with_help(explained.help);
        self.diags.push(diag);
    }
}

fn duplicate_key(key: &Key, first_line: u32, path: &FieldPath) -> Diagnostic {
    Diagnostic::error("P102", format!("duplicate key `{}`", key.name))
        .with_span(Some(key.span))
        .with_field(path.field(&key.name).to_string())
        .with_label("duplicate key")
        .with_help(format!(
            "`{}` is already set on line {first_line}; kubectl and the API server reject \
             duplicate keys, keep only one",
            key.name
        ))
}

/// YAML merge keys: explicit keys win over merged ones and, in a list of maps, earlier maps
/// win over later ones (<https://yaml.org/type/merge.html>; go-yaml v2's `merge()` walks the
/// list backwards so that earlier maps take precedence). go-yaml v2 applies `<<` where it
/// stands, so an explicit key written *before* `<<` loses there; this follows the spec (and
/// go-yaml v3) instead, the reading a user expects.
fn apply_merges(mut map: MapFrame) -> Vec<(Key, Node)> {
    for source in std::mem::take(&mut map.merges) {
        if let Value::Map(entries) = source.value {
            for (key, value) in entries {
                if map.line_of(&key.name).is_none() {
                    map.push(key, value);
                }
            }
        }
    }
    map.entries
}

enum TagKind {
    None,
    /// `!`: "not a plain scalar", i.e. a string.
    NonSpecific,
    /// `!!name` (`tag:yaml.org,2002:name`).
    Core(String),
    Other(String),
}

fn classify_tag(tag: Option<&Tag>) -> TagKind {
    let Some(tag) = tag else {
        return TagKind::None;
    };
    if tag.handle.is_empty() && tag.suffix == "!" {
        return TagKind::NonSpecific;
    }
    let full = format!("{}{}", tag.handle, tag.suffix);
    if let Some(core) = full.strip_prefix("tag:yaml.org,2002:") {
        return TagKind::Core(core.to_string());
    }
    if tag.handle == "!" {
        TagKind::Other(format!("!{}", tag.suffix))
    } else {
        TagKind::Other(format!("!<{full}>"))
    }
}

fn core_scalar_tag(name: &str) -> Option<CoreScalarTag> {
    Some(match name {
        "str" => CoreScalarTag::Str,
        "int" => CoreScalarTag::Int,
        "float" => CoreScalarTag::Float,
        "bool" => CoreScalarTag::Bool,
        "null" => CoreScalarTag::Null,
        _ => return None,
    })
}

#[cfg(test)]
mod split_tests {
    use super::*;
    use crate::diag::Severity;

    /// Every `---` line start of `text` (what a split may choose).
    fn separators(text: &str, lines: &Lines<'_>) -> Vec<usize> {
        let mut at = Vec::new();
        let mut from = 0;
        while let Some(next) = lines.next_separator_from(from, from) {
            if next >= text.len() || at.last() == Some(&next) {
                break;
            }
            at.push(next);
            from = next;
        }
        at
    }

    fn split_everywhere(text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
        let pos = Positions::new(text);
        let lines = Lines::new(text);
        let mut points = vec![0];
        points.extend(separators(text, &lines).into_iter().filter(|&p| p > 0));
        points.push(text.len());
        let mut docs = Vec::new();
        let mut diags = Vec::new();
        for w in points.windows(2) {
            let (d, g) = parse_range(FileId(0), text, &pos, &lines, w[0], w[1]);
            docs.extend(d);
            diags.extend(g);
        }
        (docs, diags)
    }

    fn whole(text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
        let pos = Positions::new(text);
        let lines = Lines::new(text);
        parse_range(FileId(0), text, &pos, &lines, 0, text.len())
    }

    /// Big files are parsed in stretches between `---` lines, side by side: cutting a file at
    /// any of its `---` lines must give the documents and findings of the whole, broken files
    /// included (kubectl splits streams at those lines before parsing, too).
    #[test]
    fn parsing_in_stretches_equals_parsing_whole() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["testdata", "examples", "crates/palisade-cli/tests/fixtures"] {
            crate::load::block_yaml::tests::manifests(
                &root.join(dir),
                &["yaml", "yml", "json"],
                &mut files,
            );
        }
        assert!(files.len() > 50, "found {} manifests", files.len());
        let mut texts: Vec<String> = files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect();
        texts.extend(
            [
                "a: [1, 2\n---\nb: 1\n",
                "a: 1\n---\nb: \"x\n---\nc: 2\n",
                "---\n---\na: |\n  x\n---\nb: &x 1\n---\nc: *x\n",
                "a: b: c\n---\nd: 1\n--- # comment\ne: 2\n",
            ]
            .map(String::from),
        );
        // The same findings at the same places. Their words may differ: at the end of a
        // stretch the parser says "end of stream" where the whole file has "document
        // indicator", and an alias to an anchor of an earlier document, refused either way, is
        // not known to be one when that document is in another stretch.
        let seen = |diags: Vec<Diagnostic>| -> Vec<(Severity, &'static str, Option<usize>)> {
            diags
                .into_iter()
                .map(|d| (d.severity, d.code, d.span.map(|s| s.start)))
                .collect()
        };
        for text in &texts {
            let (split, whole) = (split_everywhere(text), whole(text));
            assert_eq!(split.0, whole.0, "{text}");
            assert_eq!(seen(split.1), seen(whole.1), "{text}");
        }
    }

    fn kubectl_list(items: usize, tail: &str) -> String {
        let mut text = String::from("apiVersion: v1\nitems:\n");
        for i in 0..items {
            text.push_str(&format!(
                "- apiVersion: v1\n  kind: Pod\n  metadata:\n    labels:\n      app: web-{i}\n    name: web-{i}\n    namespace: shop\n  spec:\n    containers:\n    - image: nginx\n      name: main\n      ports:\n      - containerPort: 8080\n        name: http\n    nodeName: node-{n}\n  status:\n    podIP: 10.0.{a}.{b}\n",
                n = i % 3,
                a = i / 250,
                b = i % 250
            ));
        }
        text.push_str(tail);
        text
    }

    /// A big `List` is parsed in stretches of whole items: the document is the one the whole
    /// file gives, node for node and span for span; anything the stretches cannot promise to
    /// parse alike falls back to the whole file.
    #[test]
    fn a_list_parsed_in_stretches_equals_the_whole() {
        for tail in ["kind: List\nmetadata:\n  resourceVersion: \"\"\n", ""] {
            for threads in [2, 3, 8] {
                let text = kubectl_list(200, tail);
                let pos = Positions::new(&text);
                let lines = Lines::new(&text);
                let split = parse_split_list(FileId(0), &text, &pos, &lines, threads)
                    .expect("a kubectl List splits");
                assert_eq!(split, whole(&text), "{threads} threads, tail {tail:?}");
            }
        }
        for refused in [
            kubectl_list(50, "items: []\n"),
            kubectl_list(50, "kind: List\n# a comment\n"),
            kubectl_list(50, "kind: List\n---\nb: 1\n"),
            kubectl_list(50, "").replace("app: web-7\n", "app: &a web-7\n"),
            kubectl_list(50, "").replace("name: web-9\n", "name: [web-9\n"),
        ] {
            let pos = Positions::new(&refused);
            let lines = Lines::new(&refused);
            assert!(
                parse_split_list(FileId(0), &refused, &pos, &lines, 2).is_none(),
                "{}",
                &refused[refused.len().saturating_sub(80)..]
            );
        }
    }

    fn json_list(items: usize, indent: usize) -> String {
        let pad = |n: usize| " ".repeat(n * indent);
        let mut text = format!(
            "{{\n{}\"apiVersion\": \"v1\",\n{}\"items\": [\n",
            pad(1),
            pad(1)
        );
        for i in 0..items {
            let sep = if i + 1 < items { "," } else { "" };
            text.push_str(&format!(
                "{p2}{{\n{p3}\"apiVersion\": \"v1\",\n{p3}\"kind\": \"Pod\",\n{p3}\"metadata\": {{\n{p4}\"name\": \"web-{i}\",\n{p4}\"labels\": {{\n{p5}\"app\": \"web\"\n{p4}}}\n{p3}}},\n{p3}\"spec\": {{\n{p4}\"containers\": [\n{p5}{{\n{p5}{p1}\"name\": \"c\",\n{p5}{p1}\"ports\": [{{\"containerPort\": 80}}]\n{p5}}}\n{p4}]\n{p3}}}\n{p2}}}{sep}\n",
                p1 = pad(1),
                p2 = pad(2),
                p3 = pad(3),
                p4 = pad(4),
                p5 = pad(5),
            ));
        }
        text.push_str(&format!("{}],\n{}\"kind\": \"List\"\n}}\n", pad(1), pad(1)));
        text
    }

    /// A big JSON `List` is parsed item by item around a blanked skeleton: the document is the
    /// one the whole file gives, node for node and span for span.
    #[test]
    fn a_json_list_parsed_item_by_item_equals_the_whole() {
        for indent in [2, 4] {
            let text = json_list(300, indent);
            let lines = Lines::new(&text);
            let split =
                parse_split_json_list(FileId(0), &text, &lines).expect("a pretty JSON List splits");
            assert_eq!(split, whole(&text), "indent {indent}");
        }
        let broken = json_list(30, 2).replace("\"name\": \"web-7\",", "\"name\": \"web-7\",,");
        let lines = Lines::new(&broken);
        assert!(parse_split_json_list(FileId(0), &broken, &lines).is_none());
    }
}
