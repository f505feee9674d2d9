//! JSON text read as the apiserver's Go decoder reads it: each invalid UTF-8 byte and each
//! unpaired surrogate escape becomes U+FFFD, a key given twice keeps its last value, numbers
//! keep their text (so the reader decides int64 or float64, as Go does), and every value
//! keeps the bytes it was read from. It never allocates more than a bounded multiple of
//! its input, and refuses nesting deeper than Go's decoder allows.

use std::borrow::Cow;

/// Nesting deeper than this is refused. Go's decoder allows 10,000; no stored object comes
/// near either, and this bound keeps the recursive reader (and the writers that walk its
/// tree) well inside a worker thread's stack.
const MAX_DEPTH: usize = 512;

/// One JSON value, borrowing from the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub enum J<'a> {
    Null,
    Bool(bool),
    /// A number, as written.
    Num(&'a str),
    /// A string's value, and its text between the quotes as written (escapes and all).
    Str(Cow<'a, str>, &'a [u8]),
    Arr(Vec<J<'a>>),
    /// Members in the order written, each key once (its last value, at its first place).
    Obj(Vec<(Cow<'a, str>, J<'a>)>),
}

/// A number as Go's generic decoder (with ints preserved) keeps it: int64 where the text is
/// an integer that fits, float64 otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GoNumber {
    Int(i64),
    Float(f64),
}

impl<'a> J<'a> {
    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&J<'a>> {
        match self {
            J::Obj(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s, _) => Some(s),
            _ => None,
        }
    }
}

/// Reads a number's text as Go's generic decoder does; `None` where the text is out of
/// float64's range (Go refuses such a value).
pub fn go_number(text: &str) -> Option<GoNumber> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(GoNumber::Int(i));
        }
    }
    let f: f64 = text.parse().ok()?;
    f.is_finite().then_some(GoNumber::Float(f))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub what: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JSON at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for JsonError {}

/// Parses one JSON value (white space around it allowed).
pub fn parse(text: &[u8]) -> Result<J<'_>, JsonError> {
    run(text, None)
}

/// [`parse`] of a text known to be UTF-8: its strings are borrowed without checking them
/// again.
pub fn parse_str(text: &str) -> Result<J<'_>, JsonError> {
    run(text.as_bytes(), Some(text))
}

/// Where each member of a root object lies in the text it was read from: its value's
/// bytes, in the members' order.
pub type Spans = Vec<std::ops::Range<usize>>;

/// [`parse_str`], and where the root object's members lie ([`Spans`]; `None` when the
/// root is no object with members, or gives a key twice).
pub fn parse_str_spans(text: &str) -> Result<(J<'_>, Option<Spans>), JsonError> {
    root(text, None)
}

/// [`parse_str`] of `text`, a second state of the object `old` was read from: a root
/// member whose value is written here byte for byte as in `old_text` (where `spans`, from
/// [`parse_str_spans`], says it lies) is taken from `old` instead of being read again.
/// The same value as `parse_str(text)`, or the same error.
pub fn parse_str_like<'a>(
    text: &'a str,
    old_text: &str,
    old: &J<'a>,
    spans: &[std::ops::Range<usize>],
) -> Result<J<'a>, JsonError> {
    root(text, Some((old_text, old, spans))).map(|(v, _)| v)
}

/// The root object of `text` read member by member, as [`Parser::value`] reads an object
/// (the same value, the same errors at the same offsets), its members' values taken from
/// `like`'s tree where written the same.
fn root<'a>(
    text: &'a str,
    like: Option<(&str, &J<'a>, &[std::ops::Range<usize>])>,
) -> Result<(J<'a>, Option<Spans>), JsonError> {
    let b = text.as_bytes();
    let mut p = Parser {
        b,
        s: Some(text),
        i: 0,
        members: Vec::new(),
        items: Vec::new(),
    };
    p.ws();
    let at = p.i;
    p.i += 1;
    p.ws();
    if b.get(at) != Some(&b'{') || b.get(p.i) == Some(&b'}') {
        return parse_str(text).map(|v| (v, None));
    }
    let like = like.and_then(|(t, v, s)| match v {
        J::Obj(m) if m.len() == s.len() => Some((t.as_bytes(), m, s)),
        _ => None,
    });
    let mut members: Vec<(Cow<'a, str>, J<'a>)> = Vec::new();
    let mut spans = Vec::new();
    let mut twice = false;
    loop {
        p.ws();
        if b.get(p.i) != Some(&b'"') {
            return Err(p.err("expected a string key"));
        }
        let k = p.string()?;
        p.ws();
        if b.get(p.i) != Some(&b':') {
            return Err(p.err("expected :"));
        }
        p.i += 1;
        p.ws();
        let start = p.i;
        // The other state's member of this key, when its value is written the same here
        // (a value is complete at its last byte, so what follows must end it).
        let twin = like.and_then(|(t, m, s)| {
            let n = members.len();
            let j = match m.get(n) {
                Some((ok, _)) if *ok == k => n,
                _ => m.iter().position(|(ok, _)| *ok == k)?,
            };
            let v = &t[s[j].clone()];
            (b[start..].starts_with(v)
                && matches!(
                    b.get(start + v.len()),
                    Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b'}')
                ))
            .then(|| (&m[j].1, v.len()))
        });
        let v = match twin {
            Some((v, n)) => {
                p.i = start + n;
                v.clone()
            }
            None => p.value(1)?,
        };
        spans.push(start..p.i);
        match members.iter_mut().find(|(old, _)| *old == k) {
            Some(slot) => {
                slot.1 = v;
                twice = true;
            }
            None => members.push((k, v)),
        }
        p.ws();
        match b.get(p.i) {
            Some(b',') => p.i += 1,
            Some(b'}') => {
                p.i += 1;
                break;
            }
            _ => return Err(p.err("expected , or }")),
        }
    }
    p.ws();
    if p.i != b.len() {
        return Err(p.err("data after the value"));
    }
    Ok((J::Obj(members), (!twice).then_some(spans)))
}

fn run<'a>(text: &'a [u8], s: Option<&'a str>) -> Result<J<'a>, JsonError> {
    let mut p = Parser {
        b: text,
        s,
        i: 0,
        members: Vec::new(),
        items: Vec::new(),
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != text.len() {
        return Err(p.err("data after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    /// The same text as a `str`, when it is known to be UTF-8.
    s: Option<&'a str>,
    i: usize,
    /// Members and items of the containers still open, innermost last: each container is
    /// moved out in one allocation of its own size when it closes.
    members: Vec<(Cow<'a, str>, J<'a>)>,
    items: Vec<J<'a>>,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> JsonError {
        JsonError {
            offset: self.i,
            what,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn lit(&mut self, word: &[u8], v: J<'a>) -> Result<J<'a>, JsonError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<J<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.b.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'n') => self.lit(b"null", J::Null),
            Some(b't') => self.lit(b"true", J::Bool(true)),
            Some(b'f') => self.lit(b"false", J::Bool(false)),
            Some(b'"') => {
                let start = self.i + 1;
                let s = self.string()?;
                Ok(J::Str(s, &self.b[start..self.i - 1]))
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(J::Arr(Vec::new()));
                }
                let open = self.items.len();
                loop {
                    self.ws();
                    let v = self.value(depth + 1)?;
                    self.items.push(v);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(J::Arr(self.items.drain(open..).collect()));
                        }
                        _ => return Err(self.err("expected , or ]")),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(J::Obj(Vec::new()));
                }
                let open = self.members.len();
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(self.err("expected :"));
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    let kb = k.as_bytes();
                    let same = |old: &Cow<'a, str>| {
                        let ob = old.as_bytes();
                        ob.len() == kb.len() && ob.first() == kb.first() && ob == kb
                    };
                    match self.members[open..].iter_mut().find(|(old, _)| same(old)) {
                        Some(slot) => slot.1 = v,
                        None => self.members.push((k, v)),
                    }
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(J::Obj(self.members.drain(open..).collect()));
                        }
                        _ => return Err(self.err("expected , or }")),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("invalid character")),
        }
    }

    fn number(&mut self) -> Result<J<'a>, JsonError> {
        let start = self.i;
        let b = self.b;
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        let mut i = self.i;
        if b[i] == b'-' {
            i += 1;
        }
        if b.get(i) == Some(&b'0') {
            i += 1;
        } else if !digits(&mut i) {
            self.i = i;
            return Err(self.err("invalid number"));
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                self.i = i;
                return Err(self.err("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                self.i = i;
                return Err(self.err("invalid number"));
            }
        }
        self.i = i;
        // ASCII by construction.
        Ok(J::Num(std::str::from_utf8(&b[start..i]).unwrap_or("0")))
    }

    /// A string, unescaped; borrowed where it holds no escape and is valid UTF-8.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.i += 1;
        let start = self.i;
        let b = self.b;
        // Fast path: no escape, valid UTF-8.
        let j = plain_end(b, start);
        if b.get(j) == Some(&b'"') {
            // Both ends are at ASCII bytes, so on a `str` they are character boundaries.
            let s = match self.s {
                Some(text) => text.get(start..j),
                None => std::str::from_utf8(&b[start..j]).ok(),
            };
            if let Some(s) = s {
                self.i = j + 1;
                return Ok(Cow::Borrowed(s));
            }
        }
        let mut out = String::with_capacity(j - start + 8);
        let mut i = start;
        loop {
            let Some(&c) = b.get(i) else {
                self.i = i;
                return Err(self.err("unterminated string"));
            };
            match c {
                b'"' => {
                    self.i = i + 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    let Some(&e) = b.get(i + 1) else {
                        self.i = i;
                        return Err(self.err("unterminated string"));
                    };
                    i += 2;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let Some(hi) = hex4(b, i) else {
                                self.i = i;
                                return Err(self.err("invalid \\u escape"));
                            };
                            i += 4;
                            if (0xd800..0xdc00).contains(&hi) {
                                // A pair when a low surrogate escape follows; else U+FFFD.
                                let lo = (b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u'))
                                    .then(|| hex4(b, i + 2))
                                    .flatten()
                                    .filter(|lo| (0xdc00..0xe000).contains(lo));
                                match lo {
                                    Some(lo) => {
                                        i += 6;
                                        let cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                                        char::from_u32(cp).unwrap_or('\u{fffd}')
                                    }
                                    None => '\u{fffd}',
                                }
                            } else {
                                char::from_u32(hi).unwrap_or('\u{fffd}')
                            }
                        }
                        _ => {
                            self.i = i - 1;
                            return Err(self.err("invalid escape"));
                        }
                    };
                    out.push(ch);
                }
                0..=0x1f => {
                    self.i = i;
                    return Err(self.err("control character in string"));
                }
                _ if self.s.is_some() => {
                    // Valid UTF-8 up to the next quote, escape or control character.
                    let j = plain_end(b, i + 1);
                    out.push_str(self.s.and_then(|t| t.get(i..j)).unwrap_or("\u{fffd}"));
                    i = j;
                }
                0x20..=0x7f => {
                    out.push(c as char);
                    i += 1;
                }
                _ => {
                    let n = utf8_at(b, i);
                    if n == 0 {
                        out.push('\u{fffd}');
                        i += 1;
                    } else {
                        out.push_str(std::str::from_utf8(&b[i..i + n]).unwrap_or("\u{fffd}"));
                        i += n;
                    }
                }
            }
        }
    }
}

/// Where the run of string bytes from `from` ends: at the first quote, backslash or
/// control character, or at the end of `b`.
fn plain_end(b: &[u8], from: usize) -> usize {
    let j = memchr::memchr2(b'"', b'\\', &b[from..]).map_or(b.len(), |n| from + n);
    b[from..j]
        .iter()
        .position(|&x| x < 0x20)
        .map_or(j, |n| from + n)
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    let s = std::str::from_utf8(s).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// The length of the valid UTF-8 sequence at `b[i]` (a byte >= 0x80), or 0.
fn utf8_at(b: &[u8], i: usize) -> usize {
    let n = match b[i] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 0,
    };
    match b.get(i..i + n) {
        Some(s) if std::str::from_utf8(s).is_ok() => n,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_state_reads_as_it_reads_alone() {
        let old = r#"{"kind":"Pod","metadata":{"name":"a","labels":{"x":"1"}},"spec":{"c":[1,"]}\"",{"d":null}]},"n":-1.5e3}"#;
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(510), "]".repeat(510));
        let deeper = format!("{{\"a\":{}1{}}}", "[".repeat(512), "]".repeat(512));
        let news = [
            old,
            // One member changed, members moved, added, removed.
            r#"{"kind":"Pod","metadata":{"name":"a","labels":{"x":"2"}},"spec":{"c":[1,"]}\"",{"d":null}]},"n":-1.5e3}"#,
            r#"{"n":-1.5e3,"spec":{"c":[1,"]}\"",{"d":null}]},"kind":"Pod","extra":[]}"#,
            // White space, escapes, a key given twice, a key with an escape.
            " {\n\"kind\" : \"Pod\" ,\"spec\":{\"c\":[1,\"]}\\\"\",{\"d\":null}]}} \t",
            r#"{"kind":"P\u006fd","spec":{"c":[1,"]}\"",{"d":null}]}}"#,
            r#"{"kind":"Pod","kind":"Job","spec":{"c":[1,"]}\"",{"d":null}]}}"#,
            r#"{"ki\u006ed":"Pod","spec":{"c":[1,"]}\"",{"d":null}]}}"#,
            // A value the old one is the start of.
            r#"{"kind":"Pod","n":-1.5e35}"#,
            r#"{"kind":"Pod","n":-1.5e3 }"#,
            r#"{"kind":"Pod","n":-1.5e3x}"#,
            // Not JSON: after the object, in a changed member, between members, cut short.
            r#"{"kind":"Pod","spec":{"c":[1,"]}\"",{"d":null}]}} x"#,
            r#"{"kind":Pod,"spec":{"c":[1,"]}\"",{"d":null}]}}"#,
            r#"{"kind":"Pod""spec":{"c":[1,"]}\"",{"d":null}]}}"#,
            r#"{"kind":"Pod","spec":{"c":[1,"]}\"",{"d":null}]}"#,
            r#"{"kind":"Pod","spec":{"c":[1,"]}\"",{"d":null}}]}"#,
            "{\"k\u{1}\":1}",
            // Not an object, or an empty one; nesting at and past the limit.
            "[1]",
            "{}",
            "",
            &deep,
            &deeper,
        ];
        let (old_tree, spans) = parse_str_spans(old).unwrap();
        let spans = spans.unwrap();
        assert_eq!(old_tree, parse_str(old).unwrap());
        for new in news {
            assert_eq!(
                parse_str_like(new, old, &old_tree, &spans),
                parse_str(new),
                "{new}"
            );
            assert_eq!(
                parse_str_spans(new).map(|(v, _)| v),
                parse_str(new),
                "{new}"
            );
        }
        // Spans only for an object with members, each key once.
        assert!(parse_str_spans(news[5]).unwrap().1.is_none());
        assert!(parse_str_spans("{}").unwrap().1.is_none());
        assert!(parse_str_spans("[1]").unwrap().1.is_none());
        // Members written the same are taken from the old tree, the others read.
        let J::Obj(m) = parse_str_like(news[1], old, &old_tree, &spans).unwrap() else {
            panic!()
        };
        let within = |j: &J<'_>, text: &str| match j.get("name").unwrap_or(j) {
            J::Str(_, raw) => text.as_bytes().as_ptr_range().contains(&raw.as_ptr()),
            _ => false,
        };
        assert!(within(&m[0].1, old));
        assert!(within(&m[1].1, news[1]));
    }

    #[test]
    fn reads_as_go_does() {
        let v = parse(br#" {"a":1,"b":[true,null,"x\u00e9\ud83d\ude80"],"a":2.50,"c":"\ud800z"} "#)
            .unwrap();
        assert_eq!(v.get("a"), Some(&J::Num("2.50")));
        let J::Obj(m) = &v else { panic!() };
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].0, "a");
        assert_eq!(
            v.get("b").unwrap(),
            &J::Arr(vec![
                J::Bool(true),
                J::Null,
                J::Str("xé🚀".into(), br"x\u00e9\ud83d\ude80")
            ])
        );
        assert_eq!(v.get("c").unwrap().as_str(), Some("\u{fffd}z"));
        assert_eq!(
            parse(b"\"\xff\xfeok\"").unwrap(),
            J::Str("\u{fffd}\u{fffd}ok".into(), b"\xff\xfeok")
        );
        assert!(parse(b"{\"a\":}").is_err());
        assert!(parse(b"[1,]").is_err());
        assert!(parse(b"01").is_err());
        assert!(parse(&[b'['; 600]).is_err());
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert!(parse(deep.as_bytes()).is_ok());
    }

    #[test]
    fn numbers_as_go_keeps_them() {
        assert_eq!(
            go_number("9223372036854775807"),
            Some(GoNumber::Int(i64::MAX))
        );
        assert_eq!(
            go_number("12345678901234567890"),
            Some(GoNumber::Float(12345678901234567890.0))
        );
        assert_eq!(go_number("1.0"), Some(GoNumber::Float(1.0)));
        assert_eq!(go_number("1e3"), Some(GoNumber::Float(1000.0)));
        assert_eq!(go_number("1e400"), None);
    }
}
