//! The quality rules as pure functions: judging a result against its specification
//! (GB/T 8170 rounded-value comparison by default), the overall verdict of a sample, and
//! statistical process control — I-MR and X̄-R limits, Cp / Cpk, and the four Western
//! Electric rules (../shared/DOMAIN.md, Quality).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::formula::round_gb;

/// How a result is compared with a limit (GB/T 8170-2008 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// 修约值比较法: the result is rounded to the item's decimals first (the usual rule in
    /// Chinese product standards).
    #[default]
    Rounded,
    /// 全数值比较法: the result as measured.
    Full,
}

/// One item's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// No result yet (or it could not be computed): neither pass nor fail.
    Pending,
}

/// What the specification asks of one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Limits {
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub target: Option<f64>,
    /// For text items: the expected text (`清澈透明`); compared trimmed, case-insensitive.
    #[serde(default)]
    pub text: String,
    /// The decimals the limits are written with in the standard (`≤ 5.0`: 1). A number
    /// loses them (5.0 is 5), so: this when given, else the limit's own fractional digits,
    /// else (a whole-number limit) the item's decimals.
    #[serde(default)]
    pub digits: Option<i32>,
}

/// A numeric result against its limits, which are inclusive. With `Rounded` (GB/T 8170
/// §4.3.3, 修约值比较法) the value is rounded to the digits each limit is written with
/// before it is compared with it (≤ 5.04 compares 5.049 as 5.05; ≥ 99.5 compares 99.46 as
/// 99.5; see [`Limits::digits`], `item_decimals` for whole-number limits); with `Full` it
/// is compared as measured.
pub fn judge_number(value: f64, item_decimals: i32, how: Compare, lim: &Limits) -> Verdict {
    if !value.is_finite() {
        return Verdict::Pending;
    }
    let digits = |limit: f64| {
        lim.digits.unwrap_or_else(|| match decimals_of(limit) {
            0 => item_decimals,
            d => d,
        })
    };
    let at = |limit: f64| match how {
        Compare::Rounded => round_gb(value, digits(limit)),
        Compare::Full => value,
    };
    let below = lim.min.is_some_and(|m| at(m) < m);
    let above = lim.max.is_some_and(|m| at(m) > m);
    if below || above {
        Verdict::Fail
    } else {
        Verdict::Pass
    }
}

/// The decimals a limit is written with (`5.04` → 2, `100` → 0), from its shortest form.
pub fn decimals_of(limit: f64) -> i32 {
    let s = format!("{}", limit.abs());
    s.split_once('.').map_or(0, |(_, f)| f.len() as i32)
}

/// One line of a specification as a lab writes it: `AV ≤ 5.0`, `PUR ≥ 99.5`,
/// `SC 49.0 ~ 51.0`, `APP = 清澈透明`, or a bare keyword for a pass/fail item. The limits keep
/// the digits they were written with (`5.0`: 1). Errors are catalogue keys under
/// `quality.spec_line.`.
pub fn parse_spec_line(line: &str) -> Result<(String, Limits), &'static str> {
    let line = line.trim();
    let split = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(line.len());
    let (keyword, rest) = line.split_at(split);
    if keyword.is_empty() {
        return Err("keyword");
    }
    let rest = rest.trim();
    let written = |s: &str| -> Result<(f64, i32), &'static str> {
        let s = s.trim();
        let v: f64 = s.parse().map_err(|_| "number")?;
        if !v.is_finite() {
            return Err("number");
        }
        Ok((v, s.split_once('.').map_or(0, |(_, f)| f.len() as i32)))
    };
    let mut lim = Limits::default();
    if rest.is_empty() {
        return Ok((keyword.to_string(), lim));
    }
    if let Some(t) = rest.strip_prefix('=').or_else(|| rest.strip_prefix('＝')) {
        lim.text = t.trim().to_string();
        if lim.text.is_empty() {
            return Err("text");
        }
    } else if let Some(x) = ["<=", "≤"].iter().find_map(|p| rest.strip_prefix(p)) {
        let (v, d) = written(x)?;
        lim.max = Some(v);
        lim.digits = Some(d);
    } else if let Some(x) = [">=", "≥"].iter().find_map(|p| rest.strip_prefix(p)) {
        let (v, d) = written(x)?;
        lim.min = Some(v);
        lim.digits = Some(d);
    } else if let Some((a, b)) = ["~", "～", "..", "–", "—"]
        .iter()
        .find_map(|p| rest.split_once(p))
        .or_else(|| hyphen_range(rest))
    {
        let ((lo, d1), (hi, d2)) = (written(a)?, written(b)?);
        if lo > hi {
            return Err("range");
        }
        lim.min = Some(lo);
        lim.max = Some(hi);
        lim.digits = Some(d1.max(d2));
    } else {
        return Err("form");
    }
    Ok((keyword.to_string(), lim))
}

/// `49.0 - 51.0`, `-5-5`: splits at the first hyphen that follows a digit (so a minus sign
/// or an exponent's sign stays with its number).
fn hyphen_range(s: &str) -> Option<(&str, &str)> {
    let mut prev = None;
    for (i, c) in s.char_indices() {
        if c == '-' && prev.is_some_and(|p: char| p.is_ascii_digit() || p == '.') {
            return Some((&s[..i], &s[i + 1..]));
        }
        if !c.is_whitespace() {
            prev = Some(c);
        }
    }
    None
}

/// A specification line written back as [`parse_spec_line`] reads it.
pub fn spec_line_text(keyword: &str, l: &Limits) -> String {
    let d = |v: f64| match l.digits {
        Some(d) if d > 0 => format!("{v:.*}", d as usize),
        _ => format!("{v}"),
    };
    match (l.min, l.max) {
        (Some(a), Some(b)) => format!("{keyword} {} ~ {}", d(a), d(b)),
        (Some(a), None) => format!("{keyword} ≥ {}", d(a)),
        (None, Some(b)) => format!("{keyword} ≤ {}", d(b)),
        (None, None) if !l.text.is_empty() => format!("{keyword} = {}", l.text),
        (None, None) => keyword.to_string(),
    }
}

/// The limits alone as written (`≤ 5.0`, `49.0 ~ 51.0`), for pages and certificates.
pub fn limits_text(l: &Limits) -> String {
    spec_line_text("", l).trim().to_string()
}

/// A text result (appearance, odour) against the expected text.
pub fn judge_text(value: &str, lim: &Limits) -> Verdict {
    let v = value.trim();
    if v.is_empty() {
        Verdict::Pending
    } else if !lim.text.trim().is_empty() && v.to_lowercase() == lim.text.trim().to_lowercase() {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

/// The sample's verdict from its items' verdicts: any fail fails it; otherwise it passes
/// only when every item has passed (a missing result keeps it pending — the stricter way).
pub fn overall(items: impl IntoIterator<Item = Verdict>) -> Verdict {
    let mut all_pass = true;
    let mut any = false;
    for v in items {
        any = true;
        match v {
            Verdict::Fail => return Verdict::Fail,
            Verdict::Pending => all_pass = false,
            Verdict::Pass => {}
        }
    }
    if any && all_pass {
        Verdict::Pass
    } else {
        Verdict::Pending
    }
}

/// A result outside the item's plausible range (a typo, a wrong unit) is refused before it
/// can judge anything.
pub fn plausible(value: f64, low: Option<f64>, high: Option<f64>) -> bool {
    value.is_finite() && low.is_none_or(|l| value >= l) && high.is_none_or(|h| value <= h)
}

// ---------------------------------------------------------------- SPC

/// Control-chart constants for subgroups of n = 2..=9 (ASTM / ISO 7870-2 table):
/// (A2, D3, D4, d2).
const XBAR_R: [(f64, f64, f64, f64); 8] = [
    (1.880, 0.0, 3.267, 1.128),
    (1.023, 0.0, 2.574, 1.693),
    (0.729, 0.0, 2.282, 2.059),
    (0.577, 0.0, 2.114, 2.326),
    (0.483, 0.0, 2.004, 2.534),
    (0.419, 0.076, 1.924, 2.704),
    (0.373, 0.136, 1.864, 2.847),
    (0.337, 0.184, 1.816, 2.970),
];

/// Limits of a chart pair: the values (individuals or subgroup means) and the ranges
/// (moving ranges or subgroup ranges).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChartLimits {
    pub center: f64,
    pub ucl: f64,
    pub lcl: f64,
    pub range_center: f64,
    pub range_ucl: f64,
    pub range_lcl: f64,
    /// Within-subgroup standard deviation estimate (R̄/d2 or MR̄/1.128).
    pub sigma: f64,
}

/// I-MR chart of single readings; None below two points.
pub fn imr(x: &[f64]) -> Option<ChartLimits> {
    if x.len() < 2 {
        return None;
    }
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let mr = x.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (x.len() - 1) as f64;
    let sigma = mr / 1.128;
    Some(ChartLimits {
        center: mean,
        ucl: mean + 3.0 * sigma,
        lcl: mean - 3.0 * sigma,
        range_center: mr,
        range_ucl: 3.267 * mr,
        range_lcl: 0.0,
        sigma,
    })
}

/// A subgroup's mean and range.
pub fn mean_range(g: &[f64]) -> (f64, f64) {
    let (lo, hi) = g
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    (g.iter().sum::<f64>() / g.len() as f64, hi - lo)
}

/// X̄-R chart of subgroups of equal size 2..=9; None otherwise or with no subgroups.
pub fn xbar_r(groups: &[Vec<f64>]) -> Option<ChartLimits> {
    let n = groups.first()?.len();
    if !(2..=9).contains(&n) || groups.iter().any(|g| g.len() != n) {
        return None;
    }
    let (a2, d3, d4, d2) = XBAR_R[n - 2];
    let (means, ranges): (Vec<f64>, Vec<f64>) = groups.iter().map(|g| mean_range(g)).unzip();
    let xbb = means.iter().sum::<f64>() / means.len() as f64;
    let rbar = ranges.iter().sum::<f64>() / ranges.len() as f64;
    Some(ChartLimits {
        center: xbb,
        ucl: xbb + a2 * rbar,
        lcl: xbb - a2 * rbar,
        range_center: rbar,
        range_ucl: d4 * rbar,
        range_lcl: d3 * rbar,
        sigma: rbar / d2,
    })
}

/// Process capability: Cp = (USL − LSL) / 6σ (both limits needed), Cpk = min(USL − x̄,
/// x̄ − LSL) / 3σ (either limit). None where σ is zero or the limits are missing.
pub fn capability(
    mean: f64,
    sigma: f64,
    lsl: Option<f64>,
    usl: Option<f64>,
) -> (Option<f64>, Option<f64>) {
    if sigma <= 0.0 || !sigma.is_finite() {
        return (None, None);
    }
    let cp = match (lsl, usl) {
        (Some(l), Some(u)) => Some((u - l) / (6.0 * sigma)),
        _ => None,
    };
    let sides = [usl.map(|u| u - mean), lsl.map(|l| mean - l)];
    let cpk = sides
        .into_iter()
        .flatten()
        .fold(None, |acc: Option<f64>, d| {
            Some(acc.map_or(d, |a| a.min(d)))
        })
        .map(|d| d / (3.0 * sigma));
    (cp, cpk)
}

/// Cpk below this is flagged (DOMAIN.md: target ≥ 1.33).
pub const CPK_TARGET: f64 = 1.33;

/// The Western Electric rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WeRule {
    /// One point beyond 3σ.
    Beyond3,
    /// Two of three consecutive points beyond 2σ on the same side.
    TwoOfThree,
    /// Four of five consecutive points beyond 1σ on the same side.
    FourOfFive,
    /// Eight consecutive points on the same side of the centre line.
    EightInARow,
}

impl WeRule {
    pub fn id(self) -> &'static str {
        match self {
            WeRule::Beyond3 => "beyond_3",
            WeRule::TwoOfThree => "two_of_three",
            WeRule::FourOfFive => "four_of_five",
            WeRule::EightInARow => "eight_in_a_row",
        }
    }
}

/// A rule broken at a point (the last point of the run that breaks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Violation {
    pub index: usize,
    pub rule: WeRule,
}

/// Every point at which a Western Electric rule is broken, in one pass (O(n)).
pub fn western_electric(x: &[f64], center: f64, sigma: f64) -> Vec<Violation> {
    let mut out = Vec::new();
    if sigma <= 0.0 || !sigma.is_finite() {
        return out;
    }
    // z-scores; the windows look back over the last 3, 5 and 8 points
    let z: Vec<f64> = x.iter().map(|v| (v - center) / sigma).collect();
    let count = |from: usize, to: usize, f: &dyn Fn(f64) -> bool| {
        z[from..=to].iter().filter(|v| f(**v)).count()
    };
    let mut run = 0i64; // signed length of the current run on one side
    for (i, &zi) in z.iter().enumerate() {
        if zi.abs() > 3.0 {
            out.push(Violation {
                index: i,
                rule: WeRule::Beyond3,
            });
        }
        // the windows start with the series: the first two points beyond 2σ already count
        {
            let from = i.saturating_sub(2);
            let hi = count(from, i, &|v| v > 2.0);
            let lo = count(from, i, &|v| v < -2.0);
            if (hi >= 2 && zi > 2.0) || (lo >= 2 && zi < -2.0) {
                out.push(Violation {
                    index: i,
                    rule: WeRule::TwoOfThree,
                });
            }
        }
        {
            let from = i.saturating_sub(4);
            let hi = count(from, i, &|v| v > 1.0);
            let lo = count(from, i, &|v| v < -1.0);
            if (hi >= 4 && zi > 1.0) || (lo >= 4 && zi < -1.0) {
                out.push(Violation {
                    index: i,
                    rule: WeRule::FourOfFive,
                });
            }
        }
        run = match (zi > 0.0, zi < 0.0) {
            (true, _) if run > 0 => run + 1,
            (true, _) => 1,
            (_, true) if run < 0 => run - 1,
            (_, true) => -1,
            _ => 0,
        };
        if run.abs() >= 8 {
            out.push(Violation {
                index: i,
                rule: WeRule::EightInARow,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(min: Option<f64>, max: Option<f64>) -> Limits {
        Limits {
            min,
            max,
            ..Default::default()
        }
    }

    #[test]
    fn numbers_are_judged_on_the_rounded_value_by_default() {
        // acid value ≤ 5.0: 5.04 rounds to 5.0 and passes (修约值比较法)
        let l = lim(None, Some(5.0));
        assert_eq!(judge_number(5.04, 1, Compare::Rounded, &l), Verdict::Pass);
        assert_eq!(judge_number(5.05, 1, Compare::Rounded, &l), Verdict::Pass); // 5.0 (even)
        assert_eq!(judge_number(5.06, 1, Compare::Rounded, &l), Verdict::Fail);
        assert_eq!(
            judge_number(5.050001, 1, Compare::Rounded, &l),
            Verdict::Fail
        );
        // 全数值比较法: as measured
        assert_eq!(judge_number(5.04, 1, Compare::Full, &l), Verdict::Fail);
        // rounded to the limit's own digits (GB/T 8170 §4.3.3), not the item's
        let l = lim(None, Some(5.04));
        assert_eq!(judge_number(5.049, 1, Compare::Rounded, &l), Verdict::Fail);
        assert_eq!(judge_number(5.044, 1, Compare::Rounded, &l), Verdict::Pass);
        let l = lim(Some(99.5), None);
        assert_eq!(judge_number(99.46, 2, Compare::Rounded, &l), Verdict::Pass);
        assert_eq!(judge_number(99.44, 1, Compare::Rounded, &l), Verdict::Fail);
        // both limits, inclusive
        let l = lim(Some(49.0), Some(51.0));
        assert_eq!(judge_number(49.0, 1, Compare::Rounded, &l), Verdict::Pass);
        assert_eq!(judge_number(48.4, 1, Compare::Rounded, &l), Verdict::Fail);
        assert_eq!(judge_number(48.94, 1, Compare::Rounded, &l), Verdict::Fail); // 48.9
        assert_eq!(judge_number(51.0, 1, Compare::Rounded, &l), Verdict::Pass);
        assert_eq!(
            judge_number(f64::NAN, 1, Compare::Rounded, &l),
            Verdict::Pending
        );
        assert_eq!(decimals_of(5.04), 2);
        assert_eq!(decimals_of(100.0), 0);
        // a whole-number limit takes the item's decimals, or the digits written down
        let l = lim(None, Some(6000.0));
        assert_eq!(judge_number(6000.4, 0, Compare::Rounded, &l), Verdict::Pass);
        let l = Limits {
            digits: Some(1),
            ..lim(None, Some(5.0))
        };
        assert_eq!(judge_number(5.04, 3, Compare::Rounded, &l), Verdict::Pass);
    }

    #[test]
    fn text_items_and_the_overall_verdict() {
        let l = Limits {
            text: "清澈透明".into(),
            ..Default::default()
        };
        assert_eq!(judge_text(" 清澈透明 ", &l), Verdict::Pass);
        assert_eq!(judge_text("浑浊", &l), Verdict::Fail);
        assert_eq!(judge_text("", &l), Verdict::Pending);
        // no expected text: nothing to pass against
        assert_eq!(judge_text("黑色浑浊", &Limits::default()), Verdict::Fail);
        use Verdict::*;
        assert_eq!(overall([Pass, Pass]), Pass);
        assert_eq!(overall([Pass, Pending]), Pending);
        assert_eq!(overall([Pending, Fail]), Fail);
        assert_eq!(overall([]), Pending, "nothing judged is not a pass");
    }

    #[test]
    fn specification_lines_as_a_lab_writes_them() {
        let (k, l) = parse_spec_line("AV ≤ 5.0").unwrap();
        assert_eq!((k.as_str(), l.max, l.digits), ("AV", Some(5.0), Some(1)));
        let (_, l) = parse_spec_line("PUR>=99.5").unwrap();
        assert_eq!((l.min, l.digits), (Some(99.5), Some(1)));
        let (_, l) = parse_spec_line("SC 49.0 ~ 51.0").unwrap();
        assert_eq!((l.min, l.max, l.digits), (Some(49.0), Some(51.0), Some(1)));
        // a hyphen between numbers is a range; a minus sign stays with its number
        let (_, l) = parse_spec_line("SC 49.0 - 51.0").unwrap();
        assert_eq!((l.min, l.max), (Some(49.0), Some(51.0)));
        let (_, l) = parse_spec_line("T -5-5").unwrap();
        assert_eq!((l.min, l.max), (Some(-5.0), Some(5.0)));
        let (_, l) = parse_spec_line("T -10 - -2.5").unwrap();
        assert_eq!((l.min, l.max, l.digits), (Some(-10.0), Some(-2.5), Some(1)));
        assert_eq!(parse_spec_line("AV -5"), Err("form"));
        let (_, l) = parse_spec_line("APP = 清澈透明").unwrap();
        assert_eq!(l.text, "清澈透明");
        let (k, l) = parse_spec_line("LEAK").unwrap();
        assert_eq!((k.as_str(), l), ("LEAK", Limits::default()));
        assert_eq!(parse_spec_line("SC 51 ~ 49"), Err("range"));
        assert_eq!(parse_spec_line("AV ≤ five"), Err("number"));
        assert_eq!(parse_spec_line("AV 5"), Err("form"));
        assert_eq!(parse_spec_line("≤ 5"), Err("keyword"));
        assert_eq!(parse_spec_line("APP ="), Err("text"));
        // written back as read
        for line in [
            "AV ≤ 5.0",
            "PUR ≥ 99.50",
            "SC 49.0 ~ 51.0",
            "APP = 清澈透明",
            "LEAK",
        ] {
            let (k, l) = parse_spec_line(line).unwrap();
            assert_eq!(spec_line_text(&k, &l), line);
        }
        // the written digits decide the rounded comparison: ≤ 5.0 fails 5.06
        let (_, l) = parse_spec_line("AV ≤ 5.0").unwrap();
        assert_eq!(judge_number(5.06, 3, Compare::Rounded, &l), Verdict::Fail);
    }

    #[test]
    fn plausible_ranges() {
        assert!(plausible(50.0, Some(0.0), Some(100.0)));
        assert!(!plausible(500.0, Some(0.0), Some(100.0)));
        assert!(!plausible(-1.0, Some(0.0), None));
        assert!(plausible(1e9, None, None));
        assert!(!plausible(f64::INFINITY, None, None));
    }

    #[test]
    fn imr_and_xbar_r_limits() {
        let x = [10.0, 12.0, 11.0, 13.0, 12.0];
        let c = imr(&x).unwrap();
        assert!((c.center - 11.6).abs() < 1e-12);
        // moving ranges 2, 1, 2, 1 → MR̄ 1.5, σ = 1.5 / 1.128
        assert!((c.range_center - 1.5).abs() < 1e-12);
        assert!((c.sigma - 1.5 / 1.128).abs() < 1e-12);
        assert!((c.ucl - (11.6 + 3.0 * 1.5 / 1.128)).abs() < 1e-12);
        assert!((c.range_ucl - 3.267 * 1.5).abs() < 1e-12);
        assert!(imr(&[1.0]).is_none());
        let g = vec![vec![1.0, 3.0, 2.0], vec![2.0, 4.0, 3.0]];
        let c = xbar_r(&g).unwrap();
        assert!((c.center - 2.5).abs() < 1e-12);
        assert!((c.range_center - 2.0).abs() < 1e-12);
        assert!((c.ucl - (2.5 + 1.023 * 2.0)).abs() < 1e-12);
        assert!((c.sigma - 2.0 / 1.693).abs() < 1e-12);
        assert!(xbar_r(&[vec![1.0]]).is_none());
        assert!(xbar_r(&[vec![1.0, 2.0], vec![1.0]]).is_none());
    }

    #[test]
    fn capability_indices() {
        let (cp, cpk) = capability(50.0, 0.25, Some(49.0), Some(51.0));
        assert!((cp.unwrap() - 2.0 / 1.5).abs() < 1e-12);
        assert!((cpk.unwrap() - 1.0 / 0.75).abs() < 1e-12);
        // off centre: Cpk is the nearer side
        let (_, cpk) = capability(50.5, 0.25, Some(49.0), Some(51.0));
        assert!((cpk.unwrap() - 0.5 / 0.75).abs() < 1e-12);
        // one-sided (acid value ≤ 5): no Cp, Cpk from the upper side
        let (cp, cpk) = capability(3.0, 0.5, None, Some(5.0));
        assert_eq!(cp, None);
        assert!((cpk.unwrap() - 2.0 / 1.5).abs() < 1e-12);
        assert_eq!(capability(3.0, 0.0, None, Some(5.0)), (None, None));
    }

    #[test]
    fn each_western_electric_rule_fires_and_a_quiet_process_raises_none() {
        let rules = |x: &[f64]| -> Vec<(usize, WeRule)> {
            western_electric(x, 0.0, 1.0)
                .into_iter()
                .map(|v| (v.index, v.rule))
                .collect()
        };
        let quiet = [0.5, -0.5, 0.2, -0.3, 0.9, -0.9, 0.1, -0.1, 0.4, -0.4];
        assert!(rules(&quiet).is_empty());
        assert_eq!(rules(&[0.0, 3.5]), vec![(1, WeRule::Beyond3)]);
        assert_eq!(rules(&[2.5, -0.5, 2.2]), vec![(2, WeRule::TwoOfThree)]);
        // opposite sides do not count together
        assert!(rules(&[2.5, 0.0, -2.2]).is_empty());
        assert_eq!(
            rules(&[1.5, 1.2, -0.5, 1.1, 1.3]),
            vec![(4, WeRule::FourOfFive)]
        );
        let eight = [0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2];
        assert_eq!(rules(&eight), vec![(7, WeRule::EightInARow)]);
        let seven_then_cross = [0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, -0.2];
        assert!(rules(&seven_then_cross).is_empty());
        assert!(western_electric(&[5.0], 0.0, 0.0).is_empty());
        // from the first points on: two beyond 2σ, four beyond 1σ
        assert_eq!(rules(&[2.5, 2.5]), vec![(1, WeRule::TwoOfThree)]);
        assert_eq!(rules(&[1.5, 1.5, 1.5, 1.5]), vec![(3, WeRule::FourOfFive)]);
    }
}
