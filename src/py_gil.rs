//! When a decode gives the GIL away during its signature check.
//!
//! Releasing lets several decoding threads verify in parallel; but next to a
//! thread busy in Python bytecode, a thread that gave the GIL away waits up
//! to the interpreter's switch interval (5 ms) to get it back, a hundred
//! times the check itself. The adaptive policy releases, times how long
//! taking the GIL back took, and after a few costly waits in a row holds the
//! GIL for a while before trying again. Measurements: docs/performance.md.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use pyo3::Python;

/// A wait to take the GIL back longer than this means a thread held on to
/// it until the switch interval (5 ms by default; a hand-over between
/// decoding threads takes microseconds).
const COSTLY_WAIT: Duration = Duration::from_millis(2);
/// Costly waits in a row before holding: one alone may be the OS scheduler
/// (a 2-core VM shows such outliers among thousands of quick hand-overs).
const COSTLY_IN_A_ROW: u32 = 3;
/// How long to hold the GIL after costly waits before releasing again: a
/// probe costs at most three switch intervals, about 1.5% of a second.
const HOLD_AFTER_COSTLY_WAIT: Duration = Duration::from_secs(1);

/// The GIL is one per process, and so is what was learnt about it.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
/// Until when (µs since `EPOCH`) the adaptive policy holds the GIL.
static HOLD_UNTIL_US: AtomicU64 = AtomicU64::new(0);
/// Costly waits since the last quick one.
static COSTLY_RUN: AtomicU32 = AtomicU32::new(0);

/// The `release_gil` option of `JWKSCache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GilPolicy {
    /// `release_gil=False`: never released for a verify from the cache.
    Hold,
    /// `release_gil=True`: always released.
    Release,
    /// `release_gil=None` (the default): released unless taking it back has
    /// lately been costly.
    Adaptive,
}

impl GilPolicy {
    /// The policy for the Python option.
    pub fn from_option(release_gil: Option<bool>) -> Self {
        // Initialised here, with the GIL held: a first initialisation inside
        // `detach` could be caught half-done by a fork.
        LazyLock::force(&EPOCH);
        match release_gil {
            None => Self::Adaptive,
            Some(true) => Self::Release,
            Some(false) => Self::Hold,
        }
    }

    /// Runs `work` (which touches no Python object) under this policy.
    pub fn run<T: Send>(self, py: Python<'_>, work: impl Send + FnOnce() -> T) -> T {
        match self {
            Self::Hold => work(),
            Self::Release => py.detach(work),
            Self::Adaptive => {
                let hold_until = HOLD_UNTIL_US.load(Ordering::Relaxed);
                // Zero until a first hold: no clock read for this check before.
                if hold_until != 0 && micros_since_epoch() < hold_until {
                    return work();
                }
                let (result, done) = py.detach(|| {
                    let result = work();
                    (result, micros_since_epoch())
                });
                let back = micros_since_epoch();
                if back.saturating_sub(done) <= micros(COSTLY_WAIT) {
                    COSTLY_RUN.store(0, Ordering::Relaxed);
                } else if COSTLY_RUN.fetch_add(1, Ordering::Relaxed) + 1 >= COSTLY_IN_A_ROW {
                    COSTLY_RUN.store(0, Ordering::Relaxed);
                    HOLD_UNTIL_US.store(back + micros(HOLD_AFTER_COSTLY_WAIT), Ordering::Relaxed);
                }
                result
            }
        }
    }
}

fn micros_since_epoch() -> u64 {
    micros(EPOCH.elapsed())
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
