//! A tag's figures per hour, shift, day or month in plant time (pure): the periods'
//! boundaries, and each period's count, min, max, mean, first, last, the increase of a
//! totaliser and the time integral of a rate. The plugin contract's `tags.totals` and the
//! energy figures are built on it.

use time::{Date, Duration, PrimitiveDateTime, Time, UtcOffset};

use crate::plant_time::{local, ms_of};

/// At most this many periods per query.
pub const MAX_PERIODS: usize = 10_000;

/// How a span is divided, in plant time.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Hour,
    /// Shifts starting at these minutes of the day (0–1439, any order); each shift runs to
    /// the next start, the last one past midnight.
    Shift(Vec<u16>),
    Day,
    Month,
}

/// The boundaries of the periods covering `[from, to)`: `n + 1` instants, the first at or
/// before `from`, the last at or after `to`. `None` past [`MAX_PERIODS`] or for shifts
/// without a valid start.
pub fn boundaries(from: i64, to: i64, step: &Step, offset: UtcOffset) -> Option<Vec<i64>> {
    if to <= from {
        return None;
    }
    let start = local(from, offset);
    let mut out = Vec::new();
    let push = |t: PrimitiveDateTime, out: &mut Vec<i64>| -> Option<bool> {
        let ms = ms_of(t, offset);
        out.push(ms);
        if out.len() > MAX_PERIODS + 1 {
            return None;
        }
        Some(ms >= to)
    };
    match step {
        Step::Hour => {
            let mut t = start.replace_time(Time::from_hms(start.hour(), 0, 0).ok()?);
            while !push(t, &mut out)? {
                t += Duration::HOUR;
            }
        }
        Step::Day => {
            let mut d = start.date();
            while !push(d.midnight(), &mut out)? {
                d = d.next_day()?;
            }
        }
        Step::Month => {
            let mut d = Date::from_calendar_date(start.year(), start.month(), 1).ok()?;
            while !push(d.midnight(), &mut out)? {
                let (y, m) = (d.year(), d.month());
                d = if m == time::Month::December {
                    Date::from_calendar_date(y + 1, time::Month::January, 1).ok()?
                } else {
                    Date::from_calendar_date(y, m.next(), 1).ok()?
                };
            }
        }
        Step::Shift(starts) => {
            let mut s: Vec<u16> = starts.clone();
            s.sort_unstable();
            s.dedup();
            if s.is_empty() || s.iter().any(|m| *m >= 1440) {
                return None;
            }
            let at = |d: Date, m: u16| d.midnight() + Duration::minutes(i64::from(m));
            // the last start at or before `from` (maybe the day before)
            let mut day = start.date().previous_day()?;
            let mut i = 0;
            while at(day, s[i]) <= start {
                let (nd, ni) = if i + 1 == s.len() {
                    (day.next_day()?, 0)
                } else {
                    (day, i + 1)
                };
                if at(nd, s[ni]) > start {
                    break;
                }
                (day, i) = (nd, ni);
            }
            loop {
                if push(at(day, s[i]), &mut out)? {
                    break;
                }
                if i + 1 == s.len() {
                    day = day.next_day()?;
                    i = 0;
                } else {
                    i += 1;
                }
            }
        }
    }
    Some(out)
}

/// One period's figures over good numeric samples. With no sample in the period, `count`
/// is 0 and the statistics NaN; `delta` and `integral` still count what the value before
/// the period says (a rate held, nothing counted).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Total {
    pub start_ms: i64,
    pub end_ms: i64,
    pub count: u32,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub first: f64,
    pub last: f64,
    /// How much a totaliser counted: the sum of increases between consecutive samples,
    /// from the last sample before the period; a drop is a reset and the new value is
    /// counted from zero (as Prometheus' `increase`). Periods' deltas add up.
    pub delta: f64,
    /// The time integral of a rate in value × hours (m³/h over a period: m³), each value
    /// held until the next sample, from the value before the period, up to `now`.
    pub integral: f64,
}

/// The figures of each period between consecutive `bounds`, from the good numeric
/// samples `points` (time order) and the last one before the first bound (`before`).
pub fn totals(
    before: Option<(i64, f64)>,
    points: &[(i64, f64)],
    bounds: &[i64],
    now: i64,
) -> Vec<Total> {
    let mut before = before.map(|(_, v)| v);
    let mut i = 0;
    let first = bounds.first().copied().unwrap_or(i64::MAX);
    while i < points.len() && points[i].0 < first {
        before = Some(points[i].1);
        i += 1;
    }
    let segments: Vec<Segment> = bounds
        .windows(2)
        .map(|w| {
            let j = i;
            while i < points.len() && points[i].0 < w[1] {
                i += 1;
            }
            (w[0], w[1], Roll::of(&points[j..i]))
        })
        .collect();
    combine(before, &segments, bounds, now)
}

/// What one stretch of time holds of a tag: its good samples summed up so that
/// consecutive stretches combine into any longer period exactly as the samples would
/// ([`combine`]). The historian keeps one per tag and hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roll {
    pub count: u32,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub first_ts: i64,
    pub first: f64,
    pub last_ts: i64,
    pub last: f64,
    /// Increase between the stretch's own consecutive samples (resets counted from zero).
    pub delta: f64,
    /// Σ value × time to the next sample inside the stretch, value × hours.
    pub integral: f64,
}

/// A stretch `[start, end)` and what it holds (`None`: no sample).
pub type Segment = (i64, i64, Option<Roll>);

/// A totaliser's increase from `a` to `b`: a drop is a reset, `b` counted from zero.
fn increase(a: f64, b: f64) -> f64 {
    if b >= a { b - a } else { b }
}

const MS_PER_HOUR: f64 = 3_600_000.0;

impl Roll {
    /// The summary of good samples in time order; `None` for none.
    pub fn of(points: &[(i64, f64)]) -> Option<Roll> {
        let (&(t0, v0), rest) = points.split_first()?;
        let mut r = Roll {
            count: 1,
            min: v0,
            max: v0,
            sum: v0,
            first_ts: t0,
            first: v0,
            last_ts: t0,
            last: v0,
            delta: 0.0,
            integral: 0.0,
        };
        for &(ts, v) in rest {
            r.integral += r.last * (ts - r.last_ts) as f64 / MS_PER_HOUR;
            r.delta += increase(r.last, v);
            r.count += 1;
            r.min = r.min.min(v);
            r.max = r.max.max(v);
            r.sum += v;
            (r.last_ts, r.last) = (ts, v);
        }
        Some(r)
    }

    /// Bytes as the historian keeps them: ten little-endian words.
    pub const BYTES: usize = 80;

    pub fn to_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u64::from(self.count).to_le_bytes());
        for x in [self.min, self.max, self.sum] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.extend_from_slice(&self.first_ts.to_le_bytes());
        out.extend_from_slice(&self.first.to_le_bytes());
        out.extend_from_slice(&self.last_ts.to_le_bytes());
        for x in [self.last, self.delta, self.integral] {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }

    pub fn from_bytes(b: &[u8]) -> Option<Roll> {
        let w = |i: usize| -> Option<[u8; 8]> { b.get(i * 8..i * 8 + 8)?.try_into().ok() };
        let f = |i: usize| w(i).map(f64::from_le_bytes);
        let n = |i: usize| w(i).map(i64::from_le_bytes);
        Some(Roll {
            count: u32::try_from(u64::from_le_bytes(w(0)?)).ok()?,
            min: f(1)?,
            max: f(2)?,
            sum: f(3)?,
            first_ts: n(4)?,
            first: f(5)?,
            last_ts: n(6)?,
            last: f(7)?,
            delta: f(8)?,
            integral: f(9)?,
        })
    }
}

/// The figures of each period between consecutive `bounds` from consecutive stretches
/// that tile them (each inside one period) and the value before the first (`before`).
/// Each value is held until the next sample, up to `now`.
pub fn combine(before: Option<f64>, segments: &[Segment], bounds: &[i64], now: i64) -> Vec<Total> {
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    let mut prev = before;
    let mut k = 0;
    for w in bounds.windows(2) {
        let (start, end) = (w[0], w[1]);
        let mut t = Total {
            start_ms: start,
            end_ms: end,
            count: 0,
            min: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
            first: f64::NAN,
            last: f64::NAN,
            delta: 0.0,
            integral: 0.0,
        };
        let mut sum = 0.0;
        // the value held since the period started (or since the sample that set it)
        let mut held: Option<(i64, f64)> = prev.map(|v| (start, v));
        let stop = end.min(now.max(start));
        while k < segments.len() && segments[k].0 < end {
            let seg = segments[k];
            k += 1;
            let Some(r) = seg.2 else { continue };
            if let Some((since, hv)) = held {
                t.integral += hv * (r.first_ts.min(stop) - since).max(0) as f64 / MS_PER_HOUR;
            }
            if let Some(pv) = prev {
                t.delta += increase(pv, r.first);
            }
            if t.count == 0 {
                (t.first, t.min, t.max) = (r.first, r.min, r.max);
            }
            t.count += r.count;
            t.min = t.min.min(r.min);
            t.max = t.max.max(r.max);
            t.last = r.last;
            t.delta += r.delta;
            t.integral += r.integral;
            sum += r.sum;
            prev = Some(r.last);
            held = Some((r.last_ts, r.last));
        }
        if let Some((since, hv)) = held {
            t.integral += hv * (stop - since).max(0) as f64 / MS_PER_HOUR;
        }
        if t.count > 0 {
            t.mean = sum / f64::from(t.count);
        }
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    fn cst() -> UtcOffset {
        UtcOffset::from_hms(8, 0, 0).unwrap()
    }
    /// 2026-12-01 00:00 in plant time (+08:00).
    const DAY0: i64 = 1_796_054_400_000;

    #[test]
    fn periods_follow_the_plant_calendar() {
        let b = boundaries(DAY0 + 30 * 60_000, DAY0 + 3 * H, &Step::Hour, cst()).unwrap();
        assert_eq!(b, vec![DAY0, DAY0 + H, DAY0 + 2 * H, DAY0 + 3 * H]);
        let b = boundaries(DAY0 + 5 * H, DAY0 + 49 * H, &Step::Day, cst()).unwrap();
        assert_eq!(b, vec![DAY0, DAY0 + 24 * H, DAY0 + 48 * H, DAY0 + 72 * H]);
        // December 2026 has 31 days, then January
        let b = boundaries(DAY0 + H, DAY0 + 40 * 24 * H, &Step::Month, cst()).unwrap();
        assert_eq!(b, vec![DAY0, DAY0 + 31 * 24 * H, DAY0 + (31 + 31) * 24 * H]);
        // three shifts, 08:00 / 16:00 / 00:00; from 02:00 the night shift began at 00:00
        let s = Step::Shift(vec![480, 960, 0]);
        let b = boundaries(DAY0 + 2 * H, DAY0 + 17 * H, &s, cst()).unwrap();
        assert_eq!(b, vec![DAY0, DAY0 + 8 * H, DAY0 + 16 * H, DAY0 + 24 * H]);
        // two shifts 08:00 / 20:00: at 03:00 the night shift began the evening before
        let s = Step::Shift(vec![1200, 480]);
        let b = boundaries(DAY0 + 3 * H, DAY0 + 9 * H, &s, cst()).unwrap();
        assert_eq!(b, vec![DAY0 - 4 * H, DAY0 + 8 * H, DAY0 + 20 * H]);
    }

    #[test]
    fn too_many_periods_and_bad_shifts_are_refused() {
        assert!(boundaries(DAY0, DAY0 + 10_001 * H, &Step::Hour, cst()).is_none());
        assert!(boundaries(DAY0, DAY0 + 10_000 * H, &Step::Hour, cst()).is_some());
        assert!(boundaries(DAY0, DAY0 + H, &Step::Shift(vec![]), cst()).is_none());
        assert!(boundaries(DAY0, DAY0 + H, &Step::Shift(vec![1440]), cst()).is_none());
        assert!(boundaries(DAY0, DAY0, &Step::Day, cst()).is_none());
    }

    #[test]
    fn a_totaliser_counts_across_periods_and_through_a_reset() {
        // a meter read every 30 min: 100, 110, 125 | 130, (reset) 4, 10
        let p: Vec<(i64, f64)> = [100.0, 110.0, 125.0, 130.0, 4.0, 10.0]
            .iter()
            .enumerate()
            .map(|(i, v)| (DAY0 + i as i64 * H / 2, *v))
            .collect();
        let t = totals(
            Some((DAY0 - H, 95.0)),
            &p,
            &[DAY0, DAY0 + 3 * H / 2, DAY0 + 3 * H],
            DAY0 + 10 * H,
        );
        // 95 → 100 → 110 → 125: 30; 125 → 130 → reset to 4 → 10: 5 + 4 + 6 = 15
        assert_eq!((t[0].delta, t[1].delta), (30.0, 15.0));
        assert_eq!(
            (t[0].count, t[0].first, t[0].last, t[0].min, t[0].max),
            (3, 100.0, 125.0, 100.0, 125.0)
        );
        assert!((t[0].mean - 335.0 / 3.0).abs() < 1e-9);
        assert_eq!((t[1].min, t[1].max), (4.0, 130.0));
    }

    #[test]
    fn a_rate_is_integrated_with_each_value_held_until_the_next() {
        // 10 m³/h held from before the day, 20 from 06:00, nothing after 12:00 ("now")
        let p = [(DAY0 + 6 * H, 20.0)];
        let t = totals(
            Some((DAY0 - H, 10.0)),
            &p,
            &[DAY0, DAY0 + 24 * H],
            DAY0 + 12 * H,
        );
        assert!((t[0].integral - (6.0 * 10.0 + 6.0 * 20.0)).abs() < 1e-9);
        // an empty period still integrates what was held; a later period is not yet
        let t = totals(
            Some((DAY0 - H, 10.0)),
            &[],
            &[DAY0, DAY0 + H, DAY0 + 2 * H],
            DAY0 + 90 * 60_000,
        );
        assert_eq!(t[0].count, 0);
        assert!(t[0].mean.is_nan());
        assert!((t[0].integral - 10.0).abs() < 1e-9);
        assert!((t[1].integral - 5.0).abs() < 1e-9);
        // nothing known before: nothing counted until the first sample
        let t = totals(None, &p, &[DAY0, DAY0 + 12 * H], DAY0 + 12 * H);
        assert!((t[0].integral - 120.0).abs() < 1e-9);
        assert_eq!(t[0].delta, 0.0);
    }

    #[test]
    fn hourly_rolls_combine_into_the_same_figures_as_the_samples() {
        // a totaliser with a reset and a rate, uneven sampling, over 3 days in shifts
        let mut p = Vec::new();
        let (mut ts, mut v) = (DAY0 - 3 * H, 1000.0);
        let mut k = 0u64;
        // samples up to "now", as the historian has them
        while ts < DAY0 + 69 * H {
            k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ts += 1_000 + (k >> 33) as i64 % 900_000;
            if ts >= DAY0 + 69 * H {
                break;
            }
            v = if k.is_multiple_of(97) {
                3.0
            } else {
                v + (k >> 40) as f64 % 7.0
            };
            p.push((ts, v));
        }
        let bounds = boundaries(DAY0, DAY0 + 70 * H, &Step::Shift(vec![480, 1200]), cst()).unwrap();
        let now = DAY0 + 69 * H + 1_234;
        let direct = totals(Some((DAY0 - 4 * H, 999.0)), &p, &bounds, now);
        let split = p.partition_point(|x| x.0 < bounds[0]);
        let before = p[..split].last().map(|x| x.1).or(Some(999.0));
        let mut segments = Vec::new();
        let mut i = split;
        let mut h = bounds[0];
        while h < bounds[bounds.len() - 1] {
            let j = i;
            while i < p.len() && p[i].0 < h + H {
                i += 1;
            }
            segments.push((h, h + H, Roll::of(&p[j..i])));
            h += H;
        }
        let rolled = combine(before, &segments, &bounds, now);
        assert_eq!(direct.len(), rolled.len());
        for (a, b) in direct.iter().zip(&rolled) {
            assert_eq!(
                (a.count, a.first, a.last, a.min, a.max),
                (b.count, b.first, b.last, b.min, b.max)
            );
            for (what, x, y) in [
                ("mean", a.mean, b.mean),
                ("delta", a.delta, b.delta),
                ("integral", a.integral, b.integral),
            ] {
                assert!(
                    (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                    "{what}: {x} vs {y}\n{a:?}\n{b:?}"
                );
            }
        }
        // a roll survives its byte form
        let r = Roll::of(&p[..50]).unwrap();
        let mut b = Vec::new();
        r.to_bytes(&mut b);
        assert_eq!(b.len(), Roll::BYTES);
        assert_eq!(Roll::from_bytes(&b), Some(r));
    }
}
