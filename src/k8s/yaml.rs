//! JSON to YAML exactly as `kubectl get -o yaml` prints it; it must never make a layout,
//! quoting, number or key-order choice of its own, and never panic on any input.
//!
//! kubectl decodes the served JSON into a generic object (numbers become int64, or float64
//! when they are not integers that fit), encodes it again with Go's encoding/json, and hands
//! that text to sigs.k8s.io/yaml's `JSONToYAML`: go-yaml v2 (the copy forked into
//! sigs.k8s.io/yaml v1.4) parses it as YAML into generic values and marshals them back. This
//! module reproduces that whole path in one pass over the input; for JSON written the way Go
//! writes it, which is what the apiserver serves, the result equals `JSONToYAML(json)`.
//!
//! What the path does, rule by rule (each rule has its tests in `yaml/tests.rs`):
//! - Map keys come out in go-yaml's key order (its own comparison, not byte order: a letter
//!   sorts after any non-letter, runs of digits compare as numbers); a key that occurs twice
//!   keeps its last value.
//! - A number that is an integer fitting int64 prints as is. Any other number is a float64
//!   that Go prints as an integer when it has no fraction and is below 1e21 (go-yaml then reads
//!   an integer back if it fits int64 or uint64), and otherwise as Go's `%g` with the shortest
//!   digits: `1.23456789e+07`, `1e-06`, `1.5`. A number beyond float64 is an error, as it is in
//!   kubectl.
//! - A string is plain when go-yaml would read the plain text back as that same string and the
//!   emitter allows it there; in single quotes when only the emitter objects (indicators,
//!   leading or trailing spaces); in double quotes when it would read back as something else
//!   (`"yes"`, `"1e3"`, `"0x1F"`, `"2024-01-02"`, `"1:20"`, `""`) or holds characters go-yaml
//!   escapes (controls, tabs, anything above U+FFFF such as emoji, a BOM); as a literal block
//!   (`|`, `|-`, `|+`, with an indentation indicator when it starts with a space or a line
//!   break) when it holds a newline and the block style can carry it.
//! - Plain and quoted scalars longer than 80 columns are folded at single spaces, continuation
//!   lines indented two more than their key.
//! - A key longer than 128 bytes, or one holding a line break, is written as `? key` / `: value`.
//! - What makes kubectl fail makes this fail too: characters the YAML reader refuses (DEL,
//!   C1 controls other than NEL, U+FFFE, U+FFFF), a key whose JSON form is longer than 1024
//!   characters, more than 10000 levels of nesting. A NEL (U+0085) is a line break to the YAML
//!   reader: it and the spaces around it fold into one space (or newlines when several).
//!
//! The document the YAML is printed from is read from JSON text ([`Document::read`]), or
//! built from a renderer's calls without text ([`Builder`], export's way from protobuf),
//! which takes only what the text would read back unchanged and declines the rest.

mod unicode;

use std::borrow::Cow;
use std::fmt;

/// Why a JSON text has no YAML form: it is not JSON, or kubectl would refuse it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError(String);

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for YamlError {}

/// The YAML document kubectl prints for the JSON text `json` (ends with a newline, no `---`).
pub fn json_to_yaml(json: &str) -> Result<String, YamlError> {
    let mut out = String::with_capacity(json.len() + json.len() / 4 + 16);
    write_yaml(json, &mut out)?;
    Ok(out)
}

/// [`json_to_yaml`] appended to `out`; on error `out` is left as it was.
pub fn write_yaml(json: &str, out: &mut String) -> Result<(), YamlError> {
    let doc = Parser::new(json).parse()?;
    let mut e = Emitter::new(out);
    e.document(&doc);
    Ok(())
}

/// A JSON text read into the document kubectl's YAML is printed from (keys already in its
/// order), which members and items can be removed from before it is written: the YAML of a
/// whole object with some fields left out, without building and walking a JSON tree.
pub struct Document<'a>(Doc<'a>);

/// A node of a [`Document`].
pub type NodeId = u32;

impl<'a> Document<'a> {
    /// Reads `json` as [`write_yaml`] does; fails where it fails.
    pub fn read(json: &'a str) -> Result<Document<'a>, YamlError> {
        Self::read_leaving_out(json, &[])
    }

    /// [`Document::read`], with the members at the paths `skip` (member names through
    /// maps, from the root) left out: their values are checked as JSON (their nesting
    /// counts in [`Document::depth`]) but not read.
    pub fn read_leaving_out(
        json: &'a str,
        skip: &'a [&'a [&'a str]],
    ) -> Result<Document<'a>, YamlError> {
        let mut p = Parser::new(json);
        p.skip = skip;
        p.parse().map(Document)
    }

    /// Writes the document's YAML (as [`write_yaml`] writes the text it was read from, less
    /// what was removed) to `out`.
    pub fn write(&self, out: &mut String) {
        Emitter::new(out).document(&self.0);
    }

    /// Whether a string value was changed on the way in: it held a NEL, which the YAML
    /// reader folds, so the value read differs from the value Go's decoder gives.
    pub fn folded(&self) -> bool {
        self.0.folded
    }

    /// The deepest nesting of maps and sequences (0 for a scalar, 1 for a flat map).
    pub fn depth(&self) -> usize {
        self.0.depth
    }

    pub fn root(&self) -> NodeId {
        self.0.root
    }

    fn map_range(&self, id: NodeId) -> Option<std::ops::Range<usize>> {
        match self.0.nodes.get(id as usize)? {
            &Node::Map { start, len } => Some(start as usize..(start + len) as usize),
            _ => None,
        }
    }

    fn seq_range(&self, id: NodeId) -> Option<std::ops::Range<usize>> {
        match self.0.nodes.get(id as usize)? {
            &Node::Seq { start, len } => Some(start as usize..(start + len) as usize),
            _ => None,
        }
    }

    /// The value of the member `name` of the map `id`.
    pub fn member(&self, id: NodeId, name: &str) -> Option<NodeId> {
        let r = self.map_range(id)?;
        self.0.entries[r]
            .iter()
            .find(|(k, _)| k == name)
            .map(|&(_, v)| v)
    }

    pub fn is_map(&self, id: NodeId) -> bool {
        self.map_range(id).is_some()
    }

    /// The map or sequence `id` holds nothing.
    pub fn is_empty(&self, id: NodeId) -> bool {
        self.map_range(id)
            .or_else(|| self.seq_range(id))
            .is_some_and(|r| r.is_empty())
    }

    pub fn is_seq(&self, id: NodeId) -> bool {
        self.seq_range(id).is_some()
    }

    pub fn as_str(&self, id: NodeId) -> Option<&str> {
        match self.0.nodes.get(id as usize)? {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_true(&self, id: NodeId) -> bool {
        matches!(self.0.nodes.get(id as usize), Some(Node::Bool(true)))
    }

    /// The items of the sequence `id` (none when it is no sequence).
    pub fn items(&self, id: NodeId) -> &[NodeId] {
        match self.seq_range(id) {
            Some(r) => &self.0.items[r],
            None => &[],
        }
    }

    /// Removes the members of the map `id` that `drop` picks (given the document, the key
    /// and the value); the others keep their order.
    pub fn remove_members(&mut self, id: NodeId, drop: impl Fn(&Self, &str, NodeId) -> bool) {
        let Some(r) = self.map_range(id) else {
            return;
        };
        let mut w = r.start;
        for i in r.clone() {
            let (k, v) = &self.0.entries[i];
            if !drop(self, k, *v) {
                self.0.entries.swap(w, i);
                w += 1;
            }
        }
        if let Some(Node::Map { len, .. }) = self.0.nodes.get_mut(id as usize) {
            *len = (w - r.start) as u32;
        }
    }

    /// Removes the items of the sequence `id` that `drop` picks; the others keep their order.
    pub fn remove_items(&mut self, id: NodeId, drop: impl Fn(&Self, NodeId) -> bool) {
        let Some(r) = self.seq_range(id) else {
            return;
        };
        let mut w = r.start;
        for i in r.clone() {
            if !drop(self, self.0.items[i]) {
                self.0.items.swap(w, i);
                w += 1;
            }
        }
        if let Some(Node::Seq { len, .. }) = self.0.nodes.get_mut(id as usize) {
            *len = (w - r.start) as u32;
        }
    }
}

impl Document<'_> {
    /// Every number's node tells its text apart: no integer beyond int64 was read as a
    /// float64 and no `-0` as 0, so two numbers' nodes are equal exactly when a generic
    /// JSON reader keeps them equal (see [`Document::same`]).
    pub fn exact_numbers(&self) -> bool {
        !self.0.inexact
    }

    /// Removes the member `field` of the maps reached from the root through the member
    /// names `path`, a sequence met on the way standing for each of its items.
    pub fn strip(&mut self, path: &[&str], field: &str) {
        self.strip_from(self.0.root, path, field);
    }

    fn strip_from(&mut self, id: NodeId, path: &[&str], field: &str) {
        if let Some(r) = self.seq_range(id) {
            for i in r {
                self.strip_from(self.0.items[i], path, field);
            }
            return;
        }
        match path.split_first() {
            None => self.remove_members(id, |_, k, _| k == field),
            Some((first, rest)) => {
                if let Some(c) = self.member(id, first) {
                    self.strip_from(c, rest, field);
                }
            }
        }
    }

    /// The two documents hold the same value: strings by value, integers by value, floats
    /// by their float64, maps whatever the order of their members.
    pub fn same(&self, other: &Document<'_>) -> bool {
        same_node(&self.0, self.0.root, &other.0, other.0.root)
    }
}

fn same_node(a: &Doc<'_>, x: Id, b: &Doc<'_>, y: Id) -> bool {
    match (&a.nodes[x as usize], &b.nodes[y as usize]) {
        (Node::Null, Node::Null) => true,
        (Node::Bool(p), Node::Bool(q)) => p == q,
        (Node::Int(p), Node::Int(q)) => p == q,
        (Node::Float(p), Node::Float(q)) => p == q,
        (Node::Str(p), Node::Str(q)) => p == q,
        (&Node::Seq { start: s, len: n }, &Node::Seq { start: t, len: m }) => {
            n == m
                && a.items[s as usize..(s + n) as usize]
                    .iter()
                    .zip(&b.items[t as usize..(t + m) as usize])
                    .all(|(&p, &q)| same_node(a, p, b, q))
        }
        (&Node::Map { start: s, len: n }, &Node::Map { start: t, len: m }) => {
            let (xs, ys) = (
                &a.entries[s as usize..(s + n) as usize],
                &b.entries[t as usize..(t + m) as usize],
            );
            n == m
                && xs.iter().enumerate().all(|(i, (k, p))| {
                    // The same keys are nearly always in the same order: look there first.
                    let q = match ys.get(i) {
                        Some((l, q)) if l == k => Some(q),
                        _ => ys.iter().find(|(l, _)| l == k).map(|(_, q)| q),
                    };
                    q.is_some_and(|&q| same_node(a, *p, b, q))
                })
        }
        _ => false,
    }
}

/// Writes the YAML of two documents, `old` to `old_out` and `new` to `new_out`, as
/// [`Document::write`] writes each: a member of the new root that holds the same value
/// as the old root's member of that name is copied from the old side's text instead of
/// written again. With `tail`, the members both roots end with (the same names holding
/// the same values) are written only until `tail` lines of them are: both texts are then
/// cut after the same line, and `true` says so.
pub fn write_pair(
    old: &Document<'_>,
    new: &Document<'_>,
    old_out: &mut String,
    new_out: &mut String,
    tail: Option<usize>,
) -> bool {
    let (od, nd) = (&old.0, &new.0);
    let roots = (&od.nodes[od.root as usize], &nd.nodes[nd.root as usize]);
    let (&Node::Map { start: os, len: ol }, &Node::Map { start: ns, len: nl }) = roots else {
        old.write(old_out);
        new.write(new_out);
        return false;
    };
    if ol == 0 || nl == 0 {
        old.write(old_out);
        new.write(new_out);
        return false;
    }
    let (oe, ne) = (
        &od.entries[os as usize..(os + ol) as usize],
        &nd.entries[ns as usize..(ns + nl) as usize],
    );
    // The members both end with.
    let shared_end = oe
        .iter()
        .rev()
        .zip(ne.iter().rev())
        .take_while(|((ko, vo), (kn, vn))| ko == kn && same_node(od, *vo, nd, *vn))
        .count();
    let (o_end, n_end) = (oe.len() - shared_end, ne.len() - shared_end);
    write_roots(
        (od, os, o_end as u32, old_out),
        (nd, ns, n_end as u32, new_out),
        |vo, i| same_node(od, vo, nd, ne[i].1),
    );
    // The shared end, written once and copied.
    let at = old_out.len();
    let mut cut = false;
    for i in o_end..oe.len() {
        let e = os + i as u32;
        match tail {
            Some(lines) => {
                let written = memchr::memchr_iter(b'\n', &old_out.as_bytes()[at..]).count();
                if written >= lines {
                    cut = true;
                    break;
                }
                if Emitter::new(old_out).root_entry_lines(od, e, lines - written) {
                    cut = true;
                    break;
                }
            }
            None => Emitter::new(old_out).root_entry(od, e),
        }
    }
    new_out.push_str(&old_out[at..]);
    cut
}

// ---------------------------------------------------------------------------------------------
// The document: a flat arena filled by the parser, read by the emitter.

type Id = u32;

enum Node<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// `len` entries from `start` in [`Doc::entries`], already in go-yaml's key order.
    Map {
        start: u32,
        len: u32,
    },
    /// `len` items from `start` in [`Doc::items`].
    Seq {
        start: u32,
        len: u32,
    },
}

struct Doc<'a> {
    nodes: Vec<Node<'a>>,
    entries: Vec<(Cow<'a, str>, Id)>,
    items: Vec<Id>,
    root: Id,
    /// Some string value held a NEL that the YAML reader folds (the value read is not the
    /// value decoded).
    folded: bool,
    /// Some number's node does not tell its text apart from others': an integer beyond
    /// int64 read as a float64, or `-0` read as 0.
    inexact: bool,
    /// The deepest nesting of containers (the root container is at 1).
    depth: usize,
}

// ---------------------------------------------------------------------------------------------
// Parsing: strict JSON (RFC 8259), read as Go's decoder reads it, with the changes the
// re-encoding and the YAML reader make on the way (see the module comment). Iterative, so no
// input can exhaust the stack.

/// Go's JSON decoder and go-yaml's scanner both stop at this depth.
const MAX_DEPTH: usize = 10_000;
/// go-yaml reads a mapping key as a key only if its `:` is at most this many characters past
/// the key's opening quote.
const MAX_KEY_CHARS: usize = 1024;
const NEL: char = '\u{85}';

enum Open<'a> {
    Map { start: usize, key: Cow<'a, str> },
    Seq { start: usize },
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    nodes: Vec<Node<'a>>,
    entries: Vec<(Cow<'a, str>, Id)>,
    items: Vec<Id>,
    /// Entries and items of the containers still open, innermost last.
    open_entries: Vec<(Cow<'a, str>, Id)>,
    open_items: Vec<Id>,
    order: Vec<u32>,
    scratch: Vec<u32>,
    folded: bool,
    inexact: bool,
    /// Paths of member names (through maps only, from the root) whose values are checked
    /// as JSON but not read: the members are left out.
    skip: &'a [&'a [&'a str]],
}

fn err(msg: impl Into<String>) -> YamlError {
    YamlError(msg.into())
}

fn control_chars() -> YamlError {
    err("yaml: control characters are not allowed")
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        // Sized from the text (served objects hold a node per 20 to 30 bytes), so the
        // arenas are seldom grown and copied.
        Parser {
            src,
            pos: 0,
            nodes: Vec::with_capacity(src.len() / 16 + 4),
            entries: Vec::with_capacity(src.len() / 24 + 4),
            items: Vec::with_capacity(src.len() / 64 + 4),
            open_entries: Vec::with_capacity(64),
            open_items: Vec::with_capacity(16),
            order: Vec::new(),
            scratch: Vec::new(),
            folded: false,
            inexact: false,
            skip: &[],
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn syntax(&self, what: &str) -> YamlError {
        match self.peek() {
            None => err(format!("invalid JSON: {what} at end of input")),
            Some(_) => {
                let c = self
                    .src
                    .get(self.pos..)
                    .and_then(|r| r.chars().next())
                    .unwrap_or('?');
                err(format!(
                    "invalid JSON: {what}, found {c:?} at byte {}",
                    self.pos
                ))
            }
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), YamlError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax(what))
        }
    }

    fn push(&mut self, n: Node<'a>) -> Id {
        self.nodes.push(n);
        (self.nodes.len() - 1) as Id
    }

    fn parse(mut self) -> Result<Doc<'a>, YamlError> {
        let mut stack: Vec<Open<'a>> = Vec::new();
        let mut depth = 0;
        self.skip_ws();
        loop {
            // A value starts here.
            let mut left_out = false;
            if let Some(Open::Map { .. }) = stack.last() {
                if self.left_out(&stack) {
                    let folded = self.folded;
                    let inner = self.skip_value(stack.len())?;
                    self.folded = folded;
                    depth = depth.max(stack.len() + inner);
                    left_out = true;
                }
            }
            if left_out {
                // Its container takes no entry for it.
            } else if let Some(b'{' | b'[') = self.peek() {
                if stack.len() >= MAX_DEPTH {
                    return Err(err("exceeded max depth of 10000"));
                }
            }
            let mut id = if left_out {
                0
            } else {
                match self.peek() {
                    Some(b'{') => {
                        self.pos += 1;
                        self.skip_ws();
                        if self.peek() == Some(b'}') {
                            self.pos += 1;
                            self.push(Node::Map { start: 0, len: 0 })
                        } else {
                            let key = self.key()?;
                            let start = self.open_entries.len();
                            stack.push(Open::Map { start, key });
                            depth = depth.max(stack.len());
                            continue;
                        }
                    }
                    Some(b'[') => {
                        self.pos += 1;
                        self.skip_ws();
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            self.push(Node::Seq { start: 0, len: 0 })
                        } else {
                            let start = self.open_items.len();
                            stack.push(Open::Seq { start });
                            depth = depth.max(stack.len());
                            continue;
                        }
                    }
                    Some(b'"') => {
                        let s = self.string(false)?;
                        self.push(Node::Str(s))
                    }
                    Some(b't') => self.literal("true", Node::Bool(true))?,
                    Some(b'f') => self.literal("false", Node::Bool(false))?,
                    Some(b'n') => self.literal("null", Node::Null)?,
                    Some(b'-' | b'0'..=b'9') => {
                        let n = self.number()?;
                        self.push(n)
                    }
                    _ => return Err(self.syntax("expected a value")),
                }
            };
            // The value is complete: hand it to its container, closing containers as they end.
            loop {
                self.skip_ws();
                let Some(top) = stack.last_mut() else {
                    if self.pos != self.src.len() {
                        return Err(self.syntax("expected end of input"));
                    }
                    return Ok(Doc {
                        nodes: self.nodes,
                        entries: self.entries,
                        items: self.items,
                        root: id,
                        folded: self.folded,
                        inexact: self.inexact,
                        depth,
                    });
                };
                match top {
                    Open::Map { start, key } => {
                        if !std::mem::take(&mut left_out) {
                            self.open_entries.push((std::mem::take(key), id));
                        }
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                *key = self.key()?;
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                let start = *start;
                                stack.pop();
                                id = self.close_map(start);
                            }
                            _ => return Err(self.syntax("expected ',' or '}'")),
                        }
                    }
                    Open::Seq { start } => {
                        self.open_items.push(id);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                let start = *start;
                                stack.pop();
                                let first = self.items.len() as u32;
                                self.items.extend(self.open_items.drain(start..));
                                let len = self.items.len() as u32 - first;
                                id = self.push(Node::Seq { start: first, len });
                            }
                            _ => return Err(self.syntax("expected ',' or ']'")),
                        }
                    }
                }
            }
        }
    }

    /// The value of the member being read in the innermost open map is on a path of `skip`.
    fn left_out(&self, stack: &[Open<'a>]) -> bool {
        on_path(self.skip, stack.len(), |i| match &stack[i] {
            Open::Map { key, .. } => Some(key),
            Open::Seq { .. } => None,
        })
    }

    /// Checks one JSON value at `pos` as the reader would read it, and moves past it
    /// without keeping it. Returns how deep its maps and sequences nest; `depth` is the
    /// nesting it starts at.
    fn skip_value(&mut self, depth: usize) -> Result<usize, YamlError> {
        // Open containers: `true` for a map.
        let mut open: Vec<bool> = Vec::new();
        let mut deepest = 0;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(c @ (b'{' | b'[')) => {
                    if depth + open.len() >= MAX_DEPTH {
                        return Err(err("exceeded max depth of 10000"));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                    } else {
                        open.push(c == b'{');
                        deepest = deepest.max(open.len());
                        if c == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string(false)?;
                }
                Some(b't' | b'f' | b'n') => {
                    let word = ["true", "false", "null"]
                        .into_iter()
                        .find(|w| self.src[self.pos..].starts_with(w))
                        .ok_or_else(|| self.syntax("expected a value"))?;
                    self.pos += word.len();
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => return Err(self.syntax("expected a value")),
            }
            // A value is complete: close what ends after it.
            loop {
                let Some(&map) = open.last() else {
                    return Ok(deepest);
                };
                self.skip_ws();
                match (self.peek(), map) {
                    (Some(b','), _) => {
                        self.pos += 1;
                        self.skip_ws();
                        if map {
                            self.key()?;
                        }
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ => return Err(self.syntax("expected ',' or a closing bracket")),
                }
            }
        }
    }

    fn literal(&mut self, word: &str, n: Node<'a>) -> Result<Id, YamlError> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(self.push(n))
        } else {
            Err(self.syntax("expected a value"))
        }
    }

    /// A mapping key and the `:` after it.
    fn key(&mut self) -> Result<Cow<'a, str>, YamlError> {
        if self.peek() != Some(b'"') {
            return Err(self.syntax("expected a string key"));
        }
        let k = self.string(true)?;
        self.skip_ws();
        self.expect(b':', "expected ':'")?;
        self.skip_ws();
        Ok(k)
    }

    /// Moves the entries of the map closing now into place: duplicates dropped (the last
    /// wins, as Go's decoder and go-yaml keep it), then go-yaml's key order.
    fn close_map(&mut self, start: usize) -> Id {
        let (first, len) = move_entries(
            &mut self.open_entries,
            start,
            &mut self.entries,
            &mut self.order,
            &mut self.scratch,
        );
        self.push(Node::Map { start: first, len })
    }

    fn number(&mut self) -> Result<Node<'a>, YamlError> {
        let b = self.bytes();
        let start = self.pos;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let s = *i;
            while let Some(b'0'..=b'9') = b.get(*i) {
                *i += 1;
            }
            *i - s
        };
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => {
                self.pos = i;
                return Err(self.syntax("expected a digit"));
            }
        }
        let mut integer = true;
        if b.get(i) == Some(&b'.') {
            integer = false;
            i += 1;
            if digits(&mut i) == 0 {
                self.pos = i;
                return Err(self.syntax("expected a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            integer = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                self.pos = i;
                return Err(self.syntax("expected a digit in the exponent"));
            }
        }
        self.pos = i;
        let text = &self.src[start..i];
        let n = number_node(text, integer)?;
        self.inexact |= ambiguous(text, integer, &n);
        Ok(n)
    }

    /// A JSON string, decoded as Go decodes it, then as it reads after Go's encoder wrote it
    /// again and the YAML reader took it in (see the module comment).
    fn string(&mut self, is_key: bool) -> Result<Cow<'a, str>, YamlError> {
        let b = self.bytes();
        let start = self.pos + 1;
        let mut i = start;
        // Fast path: no escapes and nothing the YAML reader treats specially.
        loop {
            while b.get(i).is_some_and(|&c| !STRING_STOP[usize::from(c)]) {
                i += 1;
            }
            match b.get(i) {
                None => {
                    self.pos = i;
                    return Err(self.syntax("unterminated string"));
                }
                Some(b'"') => {
                    let s = &self.src[start..i];
                    self.pos = i + 1;
                    if is_key {
                        check_key_length(s)?;
                    }
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return Err(self.syntax("control character in string"));
                }
                Some(0x7F) => return Err(control_chars()),
                // U+0080..U+009F: C1 controls, NEL among them.
                Some(0xC2) if matches!(b.get(i + 1), Some(0x80..=0x9F)) => break,
                // U+FFFE, U+FFFF.
                Some(0xEF)
                    if b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)) =>
                {
                    return Err(control_chars());
                }
                Some(_) => i += 1,
            }
        }
        // Slow path: decode into an owned string.
        let mut s = String::with_capacity(i - start + 16);
        s.push_str(&self.src[start..i]);
        loop {
            match b.get(i) {
                None => {
                    self.pos = i;
                    return Err(self.syntax("unterminated string"));
                }
                Some(b'"') => {
                    i += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = match b.get(i + 1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos = i;
                            let (c, used) = self.unicode_escape(i)?;
                            s.push(c);
                            i += used;
                            continue;
                        }
                        _ => {
                            self.pos = i;
                            return Err(self.syntax("invalid escape in string"));
                        }
                    };
                    s.push(c);
                    i += 2;
                }
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return Err(self.syntax("control character in string"));
                }
                Some(_) => {
                    let c = self.src[i..].chars().next().unwrap_or('\u{FFFD}');
                    s.push(c);
                    i += c.len_utf8();
                }
            }
        }
        self.pos = i;
        // Go's encoder writes these unescaped; the YAML reader refuses them.
        if refuses(&s, false) {
            return Err(control_chars());
        }
        if is_key {
            // A key must stay on one line for the YAML reader.
            if s.contains(NEL) {
                return Err(err(
                    "yaml: did not find expected ',' or '}' (a key holds U+0085)",
                ));
            }
            check_key_length(&s)?;
        }
        if s.contains(NEL) {
            s = fold_nel(&s)?;
            self.folded = true;
        }
        Ok(Cow::Owned(s))
    }

    /// `\uXXXX` at `i`, with a following low surrogate when it is a high one; an unpaired
    /// surrogate is U+FFFD (Go's decoder). Returns the character and the bytes used.
    fn unicode_escape(&self, i: usize) -> Result<(char, usize), YamlError> {
        let hex4 = |at: usize| -> Option<u32> {
            let h = self.bytes().get(at..at + 4)?;
            let h = std::str::from_utf8(h).ok()?;
            if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(h, 16).ok()
        };
        let Some(u) = hex4(i + 2) else {
            return Err(self.syntax("invalid \\u escape"));
        };
        if (0xD800..0xDC00).contains(&u) && self.bytes().get(i + 6..i + 8) == Some(b"\\u") {
            if let Some(lo @ 0xDC00..0xE000) = hex4(i + 8) {
                let c = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                return Ok((char::from_u32(c).unwrap_or('\u{FFFD}'), 12));
            }
        }
        Ok((char::from_u32(u).unwrap_or('\u{FFFD}'), 6))
    }
}

/// Whether the member being read is on one of the paths `skip` (member names through maps,
/// from the root): `open` containers are open, and `key_at(i)` is the name of the member
/// being read in the `i`th (from the root), `None` for a sequence.
fn on_path<'k>(skip: &[&[&str]], open: usize, key_at: impl Fn(usize) -> Option<&'k str>) -> bool {
    skip.iter().any(|p| {
        p.len() == open
            && p.iter()
                .enumerate()
                .all(|(i, name)| key_at(i) == Some(name))
    })
}

/// Moves the entries of a map closing now (from `start` in `open`) to the end of `entries`:
/// duplicates dropped (the last wins, as Go's decoder and go-yaml keep it), then in
/// go-yaml's key order. Returns where they start in `entries` and how many there are.
fn move_entries<'a>(
    open: &mut Vec<(Cow<'a, str>, Id)>,
    start: usize,
    entries: &mut Vec<(Cow<'a, str>, Id)>,
    order: &mut Vec<u32>,
    scratch: &mut Vec<u32>,
) -> (u32, u32) {
    let n = open.len() - start;
    let keys = &open[start..];
    order.clear();
    order.extend(0..n as u32);
    drop_duplicates(keys, order, scratch);
    sort_keys(keys, order, scratch);
    move_in_order(open, start, entries, order)
}

/// Moves the entries from `start` in `open` to the end of `entries`, those `order` names in
/// its order (the rest dropped).
fn move_in_order<'a>(
    open: &mut Vec<(Cow<'a, str>, Id)>,
    start: usize,
    entries: &mut Vec<(Cow<'a, str>, Id)>,
    order: &[u32],
) -> (u32, u32) {
    let first = entries.len() as u32;
    for &i in order {
        let e = &mut open[start + i as usize];
        entries.push((std::mem::take(&mut e.0), e.1));
    }
    open.truncate(start);
    (first, entries.len() as u32 - first)
}

// ---------------------------------------------------------------------------------------------
// Building: the document made from a renderer's calls (`render::Out`) instead of from text.

/// A container being built: a map (with the key of the member being written in it) or a
/// sequence, and where its entries or items start.
struct Building<'a> {
    map: bool,
    start: usize,
    key: Cow<'a, str>,
    /// Some key of this map came from the data, not from the schemas.
    data_keys: bool,
}

/// The go-yaml order of maps whose keys all come from the schemas, by where the keys' texts
/// are (address and length, in the map's order; texts that live as long as the program never
/// change, so the same names at the same places are the same keys): a message's members are
/// sorted once per thread instead of once per object.
#[derive(Default)]
struct Orders {
    known: crate::fasthash::FastMap<Box<[Place]>, Box<[u32]>>,
    /// The places of the keys being looked up.
    at: Vec<Place>,
}

/// Where a key's text is: its address and length.
type Place = (usize, usize);

/// Maps of distinct member sets remembered per thread (the schemas have about 1,500
/// messages, most with a few sets of members present).
const ORDERS_KEPT: usize = 8192;

thread_local! {
    static ORDERS: std::cell::RefCell<Orders> = Default::default();
}

impl Orders {
    /// The order (as [`drop_duplicates`] and [`sort_keys`] leave it) of `keys`, whose texts
    /// all live as long as the program.
    fn order(&mut self, keys: &[(Cow<'_, str>, Id)], order: &mut Vec<u32>, scratch: &mut Vec<u32>) {
        self.at.clear();
        self.at
            .extend(keys.iter().map(|(k, _)| (k.as_ptr() as usize, k.len())));
        order.clear();
        if let Some(o) = self.known.get(self.at.as_slice()) {
            order.extend_from_slice(o);
            return;
        }
        order.extend(0..keys.len() as u32);
        drop_duplicates(keys, order, scratch);
        sort_keys(keys, order, scratch);
        if self.known.len() >= ORDERS_KEPT {
            self.known.clear();
        }
        self.known
            .insert(self.at.as_slice().into(), order.as_slice().into());
    }
}

/// A [`Document`] built from the members, items and scalars a renderer writes, in the
/// order its JSON text would have them: the document [`Document::read_leaving_out`] reads
/// from that text, without the text. Only what such text reads without a change or a
/// failure is taken: a string that is not UTF-8 or holds what the YAML reader refuses or
/// folds, an over-long key, or anything the caller marks with [`Builder::refuse`] makes
/// [`Builder::finish`] give `None`, and the caller goes the way of the text.
pub struct Builder<'a> {
    nodes: Vec<Node<'a>>,
    entries: Vec<(Cow<'a, str>, Id)>,
    items: Vec<Id>,
    open_entries: Vec<(Cow<'a, str>, Id)>,
    open_items: Vec<Id>,
    stack: Vec<Building<'a>>,
    order: Vec<u32>,
    scratch: Vec<u32>,
    root: Option<Id>,
    depth: usize,
    refused: bool,
    /// See [`Doc::inexact`].
    inexact: bool,
    /// Paths of members left out (as [`Document::read_leaving_out`] takes them).
    skip: &'static [&'static [&'static str]],
    /// Inside a member left out: how many of its containers are open (0 outside).
    skipping: usize,
    /// The longest path in `skip`.
    skip_depth: usize,
    number: String,
    orders: Orders,
}

impl Drop for Builder<'_> {
    fn drop(&mut self) {
        let orders = std::mem::take(&mut self.orders);
        ORDERS.with(|o| *o.borrow_mut() = orders);
    }
}

impl<'a> Builder<'a> {
    /// A builder leaving out the members at the paths `skip`; `hint` is the size of the
    /// object's encoding, to size the arenas.
    pub fn new(skip: &'static [&'static [&'static str]], hint: usize) -> Builder<'a> {
        Builder {
            nodes: Vec::with_capacity(hint / 6 + 8),
            entries: Vec::with_capacity(hint / 8 + 8),
            items: Vec::with_capacity(hint / 24 + 4),
            open_entries: Vec::with_capacity(64),
            open_items: Vec::with_capacity(16),
            stack: Vec::with_capacity(16),
            order: Vec::new(),
            scratch: Vec::new(),
            root: None,
            depth: 0,
            refused: false,
            inexact: false,
            skip,
            skipping: 0,
            skip_depth: skip.iter().map(|p| p.len()).max().unwrap_or(0),
            number: String::new(),
            orders: ORDERS.with(|o| std::mem::take(&mut *o.borrow_mut())),
        }
    }

    /// The document, unless something it cannot take was met (or it is incomplete).
    pub fn finish(mut self) -> Option<Document<'a>> {
        if self.refused || !self.stack.is_empty() {
            return None;
        }
        Some(Document(Doc {
            nodes: std::mem::take(&mut self.nodes),
            entries: std::mem::take(&mut self.entries),
            items: std::mem::take(&mut self.items),
            root: self.root?,
            folded: false,
            inexact: self.inexact,
            depth: self.depth,
        }))
    }

    /// Something only the text takes was met.
    pub fn refuse(&mut self) {
        self.refused = true;
    }

    /// The name of the member whose value comes next (in the innermost map): a name from
    /// the schemas, whose text lives as long as the program.
    pub fn key(&mut self, name: &'static str) {
        if self.skipping > 0 {
            return;
        }
        if let Some(b) = self.stack.last_mut() {
            b.key = Cow::Borrowed(name);
        }
    }

    /// A key from the data (map keys, embedded JSON).
    fn data_key(&mut self, name: Cow<'a, str>) {
        if self.skipping > 0 {
            return;
        }
        if let Some(b) = self.stack.last_mut() {
            b.key = name;
            b.data_keys = true;
        }
    }

    /// A map's key as bytes from the wire: taken as the text's key would read.
    pub fn wire_key(&mut self, k: Cow<'a, [u8]>) {
        let k = match k {
            Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
            Cow::Owned(v) => String::from_utf8(v).ok().map(Cow::Owned),
        };
        match k {
            Some(k) if !refused_or_folded(&k) && check_key_length(&k).is_ok() => self.data_key(k),
            _ => self.refused = true,
        }
    }

    /// Whether the value starting now is a member left out.
    #[inline]
    fn left_out(&self) -> bool {
        let n = self.stack.len();
        // Most values are deeper than any path left out.
        if n > self.skip_depth {
            return false;
        }
        on_path(self.skip, n, |i| {
            let b = &self.stack[i];
            b.map.then_some(&*b.key)
        })
    }

    /// A value is complete: it goes to its container.
    fn attach(&mut self, id: Id) {
        match self.stack.last_mut() {
            Some(b) if b.map => {
                let key = std::mem::take(&mut b.key);
                self.open_entries.push((key, id));
            }
            Some(_) => self.open_items.push(id),
            None => self.root = Some(id),
        }
    }

    fn open(&mut self, map: bool) {
        if self.skipping > 0 || self.left_out() {
            self.skipping += 1;
            self.depth = self.depth.max(self.stack.len() + self.skipping);
            return;
        }
        let start = if map {
            self.open_entries.len()
        } else {
            self.open_items.len()
        };
        self.stack.push(Building {
            map,
            start,
            key: Cow::Borrowed(""),
            data_keys: false,
        });
        self.depth = self.depth.max(self.stack.len());
    }

    pub fn open_map(&mut self) {
        self.open(true);
    }

    pub fn open_seq(&mut self) {
        self.open(false);
    }

    /// The container closing now, unless it is inside a member left out (or none is open).
    fn close(&mut self) -> Option<Building<'a>> {
        if self.skipping > 0 {
            self.skipping -= 1;
            return None;
        }
        let b = self.stack.pop();
        self.refused |= b.is_none();
        b
    }

    /// A closed container's node goes to its own container.
    fn closed(&mut self, n: Node<'a>) {
        self.nodes.push(n);
        self.attach((self.nodes.len() - 1) as Id);
    }

    pub fn close_map(&mut self) {
        let Some(b) = self.close() else {
            return;
        };
        let (start, len) = if b.data_keys {
            move_entries(
                &mut self.open_entries,
                b.start,
                &mut self.entries,
                &mut self.order,
                &mut self.scratch,
            )
        } else {
            let keys = &self.open_entries[b.start..];
            self.orders.order(keys, &mut self.order, &mut self.scratch);
            move_in_order(
                &mut self.open_entries,
                b.start,
                &mut self.entries,
                &self.order,
            )
        };
        self.closed(Node::Map { start, len });
    }

    pub fn close_seq(&mut self) {
        let Some(b) = self.close() else {
            return;
        };
        let start = self.items.len() as u32;
        self.items.extend(self.open_items.drain(b.start..));
        let len = self.items.len() as u32 - start;
        self.closed(Node::Seq { start, len });
    }

    fn scalar(&mut self, n: Node<'a>) {
        if self.skipping > 0 || self.left_out() {
            return;
        }
        self.nodes.push(n);
        self.attach((self.nodes.len() - 1) as Id);
    }

    pub fn null(&mut self) {
        self.scalar(Node::Null);
    }

    pub fn boolean(&mut self, b: bool) {
        self.scalar(Node::Bool(b));
    }

    pub fn int(&mut self, v: i64) {
        self.scalar(Node::Int(v));
    }

    /// An unsigned integer: one beyond int64 reads as a float64, as its text would.
    pub fn uint(&mut self, v: u64) {
        match i64::try_from(v) {
            Ok(v) => self.scalar(Node::Int(v)),
            Err(_) => {
                self.inexact |= !self.leaving_out();
                self.scalar(Node::Float(v as f64))
            }
        }
    }

    /// A number as its JSON text, read as [`Document::read`] reads it.
    pub fn number_text(&mut self, write: impl FnOnce(&mut String)) {
        let mut text = std::mem::take(&mut self.number);
        text.clear();
        write(&mut text);
        let integer = !text.contains(['.', 'e', 'E']);
        match number_node(&text, integer) {
            Ok(n) => {
                self.inexact |= !self.leaving_out() && ambiguous(&text, integer, &n);
                self.scalar(n)
            }
            Err(_) => self.refused = true,
        }
        self.number = text;
    }

    /// A string value.
    pub fn string(&mut self, s: Cow<'a, str>) {
        if self.leaving_out() {
            // Read and passed over: only what the reader refuses counts (a NEL does not).
            if refuses(&s, false) {
                self.refused = true;
            }
        } else if !refused_or_folded(&s) {
            self.scalar(Node::Str(s));
        } else {
            self.refused = true;
        }
    }

    /// Embedded JSON text (compacted or, not being JSON, as base64): taken only inside a
    /// member left out, where the text's reader would check it and move on. It is passed
    /// over when that check cannot fail: plain ASCII without escapes (so no character the
    /// YAML reader refuses) and nesting far from any limit.
    pub fn left_out_raw(&mut self, b: &[u8]) {
        let safe = |b: &[u8]| {
            // Without a backslash, every `"` opens or closes a string.
            let (mut depth, mut deepest, mut in_string) = (0usize, 0, false);
            for &c in b {
                match c {
                    0..0x20 | 0x7F.. | b'\\' => return false,
                    b'"' => in_string = !in_string,
                    b'{' | b'[' if !in_string => {
                        depth += 1;
                        deepest = deepest.max(depth);
                    }
                    b'}' | b']' if !in_string => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            self.stack.len() + self.skipping + deepest < 256
        };
        if !(self.skipping > 0 || self.left_out()) || !safe(b) {
            self.refused = true;
        }
    }

    /// Whether what comes next is left out (inside a member left out, or one itself).
    pub fn leaving_out(&self) -> bool {
        self.skipping > 0 || self.left_out()
    }

    /// JSON text (embedded JSON, compacted) as a value: read as [`Document::read`] reads
    /// it, and its nodes taken over.
    pub fn json(&mut self, text: &str) {
        match Parser::new(text).parse() {
            Ok(d) if !d.folded && d.depth < 64 => {
                self.inexact |= d.inexact && !self.leaving_out();
                self.take_over(&d, d.root)
            }
            _ => self.refused = true,
        }
    }

    fn take_over(&mut self, d: &Doc<'_>, id: Id) {
        match &d.nodes[id as usize] {
            Node::Null => self.null(),
            &Node::Bool(b) => self.boolean(b),
            &Node::Int(v) => self.int(v),
            &Node::Float(f) => self.scalar(Node::Float(f)),
            Node::Str(s) => self.scalar(Node::Str(Cow::Owned(s.to_string()))),
            &Node::Map { start, len } => {
                self.open_map();
                for (k, v) in &d.entries[start as usize..(start + len) as usize] {
                    self.data_key(Cow::Owned(k.to_string()));
                    self.take_over(d, *v);
                }
                self.close_map();
            }
            &Node::Seq { start, len } => {
                self.open_seq();
                for &v in &d.items[start as usize..(start + len) as usize] {
                    self.take_over(d, v);
                }
                self.close_seq();
            }
        }
    }

    /// A Go string's bytes from the wire.
    pub fn wire_string(&mut self, b: &'a [u8]) {
        if below_del(b) {
            // SAFETY: ASCII is UTF-8.
            let s = unsafe { std::str::from_utf8_unchecked(b) };
            return self.scalar(Node::Str(Cow::Borrowed(s)));
        }
        match std::str::from_utf8(b) {
            Ok(s) => self.string(Cow::Borrowed(s)),
            Err(_) => self.refused = true,
        }
    }
}

/// Every byte is below 0x7F (ASCII without DEL); eight bytes at a time.
fn below_del(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        if del_or_above(word(c)) {
            return false;
        }
    }
    chunks.remainder().iter().all(|&c| c < 0x7F)
}

/// The node of a number's text (valid JSON; `integer` when it has no fraction or exponent):
/// as kubectl's decoder reads it, an integer that fits int64 stays one, anything else is a
/// float64.
/// A number's node stands for more than its text: an integer text read as a float64 (beyond
/// int64), or `-0` read as 0.
fn ambiguous(text: &str, integer: bool, n: &Node<'_>) -> bool {
    integer && (text == "-0" || matches!(n, Node::Float(_)))
}

fn number_node(text: &str, integer: bool) -> Result<Node<'static>, YamlError> {
    if integer {
        if let Ok(v) = text.parse::<i64>() {
            return Ok(Node::Int(v));
        }
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Node::Float(f)),
        _ => Err(err(format!(
            "number {text} is out of the range of float64 (kubectl cannot decode it)"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// The document of a JSON tree already read.

/// [`write_yaml`] of a JSON tree already read ([`super::jsontree`]), without writing it out
/// and reading it again: the same text as `write_yaml` of the tree written as JSON
/// ([`super::diff::write_tree`]). `None`, with `out` left as it was, when the tree holds
/// what only that path decides on (characters the YAML reader refuses or folds, a key too
/// long for it, a number beyond float64): the caller then takes that path.
pub fn write_yaml_tree(v: &super::jsontree::J<'_>, out: &mut String) -> Option<()> {
    let mut t = TreeDoc::new();
    let root = t.node(v)?;
    Emitter::new(out).document(&t.into_doc(root));
    Some(())
}

/// [`write_yaml_tree`] of the two sides of a change at once, each to its own text: a
/// member of the root object that both sides hold with the same value as read (the same
/// JSON, member order and escapes included) is written once, for `old`, and its text
/// copied for `new`. `false`, with both texts left as they were, when either root is no
/// object with members or [`write_yaml_tree`] would refuse either side; the caller then
/// writes each side by itself.
pub fn write_yaml_tree_pair(
    old: &super::jsontree::J<'_>,
    new: &super::jsontree::J<'_>,
    old_out: &mut String,
    new_out: &mut String,
) -> bool {
    use super::jsontree::J;
    let (J::Obj(mo), J::Obj(mn)) = (old, new) else {
        return false;
    };
    if mo.is_empty() || mn.is_empty() {
        return false;
    }
    let mut to = TreeDoc::new();
    let Some(root) = to.node(old) else {
        return false;
    };
    // The new side: its root's members that differ from the old side's, each as
    // `write_yaml_tree` would check and add it, and a mark for the others.
    let mut tn = TreeDoc::new();
    let mut shared = Vec::with_capacity(mn.len());
    for (i, (k, v)) in mn.iter().enumerate() {
        if refused_or_folded(k) || check_key_length(k).is_err() {
            return false;
        }
        let twin = match mo.get(i) {
            Some((ko, vo)) if ko == k => Some(vo),
            _ => mo.iter().find(|(ko, _)| ko == k).map(|(_, vo)| vo),
        };
        let id = if twin == Some(v) {
            shared.push(true);
            Id::MAX
        } else {
            shared.push(false);
            let Some(id) = tn.node(v) else {
                return false;
            };
            id
        };
        tn.open_entries.push((Cow::Borrowed(k.as_ref()), id));
    }
    tn.order.clear();
    tn.order.extend(0..mn.len() as u32);
    sort_keys(&tn.open_entries, &mut tn.order, &mut tn.scratch);
    let start = tn.entries.len() as u32;
    for &i in &tn.order {
        tn.entries.push(tn.open_entries[i as usize].clone());
    }
    let order = std::mem::take(&mut tn.order);
    // The old side, one root entry at a time, keeping where each one's text lies.
    let od = to.into_doc(root);
    let Some(&Node::Map { start: os, len: ol }) = od.nodes.get(root as usize) else {
        return false;
    };
    let nd = tn.into_doc(Id::MAX);
    write_roots(
        (&od, os, ol, old_out),
        (&nd, start, mn.len() as u32, new_out),
        |_, j| shared[order[j] as usize],
    );
    true
}

/// The root mapping entries `len` from `start` in each side's document (`doc`, `start`,
/// `len`, `out`), each written to its side's text as [`Emitter::root_entry`] writes it;
/// a new entry named as an old one is copied from the old one's text instead when
/// `shared(the old entry's value, the new entry's index)` says it holds the same value.
fn write_roots(
    (od, os, ol, old_out): (&Doc<'_>, u32, u32, &mut String),
    (nd, ns, nl, new_out): (&Doc<'_>, u32, u32, &mut String),
    shared: impl Fn(Id, usize) -> bool,
) {
    let mut texts: Vec<(&str, Id, std::ops::Range<usize>)> = Vec::with_capacity(ol as usize);
    for e in os..os + ol {
        let at = old_out.len();
        Emitter::new(old_out).root_entry(od, e);
        let (k, v) = &od.entries[e as usize];
        texts.push((k, *v, at..old_out.len()));
    }
    for (i, e) in (ns..ns + nl).enumerate() {
        let key: &str = &nd.entries[e as usize].0;
        match texts.iter().find(|(k, _, _)| *k == key) {
            Some((_, vo, r)) if shared(*vo, i) => new_out.push_str(&old_out[r.clone()]),
            _ => Emitter::new(new_out).root_entry(nd, e),
        }
    }
}

/// `s` holds a character the YAML reader refuses (DEL, C1 controls, U+FFFE, U+FFFF) or
/// folds (NEL, a C1 control too).
fn refused_or_folded(s: &str) -> bool {
    refuses(s, true)
}

/// `s` holds a character the YAML reader refuses: DEL, a C1 control other than NEL, U+FFFE
/// or U+FFFF; with `nel`, also a NEL (which it folds).
fn refuses(s: &str, nel: bool) -> bool {
    let b = s.as_bytes();
    memchr::memchr3_iter(0x7F, 0xC2, 0xEF, b).any(|i| match b[i] {
        0xC2 => {
            matches!(b.get(i + 1), Some(&c) if (0x80..=0x9F).contains(&c) && (nel || c != 0x85))
        }
        0xEF => b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)),
        _ => true,
    })
}

struct TreeDoc<'a> {
    nodes: Vec<Node<'a>>,
    entries: Vec<(Cow<'a, str>, Id)>,
    items: Vec<Id>,
    /// Entries and items of the containers being added, innermost last.
    open_entries: Vec<(Cow<'a, str>, Id)>,
    open_items: Vec<Id>,
    order: Vec<u32>,
    scratch: Vec<u32>,
}

impl<'a> TreeDoc<'a> {
    fn new() -> Self {
        TreeDoc {
            nodes: Vec::with_capacity(64),
            entries: Vec::with_capacity(64),
            items: Vec::with_capacity(16),
            open_entries: Vec::new(),
            open_items: Vec::new(),
            order: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn into_doc(self, root: Id) -> Doc<'a> {
        Doc {
            nodes: self.nodes,
            entries: self.entries,
            items: self.items,
            root,
            folded: false,
            inexact: false,
            depth: 0,
        }
    }

    /// Adds `v` and what it holds; recursion is bounded by the tree reader's depth limit.
    fn node(&mut self, v: &'a super::jsontree::J<'_>) -> Option<Id> {
        use super::jsontree::J;
        let n = match v {
            J::Null => Node::Null,
            J::Bool(b) => Node::Bool(*b),
            J::Num(t) => number_node(t, !t.contains(['.', 'e', 'E'])).ok()?,
            J::Str(s, _) => {
                if refused_or_folded(s) {
                    return None;
                }
                Node::Str(Cow::Borrowed(s.as_ref()))
            }
            J::Arr(items) => {
                let open = self.open_items.len();
                for x in items {
                    let id = self.node(x)?;
                    self.open_items.push(id);
                }
                let start = self.items.len() as u32;
                self.items.extend(self.open_items.drain(open..));
                Node::Seq {
                    start,
                    len: items.len() as u32,
                }
            }
            J::Obj(m) => {
                // The tree holds each key once (its last value), as the text path keeps it.
                let open = self.open_entries.len();
                for (k, x) in m {
                    if refused_or_folded(k) || check_key_length(k).is_err() {
                        return None;
                    }
                    let id = self.node(x)?;
                    self.open_entries.push((Cow::Borrowed(k.as_ref()), id));
                }
                let es = &self.open_entries[open..];
                self.order.clear();
                self.order.extend(0..es.len() as u32);
                sort_keys(es, &mut self.order, &mut self.scratch);
                let start = self.entries.len() as u32;
                for &i in &self.order {
                    self.entries.push(es[i as usize].clone());
                }
                self.open_entries.truncate(open);
                Node::Map {
                    start,
                    len: m.len() as u32,
                }
            }
        };
        self.nodes.push(n);
        Some((self.nodes.len() - 1) as Id)
    }
}

/// Bytes the string scanner must look at: the closing quote, escapes, control characters
/// (JSON refuses them raw), DEL, and the lead bytes of U+0080..U+00BF and U+F000..U+FFFF.
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7F] = true;
    t[0xC2] = true;
    t[0xEF] = true;
    t
};

/// The characters Go's encoder writes for `c` (the YAML reader counts characters).
fn go_json_width(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        '\0'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => 6,
        _ => 1,
    }
}

fn check_key_length(key: &str) -> Result<(), YamlError> {
    // No character takes more than 6, and every one takes at least a byte of `key`.
    if key.len() * 6 + 2 <= MAX_KEY_CHARS {
        return Ok(());
    }
    let n = 2 + key.chars().map(go_json_width).sum::<usize>();
    if n > MAX_KEY_CHARS {
        return Err(err(format!(
            "yaml: did not find expected ',' or '}}' (a key of {n} characters in JSON; \
             go-yaml reads at most {MAX_KEY_CHARS})"
        )));
    }
    Ok(())
}

/// What go-yaml's scanner makes of a double-quoted string holding raw NELs: a run of spaces
/// and NELs with one NEL becomes one space, with k > 1 NELs k - 1 newlines; a run that ends
/// in a NEL may not be followed by a document marker (`---` or `...` and a blank).
fn fold_nel(s: &str) -> Result<String, YamlError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find([' ', NEL]) {
        out.push_str(&rest[..at]);
        let run_len = rest[at..]
            .find(|c| c != ' ' && c != NEL)
            .unwrap_or(rest.len() - at);
        let run = &rest[at..at + run_len];
        rest = &rest[at + run_len..];
        let nels = run.chars().filter(|&c| c == NEL).count();
        match nels {
            0 => out.push_str(run),
            1 => out.push(' '),
            n => out.extend(std::iter::repeat_n('\n', n - 1)),
        }
        if run.ends_with(NEL)
            && (rest.starts_with("---") || rest.starts_with("..."))
            && matches!(rest[3..].chars().next(), Some(' ' | NEL))
        {
            return Err(err("yaml: found unexpected document indicator"));
        }
    }
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Key order: go-yaml v2's keyList.Less for string keys, under a merge sort that cannot fail
// (the comparison is not transitive for every set of keys; Go sorts keys from a map in random
// order then, so kubectl's own output is not fixed there either).

/// Keeps in `order` only the last of the entries with equal keys, in input order.
fn drop_duplicates(entries: &[(Cow<'_, str>, Id)], order: &mut Vec<u32>, scratch: &mut Vec<u32>) {
    let n = order.len();
    let key = |i: u32| -> &str { &entries[i as usize].0 };
    let dup = if n <= 32 {
        (0..n).any(|i| (i + 1..n).any(|j| key(order[i]) == key(order[j])))
    } else {
        scratch.clear();
        scratch.extend_from_slice(order);
        scratch.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
        scratch.windows(2).any(|w| key(w[0]) == key(w[1]))
    };
    if !dup {
        return;
    }
    // Rare: mark every entry that a later equal key overrides.
    scratch.clear();
    scratch.extend_from_slice(order);
    scratch.sort_unstable_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
    let mut dead = vec![false; n];
    for w in scratch.windows(2) {
        if key(w[0]) == key(w[1]) {
            dead[w[0] as usize] = true;
        }
    }
    order.retain(|&i| !dead[i as usize]);
}

fn sort_keys(entries: &[(Cow<'_, str>, Id)], order: &mut [u32], scratch: &mut Vec<u32>) {
    let less = |a: u32, b: u32| key_less(&entries[a as usize].0, &entries[b as usize].0);
    let n = order.len();
    if n <= 12 {
        for i in 1..n {
            let mut j = i;
            while j > 0 && less(order[j], order[j - 1]) {
                order.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    scratch.clear();
    scratch.resize(n, 0);
    let mut width = 1;
    while width < n {
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut a, mut b, mut k) = (lo, mid, lo);
            while a < mid && b < hi {
                if less(order[b], order[a]) {
                    scratch[k] = order[b];
                    b += 1;
                } else {
                    scratch[k] = order[a];
                    a += 1;
                }
                k += 1;
            }
            scratch[k..k + (mid - a)].copy_from_slice(&order[a..mid]);
            k += mid - a;
            scratch[k..k + (hi - b)].copy_from_slice(&order[b..hi]);
            lo = hi;
        }
        order.copy_from_slice(scratch);
        width *= 2;
    }
}

fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_table(unicode::LETTER, c)
}

fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_table(unicode::DECIMAL_DIGIT, c)
}

fn in_table(t: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    t.binary_search_by(|&(lo, hi)| {
        if hi < c {
            std::cmp::Ordering::Less
        } else if lo > c {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    })
    .is_ok()
}

/// go-yaml v2's order of two string keys. At the first character where they differ: a letter
/// sorts after a non-letter and letters by code point; otherwise the runs of digits starting
/// there compare as numbers (a run of zeros after a non-zero digit counts as starting at 1,
/// and the arithmetic wraps as Go's int64 does), then the longer run sorts later, then the
/// code points decide. A proper prefix sorts first.
fn key_less(a: &str, b: &str) -> bool {
    // The first differing byte lies in the first differing character, which starts at the
    // same offset in both (the bytes before it are the same).
    let Some(mut i) = a.bytes().zip(b.bytes()).position(|(x, y)| x != y) else {
        // One is a prefix of the other (same characters, so byte length decides).
        return a.len() < b.len();
    };
    while !a.is_char_boundary(i) {
        i -= 1;
    }
    let (Some(ca), Some(cb)) = (a[i..].chars().next(), b[i..].chars().next()) else {
        return a.len() < b.len();
    };
    let (la, lb) = (is_letter(ca), is_letter(cb));
    if la && lb {
        return ca < cb;
    }
    if la || lb {
        return lb;
    }
    let (mut an, mut bn): (i64, i64) = (0, 0);
    if ca == '0' || cb == '0' {
        for c in a[..i].chars().rev() {
            if !is_digit(c) {
                break;
            }
            if c != '0' {
                an = 1;
                bn = 1;
                break;
            }
        }
    }
    let run = |s: &str, mut n: i64| -> (i64, usize) {
        let mut len = 0;
        for c in s.chars() {
            if !is_digit(c) {
                break;
            }
            n = n.wrapping_mul(10).wrapping_add(c as i64 - '0' as i64);
            len += 1;
        }
        (n, len)
    };
    let (an, alen) = run(&a[i..], an);
    let (bn, blen) = run(&b[i..], bn);
    if an != bn {
        return an < bn;
    }
    if alen != blen {
        return alen < blen;
    }
    ca < cb
}

// ---------------------------------------------------------------------------------------------
// Which strings go-yaml would read back as something other than a string (its `resolve`),
// so the encoder asks for double quotes.

/// Whether go-yaml writes `s` quoted because plain it would not read back as the string `s`.
fn resolves_to_non_string(s: &str) -> bool {
    let Some(&first) = s.as_bytes().first() else {
        return true; // the empty plain scalar is null
    };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => {
            is_special_word(s)
        }
        b'.' => is_special_word(s) || go_parse_float(s),
        b'+' | b'-' | b'0'..=b'9' => {
            is_special_word(s) || is_timestamp(s) || number_like(&strip_underscores(s))
        }
        _ => false,
    }
}

/// A key written as a simple plain key as it is, without analysing it: ASCII letters and
/// digits from a letter on, no longer than a simple key may be, and no word or number
/// go-yaml would read as something else (what [`string_style`] gives `Plain` for, as
/// `plain_names_are_plain` checks).
fn plain_name(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() <= MAX_SIMPLE_KEY_BYTES
        && b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter().all(u8::is_ascii_alphanumeric)
        && !is_special_word(key)
        && !is_base60_float(key)
}

/// The bytes a string value written by [`plain_value`] may hold past its first letter.
static PLAIN_VALUE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/');
        c += 1;
    }
    t
};

/// A string value (not a key) written plain as it is, without analysing it: ASCII letters,
/// digits, `-`, `.`, `_` and `/` from a letter on, and no word go-yaml would read as
/// something else (what [`string_style`] gives `Plain` for, as `plain_values_are_plain`
/// checks) — names, images, enum values.
fn plain_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter().all(|&c| PLAIN_VALUE[usize::from(c)])
        && !is_special_word(s)
        && !is_base60_float(s)
}

/// The words go-yaml resolves to booleans, null, infinities and NaN.
fn is_special_word(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "true"
            | "True"
            | "TRUE"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "false"
            | "False"
            | "FALSE"
            | "off"
            | "Off"
            | "OFF"
            | "~"
            | "null"
            | "Null"
            | "NULL"
            | ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
    )
}

fn strip_underscores(s: &str) -> Cow<'_, str> {
    if s.contains('_') {
        Cow::Owned(s.replace('_', ""))
    } else {
        Cow::Borrowed(s)
    }
}

/// go-yaml's integer and float tests on a string starting with a sign or digit, underscores
/// already removed: Go's ParseInt / ParseUint with base prefixes, its float pattern, and its
/// `0b` forms (which take a sign after the prefix).
fn number_like(p: &str) -> bool {
    if go_parse_int(p, 0) || go_parse_uint(p, 0) {
        return true;
    }
    if yaml_float_pattern(p) && finite_float(p) {
        return true;
    }
    if let Some(rest) = p.strip_prefix("0b") {
        return go_parse_int(rest, 2) || go_parse_uint(rest, 2);
    }
    if let Some(rest) = p.strip_prefix("-0b") {
        return go_parse_int(&format!("-{rest}"), 2);
    }
    false
}

/// Go's strconv.ParseInt(s, base, 64) succeeds (base 0: prefixes 0x, 0o, 0b, 0).
fn go_parse_int(s: &str, base: u32) -> bool {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    match go_uint(rest, base) {
        Some(v) if neg => v <= 1 << 63,
        Some(v) => v < 1 << 63,
        None => false,
    }
}

/// Go's strconv.ParseUint(s, base, 64) succeeds.
fn go_parse_uint(s: &str, base: u32) -> bool {
    go_uint(s, base).is_some()
}

/// The value of `s` in `base` as Go's ParseUint reads it (no sign, no underscores), or None
/// on a syntax or range error.
fn go_uint(s: &str, base: u32) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits) = if base == 0 {
        if b[0] == b'0' {
            match b.get(1).map(u8::to_ascii_lowercase) {
                Some(b'b') if b.len() >= 3 => (2, &b[2..]),
                Some(b'o') if b.len() >= 3 => (8, &b[2..]),
                Some(b'x') if b.len() >= 3 => (16, &b[2..]),
                _ => (8, &b[1..]),
            }
        } else {
            (10, b)
        }
    } else {
        (base, b)
    };
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'a'..=b'z' | b'A'..=b'Z' => u32::from(c.to_ascii_lowercase() - b'a') + 10,
            _ => return None,
        };
        if d >= base {
            return None;
        }
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml's float pattern.
fn yaml_float_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - s
    };
    if let Some(b'+' | b'-') = b.first() {
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The decimal float text `s` (no underscores) does not overflow float64: Go's ParseFloat
/// fails with a range error exactly where the correctly rounded value is infinite.
fn finite_float(s: &str) -> bool {
    s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Go's strconv.ParseFloat(s, 64) succeeds for `s` starting with '.': digits (underscores
/// only between digits), an optional exponent, nothing after, and no overflow.
fn go_parse_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 1; // the '.'
    let mut saw_digit = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => saw_digit = true,
            b'_' => {}
            _ => break,
        }
        i += 1;
    }
    if !saw_digit {
        return false;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        while let Some(b'0'..=b'9' | b'_') = b.get(i) {
            i += 1;
        }
    }
    if i != b.len() {
        return false;
    }
    // Each underscore must sit between two digits.
    for (j, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = j > 0 && b[j - 1].is_ascii_digit();
            let after = b.get(j + 1).is_some_and(u8::is_ascii_digit);
            if !before || !after {
                return false;
            }
        }
    }
    finite_float(&strip_underscores(s))
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: YAML 1.1's base-60 numbers, which
/// go-yaml does not read but still quotes.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if let Some(b'+' | b'-') = b.first() {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) || !s.contains(':') {
        return false;
    }
    i += 1;
    while let Some(b'0'..=b'9' | b'_') = b.get(i) {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // [0-5]?[0-9], greedy: a second digit can only follow a first in 0-5.
        match (b.get(i), b.get(i + 1)) {
            (Some(b'0'..=b'5'), Some(b'0'..=b'9')) => i += 2,
            (Some(b'0'..=b'9'), _) => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(b'0'..=b'9' | b'_') = b.get(i) {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml's timestamp test: four digits and '-', then one of Go's layouts
/// `2006-1-2T15:4:5.999999999Z07:00`, the same with `t`, `2006-1-2 15:4:5.999999999` (any
/// run of spaces between), `2006-1-2`, as Go's time.Parse reads them (one- or two-digit
/// fields, ranges checked, the day checked against the month).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let year = b[..4]
        .iter()
        .fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
    let rest = &b[5..];
    // Go's getnum: one digit, or two when a second follows.
    fn num(v: &[u8]) -> Option<(u32, &[u8])> {
        match v {
            [a @ b'0'..=b'9', b @ b'0'..=b'9', rest @ ..] => {
                Some((u32::from(a - b'0') * 10 + u32::from(b - b'0'), rest))
            }
            [a @ b'0'..=b'9', rest @ ..] => Some((u32::from(a - b'0'), rest)),
            _ => None,
        }
    }
    let Some((month, rest)) = num(rest) else {
        return false;
    };
    if !(1..=12).contains(&month) {
        return false;
    }
    let Some(rest) = rest.strip_prefix(b"-") else {
        return false;
    };
    let Some((day, rest)) = num(rest) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day < 1 || day > days {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    let (with_zone, rest) = match rest {
        [b'T' | b't', rest @ ..] => (true, rest),
        [b' ', ..] => (
            false,
            &rest[rest.iter().take_while(|&&c| c == b' ').count()..],
        ),
        _ => return false,
    };
    fn clock(v: &[u8]) -> Option<&[u8]> {
        let (h, v) = num(v)?;
        let v = v.strip_prefix(b":")?;
        let (m, v) = num(v)?;
        let v = v.strip_prefix(b":")?;
        let (sec, v) = num(v)?;
        if h >= 24 || m >= 60 || sec >= 60 {
            return None;
        }
        // Fraction: '.' or ',' and then every digit.
        match v {
            [b'.' | b',', d, ..] if d.is_ascii_digit() => {
                let n = v[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                Some(&v[1 + n..])
            }
            _ => Some(v),
        }
    }
    let Some(rest) = clock(rest) else {
        return false;
    };
    if !with_zone {
        return rest.is_empty();
    }
    match rest {
        [b'Z'] => true,
        [sign, h1, h2, b':', m1, m2] => {
            matches!(sign, b'+' | b'-')
                && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') <= 24
                && (m1 - b'0') * 10 + (m2 - b'0') <= 60
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar analysis: go-yaml's emitter decides from these which styles a string may take.

#[derive(Clone, Copy)]
struct Analysis {
    /// Known to be ASCII (found on the fast path); `false` when not looked at.
    ascii: bool,
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// go-yaml's printable set: LF, ASCII graphics and space, U+00A0..U+D7FF, U+E000..U+FFFD
/// without the BOM. Tab, DEL, C1 controls and everything above U+FFFF are escaped.
fn printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && c != '\u{FEFF}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | NEL | '\u{2028}' | '\u{2029}')
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// Some byte of `x` is below `n` (n <= 0x80).
fn below(x: u64, n: u8) -> bool {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0
}

/// Some byte of `x` is DEL or above (a carry only leaves a byte already at 0x80 or above).
fn del_or_above(x: u64) -> bool {
    (x.wrapping_add(ONES) | x) & HIGH != 0
}

/// Some byte of `x` is `c`.
fn has_byte(x: u64, c: u8) -> bool {
    below(x ^ (ONES * u64::from(c)), 1)
}

/// The eight bytes of a chunk as one word.
fn word(c: &[u8]) -> u64 {
    c.try_into().map_or(u64::MAX, u64::from_ne_bytes)
}

/// Every byte of `b` is printable ASCII (a space to `~`); eight bytes at a time.
fn all_printable_ascii(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    for c in chunks.by_ref() {
        if below(word(c), 0x20) || del_or_above(word(c)) {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&x| (b' '..=b'~').contains(&x))
}

/// Printable ASCII but `:` and `#`: the characters of [`analyze`]'s fast path.
static PLAIN_ASCII: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = b' ';
    while i <= b'~' {
        t[i as usize] = i != b':' && i != b'#';
        i += 1;
    }
    t
};

/// Every byte of `b` is in [`PLAIN_ASCII`]; eight bytes at a time.
fn all_plain_ascii(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    for c in chunks.by_ref() {
        let x = word(c);
        if below(x, 0x20) || del_or_above(x) || has_byte(x, b':') || has_byte(x, b'#') {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&x| PLAIN_ASCII[usize::from(x)])
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            ascii: true,
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let b = s.as_bytes();
    let followed_by_ws = |j: usize| matches!(b.get(j), None | Some(b' ' | b'\t'));
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    match b[0] {
        b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => block_indicators = true,
        b'?' | b':' | b'-' if followed_by_ws(1) => block_indicators = true,
        _ => {}
    }
    // Fast path, most strings: printable ASCII without ':' or '#', so no line breaks, special
    // characters or indicators past the first character.
    if all_plain_ascii(b) {
        let edge_space = b[0] == b' ' || b[b.len() - 1] == b' ';
        return Analysis {
            ascii: true,
            multiline: false,
            block_plain_allowed: !edge_space && !block_indicators,
            single_quoted_allowed: true,
            block_allowed: b[b.len() - 1] != b' ',
        };
    }
    // Printable ASCII with a ':' or '#': no line breaks or special characters; only where
    // those two stand decides.
    if all_printable_ascii(b) {
        for i in memchr::memchr2_iter(b':', b'#', b).filter(|&i| i > 0) {
            block_indicators |= match b[i] {
                b':' => followed_by_ws(i + 1),
                _ => b[i - 1] == b' ',
            };
        }
        let (leading_space, trailing_space) = (b[0] == b' ', b[b.len() - 1] == b' ');
        return Analysis {
            ascii: true,
            multiline: false,
            block_plain_allowed: !leading_space && !trailing_space && !block_indicators,
            single_quoted_allowed: true,
            block_allowed: !trailing_space,
        };
    }
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_by_ws = true;
    let mut i = 0;
    while i < b.len() {
        let (c, w) = match b[i] {
            x if x.is_ascii() => (char::from(x), 1),
            _ => {
                let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
                (c, c.len_utf8())
            }
        };
        let last = i + w == b.len();
        if i > 0 {
            match c {
                ':' if followed_by_ws(i + 1) => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if !printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= prev_space;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = matches!(c, ' ' | '\t' | '\0') || is_break(c);
        i += w;
    }
    let mut a = Analysis {
        ascii: false,
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// The style go-yaml writes the string `s` in: what its encoder asks for, narrowed by what
/// the emitter allows (always at block level here; flow collections are only ever empty).
fn string_style(s: &str, a: &Analysis, simple_key: bool) -> Style {
    // A string without line breaks holds no LF.
    let mut style = if a.multiline && s.contains('\n') {
        Style::Literal
    } else if resolves_to_non_string(s) || is_base60_float(s) {
        Style::Double
    } else {
        Style::Plain
    };
    if simple_key && a.multiline {
        style = Style::Double;
    }
    if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block_allowed || simple_key) {
        style = Style::Double;
    }
    style
}

// ---------------------------------------------------------------------------------------------
// Numbers as kubectl prints them.

/// Shortest round-trip digits of a finite, non-zero `f`: (negative, digits, decimal point
/// position), the value being 0.digits × 10^point.
fn shortest(f: f64, buf: &mut [u8; 32]) -> (bool, &[u8], i32) {
    struct W<'b> {
        buf: &'b mut [u8; 32],
        len: usize,
    }
    impl fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut w = W { buf, len: 0 };
    // At most 17 digits, a point, 'e', a sign and 3 exponent digits: always fits.
    let _ = fmt::Write::write_fmt(&mut w, format_args!("{:e}", f.abs()));
    let len = w.len;
    let text = &mut buf[..len];
    let e = text.iter().position(|&c| c == b'e').unwrap_or(len);
    let exp: i32 = std::str::from_utf8(&text[e + 1..])
        .ok()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    // Drop the '.' after the first digit.
    let mut nd = 0;
    for j in 0..e {
        if text[j] != b'.' {
            text[nd] = text[j];
            nd += 1;
        }
    }
    (f.is_sign_negative(), &buf[..nd], exp + 1)
}

/// A float64 as kubectl prints it (see the module comment).
fn write_float(out: &mut String, f: f64) {
    if f == 0.0 {
        out.push('0');
        return;
    }
    let mut buf = [0u8; 32];
    let (neg, digits, point) = shortest(f, &mut buf);
    let nd = digits.len() as i32;
    let push_digits = |out: &mut String, d: &[u8]| {
        for &c in d {
            out.push(char::from(c));
        }
    };
    // Go's encoder writes an integral value below 1e21 without fraction or exponent, and
    // go-yaml reads that back as an integer when it fits int64 (negative) or uint64.
    if f.abs() < 1e21 && point >= nd {
        let mut v: u128 = 0;
        for &c in digits {
            v = v * 10 + u128::from(c - b'0');
        }
        for _ in nd..point {
            v *= 10;
        }
        let fits = if neg {
            v <= 1 << 63
        } else {
            v <= u128::from(u64::MAX)
        };
        if fits {
            if neg {
                out.push('-');
            }
            push_digits(out, digits);
            out.extend(std::iter::repeat_n('0', (point - nd) as usize));
            return;
        }
    }
    // strconv.FormatFloat(f, 'g', -1, 64).
    if neg {
        out.push('-');
    }
    let exp = point - 1;
    if !(-4..6).contains(&exp) {
        push_digits(out, &digits[..1]);
        if nd > 1 {
            out.push('.');
            push_digits(out, &digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(itoa(i64::from(e)).as_str());
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        push_digits(out, digits);
    } else if point >= nd {
        push_digits(out, digits);
        out.extend(std::iter::repeat_n('0', (point - nd) as usize));
    } else {
        push_digits(out, &digits[..point as usize]);
        out.push('.');
        push_digits(out, &digits[point as usize..]);
    }
}

// ---------------------------------------------------------------------------------------------
// The emitter: go-yaml's block emitter state (column, indentation stack, whether the last
// thing written was whitespace or indentation) and its writing rules, driven directly by the
// document instead of by events.

const BEST_INDENT: i32 = 2;
const BEST_WIDTH: usize = 80;
const MAX_SIMPLE_KEY_BYTES: usize = 128;

struct Emitter<'o> {
    out: &'o mut String,
    /// Characters on the current line.
    column: usize,
    indent: i32,
    indents: Vec<i32>,
    whitespace: bool,
    indention: bool,
    /// With a budget: the line breaks still wanted, and how far `out` was counted.
    budget: Option<(usize, usize)>,
}

/// Where a node sits, as go-yaml's emitter tracks it.
#[derive(Clone, Copy, Default)]
struct Ctx {
    mapping: bool,
    simple_key: bool,
}

enum Frame {
    Map { start: u32, len: u32, pos: u32 },
    Seq { start: u32, len: u32, pos: u32 },
}

impl<'o> Emitter<'o> {
    fn new(out: &'o mut String) -> Self {
        Emitter {
            out,
            column: 0,
            indent: -1,
            indents: Vec::new(),
            whitespace: true,
            indention: true,
            budget: None,
        }
    }

    /// [`Emitter::root_entry`], stopped once `lines` whole lines are written: what is
    /// written then is cut after its last line break. Whether it was cut.
    fn root_entry_lines(&mut self, doc: &Doc<'_>, entry: u32, lines: usize) -> bool {
        self.budget = Some((lines, self.out.len()));
        self.root_entry(doc, entry);
        let cut = self.budget.is_some_and(|(left, _)| left == 0);
        if cut {
            let end = memchr::memrchr(b'\n', self.out.as_bytes()).map_or(0, |i| i + 1);
            self.out.truncate(end);
        }
        self.budget = None;
        cut
    }

    /// With a budget, counts the line breaks written since the last look: whether the
    /// budget is spent.
    #[inline]
    fn spent(&mut self) -> bool {
        let Some((left, from)) = &mut self.budget else {
            return false;
        };
        let n = memchr::memchr_iter(b'\n', &self.out.as_bytes()[*from..]).count();
        *from = self.out.len();
        *left = left.saturating_sub(n);
        *left == 0
    }

    fn document(&mut self, doc: &Doc<'_>) {
        let mut frames: Vec<Frame> = Vec::new();
        if let Some(f) = self.node(doc, doc.root, Ctx::default()) {
            frames.push(f);
        }
        self.run(doc, frames);
    }

    /// What [`Emitter::document`] writes for the root mapping's entry at `entry` (in
    /// [`Doc::entries`]): every entry of a block mapping at the root starts on a line of
    /// its own at column 0 in the same state, and ends before the break that the next
    /// entry (or the document's end) writes, so the document is these, each followed by
    /// its line break, in order.
    fn root_entry(&mut self, doc: &Doc<'_>, entry: u32) {
        // The state `node` leaves the root mapping's frame in.
        self.increase_indent(false, false);
        self.run(
            doc,
            vec![Frame::Map {
                start: entry,
                len: 1,
                pos: 0,
            }],
        );
    }

    /// Writes the open collections of `frames` to their ends, then ends the document.
    fn run(&mut self, doc: &Doc<'_>, mut frames: Vec<Frame>) {
        while let Some(top) = frames.last_mut() {
            if self.budget.is_some() && self.spent() {
                return;
            }
            let child = match top {
                Frame::Map { len, pos, .. } | Frame::Seq { len, pos, .. } if *pos == *len => {
                    self.pop_indent();
                    frames.pop();
                    continue;
                }
                Frame::Seq { start, pos, .. } => {
                    let item = doc.items[(*start + *pos) as usize];
                    *pos += 1;
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(doc, item, Ctx::default())
                }
                Frame::Map { start, pos, .. } => {
                    let (key, value) = &doc.entries[(*start + *pos) as usize];
                    *pos += 1;
                    self.write_indent();
                    let ctx = Ctx {
                        mapping: true,
                        simple_key: false,
                    };
                    if plain_name(key) {
                        // Most keys (the schemas' member names): a simple plain key.
                        if !self.whitespace {
                            self.put(' ');
                        }
                        self.out.push_str(key);
                        self.column += key.len();
                        self.whitespace = false;
                        self.indention = false;
                        self.write_indicator(":", false, false, false);
                        self.node(doc, *value, ctx)
                    } else {
                        let a = analyze(key);
                        if !a.multiline && key.len() <= MAX_SIMPLE_KEY_BYTES {
                            let key_ctx = Ctx {
                                mapping: true,
                                simple_key: true,
                            };
                            self.string(key, &a, key_ctx);
                            self.write_indicator(":", false, false, false);
                        } else {
                            self.write_indicator("?", true, false, true);
                            self.string(key, &a, ctx);
                            self.write_indent();
                            self.write_indicator(":", true, false, true);
                        }
                        self.node(doc, *value, ctx)
                    }
                }
            };
            if let Some(f) = child {
                frames.push(f);
            }
        }
        // Document end: finish the last line.
        self.write_indent();
    }

    /// Writes a scalar or an empty collection, or opens a block collection and returns its
    /// frame.
    fn node(&mut self, doc: &Doc<'_>, id: Id, ctx: Ctx) -> Option<Frame> {
        match doc.nodes.get(id as usize)? {
            Node::Null => self.plain_scalar(|out| out.push_str("null")),
            Node::Bool(true) => self.plain_scalar(|out| out.push_str("true")),
            Node::Bool(false) => self.plain_scalar(|out| out.push_str("false")),
            Node::Int(v) => self.plain_scalar(|out| out.push_str(itoa(*v).as_str())),
            Node::Float(f) => self.plain_scalar(|out| write_float(out, *f)),
            Node::Str(s) if !ctx.simple_key && plain_value(s) => {
                // As `string` writes it once the analysis says plain and ASCII.
                self.increase_indent(true, false);
                self.write_plain(s, true, true);
                self.pop_indent();
            }
            Node::Str(s) => {
                let a = analyze(s);
                self.string(s, &a, ctx);
            }
            Node::Map { len: 0, .. } => {
                self.write_indicator("{", true, true, false);
                self.write_indicator("}", false, false, false);
            }
            Node::Seq { len: 0, .. } => {
                self.write_indicator("[", true, true, false);
                self.write_indicator("]", false, false, false);
            }
            &Node::Map { start, len } => {
                self.increase_indent(false, false);
                return Some(Frame::Map { start, len, pos: 0 });
            }
            &Node::Seq { start, len } => {
                // A sequence that is a mapping's value sits at the mapping's indentation.
                self.increase_indent(false, ctx.mapping && !self.indention);
                return Some(Frame::Seq { start, len, pos: 0 });
            }
        }
        None
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// A line break character from a scalar: LF as a line break, others as themselves.
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        if self.column < indent {
            const SPACES: &str = "                                                                ";
            let mut n = indent - self.column;
            while n > 0 {
                let k = n.min(SPACES.len());
                self.out.push_str(&SPACES[..k]);
                n -= k;
            }
            self.column = indent;
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        // Indicators are ASCII: a character a byte.
        self.out.push_str(ind);
        self.column += ind.len();
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    /// A plain scalar that never needs folding or quoting (numbers, booleans, null), written
    /// by `write` as ASCII.
    fn plain_scalar(&mut self, write: impl FnOnce(&mut String)) {
        self.increase_indent(true, false);
        if !self.whitespace {
            self.put(' ');
        }
        let before = self.out.len();
        write(self.out);
        self.column += self.out.len() - before;
        self.whitespace = false;
        self.indention = false;
        self.pop_indent();
    }

    fn string(&mut self, s: &str, a: &Analysis, ctx: Ctx) {
        let style = string_style(s, a, ctx.simple_key);
        self.increase_indent(true, false);
        let allow_breaks = !ctx.simple_key;
        match style {
            Style::Plain => self.write_plain(s, allow_breaks, a.ascii),
            Style::Single => self.write_single_quoted(s, allow_breaks),
            Style::Double => self.write_double_quoted(s, allow_breaks),
            Style::Literal => self.write_literal(s),
        }
        self.pop_indent();
    }

    /// The number of characters of `s` when written as is on this line, if no folding point
    /// can occur in it (a space past column 80); None when one might.
    fn fits(&self, s: &str, allow_breaks: bool) -> Option<usize> {
        let n = if s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        };
        (!allow_breaks || self.column + n <= BEST_WIDTH + 1).then_some(n)
    }

    fn write_plain(&mut self, s: &str, allow_breaks: bool, ascii: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        // A plain scalar never holds a line break.
        let fits = if ascii {
            (!allow_breaks || self.column + s.len() <= BEST_WIDTH + 1).then_some(s.len())
        } else {
            self.fits(s, allow_breaks)
        };
        if let Some(n) = fits {
            self.out.push_str(s);
            self.column += n;
            self.whitespace = false;
            self.indention = false;
            return;
        }
        let (mut spaces, mut breaks) = (false, false);
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            // A run of ASCII characters that are no space or break: written as they are.
            let run = ordinary_run(&b[i..], b"");
            if run > 0 {
                if breaks {
                    self.write_indent();
                }
                self.out.push_str(&s[i..i + run]);
                self.column += run;
                self.indention = false;
                spaces = false;
                breaks = false;
                i += run;
                continue;
            }
            let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
            i += c.len_utf8();
            if c == ' ' {
                let next_space = b.get(i) == Some(&b' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            // A run of ASCII characters that are no space, break or quote: as they are.
            let run = ordinary_run(&b[i..], b"'");
            if run > 0 {
                if breaks {
                    self.write_indent();
                }
                self.out.push_str(&s[i..i + run]);
                self.column += run;
                self.indention = false;
                spaces = false;
                breaks = false;
                i += run;
                continue;
            }
            let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
            let at = i;
            i += c.len_utf8();
            if c == ' ' {
                let inner = at > 0 && at + 1 < s.len();
                let next_space = b.get(i) == Some(&b' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inner && !next_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        // go-yaml tests for a BOM at the start of the whole value, not at each character: a
        // value that starts with one has every character escaped.
        let all_escaped = s.starts_with('\u{FEFF}');
        let verbatim = |c: u8| (b' '..=b'~').contains(&c) && c != b'"' && c != b'\\';
        if !all_escaped && s.bytes().all(verbatim) {
            if let Some(n) = self.fits(s, allow_breaks) {
                self.out.push_str(s);
                self.column += n;
                self.write_indicator("\"", false, false, false);
                self.whitespace = false;
                self.indention = false;
                return;
            }
        }
        let mut spaces = false;
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if all_escaped || !printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    NEL => self.put('N'),
                    '\u{A0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let v = c as u32;
                        let (letter, width) = match v {
                            0..=0xFF => ('x', 2),
                            0x100..=0xFFFF => ('u', 4),
                            _ => ('U', 8),
                        };
                        self.put(letter);
                        for k in (0..width).rev() {
                            let d = (v >> (4 * k)) & 0xF;
                            self.put(
                                char::from_digit(d, 16).map_or('0', |c| c.to_ascii_uppercase()),
                            );
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                let inner = i > 0 && i + 1 < s.len();
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inner {
                    self.write_indent();
                    if chars.peek().map(|&(_, n)| n) == Some(' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, s: &str) {
        self.write_indicator("|", true, false, false);
        let first = s.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.write_indicator("2", false, false, false);
        }
        let mut rev = s.chars().rev();
        let chomp = match (rev.next(), rev.next()) {
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(prev)) if is_break(prev) => Some("+"),
            _ => None,
        };
        if let Some(h) = chomp {
            self.write_indicator(h, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// The length of the run of ASCII characters at the start of `b` that are no space, line
/// break or control character, nor one of `also`: what the scalar writers copy as is.
fn ordinary_run(b: &[u8], also: &[u8]) -> usize {
    b.iter()
        .position(|&x| !(b'!'..=b'~').contains(&x) || also.contains(&x))
        .unwrap_or(b.len())
}

/// Decimal text of an int64 without allocating.
struct Itoa {
    buf: [u8; 20],
    start: usize,
}

impl Itoa {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

fn itoa(v: i64) -> Itoa {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    Itoa { buf, start: i }
}

#[cfg(test)]
mod tests;
