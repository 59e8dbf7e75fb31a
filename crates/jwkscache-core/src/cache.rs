//! Cache policy only, no I/O: how long a fetched set stays fresh, when to
//! refetch, how long a stale set may still be served. Every decision takes
//! `now` (seconds since the Unix epoch) so tests drive time.

use std::time::{Duration, UNIX_EPOCH};

use crate::fetch::CacheHeaders;

/// The knobs, with the defaults a careful operator would pick (README).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// TTL when the response says nothing (PyJWT's 300 s).
    pub lifespan: f64,
    /// Floor on any TTL, `no-cache`/`no-store` included: bounds the load on
    /// an issuer that forbids caching (AppSSO sends `no-store`).
    pub min_ttl: f64,
    /// Ceiling on any TTL: bounds how long a key removed by the issuer is
    /// still trusted when nobody presents an unknown kid.
    pub max_ttl: f64,
    /// Least time between two refetches caused by unknown `kid`s.
    pub refresh_cooldown: f64,
    /// How long past expiry the last good set is still served while the
    /// issuer fails. Never unbounded.
    pub max_stale: f64,
    /// Refresh in the background shortly before expiry while in use.
    pub refresh_ahead: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            lifespan: 300.0,
            min_ttl: 60.0,
            max_ttl: 3600.0,
            refresh_cooldown: 30.0,
            max_stale: 3600.0,
            refresh_ahead: true,
        }
    }
}

/// First retry after a failed refresh, in seconds; doubles per failure.
const BACKOFF_BASE: f64 = 1.0;
/// Longest wait between retries.
const BACKOFF_CAP: f64 = 60.0;
/// Longest wait a `Retry-After` may impose, whatever it asks: an issuer (or a
/// proxy in front of it) must not silence a cache for hours.
pub const RETRY_AFTER_CEILING: f64 = 600.0;

impl Policy {
    /// Checks the knobs make sense together.
    pub fn validate(&self) -> Result<(), String> {
        let all = [
            ("lifespan", self.lifespan),
            ("min_ttl", self.min_ttl),
            ("max_ttl", self.max_ttl),
            ("refresh_cooldown", self.refresh_cooldown),
            ("max_stale", self.max_stale),
        ];
        for (name, value) in all {
            if !value.is_finite() || value < 0.0 {
                return Err(format!("{name} must be a finite number of seconds >= 0, got {value}"));
            }
        }
        if self.lifespan <= 0.0 {
            return Err("lifespan must be > 0".into());
        }
        if self.min_ttl > self.max_ttl {
            return Err(format!("min_ttl ({}) must not exceed max_ttl ({})", self.min_ttl, self.max_ttl));
        }
        Ok(())
    }

    /// Seconds a response stays fresh: `max-age` minus `Age`, else
    /// `Expires` (against `Date` when given), else `lifespan`; `no-store` /
    /// `no-cache` mean the minimum; always clamped to `[min_ttl, max_ttl]`.
    pub fn ttl(&self, headers: &CacheHeaders, now: f64) -> f64 {
        self.raw_ttl(headers, now).clamp(self.min_ttl, self.max_ttl)
    }

    fn raw_ttl(&self, headers: &CacheHeaders, now: f64) -> f64 {
        let mut max_age = None;
        for directive in headers.cache_control.iter().flat_map(|cc| cc.split(',')) {
            let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
            match name.trim().to_ascii_lowercase().as_str() {
                "no-store" | "no-cache" => return 0.0,
                "max-age" => max_age = value.trim().trim_matches('"').parse::<u64>().ok().or(Some(0)),
                _ => {}
            }
        }
        if let Some(max_age) = max_age {
            let age = headers.age.as_deref().and_then(|a| a.trim().parse::<u64>().ok()).unwrap_or(0);
            return max_age.saturating_sub(age) as f64;
        }
        if let Some(expires) = &headers.expires {
            // An unparseable Expires (such as "0") means "already expired" (RFC 9111 §5.3).
            let Some(expires) = http_date(expires) else { return 0.0 };
            let reference = headers.date.as_deref().and_then(http_date).unwrap_or(now);
            return (expires - reference).max(0.0);
        }
        self.lifespan
    }

    /// Seconds to wait before the next attempt, as a `Retry-After` value asks
    /// (RFC 9110 §10.2.3: delay-seconds, or an HTTP date read against the
    /// response's `Date` when given): capped at `max_stale` and at
    /// [`RETRY_AFTER_CEILING`]. `None` when the value is neither form.
    pub fn retry_after(&self, value: &str, date: Option<&str>, now: f64) -> Option<f64> {
        let value = value.trim();
        let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // All digits: too many for u64 is still "a very long time".
            value.parse::<u64>().map_or(f64::MAX, |seconds| seconds as f64)
        } else {
            let at = http_date(value)?;
            let reference = date.and_then(http_date).unwrap_or(now);
            (at - reference).max(0.0)
        };
        Some(wait.min(self.max_stale).min(RETRY_AFTER_CEILING))
    }

    /// Seconds before expiry at which a background refresh starts.
    pub fn refresh_ahead_window(&self, ttl: f64) -> f64 {
        (ttl * 0.25).min(60.0)
    }
}

fn http_date(text: &str) -> Option<f64> {
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    Some(time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs_f64())
}

/// Where a cached set stands in time; updated only by `on_*` methods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Freshness {
    /// When the current set was fetched or last confirmed (304).
    pub fetched_at: Option<f64>,
    /// When it stops being fresh.
    pub expires_at: Option<f64>,
    /// Its TTL when set.
    pub ttl: f64,
    /// When the last refetch for an unknown `kid` started.
    pub last_unknown_kid_refetch: Option<f64>,
    /// Failed refreshes in a row.
    pub failures: u32,
    /// No refetch before this time (backoff after failures).
    pub retry_at: f64,
}

impl Freshness {
    /// True when there is no set or it has expired.
    pub fn is_stale(&self, now: f64) -> bool {
        self.expires_at.is_none_or(|expires| now >= expires)
    }

    /// True when an expired set may still be served (within `max_stale`).
    pub fn stale_usable(&self, now: f64, policy: &Policy) -> bool {
        self.expires_at.is_some_and(|expires| now < expires + policy.max_stale)
    }

    /// True when a background refresh should start now.
    pub fn wants_refresh_ahead(&self, now: f64, policy: &Policy) -> bool {
        policy.refresh_ahead
            && self.may_retry(now)
            && self.expires_at.is_some_and(|expires| now >= expires - policy.refresh_ahead_window(self.ttl))
    }

    /// True when backoff allows a refetch now.
    pub fn may_retry(&self, now: f64) -> bool {
        now >= self.retry_at
    }

    /// True when an unknown `kid` may cause a refetch now.
    pub fn may_refetch_unknown_kid(&self, now: f64, policy: &Policy) -> bool {
        self.may_retry(now)
            && self.last_unknown_kid_refetch.is_none_or(|last| now - last >= policy.refresh_cooldown)
    }

    /// Records a refetch for an unknown `kid` starting now.
    pub fn on_unknown_kid_refetch(&mut self, now: f64) {
        self.last_unknown_kid_refetch = Some(now);
    }

    /// Records a successful fetch (or 304) with this TTL.
    pub fn on_success(&mut self, now: f64, ttl: f64) {
        self.fetched_at = Some(now);
        self.expires_at = Some(now + ttl);
        self.ttl = ttl;
        self.failures = 0;
        self.retry_at = 0.0;
    }

    /// Records a failed fetch; `jitter` in [0, 1) spreads retries of many
    /// processes. Returns the seconds until the next retry.
    pub fn on_failure(&mut self, now: f64, jitter: f64) -> f64 {
        self.failures = self.failures.saturating_add(1);
        let exponent = i32::try_from(self.failures.min(16) - 1).unwrap_or(15);
        let delay = (BACKOFF_BASE * 2f64.powi(exponent)).min(BACKOFF_CAP) * (0.5 + jitter / 2.0);
        self.retry_at = now + delay;
        delay
    }

    /// Records a failed fetch whose answer asked to wait `retry_after`
    /// seconds ([`Policy::retry_after`]): the next attempt waits for the
    /// longer of that and the backoff. Returns the seconds until it.
    pub fn on_failure_retry_after(&mut self, now: f64, jitter: f64, retry_after: Option<f64>) -> f64 {
        let delay = self.on_failure(now, jitter);
        match retry_after {
            Some(wait) if wait > delay => {
                self.retry_at = now + wait;
                wait
            }
            _ => delay,
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact: every value here is a small integer
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000.0;
    const NOW_S: u64 = 1_700_000_000;

    fn headers(cache_control: Option<&str>, expires: Option<&str>, age: Option<&str>) -> CacheHeaders {
        CacheHeaders {
            cache_control: cache_control.map(str::to_owned),
            expires: expires.map(str::to_owned),
            age: age.map(str::to_owned),
            date: None,
        }
    }

    #[test]
    fn ttl_from_each_header_form() {
        let p = Policy { min_ttl: 0.0, max_ttl: 1e9, ..Policy::default() };
        assert_eq!(p.ttl(&headers(Some("public, max-age=3600"), None, None), NOW), 3600.0);
        assert_eq!(p.ttl(&headers(Some("max-age=3600"), None, Some("600")), NOW), 3000.0);
        assert_eq!(p.ttl(&headers(Some("max-age=60"), None, Some("600")), NOW), 0.0);
        assert_eq!(p.ttl(&headers(Some("max-age=\"120\""), None, None), NOW), 120.0);
        // max-age wins over Expires.
        let later = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW_S + 900));
        assert_eq!(p.ttl(&headers(Some("max-age=10"), Some(&later), None), NOW), 10.0);
        assert_eq!(p.ttl(&headers(None, Some(&later), None), NOW), 900.0);
        assert_eq!(p.ttl(&headers(None, Some("0"), None), NOW), 0.0);
        let past = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW_S - 5));
        assert_eq!(p.ttl(&headers(None, Some(&past), None), NOW), 0.0);
        // Expires against the response's Date, not our clock.
        let mut with_date = headers(None, Some(&later), None);
        with_date.date = Some(httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW_S + 800)));
        assert_eq!(p.ttl(&with_date, NOW), 100.0);
        assert_eq!(p.ttl(&headers(None, None, None), NOW), 300.0);
        assert_eq!(
            p.ttl(&headers(Some("no-cache, no-store, max-age=0, must-revalidate"), None, None), NOW),
            0.0
        );
        assert_eq!(p.ttl(&headers(Some("public, No-Store"), None, None), NOW), 0.0);
    }

    #[test]
    fn ttl_is_clamped() {
        let p = Policy { min_ttl: 60.0, max_ttl: 3600.0, ..Policy::default() };
        assert_eq!(p.ttl(&headers(Some("no-store"), None, None), NOW), 60.0);
        assert_eq!(p.ttl(&headers(Some("max-age=5"), None, None), NOW), 60.0);
        assert_eq!(p.ttl(&headers(Some("max-age=86400"), None, None), NOW), 3600.0);
    }

    #[test]
    fn policy_validation() {
        assert!(Policy::default().validate().is_ok());
        assert!(Policy { lifespan: 0.0, ..Policy::default() }.validate().is_err());
        assert!(Policy { min_ttl: 10.0, max_ttl: 5.0, ..Policy::default() }.validate().is_err());
        assert!(Policy { max_stale: f64::INFINITY, ..Policy::default() }.validate().is_err());
        assert!(Policy { refresh_cooldown: -1.0, ..Policy::default() }.validate().is_err());
    }

    #[test]
    fn staleness_and_max_stale() {
        let p = Policy::default();
        let mut f = Freshness::default();
        assert!(f.is_stale(NOW));
        assert!(!f.stale_usable(NOW, &p));
        f.on_success(NOW, 300.0);
        assert!(!f.is_stale(NOW + 299.0));
        assert!(f.is_stale(NOW + 300.0));
        assert!(f.stale_usable(NOW + 300.0 + 3599.0, &p));
        assert!(!f.stale_usable(NOW + 300.0 + 3600.0, &p));
    }

    #[test]
    fn refresh_ahead_window() {
        let p = Policy::default();
        let mut f = Freshness::default();
        f.on_success(NOW, 300.0);
        assert!(!f.wants_refresh_ahead(NOW + 239.0, &p));
        assert!(f.wants_refresh_ahead(NOW + 240.0, &p));
        f.on_success(NOW, 8.0);
        assert!(!f.wants_refresh_ahead(NOW + 5.9, &p));
        assert!(f.wants_refresh_ahead(NOW + 6.0, &p));
        assert!(!Freshness::default().wants_refresh_ahead(NOW, &p));
        assert!(!f.wants_refresh_ahead(NOW + 7.0, &Policy { refresh_ahead: false, ..Policy::default() }));
    }

    #[test]
    fn unknown_kid_cooldown() {
        let p = Policy::default();
        let mut f = Freshness::default();
        assert!(f.may_refetch_unknown_kid(NOW, &p));
        f.on_unknown_kid_refetch(NOW);
        assert!(!f.may_refetch_unknown_kid(NOW + 29.9, &p));
        assert!(f.may_refetch_unknown_kid(NOW + 30.0, &p));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_and_capped() {
        let p = Policy::default();
        assert_eq!(p.retry_after("120", None, NOW), Some(120.0));
        assert_eq!(p.retry_after(" 0 ", None, NOW), Some(0.0));
        assert_eq!(p.retry_after("3600", None, NOW), Some(RETRY_AFTER_CEILING));
        assert_eq!(p.retry_after("99999999999999999999999", None, NOW), Some(RETRY_AFTER_CEILING));
        let short = Policy { max_stale: 30.0, ..Policy::default() };
        assert_eq!(short.retry_after("120", None, NOW), Some(30.0));
        assert_eq!(Policy { max_stale: 0.0, ..Policy::default() }.retry_after("120", None, NOW), Some(0.0));
        let at = |offset: u64| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW_S + offset));
        assert_eq!(p.retry_after(&at(90), None, NOW), Some(90.0));
        assert_eq!(p.retry_after(&at(7200), None, NOW), Some(RETRY_AFTER_CEILING));
        // Against the response's Date, not our clock.
        assert_eq!(p.retry_after(&at(100), Some(&at(60)), NOW), Some(40.0));
        let past = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW_S - 5));
        assert_eq!(p.retry_after(&past, None, NOW), Some(0.0));
        for junk in ["", "soon", "-5", "1.5", "+3", "0x10"] {
            assert_eq!(p.retry_after(junk, None, NOW), None, "{junk:?}");
        }
    }

    #[test]
    fn a_retry_after_defers_the_next_attempt_never_hastens_it() {
        let mut f = Freshness::default();
        assert_eq!(f.on_failure_retry_after(NOW, 1.0, Some(120.0)), 120.0);
        assert!(!f.may_retry(NOW + 119.0));
        assert!(f.may_retry(NOW + 120.0));
        assert!(!f.may_refetch_unknown_kid(NOW + 119.0, &Policy::default()));
        // Shorter than the backoff (now 2 s): the backoff stands.
        assert_eq!(f.on_failure_retry_after(NOW, 1.0, Some(0.0)), 2.0);
        assert_eq!(f.on_failure_retry_after(NOW, 1.0, None), 4.0);
        f.on_success(NOW, 300.0);
        assert!(f.may_retry(NOW));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let mut f = Freshness::default();
        let delays: Vec<f64> = (0..10).map(|_| f.on_failure(NOW, 1.0)).collect();
        assert_eq!(&delays[..4], &[1.0, 2.0, 4.0, 8.0]);
        assert_eq!(delays[9], 60.0);
        assert!(!f.may_retry(NOW + 59.0));
        assert!(f.may_retry(NOW + 60.0));
        let mut g = Freshness::default();
        assert_eq!(g.on_failure(NOW, 0.0), 0.5);
        g.on_success(NOW, 300.0);
        assert_eq!(g.failures, 0);
        assert!(g.may_retry(NOW));
    }
}
