//! Two keyspace states side by side: a merge of two key-ordered streams of live records
//! that yields each key present on one side only or whose value differs. It holds nothing
//! but the current record of each stream, and never decodes a value.

use super::keyspace::RevRecord;
use std::cmp::Ordering;
use std::iter::Peekable;

/// One key that differs between the two states: absent on one side (`None`), or present on
/// both with different records.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    pub key: &'a [u8],
    pub old: Option<RevRecord<'a>>,
    pub new: Option<RevRecord<'a>>,
}

/// The keys where `old` and `new` (each live records in key order, as
/// [`super::Keyspace::state`] gives them) differ, in key order. Two records of a key are
/// the same when their values are equal byte for byte and, when `revisions` is set, their
/// mod revisions too.
pub fn merge<'a, A, B>(old: A, new: B, revisions: bool) -> Merge<'a, A, B>
where
    A: Iterator<Item = RevRecord<'a>>,
    B: Iterator<Item = RevRecord<'a>>,
{
    Merge {
        old: old.peekable(),
        new: new.peekable(),
        revisions,
    }
}

pub struct Merge<'a, A: Iterator<Item = RevRecord<'a>>, B: Iterator<Item = RevRecord<'a>>> {
    old: Peekable<A>,
    new: Peekable<B>,
    revisions: bool,
}

impl<'a, A, B> Iterator for Merge<'a, A, B>
where
    A: Iterator<Item = RevRecord<'a>>,
    B: Iterator<Item = RevRecord<'a>>,
{
    type Item = Pair<'a>;

    fn next(&mut self) -> Option<Pair<'a>> {
        loop {
            let order = match (self.old.peek(), self.new.peek()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.key.cmp(b.key),
            };
            match order {
                Ordering::Less => {
                    let a = self.old.next()?;
                    return Some(Pair {
                        key: a.key,
                        old: Some(a),
                        new: None,
                    });
                }
                Ordering::Greater => {
                    let b = self.new.next()?;
                    return Some(Pair {
                        key: b.key,
                        old: None,
                        new: Some(b),
                    });
                }
                Ordering::Equal => {
                    let (a, b) = (self.old.next()?, self.new.next()?);
                    if a.kv == b.kv {
                        continue;
                    }
                    let (ka, kb) = (a.kv(), b.kv());
                    if ka.value == kb.value
                        && (!self.revisions || ka.mod_revision == kb.mod_revision)
                    {
                        continue;
                    }
                    return Some(Pair {
                        key: a.key,
                        old: Some(a),
                        new: Some(b),
                    });
                }
            }
        }
    }
}
