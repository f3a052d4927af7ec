//! Rate limits (token buckets, GCRA from the `governor` crate): per declared client, per remote
//! address for anonymous callers, per subject for JWT callers, and one global budget.
//! A refused request learns when it may retry (the `Retry-After` of its 429).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Caller;

/// Keyed limiters keep a bucket per key; past this many keys the idle ones are dropped.
const MAX_KEYS: usize = 100_000;

/// A caller's own budget.
#[derive(Debug, Clone, Default)]
pub(crate) enum Limit {
    /// No limit of its own (the global one still applies).
    #[default]
    None,
    /// Its bucket.
    Own(Arc<DefaultDirectRateLimiter>),
    /// A bucket per subject of a shared limiter (JWT callers).
    Keyed(Arc<DefaultKeyedRateLimiter<Arc<str>>>),
}

fn quota(per_second: u32) -> Result<Quota, String> {
    NonZeroU32::new(per_second)
        .map(Quota::per_second)
        .ok_or_else(|| "requests_per_second must be at least 1".to_owned())
}

impl Limit {
    /// A budget of `per_second` requests a second (bursts of as many), or none.
    pub(crate) fn per_second(per_second: Option<u32>) -> Result<Limit, String> {
        per_second.map_or(Ok(Limit::None), |rate| Ok(Limit::Own(Arc::new(RateLimiter::direct(quota(rate)?)))))
    }
}

/// Seconds until a refused request may be retried (at least 1).
fn retry_after(not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    (wait.as_secs_f64().ceil() as u64).max(1)
}

/// The budgets shared by all callers.
#[derive(Debug)]
pub(crate) struct Limits {
    global: Option<DefaultDirectRateLimiter>,
    anonymous: Option<DefaultKeyedRateLimiter<Option<IpAddr>>>,
}

impl Limits {
    /// No shared budget.
    pub(crate) fn none() -> Limits {
        Limits { global: None, anonymous: None }
    }

    pub(crate) fn new(global_per_second: Option<u32>, anonymous_per_second: Option<u32>) -> Result<Limits, String> {
        Ok(Limits {
            global: global_per_second.map(quota).transpose()?.map(RateLimiter::direct),
            anonymous: anonymous_per_second.map(quota).transpose()?.map(RateLimiter::keyed),
        })
    }

    /// Takes one request from the caller's own budget, then from the global one; `Err` holds
    /// the seconds to wait.
    pub(crate) fn admit(&self, caller: &Caller, remote: Option<IpAddr>) -> Result<(), u64> {
        match &caller.limit {
            Limit::None if caller.method == super::Method::Anonymous => {
                if let Some(limiter) = &self.anonymous {
                    if limiter.len() > MAX_KEYS {
                        limiter.retain_recent();
                    }
                    limiter.check_key(&remote).map_err(|not_until| retry_after(&not_until))?;
                }
            }
            Limit::None => {}
            Limit::Own(limiter) => limiter.check().map_err(|not_until| retry_after(&not_until))?,
            Limit::Keyed(limiter) => {
                if limiter.len() > MAX_KEYS {
                    limiter.retain_recent();
                }
                limiter.check_key(&caller.name).map_err(|not_until| retry_after(&not_until))?;
            }
        }
        if let Some(global) = &self.global {
            global.check().map_err(|not_until| retry_after(&not_until))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Method, Roles};
    use crate::model::access::ProfileSet;

    fn caller(limit: Limit, method: Method) -> Caller {
        Caller { name: "c".into(), profiles: ProfileSet::default(), roles: Roles::default(), method, limit }
    }

    #[test]
    fn budgets_refuse_past_their_burst_and_say_when_to_retry() {
        let limits = Limits::new(None, Some(2)).unwrap();
        let own = caller(Limit::per_second(Some(3)).unwrap(), Method::ApiKey);
        for _ in 0..3 {
            limits.admit(&own, None).unwrap();
        }
        assert_eq!(limits.admit(&own, None), Err(1));
        let anonymous = caller(Limit::None, Method::Anonymous);
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        limits.admit(&anonymous, Some(a)).unwrap();
        limits.admit(&anonymous, Some(a)).unwrap();
        assert!(limits.admit(&anonymous, Some(a)).is_err());
        limits.admit(&anonymous, Some(b)).expect("another address has its own budget");
        let global = Limits::new(Some(1), None).unwrap();
        let free = caller(Limit::None, Method::AdminToken);
        global.admit(&free, None).unwrap();
        assert!(global.admit(&free, None).is_err(), "the global budget binds everyone");
        assert!(Limit::per_second(Some(0)).is_err());
    }
}
