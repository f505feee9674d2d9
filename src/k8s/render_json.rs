//! Built-in objects stored as JSON (`--storage-media-type=application/json`), written as
//! the apiserver serves them: decoded into their Go type by the kind's schema, then encoded
//! again — fields in Go order, unknown members dropped, zero-valued structs written, times
//! in UTC to the second, quantities canonical — with the same per-release rules as the
//! protobuf renderer ([`super::render`]). A value Go's decoder refuses is an error here too.
//! It never guesses: a member of the wrong JSON type fails the object, as it does in Go.

use super::gojson;
use super::jsontree::J;
use super::render::{
    Cx, GO_ZERO_TIME, MAX_DEPTH, OBJECT_META, RenderError, Rules, View, go_duration, key,
    open_object, rules, string, zero,
};
use super::schema::{self, MESSAGES, Msg, Render, Rep, Ty};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::borrow::Cow;
use std::fmt::Write as _;

type Members<'a> = [(Cow<'a, str>, J<'a>)];

fn bad(path: &str, what: impl std::fmt::Display) -> RenderError {
    RenderError::Decode(format!("{path}: {what}"))
}

/// Renders a JSON-stored object of a built-in kind as the chosen release serves it.
pub fn render_json_object(
    api_version: &str,
    kind: &str,
    obj: &J<'_>,
    view: &View,
) -> Result<String, RenderError> {
    let msg = super::render::kind_schema(api_version, kind)?;
    let J::Obj(members) = obj else {
        return Err(bad(kind, "not a JSON object"));
    };
    let cx = Cx::new(view);
    let mut out = String::with_capacity(1024);
    let mut first = open_object(msg, api_version, kind, &mut out, &cx);
    body(msg, members, &mut out, &mut first, 0, &cx)?;
    out.push('}');
    Ok(out)
}

fn find<'j, 'a>(members: &'j Members<'a>, name: &str) -> Option<&'j J<'a>> {
    members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn body(
    msg: &'static Msg,
    members: &Members<'_>,
    out: &mut String,
    first: &mut bool,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    if depth > MAX_DEPTH {
        return Err(RenderError::TooDeep);
    }
    let served_rv = match (&cx.rv, depth, msg.name) {
        (Some(rv), 1, OBJECT_META) => Some(J::Str(Cow::Borrowed(rv.as_str()), b"")),
        _ => None,
    };
    for field in msg.fields {
        let r = rules(field, cx);
        if field.inline {
            if let Ty::Msg(m) = field.ty {
                body(&MESSAGES[m as usize], members, out, first, depth + 1, cx)?;
            }
            continue;
        }
        let v = match (&served_rv, field.num) {
            (Some(rv), 6) => Some(rv),
            _ => find(members, field.json),
        };
        let path = || {
            format!(
                "{}.{}",
                msg.name.rsplit('.').next().unwrap_or(""),
                field.json
            )
        };
        match (field.rep, v) {
            (_, None | Some(J::Null)) => absent(field, r, out, first, depth, cx)?,
            (Rep::Many, Some(J::Arr(items))) => {
                if items.is_empty() && r.omitempty {
                    continue;
                }
                key(out, first, field.json);
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    value(field.ty, item, out, depth, cx, &path)?;
                }
                out.push(']');
            }
            (Rep::Map(_, val), Some(J::Obj(entries))) => {
                if entries.is_empty() && r.omitempty {
                    continue;
                }
                key(out, first, field.json);
                map(val, entries, out, depth, cx, &path)?;
            }
            (Rep::One, Some(v)) => present(field, r, v, out, first, depth, cx, &path)?,
            (_, Some(_)) => return Err(bad(&path(), "wrong JSON type")),
        }
    }
    Ok(())
}

/// A member that is missing or null: the field keeps Go's zero value, written as the
/// protobuf renderer writes a field absent from the wire.
fn absent(
    field: &'static schema::Field,
    r: Rules,
    out: &mut String,
    first: &mut bool,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    if field.rep == Rep::One {
        return super::render::absent(field, r, out, first, depth, cx);
    }
    // A nil slice or map.
    if !r.omitempty && !r.omitzero {
        key(out, first, field.json);
        out.push_str("null");
    }
    Ok(())
}

/// A struct's zero value as Go writes it (a nil named slice as null).
fn zero_message(
    msg: &'static Msg,
    out: &mut String,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    if msg.render == Render::Items {
        out.push_str("null");
        return Ok(());
    }
    super::render::message(msg, &[], out, depth, cx)
}

#[allow(clippy::too_many_arguments)]
fn present(
    field: &schema::Field,
    r: Rules,
    v: &J<'_>,
    out: &mut String,
    first: &mut bool,
    depth: u32,
    cx: &Cx,
    path: &dyn Fn() -> String,
) -> Result<(), RenderError> {
    let mut text = String::new();
    value(field.ty, v, &mut text, depth, cx, path)?;
    let omit = match field.ty {
        Ty::Msg(m) => {
            let msg = &MESSAGES[m as usize];
            (r.omitzero && !r.pointer && is_zero(msg, &text))
                || (msg.render == Render::Items && r.omitempty && text == "[]")
        }
        ty => {
            (r.omitempty || r.omitzero)
                && !r.pointer
                && matches!(
                    (ty, text.as_str()),
                    (Ty::String | Ty::Bytes, "\"\"") | (Ty::Bool, "false") | (_, "0")
                )
        }
    };
    if !omit {
        key(out, first, field.json);
        out.push_str(&text);
    }
    Ok(())
}

/// Whether a struct's rendering is its zero value (what omitzero leaves out).
fn is_zero(msg: &'static Msg, text: &str) -> bool {
    match msg.render {
        Render::Time | Render::MicroTime => text == "null",
        _ => {
            let mut z = String::new();
            let cx = Cx::new(&View::STORED);
            zero_message(msg, &mut z, 0, &cx).is_ok() && z == text
        }
    }
}

fn map(
    val: Ty,
    entries: &Members<'_>,
    out: &mut String,
    depth: u32,
    cx: &Cx,
    path: &dyn Fn() -> String,
) -> Result<(), RenderError> {
    let mut sorted: Vec<&(Cow<'_, str>, J<'_>)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, k, cx);
        out.push(':');
        match (val, v) {
            (Ty::Msg(m), J::Null) => zero_message(&MESSAGES[m as usize], out, depth + 1, cx)?,
            (Ty::Bytes, J::Null) => out.push_str("null"),
            (ty, J::Null) => zero(ty, out),
            (ty, v) => value(ty, v, out, depth, cx, path)?,
        }
    }
    out.push('}');
    Ok(())
}

/// One value of type `ty` decoded from JSON and written again.
fn value(
    ty: Ty,
    v: &J<'_>,
    out: &mut String,
    depth: u32,
    cx: &Cx,
    path: &dyn Fn() -> String,
) -> Result<(), RenderError> {
    let wrong = || bad(&path(), "wrong JSON type");
    match (ty, v) {
        (Ty::Msg(m), v) => message(&MESSAGES[m as usize], v, out, depth + 1, cx, path)?,
        (Ty::String, J::Str(s, _)) => string(out, s, cx),
        (Ty::String, J::Null) => string(out, "", cx),
        (Ty::Bytes, J::Str(s, _)) => {
            let b = STANDARD
                .decode(s.as_bytes())
                .map_err(|e| bad(&path(), format_args!("base64: {e}")))?;
            string(out, &STANDARD.encode(b), cx);
        }
        (Ty::Bool, J::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (Ty::Int32, J::Num(n)) => int::<i32>(n, out, path)?,
        (Ty::Int64, J::Num(n)) => int::<i64>(n, out, path)?,
        (Ty::Uint32, J::Num(n)) => int::<u32>(n, out, path)?,
        (Ty::Uint64, J::Num(n)) => int::<u64>(n, out, path)?,
        (Ty::Double | Ty::Float, J::Num(n)) => {
            let f: f64 = n.parse().map_err(|_| wrong())?;
            if !f.is_finite() {
                return Err(bad(&path(), format_args!("number {n} out of range")));
            }
            if ty == Ty::Float {
                gojson::float32(out, f as f32);
            } else {
                gojson::float64(out, f);
            }
        }
        (ty, J::Null) => zero(ty, out),
        _ => return Err(wrong()),
    }
    Ok(())
}

fn int<T: std::str::FromStr + std::fmt::Display>(
    n: &str,
    out: &mut String,
    path: &dyn Fn() -> String,
) -> Result<(), RenderError> {
    let x: T = n.parse().map_err(|_| {
        bad(
            &path(),
            format_args!("cannot unmarshal number {n} into an integer"),
        )
    })?;
    let _ = write!(out, "{x}");
    Ok(())
}

/// A struct, or a type with a JSON form of its own, from its JSON.
fn message(
    msg: &'static Msg,
    v: &J<'_>,
    out: &mut String,
    depth: u32,
    cx: &Cx,
    path: &dyn Fn() -> String,
) -> Result<(), RenderError> {
    if depth > MAX_DEPTH {
        return Err(RenderError::TooDeep);
    }
    let wrong = || bad(&path(), "wrong JSON type");
    if let J::Null = v {
        return zero_message(msg, out, depth, cx);
    }
    match msg.render {
        Render::Plain => {
            let J::Obj(members) = v else {
                return Err(wrong());
            };
            out.push('{');
            let mut first = true;
            body(msg, members, out, &mut first, depth, cx)?;
            out.push('}');
        }
        Render::Time => {
            let s = v.as_str().ok_or_else(wrong)?;
            let (secs, _) = parse_rfc3339(s, false)
                .ok_or_else(|| bad(&path(), format_args!("parsing time {s:?}")))?;
            if secs == GO_ZERO_TIME {
                out.push_str("null");
            } else {
                string(out, &super::meta::rfc3339(secs), cx);
            }
        }
        Render::MicroTime => {
            let s = v.as_str().ok_or_else(wrong)?;
            let (secs, nanos) = parse_rfc3339(s, true)
                .ok_or_else(|| bad(&path(), format_args!("parsing time {s:?}")))?;
            if secs == GO_ZERO_TIME && nanos == 0 {
                out.push_str("null");
            } else {
                let t = super::meta::rfc3339(secs);
                let micros = nanos / 1000;
                string(out, &format!("{}.{micros:06}Z", &t[..t.len() - 1]), cx);
            }
        }
        Render::Duration => {
            let s = v.as_str().ok_or_else(wrong)?;
            let d = parse_duration(s)
                .ok_or_else(|| bad(&path(), format_args!("invalid duration {s:?}")))?;
            string(out, &go_duration(d), cx);
        }
        Render::Quantity => {
            // Go parses the JSON text itself: quotes stripped, escapes not undone.
            let text: &[u8] = match v {
                J::Str(_, text) => text,
                J::Num(n) => n.as_bytes(),
                _ => return Err(wrong()),
            };
            let q = super::quantity::canonical_json(text).map_err(|e| {
                bad(
                    &path(),
                    format_args!("quantity {:?}: {e}", String::from_utf8_lossy(text)),
                )
            })?;
            string(out, &q, cx);
        }
        Render::IntOrString => match v {
            J::Str(s, _) => string(out, s, cx),
            J::Num(n) => int::<i32>(n, out, path)?,
            _ => return Err(wrong()),
        },
        Render::RawJson => raw(v, out, cx),
        // The apiextensions unions: one member, chosen by the JSON type, written as their
        // MarshalJSON writes it.
        Render::SchemaOrArray | Render::SchemaOrBool | Render::SchemaOrStringArray => {
            let ty = |n: u32| {
                msg.fields
                    .iter()
                    .find(|f| f.num == n)
                    .map_or(Ty::Bytes, |f| f.ty)
            };
            let (schema, list_ty) = match msg.render {
                Render::SchemaOrArray => (ty(1), ty(2)),
                Render::SchemaOrBool => (ty(2), Ty::Bool),
                _ => (ty(1), Ty::String),
            };
            match v {
                J::Obj(_) => value(schema, v, out, depth, cx, path)?,
                J::Bool(b) if msg.render == Render::SchemaOrBool => {
                    out.push_str(if *b { "true" } else { "false" })
                }
                J::Arr(items) if msg.render != Render::SchemaOrBool => {
                    if items.is_empty() {
                        out.push_str("null");
                    } else {
                        out.push('[');
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            value(list_ty, item, out, depth, cx, path)?;
                        }
                        out.push(']');
                    }
                }
                _ => return Err(wrong()),
            }
        }
        Render::Items => {
            let J::Arr(items) = v else {
                return Err(wrong());
            };
            let ty = msg.fields.first().map_or(Ty::String, |f| f.ty);
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value(ty, item, out, depth, cx, path)?;
            }
            out.push(']');
        }
    }
    Ok(())
}

/// Embedded JSON (RawExtension, FieldsV1) as written, compacted as Go compacts it: members
/// in their order, numbers and strings as their text (escapes kept), a key given twice once.
fn raw(v: &J<'_>, out: &mut String, cx: &Cx) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(n) => out.push_str(n),
        J::Str(_, text) => gojson::compact_string(out, text),
        J::Arr(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                raw(x, out, cx);
            }
            out.push(']');
        }
        J::Obj(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gojson::string(out, k.as_bytes(), cx.esc);
                out.push(':');
                raw(x, out, cx);
            }
            out.push('}');
        }
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a time as Go's `time.Parse(time.RFC3339, s)` does (any fraction of a second
/// allowed), or, with `micro`, as `time.Parse("2006-01-02T15:04:05.000000Z07:00", s)`
/// (exactly six digits). Returns Unix seconds and nanoseconds.
pub fn parse_rfc3339(s: &str, micro: bool) -> Option<(i64, i64)> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let d = b.get(from..from + len)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0')))
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let (h, mi, se) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > mdays[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || se > 59
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if micro {
        if b.get(i) != Some(&b'.') {
            return None;
        }
        nanos = num(i + 1, 6)? * 1000;
        i += 7;
    } else if let Some(b'.' | b',') = b.get(i) {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 9)];
        nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match b.get(i)? {
        b'Z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *c == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some((secs, nanos))
}

/// Parses a duration as Go's `time.ParseDuration` does, in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_end);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let e = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(e)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_end = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale: u64 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let mut v: u64 = 0;
        for c in int_part.bytes() {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        }
        let mut v = v.checked_mul(scale)?;
        // The fraction's digits, as far as they can matter, scaled down.
        let mut f: u64 = 0;
        let mut fscale: f64 = 1.0;
        for c in frac_part.bytes() {
            if f > (1u64 << 63) / 10 {
                break;
            }
            f = f * 10 + u64::from(c - b'0');
            fscale *= 10.0;
        }
        if f > 0 {
            v = v.checked_add((f as f64 * (scale as f64 / fscale)) as u64)?;
        }
        total = total.checked_add(v)?;
        if total > 1u64 << 63 {
            return None;
        }
        rest = next;
    }
    if neg {
        Some((total as i128).wrapping_neg() as i64)
    } else if total > i64::MAX as u64 {
        None
    } else {
        Some(total as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_go_does() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z", false), Some((0, 0)));
        assert_eq!(
            parse_rfc3339("2025-06-01T02:00:00+02:00", false),
            Some((1_748_736_000, 0))
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T00:00:01.5-00:30", false),
            Some((1_748_736_000 + 1800 + 1, 500_000_000))
        );
        assert_eq!(
            parse_rfc3339("0001-01-01T00:00:00Z", false),
            Some((GO_ZERO_TIME, 0))
        );
        assert_eq!(parse_rfc3339("2025-02-30T00:00:00Z", false), None);
        assert_eq!(parse_rfc3339("2025-01-01 00:00:00Z", false), None);
        assert!(parse_rfc3339("2025-01-01T00:00:00.123456Z", true).is_some());
        assert_eq!(parse_rfc3339("2025-01-01T00:00:00.123456789Z", true), None);
        assert_eq!(parse_rfc3339("2025-01-01T00:00:00Z", true), None);
    }

    #[test]
    fn durations_parse_as_go_does() {
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("1h2m3.5s"), Some(3_723_500_000_000));
        assert_eq!(parse_duration("-1.5ms"), Some(-1_500_000));
        assert_eq!(parse_duration("300µs"), Some(300_000));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("1"), None);
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_duration("9999999999h"), None);
    }
}
