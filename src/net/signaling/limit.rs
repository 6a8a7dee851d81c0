//! Rate limits of the signaling server, sans-IO: every call takes `now`.
//!
//! - [`TokenBucket`]: the message rate of one connection.
//! - [`JoinLimiter`]: `join` attempts per client address, so that room codes (and
//!   secrets) cannot be guessed quickly from one machine however many connections it
//!   opens. IPv6 clients are counted per /64 network, the block one host usually has.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

/// Token-bucket rate limit for the messages of one connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Messages allowed in a burst.
    pub burst: u32,
    /// Sustained messages per second.
    pub per_second: f64,
}

impl Default for RateLimit {
    /// 100 messages at once (a full 8-peer mesh negotiation), 50 per second sustained.
    fn default() -> Self {
        Self {
            burst: 100,
            per_second: 50.0,
        }
    }
}

/// A token bucket: starts full with `burst` tokens, refills at `per_second`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    tokens: f64,
    limit: RateLimit,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: f64::from(limit.burst),
            limit,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until one token is available (zero if one is).
    pub fn wait(&self, now: Instant) -> Duration {
        let mut probe = self.clone();
        probe.refill(now);
        if probe.tokens >= 1.0 || probe.limit.per_second <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - probe.tokens) / probe.limit.per_second)
    }

    /// Whether the bucket has refilled completely by `now` (it remembers nothing).
    fn is_full(&self, now: Instant) -> bool {
        let mut probe = self.clone();
        probe.refill(now);
        probe.tokens >= f64::from(probe.limit.burst)
    }
}

/// How many `join`s one client address may send: `joins` per `window`, as a token
/// bucket (a burst of `joins`, then one every `window / joins`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinRate {
    /// Joins allowed in one window (and in a burst).
    pub joins: u32,
    /// The window.
    pub window: Duration,
}

impl Default for JoinRate {
    /// 20 joins per 10 s: a family behind one router joins at once; guessing one of
    /// the 8.9e8 codes at 2 per second takes years.
    fn default() -> Self {
        Self {
            joins: 20,
            window: Duration::from_secs(10),
        }
    }
}

impl JoinRate {
    fn bucket(self) -> RateLimit {
        RateLimit {
            burst: self.joins,
            per_second: f64::from(self.joins) / self.window.as_secs_f64().max(1e-3),
        }
    }
}

impl fmt::Display for JoinRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.joins, self.window.as_secs_f64())
    }
}

/// Why a join rate could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a join rate looks like 20/10s (joins per seconds) or off, got {0:?}")]
pub struct JoinRateError(String);

/// Parses `N/Ss` (or `N/S`): `N` joins per `S` seconds, both positive. `off` (or
/// `0`) means no limit: `None`.
pub fn parse_join_rate(text: &str) -> Result<Option<JoinRate>, JoinRateError> {
    let bad = || JoinRateError(text.to_owned());
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("off") || trimmed == "0" {
        return Ok(None);
    }
    let (joins, window) = trimmed.split_once('/').ok_or_else(bad)?;
    let joins: u32 = joins.trim().parse().map_err(|_| bad())?;
    let window = window.trim();
    let window: f64 = window
        .strip_suffix('s')
        .unwrap_or(window)
        .parse()
        .map_err(|_| bad())?;
    if joins == 0 || !window.is_finite() || window <= 0.0 || window > 86_400.0 {
        return Err(bad());
    }
    Ok(Some(JoinRate {
        joins,
        window: Duration::from_secs_f64(window),
    }))
}

impl FromStr for JoinRate {
    type Err = JoinRateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_join_rate(s)?.ok_or_else(|| JoinRateError(s.to_owned()))
    }
}

/// Join attempts per client address: one [`TokenBucket`] per address, forgotten once
/// it has refilled, so the table only holds addresses active in the last window.
#[derive(Debug)]
pub struct JoinLimiter {
    rate: JoinRate,
    buckets: HashMap<IpAddr, TokenBucket>,
    /// Table size that triggers the next sweep of refilled buckets.
    sweep_at: usize,
}

/// Table size below which refilled buckets are not swept.
const SWEEP_MIN: usize = 1024;

impl JoinLimiter {
    /// A limiter allowing `rate` per address.
    pub fn new(rate: JoinRate) -> Self {
        Self {
            rate,
            buckets: HashMap::new(),
            sweep_at: SWEEP_MIN,
        }
    }

    /// Counts one join from `ip`; `Err(wait)` when it is over the rate, with how long
    /// until the next join would be allowed.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.buckets.len() >= self.sweep_at {
            self.buckets.retain(|_, bucket| !bucket.is_full(now));
            self.sweep_at = (self.buckets.len() * 2).max(SWEEP_MIN);
        }
        let limit = self.rate.bucket();
        let bucket = self
            .buckets
            .entry(client_key(ip))
            .or_insert_with(|| TokenBucket::new(limit, now));
        if bucket.take(now) {
            Ok(())
        } else {
            Err(bucket.wait(now))
        }
    }

    /// Addresses currently remembered.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// The unit a client is counted by: its IPv4 address, or its IPv6 /64 network
/// (an IPv4-mapped IPv6 address counts as the IPv4 address).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_a_burst_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(
            RateLimit {
                burst: 3,
                per_second: 10.0,
            },
            start,
        );
        assert!((0..3).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(bucket.wait(start) > Duration::from_millis(90));
        assert!(bucket.take(start + Duration::from_millis(110)));
        assert!(!bucket.take(start + Duration::from_millis(110)));
    }

    #[test]
    fn joins_are_limited_per_address_and_refill_over_the_window() {
        let start = Instant::now();
        let mut limiter = JoinLimiter::new(JoinRate {
            joins: 20,
            window: Duration::from_secs(10),
        });
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        for _ in 0..20 {
            assert_eq!(limiter.check(a, start), Ok(()));
        }
        let wait = limiter
            .check(a, start)
            .expect_err("the 21st join is refused");
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        // Another address is not affected.
        assert_eq!(limiter.check(b, start), Ok(()));
        // One join every half second comes back.
        assert_eq!(limiter.check(a, start + Duration::from_millis(510)), Ok(()));
        assert!(
            limiter
                .check(a, start + Duration::from_millis(510))
                .is_err()
        );
    }

    #[test]
    fn ipv6_clients_count_per_64_network() {
        let start = Instant::now();
        let mut limiter = JoinLimiter::new(JoinRate {
            joins: 2,
            window: Duration::from_secs(10),
        });
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other_net: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert!(limiter.check(one, start).is_ok());
        assert!(limiter.check(same_net, start).is_ok());
        assert!(limiter.check(one, start).is_err());
        assert!(limiter.check(other_net, start).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        assert!(limiter.check(mapped, start).is_ok());
        assert!(limiter.check(v4, start).is_ok());
        assert!(limiter.check(v4, start).is_err());
    }

    #[test]
    fn refilled_addresses_are_forgotten() {
        let start = Instant::now();
        let mut limiter = JoinLimiter::new(JoinRate::default());
        for i in 0..SWEEP_MIN as u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(limiter.check(ip, start).is_ok());
        }
        assert_eq!(limiter.tracked(), SWEEP_MIN);
        let later = start + Duration::from_secs(11);
        assert!(
            limiter
                .check("192.0.2.1".parse().expect("ip"), later)
                .is_ok()
        );
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn join_rates_parse() {
        assert_eq!(
            parse_join_rate("20/10s"),
            Ok(Some(JoinRate {
                joins: 20,
                window: Duration::from_secs(10)
            }))
        );
        assert_eq!(
            parse_join_rate("5/2.5"),
            Ok(Some(JoinRate {
                joins: 5,
                window: Duration::from_millis(2500)
            }))
        );
        assert_eq!(parse_join_rate("off"), Ok(None));
        for bad in [
            "20", "x/10s", "20/0s", "0/10s", "20/-1", "20/nans", "20/infs",
        ] {
            assert!(parse_join_rate(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(JoinRate::default().to_string(), "20/10s");
    }
}
