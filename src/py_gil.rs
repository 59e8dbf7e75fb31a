//! When a decode gives the GIL away during its signature check.
//!
//! Only the signature check (about 20 µs for RS256) is ever run without the
//! GIL: a verified-token cache hit, and a refusal found before the signature
//! check, are shorter than taking the GIL back can be, so they always hold
//! it. Releasing lets several decoding threads verify in parallel; next to
//! a thread busy in Python bytecode, though, taking the GIL back waits up to
//! the interpreter's switch interval (5 ms). The adaptive policy (the
//! default) releases while the mean wait to take the GIL back stays below
//! the mean work, and holds otherwise (`jwkscache_core::handoff`); a long
//! wait during which other decoders kept taking turns with the GIL (more
//! decoding threads than cores) is not held against releasing. Taking the
//! GIL back from another decoder's short turn, a thread yields its core
//! rather than sleep on the interpreter's condition variable, for at most
//! twice the usual turn and 50 µs in all, and not at all when turns are long
//! or the GIL is disabled ([`detach`]). Measurements: docs/performance.md.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Instant;

use jwkscache_core::handoff::{Decisions, Handoff, Turns};
use pyo3::prelude::*;

/// The GIL is one per process, and so is what was learnt about it.
static HANDOFF: Handoff = Handoff::new();
/// The origin of the policy's clock.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The `release_gil` option of `JWKSCache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GilPolicy {
    /// `release_gil=False`: the signature check holds the GIL.
    Hold,
    /// `release_gil=True`: the signature check always releases it.
    Release,
    /// `release_gil=None` (the default): released while taking it back
    /// costs less than the check itself.
    Adaptive,
}

impl GilPolicy {
    /// The policy for the Python option.
    pub fn from_option(py: Python<'_>, release_gil: Option<bool>) -> Self {
        // Initialised here, with the GIL held: a first initialisation inside
        // `detach` could be caught half-done by a fork.
        LazyLock::force(&EPOCH);
        // A free-threaded interpreter may run with the GIL, or turn it on
        // later (an extension that needs it): asked at each cache's making.
        if let Ok(enabled) =
            py.import("sys").and_then(|sys| sys.getattr("_is_gil_enabled")?.call0()?.extract())
        {
            GIL_ENABLED.store(enabled, Ordering::Relaxed);
        }
        // A wait of a quarter of the switch interval or more means a thread
        // held on to the GIL until asked to drop it.
        if let Some(interval) = py
            .import("sys")
            .and_then(|sys| sys.getattr("getswitchinterval")?.call0()?.extract::<f64>())
            .ok()
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            // Floored above the longest wait for a decoder's turn: that
            // wait, plus a wake-up, must not look like a busy thread.
            HANDOFF.set_costly_wait(((interval * 1e9 / 4.0) as u64).max(MIN_COSTLY_WAIT_NS));
        }
        match release_gil {
            None => Self::Adaptive,
            Some(true) => Self::Release,
            Some(false) => Self::Hold,
        }
    }

    /// Runs `work` (a signature check; it touches no Python object) under
    /// this policy.
    pub fn run<T: Send>(self, py: Python<'_>, work: impl Send + FnOnce() -> T) -> T {
        match self {
            Self::Hold => work(),
            Self::Release => detach(py, work),
            Self::Adaptive => {
                let start = nanos_since_epoch();
                if !HANDOFF.should_release(start) {
                    return work();
                }
                let ((result, done), turns) = detach_counting(py, || {
                    let result = work();
                    (result, nanos_since_epoch())
                });
                let back = nanos_since_epoch();
                HANDOFF.record(done.saturating_sub(start), back.saturating_sub(done), turns, back);
                result
            }
        }
    }
}

/// When a decoding thread last took the GIL back (ns since [`EPOCH`]); 0
/// once it gave it away again, through [`detach`].
static DECODER_HOLDS_SINCE: AtomicU64 = AtomicU64::new(0);
/// How many times decoding threads took the GIL back, through [`detach`].
static DECODER_TURNS: AtomicU64 = AtomicU64::new(0);
/// The costly-wait bound is at least this (a small `sys.setswitchinterval`).
const MIN_COSTLY_WAIT_NS: u64 = 4 * MAX_SPIN_WAIT_NS;
/// The longest wait by yielding, in all: about what a futex wake-up costs on
/// a VM, so that waiting this way is never much slower than sleeping.
const MAX_SPIN_WAIT_NS: u64 = 50_000;
/// How long the GIL stays with a decoder that took it back until a thread
/// (usually that decoder, for its next check) releases it through [`detach`].
static TURNS: Turns = Turns::new();
/// False on a free-threaded interpreter running without the GIL: there is no
/// hand-over to wait for.
static GIL_ENABLED: AtomicBool = AtomicBool::new(true);

/// Runs `work` (it touches no Python object) with the GIL released, then
/// takes it back. While another decoding thread holds it for its turn, and
/// turns are short (a claims dict, a few Python calls, the next
/// pre-signature checks), this one yields its core for up to twice the usual
/// turn instead of sleeping on the interpreter's condition variable: that
/// hand-over would be a futex wake-up, on a VM as long as the work itself
/// (docs/performance.md: two decoding threads 1.3-1.7x one without, 1.6-1.8x
/// with).
pub fn detach<T: Send>(py: Python<'_>, work: impl Send + FnOnce() -> T) -> T {
    detach_counting(py, work).0
}

/// [`detach`], also counting the other decoders' turns with the GIL while
/// this thread waited to take it back.
fn detach_counting<T: Send>(py: Python<'_>, work: impl Send + FnOnce() -> T) -> (T, u64) {
    if !GIL_ENABLED.load(Ordering::Relaxed) {
        return (py.detach(work), 0);
    }
    // Read with the GIL held: the stamp, if any, is this thread's, or the
    // stale one of a decoder that gave the GIL up some other way.
    let held_since = DECODER_HOLDS_SINCE.load(Ordering::Relaxed);
    let (result, turns_before) = py.detach(|| {
        // The GIL is free now; a later holder's stamp stays.
        if held_since != 0
            && DECODER_HOLDS_SINCE
                .compare_exchange(held_since, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            TURNS.record(nanos_since_epoch().saturating_sub(held_since));
        }
        let result = work();
        let turns_before = DECODER_TURNS.load(Ordering::Relaxed);
        wait_for_decoder_turn(TURNS.budget());
        (result, turns_before)
    });
    DECODER_HOLDS_SINCE.store(nanos_since_epoch().max(1), Ordering::Relaxed);
    let turns = DECODER_TURNS.fetch_add(1, Ordering::Relaxed).saturating_sub(turns_before);
    (result, turns)
}

/// Returns once no decoding thread is in its turn with the GIL, once that
/// turn has lasted `budget` ns (it is not a short one), or after
/// [`MAX_SPIN_WAIT_NS`] in all (decoders outnumbering cores keep taking new
/// turns; the interpreter's own wait is then as good).
fn wait_for_decoder_turn(budget: u64) {
    if budget == 0 {
        return;
    }
    let start = nanos_since_epoch();
    loop {
        let since = DECODER_HOLDS_SINCE.load(Ordering::Relaxed);
        let now = nanos_since_epoch();
        if since == 0 || now.saturating_sub(since) > budget || now.saturating_sub(start) > MAX_SPIN_WAIT_NS {
            return;
        }
        std::thread::yield_now();
    }
}

/// Runs `work`, which takes the brief locks the fork hooks hold for the
/// length of a fork (key state, verified tokens, log events, the client
/// registry), with the GIL held as usual, or released while a fork is being
/// prepared: the forking thread may need the GIL back for other at-fork
/// hooks before it forks, and a thread that waits for those locks while
/// holding the GIL would never let it (a deadlock seen 1 run in 6 of
/// `test_fork_while_another_thread_decodes_does_not_deadlock`). Released,
/// it waits for the fork to be over before it takes any of them (see
/// `fork::wait_until_forked`). The check is made with the GIL held, as the
/// fork's second phase runs, so the answer cannot change under it.
pub fn brief<T: Send>(py: Python<'_>, work: impl Send + FnOnce() -> T) -> T {
    if jwkscache_core::fork::in_progress() {
        py.detach(|| {
            jwkscache_core::fork::wait_until_forked();
            work()
        })
    } else {
        work()
    }
}

/// Forgets what the policy and the hand-over learnt (after a fork, in the
/// child).
pub fn forget() {
    HANDOFF.forget();
    TURNS.forget();
    DECODER_HOLDS_SINCE.store(0, Ordering::Relaxed);
}

/// What the adaptive policy decided so far in this process, and whether it
/// holds the GIL now.
pub fn decisions() -> (Decisions, bool) {
    (HANDOFF.decisions(), HANDOFF.holding(nanos_since_epoch()))
}

fn nanos_since_epoch() -> u64 {
    u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
