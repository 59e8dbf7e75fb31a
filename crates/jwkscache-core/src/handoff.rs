//! Whether to hand a lock (the bindings': Python's GIL) away around a piece
//! of work, decided by what taking it back has cost.
//!
//! Handing the lock away lets other threads run during the work; taking it
//! back costs a wait, which is microseconds when the other threads give it
//! up soon (other decodes) and up to an interpreter switch interval (5 ms)
//! when one of them is busy in Python bytecode. Releasing pays while the
//! waits are shorter than the work itself; past that, the work's own thread
//! runs slower than if it had held on.
//!
//! The decision compares the *mean* cost of the costly waits (those of a
//! switch interval's order: a thread busy in bytecode held on to the GIL)
//! with the mean work over the recent releases (decaying sums), so quick
//! hand-backs interleaved with slow ones cannot hide the slow ones: one 5 ms
//! wait outweighs hundreds of 2 µs ones. Quick waits are not counted
//! against releasing, even when they are as long as the work: they are
//! another decoding thread's turn, and releasing is what lets both run. Nor
//! is a long wait during which the other decoders took their turns often
//! (more decoding threads than cores: the lock kept moving between them); a
//! thread busy in bytecode keeps it for a whole switch interval, during
//! which the decoders get no turn. [`Turns`] measures how long decoders keep
//! the lock, for a thread deciding whether to wait for one's turn to end.
//! Once the waits cost more than the work, the lock is held for a while
//! (doubling while it keeps costing, up to [`MAX_HOLD_NS`]), then one
//! release probes again. Pure bookkeeping: callers pass the times.

use std::sync::atomic::{AtomicU64, Ordering};

/// First hold after the waits turned costly. Short, so that one scheduler
/// hiccup among quick hand-overs costs little parallelism.
pub const FIRST_HOLD_NS: u64 = 20_000_000;
/// Longest hold between probes: next to a thread busy in bytecode, a probe
/// costs one switch interval (5 ms), 0.5% of this.
pub const MAX_HOLD_NS: u64 = 1_000_000_000;
/// A sample is clamped to this: one pathological wait (the process was
/// descheduled) must not take longer to forget than ordinary costly ones.
const MAX_SAMPLE_NS: u64 = 50_000_000;
/// Each new sample weighs 1/DECAY of the running sums (about the last
/// DECAY releases count).
const DECAY: u64 = 8;
/// Releases in a row worth their wait before a later hold starts short
/// again: one quick probe between costly ones proves nothing.
const GOOD_RUN_RESETS_HOLD: u64 = 32;
/// Default bound between a quick and a costly wait: a quarter of CPython's
/// default switch interval (5 ms). The bindings set it from the
/// interpreter's own ([`Handoff::set_costly_wait`]).
pub const DEFAULT_COSTLY_WAIT_NS: u64 = 1_250_000;
/// A long wait is explained by the other decoders when they took at least
/// one turn per this fraction of the costly bound (250 µs of a default
/// 1.25 ms) of it: their turns with the lock are microseconds, a busy
/// thread's is a whole switch interval, during which they get none.
const TURNS_PER_COSTLY_WAIT: u64 = 5;
/// Mean decoder turn assumed before any was measured.
const FIRST_TURN_NS: u64 = 5_000;
/// Longest wait for another decoder's turn to end by yielding the core; when
/// turns are usually longer than half of it, there is no such wait at all.
pub const MAX_TURN_WAIT_NS: u64 = 20_000;
/// Shortest such wait, while turns are short.
const MIN_TURN_WAIT_NS: u64 = 2_000;
/// A turn sample is clamped to this: a decoder that went on to other work (or
/// was descheduled) moves the mean by an eighth of it, so one such turn among
/// short ones stops the waits for a turn or two, not for dozens.
const MAX_TURN_SAMPLE_NS: u64 = 2 * MAX_TURN_WAIT_NS;

/// What the policy decided, process-wide, for `stats`-like reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decisions {
    /// Works run with the lock handed away.
    pub released: u64,
    /// Works run holding the lock.
    pub held: u64,
    /// Times the waits turned out costlier than the work.
    pub holds_started: u64,
}

/// The running costs and the current hold; one per lock (the GIL is one per
/// process). Every method is safe from many threads at once.
#[derive(Debug)]
pub struct Handoff {
    /// Decaying sums of recent waits (high 32 bits) and works (low 32 bits),
    /// in nanoseconds, updated together.
    sums: AtomicU64,
    /// Hold the lock until this time (0: not holding).
    hold_until: AtomicU64,
    /// How long the next hold lasts.
    next_hold: AtomicU64,
    /// Releases worth their wait since the last costly one.
    good_run: AtomicU64,
    /// Waits at least this long count against releasing.
    costly_wait: AtomicU64,
    released: AtomicU64,
    held: AtomicU64,
    holds_started: AtomicU64,
}

impl Default for Handoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Handoff {
    /// No costs seen yet: the first work releases.
    pub const fn new() -> Self {
        Self {
            sums: AtomicU64::new(0),
            hold_until: AtomicU64::new(0),
            next_hold: AtomicU64::new(FIRST_HOLD_NS),
            good_run: AtomicU64::new(0),
            costly_wait: AtomicU64::new(DEFAULT_COSTLY_WAIT_NS),
            released: AtomicU64::new(0),
            held: AtomicU64::new(0),
            holds_started: AtomicU64::new(0),
        }
    }

    /// Waits of at least `nanos` count against releasing (a quarter of the
    /// interpreter's switch interval, say).
    pub fn set_costly_wait(&self, nanos: u64) {
        self.costly_wait.store(nanos.max(1), Ordering::Relaxed);
    }

    /// True when work starting at `now` should hand the lock away; after a
    /// hold has run out, the next work is a probe.
    pub fn should_release(&self, now: u64) -> bool {
        let hold_until = self.hold_until.load(Ordering::Relaxed);
        let release = hold_until == 0 || now >= hold_until;
        let counter = if release { &self.released } else { &self.held };
        counter.fetch_add(1, Ordering::Relaxed);
        release
    }

    /// Records a released work: it took `work` ns, and taking the lock back
    /// afterwards `wait` ns, during which other decoders took it `turns`
    /// times; `now` is when the lock was back.
    pub fn record(&self, work: u64, wait: u64, turns: u64, now: u64) {
        let (work, wait) = (work.min(MAX_SAMPLE_NS), wait.min(MAX_SAMPLE_NS));
        // Only a costly wait counts: a quick one was another decoder's turn,
        // and so was a long one the others spent turning quickly.
        let costly_wait = self.costly_wait.load(Ordering::Relaxed);
        let costly = wait >= costly_wait && turns.saturating_mul(costly_wait / TURNS_PER_COSTLY_WAIT) < wait;
        let wait = if costly { wait } else { 0 };
        let update = |packed: u64| {
            let (waits, works) = unpack(packed);
            Some(pack(decayed(waits) + wait, decayed(works) + work))
        };
        let previous = self.sums.fetch_update(Ordering::Relaxed, Ordering::Relaxed, update);
        let (waits, works) = unpack(update(previous.unwrap_or_else(|p| p)).expect("always Some"));
        if waits <= works {
            // Worth it: releasing goes on, and after a run of such releases
            // a later hold starts short again. A hold still running stays:
            // this may be another thread's release that began before it
            // (only a probe, after the hold, may end it), and a hold stored
            // meanwhile by another thread is never wiped.
            let hold_until = self.hold_until.load(Ordering::Relaxed);
            if hold_until != 0 {
                if now < hold_until {
                    return;
                }
                let _ = self.hold_until.compare_exchange(hold_until, 0, Ordering::Relaxed, Ordering::Relaxed);
            }
            if self.good_run.fetch_add(1, Ordering::Relaxed) + 1 == GOOD_RUN_RESETS_HOLD {
                self.next_hold.store(FIRST_HOLD_NS, Ordering::Relaxed);
            }
            return;
        }
        // Waiting costs more than the work: hold, and judge the next probe
        // on its own (the sums start over).
        self.good_run.store(0, Ordering::Relaxed);
        let hold = self.next_hold.load(Ordering::Relaxed);
        self.next_hold.store((hold * 2).min(MAX_HOLD_NS), Ordering::Relaxed);
        self.hold_until.store(now.saturating_add(hold).max(1), Ordering::Relaxed);
        self.sums.store(0, Ordering::Relaxed);
        self.holds_started.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets what was learnt (after a fork, in the child): the next work
    /// releases.
    pub fn forget(&self) {
        self.sums.store(0, Ordering::Relaxed);
        self.hold_until.store(0, Ordering::Relaxed);
        self.next_hold.store(FIRST_HOLD_NS, Ordering::Relaxed);
        self.good_run.store(0, Ordering::Relaxed);
    }

    /// True while holding at `now`.
    pub fn holding(&self, now: u64) -> bool {
        let hold_until = self.hold_until.load(Ordering::Relaxed);
        hold_until != 0 && now < hold_until
    }

    /// The decisions taken so far.
    pub fn decisions(&self) -> Decisions {
        Decisions {
            released: self.released.load(Ordering::Relaxed),
            held: self.held.load(Ordering::Relaxed),
            holds_started: self.holds_started.load(Ordering::Relaxed),
        }
    }
}

/// How long decoding threads keep the lock between taking it back and
/// handing it away for their next work (a turn), and so how long a thread
/// taking the lock back may wait for another's turn to end by yielding its
/// core instead of sleeping (a futex wake-up on a VM is tens of µs).
#[derive(Debug)]
pub struct Turns {
    /// Decaying mean of recent turns, ns.
    mean: AtomicU64,
}

impl Default for Turns {
    fn default() -> Self {
        Self::new()
    }
}

impl Turns {
    /// No turn measured yet.
    pub const fn new() -> Self {
        Self { mean: AtomicU64::new(FIRST_TURN_NS) }
    }

    /// A turn that ended: the lock was held `nanos` between its taking back
    /// and its handing away.
    pub fn record(&self, nanos: u64) {
        let sample = nanos.min(MAX_TURN_SAMPLE_NS);
        let _ = self.mean.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |mean| {
            Some(mean - mean / DECAY + sample / DECAY)
        });
    }

    /// Forgets the turns measured (after a fork, in the child).
    pub fn forget(&self) {
        self.mean.store(FIRST_TURN_NS, Ordering::Relaxed);
    }

    /// How long to wait for a turn to end by yielding: twice the usual turn
    /// while turns are short, none when they are not (a decoder that runs
    /// application code between decodes: the wait would rarely see its end).
    pub fn budget(&self) -> u64 {
        let mean = self.mean.load(Ordering::Relaxed);
        if mean > MAX_TURN_WAIT_NS / 2 {
            0
        } else {
            (2 * mean).max(MIN_TURN_WAIT_NS)
        }
    }
}

fn decayed(sum: u64) -> u64 {
    sum - sum / DECAY
}

// The sums stay below DECAY * MAX_SAMPLE_NS (4e8 ns), well within 32 bits.
fn pack(waits: u64, works: u64) -> u64 {
    (waits.min(u64::from(u32::MAX)) << 32) | works.min(u64::from(u32::MAX))
}

fn unpack(packed: u64) -> (u64, u64) {
    (packed >> 32, packed & u64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    /// A signature check.
    const WORK: u64 = 15 * US;

    /// Runs `waits` through the policy one work apart; returns how many of
    /// them released.
    fn run(policy: &Handoff, now: &mut u64, waits: impl IntoIterator<Item = u64>) -> usize {
        let mut released = 0;
        for wait in waits {
            if policy.should_release(*now) {
                released += 1;
                policy.record(WORK, wait, 0, *now + WORK + wait);
                *now += WORK + wait;
            } else {
                *now += WORK;
            }
        }
        released
    }

    #[test]
    fn quick_hand_backs_keep_releasing() {
        let policy = Handoff::new();
        let mut now = 1;
        // Another decoding thread gives the lock back within microseconds.
        assert_eq!(run(&policy, &mut now, (0..1000).map(|n| (n % 7) * US)), 1000);
        assert!(!policy.holding(now));
        assert_eq!(policy.decisions().holds_started, 0);
    }

    #[test]
    fn another_decoders_turn_keeps_releasing_even_when_as_long_as_the_work() {
        // Two decoding threads: waiting for the other's held part plus a
        // wake-up costs about the work itself, and releasing still pays
        // (both verify in parallel).
        let policy = Handoff::new();
        let mut now = 1;
        assert_eq!(run(&policy, &mut now, (0..1000).map(|n| (10 + n % 40) * US)), 1000);
        assert_eq!(policy.decisions().holds_started, 0);
    }

    #[test]
    fn a_long_wait_the_other_decoders_spent_turning_keeps_releasing() {
        // Eight decoding threads on two cores: a thread waits milliseconds
        // for the lock while the others take dozens of quick turns.
        let policy = Handoff::new();
        for n in 1..=1000 {
            policy.record(WORK, 5 * MS, 40, n * 6 * MS);
        }
        assert_eq!(policy.decisions().holds_started, 0);
        // Next to a thread busy in bytecode, a decoder or two get a turn
        // in a switch interval: that wait is costly.
        policy.record(WORK, 5 * MS, 1, 7 * MS * 1000);
        assert!(policy.holding(7 * MS * 1000));
    }

    #[test]
    fn three_decoders_next_to_a_busy_thread_still_hold() {
        // During a busy thread's switch interval the decoders get no turn;
        // across a waiter's whole wait the other two may get one each.
        let policy = Handoff::new();
        policy.record(WORK, 5 * MS, 2, 6 * MS);
        assert!(policy.holding(6 * MS));
    }

    #[test]
    fn the_turns_that_explain_a_wait_follow_the_switch_interval() {
        let policy = Handoff::new();
        // sys.setswitchinterval(0.001); four turns in 1 ms: one per 250 µs,
        // not one per 50 µs.
        policy.set_costly_wait(250 * US);
        policy.record(WORK, MS, 4, 2 * MS);
        assert!(policy.holding(2 * MS));
    }

    #[test]
    fn short_turns_are_waited_for_long_ones_are_not() {
        let turns = Turns::new();
        assert_eq!(turns.budget(), 2 * FIRST_TURN_NS);
        for _ in 0..100 {
            turns.record(3 * US);
        }
        assert!((6 * US..7 * US).contains(&turns.budget()), "{}", turns.budget());
        for _ in 0..100 {
            turns.record(US / 10);
        }
        assert_eq!(turns.budget(), MIN_TURN_WAIT_NS);
        // A decoder running application code between decodes.
        for _ in 0..100 {
            turns.record(80 * US);
        }
        assert_eq!(turns.budget(), 0);
        // One decoder that went off for a second among short turns stops
        // the waits for a turn or two only.
        let turns = Turns::new();
        for _ in 0..100 {
            turns.record(3 * US);
        }
        turns.record(u64::MAX);
        let mut stopped = 0;
        while turns.budget() == 0 {
            stopped += 1;
            turns.record(3 * US);
        }
        assert!(stopped <= 2, "{stopped}");
        // Mostly long turns keep it stopped.
        for n in 0..100 {
            turns.record(if n % 2 == 0 { 80 * US } else { 3 * US });
        }
        assert_eq!(turns.budget(), 0);
        turns.forget();
        assert_eq!(turns.budget(), 2 * FIRST_TURN_NS);
    }

    #[test]
    fn the_costly_bound_follows_the_switch_interval() {
        let policy = Handoff::new();
        policy.set_costly_wait(100 * US); // sys.setswitchinterval(0.0004)
        let mut now = 1;
        run(&policy, &mut now, [400 * US]);
        assert!(policy.holding(now));
    }

    #[test]
    fn interleaved_quick_hand_backs_do_not_hide_switch_intervals() {
        // The convoy of issue 14: quick hand-backs between 5 ms ones. The old
        // rule (three costly waits in a row) never held here.
        let policy = Handoff::new();
        let mut now = 1;
        let waits = (0..200_000).map(|n| if n % 2 == 0 { 5 * MS } else { 2 * US });
        let released = run(&policy, &mut now, waits);
        // Every costly wait started a hold, each longer than the last
        // (a quick probe alone does not shorten them): over seconds of
        // work, a handful of probes.
        assert!(policy.decisions().holds_started >= 5);
        assert!(released < 20, "released {released} times");
        assert_eq!(policy.next_hold.load(Ordering::Relaxed), MAX_HOLD_NS);
    }

    #[test]
    fn holds_double_up_to_the_cap_and_probe_in_between() {
        let policy = Handoff::new();
        let mut now = 1;
        let mut holds = Vec::new();
        for _ in 0..12 {
            // A probe that meets a busy neighbour.
            while !policy.should_release(now) {
                now += MS;
            }
            policy.record(WORK, 5 * MS, 0, now + WORK + 5 * MS);
            now += WORK + 5 * MS;
            holds.push(policy.hold_until.load(Ordering::Relaxed) - now);
        }
        assert_eq!(holds[0], FIRST_HOLD_NS);
        assert_eq!(holds[1], 2 * FIRST_HOLD_NS);
        assert_eq!(*holds.last().unwrap(), MAX_HOLD_NS);
    }

    #[test]
    fn a_good_probe_resumes_releasing_with_short_holds() {
        let policy = Handoff::new();
        let mut now = 1;
        for _ in 0..5 {
            run(&policy, &mut now, [5 * MS]);
            now = policy.hold_until.load(Ordering::Relaxed);
        }
        // The neighbour went quiet: the probe's wait is quick.
        assert_eq!(run(&policy, &mut now, (0..100).map(|_| US)), 100);
        assert_eq!(policy.next_hold.load(Ordering::Relaxed), FIRST_HOLD_NS);
    }

    #[test]
    fn one_hiccup_costs_one_short_hold() {
        let policy = Handoff::new();
        let mut now = 1;
        run(&policy, &mut now, (0..100).map(|_| 3 * US));
        run(&policy, &mut now, [2 * MS]);
        let until = policy.hold_until.load(Ordering::Relaxed);
        assert_eq!(until - now, FIRST_HOLD_NS);
        now = until;
        assert_eq!(run(&policy, &mut now, (0..100).map(|_| 3 * US)), 100);
    }

    #[test]
    fn a_quick_sample_in_flight_does_not_end_a_hold() {
        // Two decoders next to a busy thread: one's costly wait starts a
        // hold while the other's release, begun before it, comes back quick.
        let policy = Handoff::new();
        policy.record(WORK, 5 * MS, 0, 10 * MS);
        assert!(policy.holding(10 * MS));
        policy.record(WORK, 2 * US, 0, 10 * MS + 1);
        assert!(policy.holding(10 * MS + 2), "the in-flight sample ended the hold");
        // After the hold, a quick probe resumes releasing.
        let after = 10 * MS + FIRST_HOLD_NS;
        assert!(policy.should_release(after));
        policy.record(WORK, 2 * US, 0, after + WORK);
        assert!(!policy.holding(after + WORK));
    }

    #[test]
    fn forget_ends_a_hold() {
        let policy = Handoff::new();
        policy.record(WORK, 5 * MS, 0, 10 * MS);
        assert!(policy.holding(10 * MS));
        policy.forget();
        assert!(!policy.holding(10 * MS));
        assert!(policy.should_release(10 * MS));
    }

    #[test]
    fn counts_every_decision() {
        let policy = Handoff::new();
        let mut now = 1;
        run(&policy, &mut now, [US, 5 * MS, US, US]);
        let decisions = policy.decisions();
        assert_eq!(decisions.released, 2);
        assert_eq!(decisions.held, 2);
        assert_eq!(decisions.holds_started, 1);
    }

    #[test]
    fn samples_are_clamped() {
        let policy = Handoff::new();
        policy.record(u64::MAX, u64::MAX, 0, 10);
        let (waits, works) = unpack(policy.sums.load(Ordering::Relaxed));
        assert_eq!((waits, works), (MAX_SAMPLE_NS, MAX_SAMPLE_NS));
    }
}
