//! `resource.Quantity` strings as kube-apiserver re-encodes them ([`canonical`]: Go's
//! `ParseQuantity` then `String()`, its quirks included); it never panics, and never does work
//! or allocates beyond what the input's length bounds, whatever exponent the input names.
//!
//! How apimachinery behaves, and so what this reproduces:
//!
//! - Grammar: an optional sign, digits with at most one `.`, then a suffix made of letters
//!   from `eEinumkKMGTP`, an optional sign and digits. Anything else is `ErrFormatWrong`. The
//!   number part may be empty (`"-"`, `"."`, `"Ki"` all parse as zero); `""` is an error.
//! - Suffixes: decimal SI (`n u m "" k M G T P E`), binary SI (`Ki Mi Gi Ti Pi Ei`), or
//!   `e`/`E` and a decimal int64 (truncated to 32 bits, so `e4294967296` means `e0`). Any
//!   other suffix is `ErrSuffix`. The kind of suffix picks the output format.
//! - Precision: values finer than 1n are rounded away from zero to the next nano; binary
//!   values are capped at 2^63-1 in magnitude (decimal ones are not).
//! - Two ways in: short inputs (at most 18 digits, scale at least nano) become an int64 with
//!   a decimal scale; Go then keeps the input string itself as the output when it looks
//!   canonical to a cheap test, so `"+1"`, `"01"`, `"1.500k"` and `"1.Ki"` come back verbatim.
//!   Everything else goes through an arbitrary-precision decimal, computed here with digit
//!   strings and 128-bit integers instead.
//! - Output: zero is `"0"`; otherwise the mantissa without trailing zeros and the largest
//!   exponent that is a multiple of 3, written with the format's suffix. A decimal SI exponent
//!   above 18 has no suffix, and Go writes none (`"1000E"` comes out as `"1"`). Binary output
//!   needs a whole number of at least 1024; otherwise it falls back to decimal SI
//!   (`"1.5Ki"` → `"1536"`, `"0.5Ki"` → `"512"`).
//! - Exponent arithmetic is 32-bit and wraps as Go's does.
//!
//! Go itself does not bound its work: a long mantissa with a huge exponent (e.g. 19 digits
//! then `e999999999`) makes it build a billion-digit integer. Here the same value is computed
//! from the digits, so the answer is what Go would print given unlimited time. The single
//! input class where Go panics instead (a shift of exactly -2^31 inside its decimal library)
//! returns [`QuantityError::Panics`].
//!
//! Protobuf-stored quantities go through the same parse: Quantity's protobuf `Unmarshal`
//! calls `ParseQuantity` on its string field, and encoders write `String()`.

use std::fmt::{self, Write as _};

/// Why the apiserver cannot decode a quantity string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityError {
    /// Not of the quantity grammar, or empty (Go's `ErrFormatWrong`).
    FormatWrong,
    /// No digit where the number is needed (Go's `ErrNumeric`).
    Numeric,
    /// A suffix that is neither a unit nor an int64 exponent (Go's `ErrSuffix`).
    Suffix,
    /// Go panics while decoding it (its decimal library indexes a table with -2^31).
    Panics,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first three are Go's own messages, which the apiserver reports.
        f.write_str(match self {
            QuantityError::FormatWrong => {
                "quantities must match the regular expression \
                 '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            }
            QuantityError::Numeric => "unable to parse numeric part of quantity",
            QuantityError::Suffix => "unable to parse quantity's suffix",
            QuantityError::Panics => {
                "quantity exponent makes the apiserver's decimal library panic (shift of -2^31)"
            }
        })
    }
}

impl std::error::Error for QuantityError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// The largest magnitude a binary quantity keeps, and 1 in nano units.
const MAX: u128 = i64::MAX as u128;
const NANO: u128 = 1_000_000_000;

/// The canonical string Go's `ParseQuantity(s)` followed by `String()` yields, or the error
/// `ParseQuantity` returns. This is what the apiserver serves for a Quantity it decoded.
pub fn canonical(s: &str) -> Result<String, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    if s == "0" {
        return Ok(String::from("0"));
    }
    let p = scan(s)?;
    let (exponent, format) = interpret(p.suffix).ok_or(QuantityError::Suffix)?;
    let digits = Digits {
        a: p.num,
        b: p.denom,
    };

    // The int64 path. Go estimates whether the digits fit: 18 of them for decimal input, and
    // for binary input 15 less the digits the power of two adds (exponent*3/10, exact here).
    let (precision, mut scale, shift) = match format {
        Format::BinarySI if p.denom.is_empty() => {
            let p = 15i32
                .wrapping_sub(p.num.len() as i32)
                .wrapping_sub(exponent * 3 / 10)
                .wrapping_sub(1);
            (p, 0i32, exponent as u32)
        }
        Format::BinarySI => (-1, 0, 0),
        _ => {
            let n = p.num.len().wrapping_add(p.denom.len()) as i32;
            (18i32.wrapping_sub(n), exponent, 0)
        }
    };
    if precision >= 0 {
        scale = scale.wrapping_sub(p.denom.len() as i32);
        if scale >= -9 {
            let value = digits.to_i64().ok_or(QuantityError::Numeric)?;
            if let Some(magnitude) = value.checked_mul(1i64 << shift) {
                // Go keeps the input string when this cheap test calls it canonical, even
                // with a sign, leading zeros or a decimal point in it.
                let keeps_input = match format {
                    Format::BinarySI => value & 7 != 0,
                    _ => {
                        scale % 3 == 0
                            && !digits.ends_with_three_zeros()
                            && p.num.as_bytes()[0] != b'0'
                    }
                };
                if keeps_input {
                    return Ok(s.to_owned());
                }
                return Ok(int_string(!p.positive, magnitude as u64, scale, format));
            }
        }
    }

    // The arbitrary-precision path: Go parses the number text (sign, digits and point) and
    // fails if there is no digit in it.
    if !p.value.bytes().any(|b| b.is_ascii_digit()) {
        return Err(QuantityError::Numeric);
    }
    if format == Format::BinarySI {
        Ok(binary_big(&p, exponent as u32))
    } else {
        decimal_big(&p, digits, exponent, format)
    }
}

/// What the apiserver serves for a Quantity decoded from JSON, given the raw text of the JSON
/// value other than `null` (which leaves the Quantity unset). Go's `UnmarshalJSON` strips one
/// pair of surrounding quotes without unescaping anything and trims white space as
/// `strings.TrimSpace` does before parsing: so `" 1"` and the number `1` both work, while an
/// escape such as `\u0031` inside the string is an error.
pub fn canonical_json(raw: &[u8]) -> Result<String, QuantityError> {
    let inner = match raw {
        [b'"', inner @ .., b'"'] => inner,
        _ => raw,
    };
    // Bytes that are not UTF-8 are outside the grammar, and Go rejects them the same way.
    let text = std::str::from_utf8(inner).map_err(|_| QuantityError::FormatWrong)?;
    canonical(text.trim())
}

/// The parts of a quantity string, as apimachinery's scanner splits it.
struct Parts<'a> {
    positive: bool,
    /// The number text: sign, digits and point, without the suffix.
    value: &'a str,
    /// Integer digits without leading zeros; `"0"` when there are none.
    num: &'a str,
    /// Fraction digits, possibly empty.
    denom: &'a str,
    suffix: &'a str,
}

fn scan(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    // Every index below sits just after an ASCII byte, so slicing `s` there is safe.
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        // Only a sign and zeros (or nothing): zero, and the sign is dropped from the text.
        return Ok(Parts {
            positive,
            value: "0",
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        return Ok(Parts {
            positive,
            value: s,
            num: &s[start..],
            denom: "",
            suffix: "",
        });
    }
    let num = if pos == start { "0" } else { &s[start..pos] };
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let from = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[from..pos];
        if pos >= end {
            return Ok(Parts {
                positive,
                value: s,
                num,
                denom,
                suffix: "",
            });
        }
    }
    let value = &s[..pos];
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::FormatWrong);
    }
    Ok(Parts {
        positive,
        value,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// The power (of 10, or of 2 for binary SI) and format a suffix names.
fn interpret(suffix: &str) -> Option<(i32, Format)> {
    use Format::*;
    Some(match suffix {
        "" => (0, DecimalSI),
        "n" => (-9, DecimalSI),
        "u" => (-6, DecimalSI),
        "m" => (-3, DecimalSI),
        "k" => (3, DecimalSI),
        "M" => (6, DecimalSI),
        "G" => (9, DecimalSI),
        "T" => (12, DecimalSI),
        "P" => (15, DecimalSI),
        "E" => (18, DecimalSI),
        "Ki" => (10, BinarySI),
        "Mi" => (20, BinarySI),
        "Gi" => (30, BinarySI),
        "Ti" => (40, BinarySI),
        "Pi" => (50, BinarySI),
        "Ei" => (60, BinarySI),
        _ if suffix.len() > 1 && matches!(suffix.as_bytes()[0], b'e' | b'E') => {
            // Go converts the int64 to int32 by truncation.
            (parse_int64(&suffix[1..])? as i32, DecimalExponent)
        }
        _ => return None,
    })
}

/// A decimal int64 as Go's `strconv.ParseInt(s, 10, 64)` accepts it.
fn parse_int64(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        (n <= 1 << 63).then(|| (n as i64).wrapping_neg())
    } else {
        i64::try_from(n).ok()
    }
}

/// The integer and fraction digits read as one digit string, without copying them.
#[derive(Clone, Copy)]
struct Digits<'a> {
    a: &'a str,
    b: &'a str,
}

impl Digits<'_> {
    fn len(&self) -> usize {
        self.a.len() + self.b.len()
    }

    fn at(&self, i: usize) -> u8 {
        match self.a.as_bytes().get(i) {
            Some(&d) => d,
            None => self.b.as_bytes()[i - self.a.len()],
        }
    }

    fn bytes(&self) -> impl DoubleEndedIterator<Item = u8> + '_ {
        self.a.bytes().chain(self.b.bytes())
    }

    fn leading_zeros(&self) -> usize {
        self.bytes().take_while(|&d| d == b'0').count()
    }

    fn trailing_zeros(&self) -> usize {
        self.bytes().rev().take_while(|&d| d == b'0').count()
    }

    fn ends_with_three_zeros(&self) -> bool {
        self.len() >= 3 && self.trailing_zeros() >= 3
    }

    /// The digits as an int64, as long as they fit.
    fn to_i64(self) -> Option<i64> {
        self.bytes().try_fold(0i64, |n, d| {
            n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
    }

    /// Appends the digits in `from..to`.
    fn write(&self, out: &mut String, from: usize, to: usize) {
        let split = self.a.len();
        if from < split {
            out.push_str(&self.a[from..to.min(split)]);
        }
        if to > split {
            out.push_str(&self.b[from.max(split) - split..to - split]);
        }
    }
}

/// Appends the zeros that bring `exponent` down to a multiple of 3, then the suffix of
/// `format` for it. Go steps down one power at a time in 32-bit arithmetic; its int64 form
/// instead takes one step of 1 or 2 (`single_step`), which differs only where the exponent
/// wraps around.
fn decimal_tail(out: &mut String, mut exponent: i32, format: Format, single_step: bool) {
    if single_step {
        let zeros = match exponent % 3 {
            1 | -2 => 1,
            2 | -1 => 2,
            _ => 0,
        };
        out.push_str(&"00"[..zeros]);
        exponent = exponent.wrapping_sub(zeros as i32);
    } else {
        while exponent % 3 != 0 {
            out.push('0');
            exponent = exponent.wrapping_sub(1);
        }
    }
    if format == Format::DecimalExponent {
        if exponent != 0 {
            let _ = write!(out, "e{exponent}");
        }
        return;
    }
    out.push_str(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        // No suffix for this power; Go writes the mantissa alone.
        _ => "",
    });
}

/// Appends a whole number in base 1024 with its binary suffix (none for 1024^0).
fn binary_tail(out: &mut String, mut n: u64) {
    let mut times = 0;
    while n >= 1024 && n % 1024 == 0 {
        n /= 1024;
        times += 1;
    }
    push_u64(out, n, 0);
    out.push_str(["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][times]);
}

/// Splits `n` into its digits without trailing zeros and their count.
fn strip_tens(mut n: u64) -> (u64, u32) {
    let mut times = 0;
    while n >= 10 && n % 10 == 0 {
        n /= 10;
        times += 1;
    }
    (n, times)
}

/// Appends `n` in decimal, padded with leading zeros to `width` digits.
fn push_u64(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while n > 0 || i == buf.len() {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    i = i.min(buf.len() - width.min(buf.len()));
    out.extend(buf[i..].iter().map(|&b| char::from(b)));
}

/// `String()` of the int64 form: `magnitude * 10^scale`, negated when `negative`.
fn int_string(negative: bool, magnitude: u64, scale: i32, format: Format) -> String {
    if magnitude == 0 {
        return String::from("0");
    }
    let mut out = String::with_capacity(36);
    if negative {
        out.push('-');
    }
    // Binary input always has scale 0 here, so it is exact in base 1024.
    if format == Format::BinarySI && magnitude >= 1024 {
        binary_tail(&mut out, magnitude);
        return out;
    }
    let format = match format {
        Format::BinarySI => Format::DecimalSI,
        f => f,
    };
    let (m, times) = strip_tens(magnitude);
    push_u64(&mut out, m, 0);
    let exponent = scale.wrapping_add(times as i32);
    // Go multiplies the int64 by 10 or 100 in one step; when that overflows it starts over
    // with its arbitrary-precision form, which steps one power at a time.
    let factor = match exponent % 3 {
        1 | -2 => 10,
        2 | -1 => 100,
        _ => 1,
    };
    decimal_tail(&mut out, exponent, format, u128::from(m) * factor <= MAX);
    out
}

/// The arbitrary-precision path for decimal SI and exponent input: the value rounded up to a
/// multiple of 1n, then written canonically. Go's 32-bit scale arithmetic is kept.
fn decimal_big(
    p: &Parts<'_>,
    digits: Digits<'_>,
    exponent: i32,
    format: Format,
) -> Result<String, QuantityError> {
    let n = digits.len();
    let lead = digits.leading_zeros();
    if lead == n {
        return Ok(String::from("0"));
    }
    let significant = n - lead;
    let tz_in = digits.trailing_zeros();
    // The value is digits * 10^-scale; rounding to scale 9 shifts it left by 9 - scale.
    let scale = (p.denom.len() as i32).wrapping_add(exponent.wrapping_neg());
    let shift = 9i32.wrapping_sub(scale);
    let mut out = String::with_capacity(significant + 16);
    if !p.positive {
        out.push('-');
    }
    // Trailing zeros of the rounded value, in nano units.
    let tz: u64 = if shift >= 0 {
        digits.write(&mut out, lead, n - tz_in);
        tz_in as u64 + shift as u64
    } else if shift == i32::MIN {
        return Err(QuantityError::Panics);
    } else {
        let drop = shift.unsigned_abs() as usize;
        if drop >= significant {
            // Below 1n: rounds up to 1n.
            out.push('1');
            0
        } else if tz_in >= drop {
            // Only zeros are dropped: exact.
            digits.write(&mut out, lead, n - tz_in);
            (tz_in - drop) as u64
        } else {
            // Something non-zero is dropped: add one to the kept digits.
            let kept_end = n - drop;
            match (lead..kept_end).rev().find(|&i| digits.at(i) != b'9') {
                None => {
                    out.push('1');
                    (kept_end - lead) as u64
                }
                Some(i) => {
                    digits.write(&mut out, lead, i);
                    out.push(char::from(digits.at(i) + 1));
                    (kept_end - i - 1) as u64
                }
            }
        }
    };
    // Go counts the factors of ten in an int32 and adds them to the exponent -9.
    decimal_tail(
        &mut out,
        (-9i32).wrapping_add(tz as u32 as i32),
        format,
        false,
    );
    Ok(out)
}

/// The arbitrary-precision path for binary SI input: `num.denom * 2^power`, rounded up to a
/// multiple of 1n and capped at 2^63-1, written in base 1024 when it is a whole number of at
/// least 1024 and as decimal SI otherwise.
fn binary_big(p: &Parts<'_>, power: u32) -> String {
    let digits = Digits {
        a: p.num,
        b: p.denom,
    };
    if digits.leading_zeros() == digits.len() {
        return String::from("0");
    }
    // A whole part over 20 digits is at least 10^20, beyond the cap whatever the fraction.
    let whole = (p.num.len() <= 20)
        .then(|| {
            p.num
                .bytes()
                .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'))
        })
        .and_then(|n| n.checked_mul(1u128 << power))
        .filter(|&n| n <= MAX);
    let nanos = match whole {
        None => MAX * NANO,
        Some(whole) => (whole * NANO + fraction_nanos(p.denom, power)).min(MAX * NANO),
    };
    let mut out = String::with_capacity(40);
    if !p.positive {
        out.push('-');
    }
    // Both parts fit 64 bits: the whole part is at most 2^63-1.
    let (whole, frac) = ((nanos / NANO) as u64, (nanos % NANO) as u64);
    if frac == 0 && whole >= 1024 {
        binary_tail(&mut out, whole);
    } else if frac == 0 {
        let (m, times) = strip_tens(whole);
        push_u64(&mut out, m, 0);
        decimal_tail(&mut out, times as i32, Format::DecimalSI, false);
    } else {
        // The digits are the whole part then the nine fraction digits, trailing zeros cut.
        let (f, times) = strip_tens(frac);
        if whole > 0 {
            push_u64(&mut out, whole, 0);
            push_u64(&mut out, f, 9 - times as usize);
        } else {
            push_u64(&mut out, f, 0);
        }
        decimal_tail(&mut out, times as i32 - 9, Format::DecimalSI, false);
    }
    out
}

/// `ceil(0.denom * 2^power * 10^9)`: the fraction's share in nano units, rounded up.
fn fraction_nanos(denom: &str, power: u32) -> u128 {
    let denom = denom.trim_end_matches('0');
    if denom.len() <= 9 {
        // Exact: the digits times 10^(9 - len) times 2^power.
        let d = denom
            .bytes()
            .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
        return (d * 10u128.pow(9 - denom.len() as u32)) << power;
    }
    // 2^60 * 10^9 < 2^90, so ten times it plus a carry below it fits in 128 bits. Digits are
    // taken from the right: each step divides by ten and remembers whether anything was lost.
    let factor = (1u128 << power) * NANO;
    let mut carry = 0u128;
    let mut inexact = false;
    for d in denom.bytes().rev() {
        let t = u128::from(d - b'0') * factor + carry;
        inexact |= t % 10 != 0;
        carry = t / 10;
    }
    carry + u128::from(inexact)
}

#[cfg(test)]
mod tests {
    use super::*;

    use QuantityError::{FormatWrong, Numeric, Panics, Suffix};

    /// (input, what the apiserver serves for it, or the error it fails with). Each expected
    /// value follows apimachinery's ParseQuantity and String, and was checked against them.
    const VECTORS: &[(&str, Result<&str, QuantityError>)] = &[
        // Served by a real apiserver for JSON-stored pod resources.
        ("1000m", Ok("1")),
        ("1024Mi", Ok("1Gi")),
        ("0.5Gi", Ok("512Mi")),
        ("0.5", Ok("500m")),
        ("1e3", Ok("1e3")),
        ("1.0", Ok("1")),
        // Zero in every format: always "0", never a suffix or a sign.
        ("0", Ok("0")),
        ("0n", Ok("0")),
        ("0u", Ok("0")),
        ("0m", Ok("0")),
        ("0k", Ok("0")),
        ("0M", Ok("0")),
        ("0G", Ok("0")),
        ("0T", Ok("0")),
        ("0Ki", Ok("0")),
        ("0Mi", Ok("0")),
        ("0Gi", Ok("0")),
        ("0Ti", Ok("0")),
        ("0Ei", Ok("0")),
        ("0e9", Ok("0")),
        ("00", Ok("0")),
        ("-0", Ok("0")),
        ("+0", Ok("0")),
        ("0.000", Ok("0")),
        ("-0.0Ki", Ok("0")),
        ("0e-100", Ok("0")),
        ("00000000000000000000000000", Ok("0")),
        // An empty number is zero, unless the slow path needs its digits.
        ("-", Ok("0")),
        ("+", Ok("0")),
        (".", Ok("0")),
        ("-.", Ok("0")),
        ("Ki", Ok("0")),
        ("m", Ok("0")),
        ("e3", Ok("0")),
        (".Ti", Ok("0")),
        (".Pi", Err(Numeric)),
        ("-Ei", Err(Numeric)),
        ("e-10", Err(Numeric)),
        (".e-10", Err(Numeric)),
        // Decimal SI, canonical input kept.
        ("1", Ok("1")),
        ("5n", Ok("5n")),
        ("4u", Ok("4u")),
        ("3m", Ok("3m")),
        ("8k", Ok("8k")),
        ("7M", Ok("7M")),
        ("6G", Ok("6G")),
        ("5T", Ok("5T")),
        ("2P", Ok("2P")),
        ("1E", Ok("1E")),
        ("12E", Ok("12E")),
        ("1080m", Ok("1080m")),
        ("1234567M", Ok("1234567M")),
        ("999999999999999999", Ok("999999999999999999")),
        ("-999999999999999999", Ok("-999999999999999999")),
        // Decimal SI, rewritten.
        ("50k", Ok("50k")),
        ("40T", Ok("40T")),
        ("300T", Ok("300T")),
        ("1000M", Ok("1G")),
        ("1000000k", Ok("1G")),
        ("1000000000", Ok("1G")),
        ("0.001T", Ok("1G")),
        ("1000u", Ok("1m")),
        ("1.08", Ok("1080m")),
        ("1080000000n", Ok("1080m")),
        ("100.035k", Ok("100.035k")),
        ("10.035M", Ok("10.035M")),
        ("0.0005k", Ok("500m")),
        ("0.00050k", Ok("500m")),
        (".0001k", Ok("100m")),
        (".001", Ok("1m")),
        ("0.001", Ok("1m")),
        ("0.005", Ok("5m")),
        ("0.05", Ok("50m")),
        ("0.05000", Ok("50m")),
        ("0.00500", Ok("5m")),
        ("9.01", Ok("9010m")),
        ("8.1k", Ok("8100")),
        ("7.123456M", Ok("7.123456M")),
        ("6.987654321G", Ok("6.987654321G")),
        ("5.444T", Ok("5.444T")),
        ("40.1T", Ok("40100G")),
        ("2.5P", Ok("2500T")),
        ("1.01E", Ok("1010P")),
        ("1.5", Ok("1500m")),
        ("1.", Ok("1.")),
        ("1.0E", Ok("1E")),
        ("1000000000000000000", Ok("1E")),
        ("10E", Ok("10E")),
        ("10000000000000000000", Ok("10E")),
        // Go keeps the input itself when its cheap test calls it canonical.
        ("+1", Ok("+1")),
        ("01", Ok("01")),
        ("-007", Ok("-007")),
        ("+5m", Ok("+5m")),
        ("1.500k", Ok("1.500k")),
        ("1.250", Ok("1.250")),
        ("1.G", Ok("1.G")),
        ("1.k", Ok("1.k")),
        ("1.Ki", Ok("1.Ki")),
        ("+1Ki", Ok("+1Ki")),
        ("01Mi", Ok("01Mi")),
        ("1E3", Ok("1E3")),
        ("1e+3", Ok("1e+3")),
        ("1e03", Ok("1e03")),
        // Beyond E the decimal SI suffixes end and Go writes no suffix at all.
        ("1000E", Ok("1")),
        ("10000E", Ok("10")),
        ("1500E", Ok("1500E")),
        ("1000000000000000000000", Ok("1")),
        // Decimal exponents.
        ("1E-3", Ok("1E-3")),
        ("1e-3", Ok("1e-3")),
        ("1E6", Ok("1E6")),
        ("1e9", Ok("1e9")),
        ("1E18", Ok("1E18")),
        ("1e14", Ok("100e12")),
        ("1e13", Ok("10e12")),
        ("1e0", Ok("1e0")),
        ("1e1", Ok("10")),
        ("1000e0", Ok("1e3")),
        ("1000e-12", Ok("1e-9")),
        (".001e12", Ok("1e9")),
        ("0.001e0", Ok("1e-3")),
        ("0.5e0", Ok("500e-3")),
        ("0.5e-1", Ok("50e-3")),
        ("0.5e-2", Ok("5e-3")),
        ("1.2e3", Ok("1200")),
        ("1.3E+6", Ok("1300e3")),
        ("1.40e9", Ok("1400e6")),
        ("1.53E12", Ok("1530e9")),
        ("1.6e15", Ok("1600e12")),
        ("1.7E18", Ok("1700e15")),
        ("1.5e4", Ok("1.5e4")),
        ("1.5e5", Ok("150e3")),
        ("1e21", Ok("1e21")),
        ("1e4294967296", Ok("1e4294967296")),
        ("1e4294967297", Ok("10")),
        ("1e9223372036854775807", Ok("100e-3")),
        ("1e-9223372036854775808", Ok("1e-9223372036854775808")),
        ("1e999999999", Ok("1e999999999")),
        ("1e1000000000", Ok("10e999999999")),
        ("10e2147483647", Ok("10e2147483647")),
        ("-1e2147483647", Ok("-10e2147483646")),
        ("1e-12", Ok("1e-9")),
        ("1.5e-2147483648", Ok("150e2147483646")),
        ("1e-99999", Ok("1e-9")),
        ("1234567890123456789e9999", Ok("1234567890123456789e9999")),
        ("1234567890123456789e-99999", Ok("1e-9")),
        ("1234567890123456789e2147483639", Err(Panics)),
        ("1e9223372036854775808", Err(Suffix)),
        // Rounding up to 1n, away from zero for negatives.
        ("3.001n", Ok("4n")),
        ("1.1E-9", Ok("2e-9")),
        ("0.0000000001", Ok("1n")),
        ("0.0000000005", Ok("1n")),
        ("0.00000000050", Ok("1n")),
        ("0.5e-9", Ok("1e-9")),
        ("0.9n", Ok("1n")),
        ("0.1m", Ok("100u")),
        ("0.00000012345", Ok("124n")),
        ("0.00000012354", Ok("124n")),
        ("-0.1n", Ok("-1n")),
        ("-3.001n", Ok("-4n")),
        ("0.999999999999", Ok("1")),
        ("9.9999999999", Ok("10")),
        ("99.9999999999n", Ok("100n")),
        // More than 18 digits: the arbitrary-precision path.
        ("999999999999999999.0", Ok("999999999999999999")),
        ("-999999999999999999.1", Ok("-999999999999999999100m")),
        ("9999999999999999999", Ok("9999999999999999999")),
        ("9999999999999999999000m", Ok("9999999999999999999")),
        ("1.0000000000000000001E", Ok("1000000000000000000100m")),
        ("-1.000000000000000001E", Ok("-1000000000000000001")),
        ("9223372036854775807", Ok("9223372036854775807")),
        ("-9223372036854775808", Ok("-9223372036854775808")),
        ("9223372036854775808.1", Ok("9223372036854775808100m")),
        (
            "123456789012345678901234567890",
            Ok("123456789012345678901234567890"),
        ),
        ("1000000000000000000000000000000000000000000", Ok("1")),
        // Binary SI.
        ("1Ki", Ok("1Ki")),
        ("8Ki", Ok("8Ki")),
        ("1024Ki", Ok("1Mi")),
        ("300Mi", Ok("300Mi")),
        ("307200Ki", Ok("300Mi")),
        ("1025024Mi", Ok("1001Gi")),
        ("1024Gi", Ok("1Ti")),
        ("7Mi", Ok("7Mi")),
        ("6Gi", Ok("6Gi")),
        ("5Ti", Ok("5Ti")),
        ("100Ti", Ok("100Ti")),
        ("4Pi", Ok("4Pi")),
        ("3Ei", Ok("3Ei")),
        ("-2Gi", Ok("-2Gi")),
        ("-8Ki", Ok("-8Ki")),
        ("1.5Ki", Ok("1536")),
        ("0.5Ki", Ok("512")),
        ("-0.5Ki", Ok("-512")),
        ("-1.5Ki", Ok("-1536")),
        ("2.5Ki", Ok("2560")),
        ("0.5Mi", Ok("512Ki")),
        ("1.5Mi", Ok("1536Ki")),
        ("0.05Gi", Ok("53687091200m")),
        ("0.025Ti", Ok("27487790694400m")),
        ("100.035Ki", Ok("102435840m")),
        ("1.1Ki", Ok("1126400m")),
        (".001Ki", Ok("1024m")),
        (".000001Ki", Ok("1024u")),
        (".000000001Ki", Ok("1024n")),
        (".000000000001Ki", Ok("2n")),
        ("0.000000000001Ki", Ok("2n")),
        ("-.000000000001Ki", Ok("-2n")),
        ("8Ei", Ok("9223372036854775807")),
        ("9Ei", Ok("9223372036854775807")),
        ("-9Ei", Ok("-9223372036854775807")),
        ("9223372036854775807Ki", Ok("9223372036854775807")),
        ("7.99999999999Ei", Ok("9223372036843246592953931531n")),
        ("7.9Ei", Ok("9108079886394091110400m")),
        ("123456789012345678901234Ki", Ok("9223372036854775807")),
        ("1023.9999999999Ki", Ok("1048575999999898n")),
        // Errors.
        ("", Err(FormatWrong)),
        (" 1", Err(FormatWrong)),
        ("1 ", Err(FormatWrong)),
        ("1.1.M", Err(FormatWrong)),
        ("1+1.0M", Err(FormatWrong)),
        ("aoeu", Err(FormatWrong)),
        ("Non-Numeric", Err(FormatWrong)),
        ("1e3x", Err(FormatWrong)),
        ("1,5", Err(FormatWrong)),
        ("1µ", Err(FormatWrong)),
        ("0.1mi", Err(Suffix)),
        ("0.1am", Err(FormatWrong)),
        (".5i", Err(Suffix)),
        ("1i", Err(Suffix)),
        ("-3.01i", Err(Suffix)),
        ("-3.01e-", Err(Suffix)),
        ("1e", Err(Suffix)),
        ("1e+", Err(Suffix)),
        ("1ee3", Err(Suffix)),
        ("1KiB", Err(FormatWrong)),
        ("1K", Err(Suffix)),
        ("1ki", Err(Suffix)),
        ("1Mi-", Err(Suffix)),
        ("1Ki3", Err(Suffix)),
        ("1m3", Err(Suffix)),
        ("--1", Err(Suffix)),
        ("+-1", Err(Suffix)),
    ];

    #[test]
    fn vectors_match_apimachinery() {
        let mut bad = Vec::new();
        for &(input, want) in VECTORS {
            let got = canonical(input);
            if got.as_deref().map_err(|e| *e) != want {
                bad.push(format!("{input:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(bad.is_empty(), "{} wrong:\n{}", bad.len(), bad.join("\n"));
        assert!(VECTORS.len() >= 80);
    }

    #[test]
    fn output_is_a_fixed_point() {
        // What Go writes parses back to the same string.
        for &(input, _) in VECTORS {
            if let Ok(once) = canonical(input) {
                assert_eq!(canonical(&once).as_deref(), Ok(once.as_str()), "{input:?}");
            }
        }
    }

    #[test]
    fn negation_mirrors_positive_values() {
        for &(input, want) in VECTORS {
            let Ok(want) = want else { continue };
            let trimmed = input.trim_start_matches('+');
            if input.is_empty() || input.starts_with('-') || trimmed.len() != input.len() {
                continue;
            }
            let Ok(neg) = canonical(&format!("-{input}")) else {
                continue;
            };
            // Kept input strings come back with their own spelling.
            if want == "0" {
                assert_eq!(neg, "0", "-{input}");
            } else if want == input {
                assert_eq!(neg, format!("-{input}"));
            } else {
                assert_eq!(neg, format!("-{want}"), "-{input}");
            }
        }
    }

    #[test]
    fn huge_inputs_are_cheap_and_total() {
        let canon = |s: String| canonical(&s);
        let nines = "9".repeat(200_000);
        // Rounding up carries through every nine.
        assert_eq!(canon(format!("0.{nines}")).as_deref(), Ok("1"));
        // 10^99999 and 10^100000: the exponent comes down to a multiple of 3, and beyond
        // 10^18 decimal SI has no suffix to write.
        assert_eq!(
            canon(format!("1{}", "0".repeat(99_999))).as_deref(),
            Ok("1")
        );
        assert_eq!(
            canon(format!("1{}", "0".repeat(100_000))).as_deref(),
            Ok("10")
        );
        let tiny = format!("1.{}1", "0".repeat(100_000));
        assert_eq!(canon(format!("{tiny}Ki")).as_deref(), Ok("1024000000001n"));
        assert_eq!(canon(format!("{tiny}e-9")).as_deref(), Ok("2e-9"));
        assert_eq!(canon(format!("{nines}e-999999999")).as_deref(), Ok("1e-9"));
        assert_eq!(
            canon(format!("-{nines}e999999999")).map(|s| s.len()),
            Ok(1 + 200_000 + "e999999999".len())
        );
        // Where Go would take forever, its 32-bit scale arithmetic still decides: these
        // scales wrap around, so the value rounds as if it were tiny.
        assert_eq!(canon(format!("{nines}e2147483647")).as_deref(), Ok("1e-9"));
        assert_eq!(canonical("1e-2147483648").as_deref(), Ok("1e-9"));
        assert_eq!(
            canonical("12345678901234567890e-2147483648").as_deref(),
            Ok("1e-9")
        );
    }

    #[test]
    fn never_panics_on_short_strings() {
        // Every string of up to three characters over the grammar's alphabet and a few more.
        let alphabet: Vec<char> = "0159.+-eEinumkKMGTP x".chars().collect();
        let mut s = String::new();
        fn walk(alphabet: &[char], s: &mut String, depth: usize) {
            let _ = canonical(s);
            if depth == 3 {
                return;
            }
            for &c in alphabet {
                s.push(c);
                walk(alphabet, s, depth + 1);
                s.pop();
            }
        }
        walk(&alphabet, &mut s, 0);
    }

    #[test]
    fn json_text_is_unquoted_and_trimmed_but_not_unescaped() {
        let json = |raw: &[u8]| canonical_json(raw);
        assert_eq!(json(b"\" 1\"").as_deref(), Ok("1"));
        assert_eq!(json(b"\"1 \"").as_deref(), Ok("1"));
        assert_eq!(json(b"\"  1000m  \"").as_deref(), Ok("1"));
        assert_eq!(
            json("\"\u{a0}2Gi\u{3000}\"".as_bytes()).as_deref(),
            Ok("2Gi")
        );
        assert_eq!(json(b"1").as_deref(), Ok("1"));
        assert_eq!(json(b"-1").as_deref(), Ok("-1"));
        assert_eq!(json(b"1.5").as_deref(), Ok("1500m"));
        assert_eq!(json(b"1e3").as_deref(), Ok("1e3"));
        assert_eq!(json(b"\"1\\u0030\""), Err(FormatWrong));
        assert_eq!(json(b"\"\""), Err(FormatWrong));
        assert_eq!(json(b"\""), Err(FormatWrong));
        assert_eq!(json(b"\"1\xff\""), Err(FormatWrong));
        assert_eq!(json(b"true"), Err(FormatWrong));
        assert_eq!(json(b"{}"), Err(FormatWrong));
    }

    #[test]
    fn errors_read_as_one_line() {
        for e in [FormatWrong, Numeric, Suffix, Panics] {
            let text = e.to_string();
            assert!(!text.is_empty() && !text.contains('\n'));
        }
    }
}
