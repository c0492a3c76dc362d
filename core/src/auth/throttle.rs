//! Login throttling, in memory.
//!
//! Every attempt is counted under three keys: the account (`user:…`), the client address
//! (`ip:…`) and the pair (`pair:…@…`). Inside a sliding window, after `slow_after`
//! failures on a key each further attempt must wait 1 s, 2 s, 4 s … up to 64 s after the
//! previous failure; only the **pair** key locks (for `lock_minutes`, after `lock_after`
//! failures). So a guesser at one address cannot lock the real user out from their own
//! desk, and nobody at a shared address (a proxy, a NAT) locks everyone else out, while
//! guessing many accounts from one address, or one account from many, still slows down.
//!
//! An attempt is reserved before the password is checked ([`Throttle::begin`]) and
//! settled after ([`Throttle::finish`]), so parallel requests cannot slip past the count.
//! A restart clears the state; lockouts are audited, so they survive in the log, and an
//! admin can lift one from the console or with `nplusx user unlock`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::Login;

#[derive(Default, Clone, Debug)]
struct Failures {
    times_ms: Vec<i64>,
    locked_until_ms: Option<i64>,
    in_flight: u32,
}

/// Why an attempt may not proceed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Try again after this many seconds.
    Wait(u64),
    /// Locked; unlocks after this many seconds.
    Locked(u64),
}

/// The keys of one attempt.
pub fn keys(username: &str, ip: Option<&str>) -> Vec<String> {
    let mut k = vec![format!("user:{username}")];
    if let Some(ip) = ip {
        k.push(format!("ip:{ip}"));
        k.push(format!("pair:{username}@{ip}"));
    }
    k
}

fn lockable(key: &str) -> bool {
    key.starts_with("pair:")
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

    fn refusal(&self, key: &str, f: &Failures, now: i64) -> Option<Refusal> {
        if lockable(key)
            && let Some(until) = f.locked_until_ms
            && until > now
        {
            return Some(Refusal::Locked(((until - now) as u64).div_ceil(1000)));
        }
        let recent: Vec<i64> = f
            .times_ms
            .iter()
            .copied()
            .filter(|t| now - t < self.window_ms())
            .collect();
        let n = recent.len() as u32;
        if n + f.in_flight < self.cfg.slow_after {
            return None;
        }
        if f.in_flight > 0 {
            // past the threshold only one attempt at a time
            return Some(Refusal::Wait(1));
        }
        let extra = n.saturating_sub(self.cfg.slow_after);
        let delay_ms = 1000i64 << extra.min(6);
        let last = recent.iter().max().copied().unwrap_or(now);
        (now - last < delay_ms)
            .then(|| Refusal::Wait(((delay_ms - (now - last)) as u64).div_ceil(1000)))
    }

    /// Reserves an attempt on `keys` at `now`, or says why it may not go ahead. A reserved
    /// attempt must be settled with [`Throttle::finish`].
    pub fn begin(&self, keys: &[String], now: i64) -> Result<(), Refusal> {
        let mut state = self.state.lock().expect("throttle lock is never poisoned");
        let mut worst: Option<Refusal> = None;
        for k in keys {
            let Some(f) = state.get(k) else { continue };
            worst = match (worst, self.refusal(k, f, now)) {
                (w, None) => w,
                (None, r) => r,
                (Some(Refusal::Locked(a)), Some(Refusal::Locked(b))) => {
                    Some(Refusal::Locked(a.max(b)))
                }
                (Some(Refusal::Locked(a)), Some(Refusal::Wait(_))) => Some(Refusal::Locked(a)),
                (Some(Refusal::Wait(_)), Some(Refusal::Locked(b))) => Some(Refusal::Locked(b)),
                (Some(Refusal::Wait(a)), Some(Refusal::Wait(b))) => Some(Refusal::Wait(a.max(b))),
            };
        }
        if let Some(r) = worst {
            return Err(r);
        }
        for k in keys {
            state.entry(k.clone()).or_default().in_flight += 1;
        }
        Ok(())
    }

    /// Settles a reserved attempt. A success clears the account and pair keys; a failure is
    /// counted. Returns the keys that became locked by this failure.
    pub fn finish(&self, keys: &[String], now: i64, success: bool) -> Vec<String> {
        let mut state = self.state.lock().expect("throttle lock is never poisoned");
        let window = self.window_ms();
        let mut locked = Vec::new();
        for k in keys {
            let f = state.entry(k.clone()).or_default();
            f.in_flight = f.in_flight.saturating_sub(1);
            if success {
                if !k.starts_with("ip:") {
                    f.times_ms.clear();
                    f.locked_until_ms = None;
                }
                continue;
            }
            f.times_ms.retain(|t| now - t < window);
            f.times_ms.push(now);
            if lockable(k) && f.times_ms.len() as u32 >= self.cfg.lock_after {
                f.locked_until_ms = Some(now + self.cfg.lock_minutes as i64 * 60_000);
                f.times_ms.clear();
                locked.push(k.clone());
            }
        }
        // keep memory bounded under a spray of random usernames
        if state.len() > 50_000 {
            state.retain(|_, f| {
                f.in_flight > 0
                    || f.locked_until_ms.is_some_and(|u| u > now)
                    || f.times_ms.iter().any(|t| now - t < window)
            });
        }
        locked
    }

    /// Current locks: (key, seconds left), for the console.
    pub fn locks(&self, now: i64) -> Vec<(String, u64)> {
        let state = self.state.lock().expect("throttle lock is never poisoned");
        let mut v: Vec<(String, u64)> = state
            .iter()
            .filter_map(|(k, f)| {
                let until = f.locked_until_ms.filter(|u| *u > now)?;
                Some((k.clone(), ((until - now) as u64).div_ceil(1000)))
            })
            .collect();
        v.sort();
        v
    }

    /// Lifts every lock and slow-down of an account (all its pair keys too). Returns the
    /// keys that were locked.
    pub fn unlock_user(&self, username: &str, now: i64) -> Vec<String> {
        let mut state = self.state.lock().expect("throttle lock is never poisoned");
        let user_key = format!("user:{username}");
        let pair_prefix = format!("pair:{username}@");
        let mut was_locked = Vec::new();
        for (k, f) in state.iter_mut() {
            if *k == user_key || k.starts_with(&pair_prefix) {
                if f.locked_until_ms.is_some_and(|u| u > now) {
                    was_locked.push(k.clone());
                }
                f.times_ms.clear();
                f.locked_until_ms = None;
            }
        }
        was_locked.sort();
        was_locked
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

    fn attempt(th: &Throttle, k: &[String], now: i64, ok: bool) -> Result<Vec<String>, Refusal> {
        th.begin(k, now)?;
        Ok(th.finish(k, now, ok))
    }

    #[test]
    fn slows_down_then_locks_the_pair() {
        let th = t();
        let k = keys("a", Some("10.0.0.9"));
        let mut now = 1_000_000;
        for _ in 0..3 {
            assert!(attempt(&th, &k, now, false).is_ok());
            now += 100;
        }
        // the fourth attempt right away must wait about a second
        assert_eq!(th.begin(&k, now), Err(Refusal::Wait(1)));
        now += 1000;
        attempt(&th, &k, now, false).unwrap();
        // the wait doubles
        assert_eq!(th.begin(&k, now + 1000), Err(Refusal::Wait(1)));
        now += 2000;
        attempt(&th, &k, now, false).unwrap();
        now += 4000;
        let locked = attempt(&th, &k, now, false).unwrap();
        assert_eq!(locked, vec!["pair:a@10.0.0.9".to_string()]);
        assert_eq!(th.begin(&k, now + 1000), Err(Refusal::Locked(899)));
        assert_eq!(
            th.locks(now + 1000),
            vec![("pair:a@10.0.0.9".to_string(), 899)]
        );
        // the same user from their own desk is only slowed by the account key, never locked
        let desk = keys("a", Some("10.0.0.5"));
        assert!(matches!(th.begin(&desk, now + 70_000), Ok(())));
    }

    #[test]
    fn parallel_attempts_cannot_slip_past() {
        let th = t();
        let k = keys("a", Some("1.2.3.4"));
        // three reserved at once, the fourth must wait even before any fails
        for _ in 0..3 {
            th.begin(&k, 0).unwrap();
        }
        assert_eq!(th.begin(&k, 0), Err(Refusal::Wait(1)));
    }

    #[test]
    fn success_clears_the_account_and_unlock_lifts_locks() {
        let th = t();
        let k = keys("a", Some("1.2.3.4"));
        for i in 0..3 {
            attempt(&th, &k, i, false).unwrap();
        }
        attempt(&th, &k, 5000, true).unwrap();
        assert_eq!(th.begin(&keys("a", None), 5001), Ok(()));
        th.finish(&keys("a", None), 5001, true);
        for i in 0..6 {
            let _ = attempt(&th, &k, 100_000 + i * 70_000, false);
        }
        assert_eq!(th.locks(600_000).len(), 1);
        assert_eq!(
            th.unlock_user("a", 600_000),
            vec!["pair:a@1.2.3.4".to_string()]
        );
        assert!(th.locks(600_000).is_empty());
    }

    #[test]
    fn old_failures_expire() {
        let th = t();
        let k = keys("a", None);
        for i in 0..5 {
            attempt(&th, &k, i, false).unwrap_or_default();
        }
        assert_eq!(th.begin(&k, 16 * 60_000), Ok(()));
    }
}
