//! Temp outputs that do not outlive the process. Every temp file or dir an output is
//! written into (before its rename into place) is registered here; it is removed when its
//! guard drops before [`TempGuard::keep`], and by the SIGINT/SIGTERM/SIGHUP handler that
//! [`remove_on_signals`] installs, before the process exits with 128 + the signal.
//!
//! It removes only paths registered through it — never an input, never a finished output.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Temp paths not yet renamed into place: (guard id, path).
static LIVE: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
/// Set by the signal thread before it removes anything.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// When a signal is being handled, waits for the handler to exit the process (so that an
/// error the removal causes in the command is neither printed nor its exit code used).
pub fn wait_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
}

/// A registered temp path (a file, or a dir and everything in it).
#[derive(Debug)]
pub struct TempGuard {
    id: u64,
    path: PathBuf,
    kept: bool,
}

impl TempGuard {
    /// Registers `path`, which the caller is about to create.
    pub fn new(path: PathBuf) -> TempGuard {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        live().push((id, path.clone()));
        TempGuard {
            id,
            path,
            kept: false,
        }
    }

    /// Creates `path` with `create` and registers it in one step a signal cannot split:
    /// the signal handler holds the registry from when it starts removing until the
    /// process exits, so a temp path is either created and registered before it looks
    /// (and removed) or never created. A path `create` fails on is not registered, so a
    /// name someone else holds is never removed.
    pub fn create<T>(
        path: PathBuf,
        create: impl FnOnce(&Path) -> std::io::Result<T>,
    ) -> std::io::Result<(TempGuard, T)> {
        let mut live = live();
        let made = create(&path)?;
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        live.push((id, path.clone()));
        Ok((
            TempGuard {
                id,
                path,
                kept: false,
            },
            made,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temp path was renamed into place (or is otherwise no longer ours to remove).
    pub fn keep(mut self) {
        self.kept = true;
        live().retain(|(id, _)| *id != self.id);
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if !self.kept {
            remove(&self.path);
            live().retain(|(id, _)| *id != self.id);
        }
    }
}

fn live() -> std::sync::MutexGuard<'static, Vec<(u64, PathBuf)>> {
    // A panic while the list was held leaves it intact: keep using it.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn remove(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// Installs, once, a handler thread for SIGINT, SIGTERM and SIGHUP that removes every
/// registered temp path and exits with 128 + the signal, as a shell reports it.
pub fn remove_on_signals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    INTERRUPTED.store(true, Ordering::SeqCst);
                    // Held until the process is gone: nothing is created and registered
                    // after the removal (see `TempGuard::create`).
                    let mut registered = live();
                    for (_, p) in registered.drain(..) {
                        remove(&p);
                    }
                    std::process::exit(128 + sig);
                }
            });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_guards_remove_their_path_and_kept_ones_do_not() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        {
            let g = TempGuard::new(a.clone());
            std::fs::create_dir_all(a.join("x")).unwrap();
            std::fs::write(a.join("x/f"), b"1").unwrap();
            assert_eq!(g.path(), a);
        }
        assert!(!a.exists());
        let g = TempGuard::new(b.clone());
        std::fs::write(&b, b"1").unwrap();
        g.keep();
        assert!(b.exists());
        assert!(live().iter().all(|(_, p)| p != &a && p != &b));
    }
}
