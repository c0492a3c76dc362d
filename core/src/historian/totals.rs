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
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    let mut prev = before;
    let mut i = 0;
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
        let mut held: Option<(i64, f64)> = prev.map(|(_, v)| (start, v));
        let stop = end.min(now.max(start));
        while i < points.len() && points[i].0 < end {
            let (ts, v) = points[i];
            i += 1;
            if ts < start {
                // before the first bound: only the value carried in
                prev = Some((ts, v));
                held = Some((start, v));
                continue;
            }
            if let Some((since, hv)) = held {
                t.integral += hv * (ts.min(stop) - since).max(0) as f64 / 3_600_000.0;
            }
            if let Some((_, pv)) = prev {
                t.delta += if v >= pv { v - pv } else { v };
            }
            if t.count == 0 {
                t.first = v;
                t.min = v;
                t.max = v;
            }
            t.count += 1;
            t.min = t.min.min(v);
            t.max = t.max.max(v);
            t.last = v;
            sum += v;
            prev = Some((ts, v));
            held = Some((ts, v));
        }
        if let Some((since, hv)) = held {
            t.integral += hv * (stop - since).max(0) as f64 / 3_600_000.0;
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
}
