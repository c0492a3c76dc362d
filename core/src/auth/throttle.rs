//! Login throttling. Failures are counted per account and per client address inside a
//! sliding window: after `slow_after` failures each further attempt must wait (1 s, 2 s,
//! 4 s … up to 60 s after the previous failure), after `lock_after` the key is locked for
//! `lock_minutes`. Counting both keys stops one address guessing many accounts and many
//! addresses guessing one account.
//!
//! The state lives in memory: a restart clears it, which an attacker able to restart the
//! appliance does not need anyway. Lockouts are audited, so they survive in the log.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::Login;

#[derive(Default, Clone, Debug)]
struct Failures {
    times_ms: Vec<i64>,
    locked_until_ms: Option<i64>,
}

/// Why an attempt may not proceed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Try again after this many seconds.
    Wait(u64),
    /// Locked; unlocks after this many seconds.
    Locked(u64),
}

pub struct Throttle {
    cfg: Login,
    state: Mutex<HashMap<String, Failures>>,
}

impl Throttle {
    pub fn new(cfg: Login) -> Throttle {
        Throttle {
            cfg,
            state: Mutex::new(HashMap::new()),
        }
    }

    fn window_ms(&self) -> i64 {
        self.cfg.window_minutes as i64 * 60_000
    }

    /// May an attempt for these keys (`user:…`, `ip:…`) go ahead at `now`?
    pub fn check(&self, keys: &[String], now: i64) -> Result<(), Refusal> {
        let state = self.state.lock().expect("throttle lock is never poisoned");
        let mut worst: Option<Refusal> = None;
        for k in keys {
            let Some(f) = state.get(k) else { continue };
            if let Some(until) = f.locked_until_ms
                && until > now
            {
                let s = ((until - now) as u64).div_ceil(1000);
                worst = Some(match worst {
                    Some(Refusal::Locked(x)) => Refusal::Locked(x.max(s)),
                    _ => Refusal::Locked(s),
                });
                continue;
            }
            let recent: Vec<i64> = f
                .times_ms
                .iter()
                .copied()
                .filter(|t| now - t < self.window_ms())
                .collect();
            if recent.len() as u32 >= self.cfg.slow_after {
                let extra = recent.len() as u32 - self.cfg.slow_after;
                let delay_ms = 1000i64 << extra.min(6);
                let last = *recent.iter().max().expect("non-empty");
                if now - last < delay_ms {
                    let s = ((delay_ms - (now - last)) as u64).div_ceil(1000);
                    if !matches!(worst, Some(Refusal::Locked(_))) {
                        worst = Some(Refusal::Wait(s.max(match worst {
                            Some(Refusal::Wait(x)) => x,
                            _ => 0,
                        })));
                    }
                }
            }
        }
        worst.map_or(Ok(()), Err)
    }

    /// Records a failure. Returns the keys that became locked by it.
    pub fn fail(&self, keys: &[String], now: i64) -> Vec<String> {
        let mut state = self.state.lock().expect("throttle lock is never poisoned");
        let window = self.window_ms();
        let mut locked = Vec::new();
        for k in keys {
            let f = state.entry(k.clone()).or_default();
            f.times_ms.retain(|t| now - t < window);
            f.times_ms.push(now);
            if f.times_ms.len() as u32 >= self.cfg.lock_after {
                f.locked_until_ms = Some(now + self.cfg.lock_minutes as i64 * 60_000);
                f.times_ms.clear();
                locked.push(k.clone());
            }
        }
        // keep memory bounded under a spray of random usernames
        if state.len() > 50_000 {
            state.retain(|_, f| {
                f.locked_until_ms.is_some_and(|u| u > now)
                    || f.times_ms.iter().any(|t| now - t < window)
            });
        }
        locked
    }

    /// Forgets failures of an account after a successful login (not of the address).
    pub fn succeed(&self, key: &str) {
        self.state
            .lock()
            .expect("throttle lock is never poisoned")
            .remove(key);
    }

    /// Lifts a lock by hand (admin unlocking an account).
    pub fn clear(&self, key: &str) {
        self.succeed(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Throttle {
        Throttle::new(Login {
            slow_after: 3,
            lock_after: 6,
            lock_minutes: 15,
            window_minutes: 15,
        })
    }

    #[test]
    fn slows_down_then_locks() {
        let th = t();
        let k = vec!["user:a".to_string()];
        let mut now = 1_000_000;
        for _ in 0..3 {
            assert_eq!(th.check(&k, now), Ok(()));
            th.fail(&k, now);
            now += 100;
        }
        // fourth attempt right away must wait about a second
        assert_eq!(th.check(&k, now), Err(Refusal::Wait(1)));
        now += 1000;
        assert_eq!(th.check(&k, now), Ok(()));
        th.fail(&k, now);
        // the wait doubles
        assert_eq!(th.check(&k, now + 1000), Err(Refusal::Wait(1)));
        now += 2000;
        th.fail(&k, now);
        now += 4000;
        let locked = th.fail(&k, now);
        assert_eq!(locked, k);
        assert_eq!(th.check(&k, now + 1000), Err(Refusal::Locked(899)));
        assert_eq!(th.check(&k, now + 15 * 60_000), Ok(()));
    }

    #[test]
    fn success_clears_the_account_only() {
        let th = t();
        let keys = vec!["user:a".to_string(), "ip:1.2.3.4".to_string()];
        for i in 0..3 {
            th.fail(&keys, i);
        }
        th.succeed("user:a");
        assert_eq!(th.check(&keys[..1], 10), Ok(()));
        assert!(th.check(&keys[1..], 10).is_err());
    }

    #[test]
    fn old_failures_expire() {
        let th = t();
        let k = vec!["user:a".to_string()];
        for i in 0..5 {
            th.fail(&k, i);
        }
        assert_eq!(th.check(&k, 16 * 60_000), Ok(()));
    }
}
