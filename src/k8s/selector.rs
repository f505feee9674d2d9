//! Label selectors in kubectl's syntax: comma-separated requirements, all of which must
//! hold — `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. As in
//! Kubernetes, `!=` and `notin` also match objects without the label.

use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Req>);

/// Splits on commas outside parentheses.
fn terms(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn values(s: &str) -> Result<Vec<String>, String> {
    let inner = s
        .trim()
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| format!("expected (v1,v2,...), found {s:?}"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn label_key(k: &str) -> Result<String, String> {
    let k = k.trim();
    if k.is_empty() || k.contains(char::is_whitespace) {
        return Err(format!("bad label key {k:?}"));
    }
    Ok(k.to_string())
}

impl Selector {
    pub fn parse(s: &str) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        for t in terms(s) {
            let t = t.trim();
            if t.is_empty() {
                continue;
            }
            let r = if let Some(k) = t.strip_prefix('!') {
                Req::NotExists(label_key(k)?)
            } else if let Some((k, v)) = t.split_once(" notin ") {
                Req::NotIn(label_key(k)?, values(v)?)
            } else if let Some((k, v)) = t.split_once(" in ") {
                Req::In(label_key(k)?, values(v)?)
            } else if let Some((k, v)) = t.split_once("!=") {
                Req::NotEq(label_key(k)?, v.trim().to_string())
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                Req::Eq(label_key(k)?, v.trim().to_string())
            } else {
                Req::Exists(label_key(t)?)
            };
            reqs.push(r);
        }
        Ok(Selector(reqs))
    }

    pub fn matches(&self, labels: &BTreeMap<Cow<'_, str>, Cow<'_, str>>) -> bool {
        let get = |k: &str| labels.get(k).map(|v| v.as_ref());
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(
        pairs: &[(&'static str, &'static str)],
    ) -> BTreeMap<Cow<'static, str>, Cow<'static, str>> {
        pairs
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
            .collect()
    }

    #[test]
    fn kubectl_syntax() {
        let l = labels(&[("app", "web"), ("tier", "db")]);
        let m = |s: &str| Selector::parse(s).unwrap().matches(&l);
        assert!(m("app=web") && m("app==web") && m("app=web,tier=db") && m(""));
        assert!(!m("app=api") && !m("app!=web") && m("app!=api") && m("missing!=x"));
        assert!(
            m("tier in (db, cache)")
                && !m("tier in (cache)")
                && m("tier notin (cache)")
                && m("x notin (a)")
        );
        assert!(m("app") && !m("!app") && m("!missing") && !m("missing"));
        assert!(m("app in (web),!missing,tier"));
        assert!(Selector::parse("a in b").is_err());
        assert!(Selector::parse("=x").is_err());
    }
}
