//! The KPI library's arithmetic (pure; tested natively): each figure from the module records
//! it is defined on, `None` where an input is missing — never made up.

use std::collections::BTreeMap;

/// First-pass yield: of the lots with a decided sample in the period, the share whose first
/// decided sample passed. Samples as (lot, taken ms, verdict).
pub fn first_pass_yield(samples: &[(String, i64, String)]) -> Option<f64> {
    let mut first: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
    for (lot, taken, verdict) in samples {
        if verdict != "pass" && verdict != "fail" {
            continue;
        }
        let e = first
            .entry(lot.as_str())
            .or_insert((*taken, verdict.as_str()));
        if *taken < e.0 {
            *e = (*taken, verdict.as_str());
        }
    }
    let passed = first.values().filter(|(_, v)| *v == "pass").count();
    (!first.is_empty()).then(|| passed as f64 / first.len() as f64)
}

/// Inventory turnover over a period of `days`: the value issued or delivered, over the
/// stock's value now, and the days that stock covers at that rate.
pub fn turnover(consumed_value: f64, stock_value: f64, days: f64) -> (Option<f64>, Option<f64>) {
    let turns = (stock_value > 0.0).then(|| consumed_value / stock_value);
    let cover = (consumed_value > 0.0 && days > 0.0).then(|| stock_value / (consumed_value / days));
    (turns, cover)
}

/// Stock value by age since its last movement: ≤ 30, 31–90, 91–180, > 180 days.
pub fn ageing(stock: &[(f64, i64)], now_ms: i64) -> [f64; 4] {
    let mut out = [0.0; 4];
    for (value, last_ms) in stock {
        let days = (now_ms - last_ms) as f64 / 86_400_000.0;
        let i = match days {
            d if d <= 30.0 => 0,
            d if d <= 90.0 => 1,
            d if d <= 180.0 => 2,
            _ => 3,
        };
        out[i] += value;
    }
    out
}

/// Hidden dangers closed on time: of those closed, the share closed by the end of their
/// deadline day (plant time). (closed ms, deadline day's end ms).
pub fn on_time(closed: &[(i64, i64)]) -> Option<f64> {
    let ok = closed.iter().filter(|(c, d)| c <= d).count();
    (!closed.is_empty()).then(|| ok as f64 / closed.len() as f64)
}

/// ISA-18.2's reading of an average alarm rate per operator position and hour.
pub fn alarm_rate_band(per_hour: f64) -> &'static str {
    match per_hour {
        r if r <= 6.0 => "acceptable",
        r if r <= 12.0 => "manageable",
        _ => "over-demanding",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(lot: &str, t: i64, v: &str) -> (String, i64, String) {
        (lot.into(), t, v.into())
    }

    #[test]
    fn first_pass_yield_counts_each_lot_by_its_first_decided_sample() {
        let samples = [
            s("L1", 10, "fail"),
            s("L1", 20, "pass"),
            s("L2", 5, "pass"),
            s("L3", 1, "pending"),
            s("L3", 2, "pass"),
        ];
        // L1 failed first (a retest passing does not make it first-pass), L2 and L3 passed
        assert_eq!(first_pass_yield(&samples), Some(2.0 / 3.0));
        assert_eq!(first_pass_yield(&[s("L9", 1, "pending")]), None);
    }

    #[test]
    fn turnover_and_cover_need_their_inputs() {
        let (turns, cover) = turnover(30_000.0, 60_000.0, 30.0);
        assert_eq!(turns, Some(0.5));
        assert_eq!(cover, Some(60.0));
        assert_eq!(turnover(0.0, 0.0, 30.0), (None, None));
    }

    #[test]
    fn stock_ages_by_its_last_movement() {
        let day = 86_400_000;
        let now = 1_000 * day;
        let a = ageing(
            &[
                (1.0, now - 10 * day),
                (2.0, now - 60 * day),
                (4.0, now - 200 * day),
            ],
            now,
        );
        assert_eq!(a, [1.0, 2.0, 0.0, 4.0]);
    }

    #[test]
    fn on_time_and_alarm_bands() {
        assert_eq!(on_time(&[(5, 10), (11, 10)]), Some(0.5));
        assert_eq!(on_time(&[]), None);
        assert_eq!(alarm_rate_band(5.0), "acceptable");
        assert_eq!(alarm_rate_band(12.0), "manageable");
        assert_eq!(alarm_rate_band(13.0), "over-demanding");
    }
}
