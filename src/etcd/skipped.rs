//! Damaged records that reads skip instead of failing: a lease, a member or an auth record
//! that does not decode costs that record alone, and the rest of the member is served.
//! Each skipped record is noted here once (readers may run more than once per command);
//! the front end reports them. Key-bucket records are never skipped: they are the data.

use std::sync::Mutex;

static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Notes that a damaged record was skipped, saying which and why.
pub fn skip(what: String) {
    let mut s = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    if !s.contains(&what) {
        s.push(what);
    }
}

/// The records skipped so far, in the order first noted; clears the list.
pub fn take() -> Vec<String> {
    std::mem::take(&mut *SKIPPED.lock().unwrap_or_else(|e| e.into_inner()))
}
