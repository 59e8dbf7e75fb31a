//! The cache-header policy: `Cache-Control`, `Expires`, `Age`, `Date` and `Retry-After`
//! (lines of the input) through `Policy::ttl` and `Policy::retry_after`, at a few times and
//! under two policies. Invariants: every TTL is finite and within [min_ttl, max_ttl]; every
//! Retry-After wait is finite, >= 0 and within min(max_stale, RETRY_AFTER_CEILING); the
//! next attempt after a failure is in the future and no later than that bound.
#![no_main]

use jwkscache_core::cache::{Freshness, Policy, RETRY_AFTER_CEILING};
use jwkscache_core::fetch::CacheHeaders;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n').map(|line| (!line.is_empty()).then(|| line.to_owned()));
    let mut next = || lines.next().flatten();
    let headers = CacheHeaders { cache_control: next(), expires: next(), age: next(), date: next() };
    let retry_after = next();
    let policies =
        [Policy::default(), Policy { min_ttl: 0.0, max_ttl: 1e9, max_stale: 30.0, ..Policy::default() }];
    for policy in &policies {
        for now in [0.0, 1_700_000_000.0, 4e9] {
            let ttl = policy.ttl(&headers, now);
            assert!(ttl.is_finite() && ttl >= policy.min_ttl && ttl <= policy.max_ttl, "ttl {ttl}");
            let Some(value) = retry_after.as_deref() else { continue };
            let bound = policy.max_stale.min(RETRY_AFTER_CEILING);
            let wait = policy.retry_after(value, headers.date.as_deref(), now);
            if let Some(wait) = wait {
                assert!(wait.is_finite() && (0.0..=bound).contains(&wait), "wait {wait}");
            }
            let mut freshness = Freshness::default();
            let delay = freshness.on_failure_retry_after(now, 0.5, wait);
            assert!(delay > 0.0 && delay <= bound.max(60.0), "delay {delay}");
            assert!(!freshness.may_retry(now));
        }
    }
});
