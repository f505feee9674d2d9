//! A progress line on stderr for long work, shown only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    label: &'static str,
    total: u64,
    done: u64,
    last: Instant,
    shown: bool,
    enabled: bool,
}

const EVERY: Duration = Duration::from_millis(200);

impl Progress {
    pub fn new(label: &'static str, total: u64) -> Self {
        Progress {
            label,
            total,
            done: 0,
            last: Instant::now(),
            shown: false,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Counts `n` more units; redraws at most every 200 ms. Cheap when disabled.
    #[inline]
    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.enabled && self.done % 1024 == 0 && self.last.elapsed() >= EVERY {
            self.last = Instant::now();
            self.shown = true;
            let pct = (self.done * 100).checked_div(self.total).unwrap_or(100);
            let _ = write!(
                std::io::stderr(),
                "\r{} {}/{} ({pct}%)",
                self.label,
                self.done,
                self.total
            );
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
