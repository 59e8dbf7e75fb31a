//! A panic is a bug, never an answer: the client's entry points run behind
//! [`catch`], so one becomes an error of the class the caller already
//! handles (a refused token, a failed fetch) instead of unwinding into the
//! bindings (where PyO3 would raise `PanicException`, a `BaseException`
//! that `except Exception` does not catch) or ending a background refresh
//! thread for good.
//!
//! [`arm`] makes the next pass through a [`Site`] panic, so tests can show
//! the guards hold; nothing calls it but tests.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

/// Where [`arm`] can make the core panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Site {
    /// A token's lookup: parse, header checks, key selection.
    Lookup = 1,
    /// A fetch of the JWK Set (foreground or background refresh).
    Fetch = 2,
}

impl Site {
    /// The site named `name` (`"lookup"`, `"fetch"`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "lookup" => Some(Self::Lookup),
            "fetch" => Some(Self::Fetch),
            _ => None,
        }
    }
}

/// The armed site (0: none).
static ARMED: AtomicU8 = AtomicU8::new(0);

/// Makes the next pass through `site` panic, once (for tests of the guards).
pub fn arm(site: Site) {
    ARMED.store(site as u8, Ordering::SeqCst);
}

/// Panics if `site` is armed (disarming it first). One relaxed load when not.
pub(crate) fn fire(site: Site) {
    let armed = site as u8;
    if ARMED.load(Ordering::Relaxed) == armed
        && ARMED.compare_exchange(armed, 0, Ordering::SeqCst, Ordering::Relaxed).is_ok()
    {
        panic!("jwkscache: panic armed at {site:?} (a test of the panic guards)");
    }
}

/// Runs `f`; a panic inside becomes `Err(on_panic(message))`.
pub(crate) fn catch<T, E>(
    on_panic: impl FnOnce(String) -> E,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    // Unwind safety: what a panic can leave half-done is behind parking_lot
    // locks (released on unwind, never poisoned), each update a single
    // assignment; the caller gets an error, not the half-done value.
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| Err(on_panic(message(payload.as_ref()))))
}

/// The text of a panic's payload.
fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_callers_error() {
        let caught: Result<(), String> = catch(|m| format!("caught: {m}"), || panic!("boom {}", 1));
        assert_eq!(caught, Err("caught: boom 1".into()));
        let caught: Result<(), String> = catch(|m| m, || std::panic::panic_any(7u8));
        assert_eq!(caught, Err("a panic without a message".into()));
        assert_eq!(catch(|m| m, || Ok::<_, String>(3)), Ok(3));
    }

    #[test]
    fn an_armed_site_panics_once() {
        assert_eq!(Site::from_name("fetch"), Some(Site::Fetch));
        assert_eq!(Site::from_name("nope"), None);
        arm(Site::Fetch);
        fire(Site::Lookup); // not armed: nothing
        let first: Result<(), String> = catch(
            |m| m,
            || {
                fire(Site::Fetch);
                Ok(())
            },
        );
        assert!(first.unwrap_err().contains("Fetch"));
        fire(Site::Fetch); // disarmed by the first
    }
}
