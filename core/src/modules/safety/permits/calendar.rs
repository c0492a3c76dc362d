//! The plant's calendar for special work: statutory holidays and adjusted working days
//! (放假调休), rest days, and the night hours. Hot work in a work window that touches a day
//! off or the night needs the upgraded level; night is a hazard factor for work at height.
//!
//! China's holidays move every year by the State Council's notice, so they are data: the
//! binary ships this year's and next year's (`holidays.txt`), and plants import later years
//! from a file in the same format.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, PrimitiveDateTime, Time, Weekday};

/// The holidays shipped with this binary (same format as an import).
pub const SHIPPED: &str = include_str!("holidays.txt");

/// Holidays, working weekends and night hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    /// Days off besides weekends (statutory holidays and the days bridged to them).
    pub holidays: Vec<Date>,
    /// Weekend days that are working days (调休上班).
    pub working_weekends: Vec<Date>,
    /// Night from this time …
    pub night_from: Time,
    /// … to this time the next morning.
    pub night_to: Time,
    /// Years whose State Council notice is entered in full (others may hold only the
    /// statutory days, without the bridged days and adjusted working days).
    #[serde(default)]
    pub confirmed_years: Vec<i32>,
}

impl Default for Calendar {
    /// Weekends only, night 20:00–06:00.
    fn default() -> Self {
        Calendar {
            holidays: Vec::new(),
            working_weekends: Vec::new(),
            night_from: Time::from_hms(20, 0, 0).expect("valid time"),
            night_to: Time::from_hms(6, 0, 0).expect("valid time"),
            confirmed_years: Vec::new(),
        }
    }
}

/// Why a moment is outside normal working hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffHours {
    Night(PrimitiveDateTime),
    /// A weekend not worked, or a holiday (`true`).
    DayOff(Date, bool),
}

impl Calendar {
    /// The default calendar with the holidays this binary ships.
    pub fn shipped() -> Calendar {
        let mut c = Calendar::default();
        let file = HolidayFile::parse(SHIPPED).expect("the shipped holiday file parses");
        c.import(&file);
        c
    }

    pub fn is_holiday(&self, d: Date) -> bool {
        self.holidays.contains(&d)
    }

    /// A holiday or a rest day (weekend, unless it is a working weekend).
    pub fn is_day_off(&self, d: Date) -> bool {
        self.is_holiday(d)
            || (matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
                && !self.working_weekends.contains(&d))
    }

    pub fn is_night(&self, t: Time) -> bool {
        if self.night_from <= self.night_to {
            t >= self.night_from && t < self.night_to
        } else {
            t >= self.night_from || t < self.night_to
        }
    }

    /// The moments in `[from, to)` where being off-hours can change: `from` itself, each
    /// midnight, each night start and end. Between two of them nothing changes.
    fn boundaries(
        &self,
        from: PrimitiveDateTime,
        to: PrimitiveDateTime,
    ) -> impl Iterator<Item = PrimitiveDateTime> + '_ {
        let days = (to.date() - from.date()).whole_days().max(0);
        std::iter::once(from)
            .chain((0..=days).flat_map(move |i| {
                let d = from.date() + Duration::days(i);
                [Time::MIDNIGHT, self.night_from, self.night_to]
                    .into_iter()
                    .map(move |t| PrimitiveDateTime::new(d, t))
            }))
            .filter(move |t| *t >= from && *t < to)
    }

    /// The first night moment in `[from, to)`, if any.
    pub fn first_night(
        &self,
        from: PrimitiveDateTime,
        to: PrimitiveDateTime,
    ) -> Option<PrimitiveDateTime> {
        let mut b: Vec<_> = self.boundaries(from, to).collect();
        b.sort();
        b.into_iter().find(|t| self.is_night(t.time()))
    }

    /// The first day off touched by `[from, to)`, if any.
    pub fn first_day_off(&self, from: PrimitiveDateTime, to: PrimitiveDateTime) -> Option<Date> {
        let last = if to > from {
            to - Duration::minutes(1)
        } else {
            from
        };
        let mut d = from.date();
        while d <= last.date() {
            if self.is_day_off(d) {
                return Some(d);
            }
            d = d.next_day()?;
        }
        None
    }

    /// Why `[from, to)` is (partly) outside normal working hours, if it is.
    pub fn off_hours(&self, from: PrimitiveDateTime, to: PrimitiveDateTime) -> Vec<OffHours> {
        let mut out = Vec::new();
        if let Some(d) = self.first_day_off(from, to) {
            out.push(OffHours::DayOff(d, self.is_holiday(d)));
        }
        if let Some(t) = self.first_night(from, to) {
            out.push(OffHours::Night(t));
        }
        out
    }

    /// Takes in a holiday file: a year the file marks `official` replaces that year's
    /// entries entirely; the file's other dates are added (a day listed as the other kind
    /// changes kind), so a notice that starts on 31 December does not wipe the year before.
    pub fn import(&mut self, f: &HolidayFile) {
        let replaced: BTreeSet<i32> = f.official.iter().copied().collect();
        self.holidays.retain(|d| !replaced.contains(&d.year()));
        self.working_weekends
            .retain(|d| !replaced.contains(&d.year()));
        self.holidays.retain(|d| !f.workdays.contains(d));
        self.working_weekends.retain(|d| !f.holidays.contains(d));
        self.holidays.extend_from_slice(&f.holidays);
        self.working_weekends.extend_from_slice(&f.workdays);
        for v in [&mut self.holidays, &mut self.working_weekends] {
            v.sort();
            v.dedup();
        }
        self.confirmed_years.extend(&f.official);
        self.confirmed_years.sort();
        self.confirmed_years.dedup();
    }

    /// How the calendar covers a year: holidays, adjusted working days, whether the
    /// State Council notice is entered in full.
    pub fn year(&self, y: i32) -> YearCoverage {
        YearCoverage {
            year: y,
            holidays: self.holidays.iter().filter(|d| d.year() == y).count(),
            workdays: self
                .working_weekends
                .iter()
                .filter(|d| d.year() == y)
                .count(),
            confirmed: self.confirmed_years.contains(&y),
        }
    }
}

/// How the calendar covers one year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearCoverage {
    pub year: i32,
    pub holidays: usize,
    pub workdays: usize,
    pub confirmed: bool,
}

/// A holiday file: `YYYY-MM-DD holiday|workday [name]` per line (commas work as separators,
/// `休`/`班` as kinds), `YYYY official` for a year entered in full, `#` comments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HolidayFile {
    pub holidays: Vec<Date>,
    pub workdays: Vec<Date>,
    pub official: Vec<i32>,
}

/// What is wrong with a line of a holiday file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadReason {
    /// Not `YYYY-MM-DD holiday|workday [name]` nor `YYYY official`.
    Format,
    /// A date that does not exist (2027-02-30).
    Date,
    /// The same day both a holiday and a working day (`other` is the other line).
    Conflict { other: usize },
    /// An adjusted working day that is not a Saturday or Sunday.
    WorkdayNotWeekend,
    /// A year marked as entered in full with fewer than the 13 statutory days off.
    OfficialTooFew { holidays: usize },
}

/// A line of a holiday file that could not be read: its number (from 1), its text, why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
    pub reason: BadReason,
}

/// The statutory days off of a year since 2025 (元旦 1, 春节 4, 清明 1, 劳动节 2, 端午 1,
/// 中秋 1, 国庆 3): a State Council notice never has fewer.
pub const STATUTORY_DAYS: usize = 13;

impl HolidayFile {
    pub fn parse(text: &str) -> Result<HolidayFile, BadLine> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        let mut f = HolidayFile::default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // day → (line, holiday?) and official year → line, for the checks across lines
        let mut seen: std::collections::HashMap<Date, (usize, bool)> = Default::default();
        let mut official: Vec<(i32, usize, String)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason| BadLine {
                line: i + 1,
                text: raw.trim().chars().take(80).collect(),
                reason,
            };
            let mut parts = line
                .split(|c: char| c.is_whitespace() || c == ',' || c == '，' || c == '\t')
                .filter(|p| !p.is_empty());
            let first = parts.next().ok_or_else(|| bad(BadReason::Format))?;
            let kind = parts.next().unwrap_or("");
            if let Ok(y) = first.parse::<i32>() {
                if (2000..=2200).contains(&y) && kind.eq_ignore_ascii_case("official") {
                    f.official.push(y);
                    official.push((y, i + 1, raw.trim().to_string()));
                    continue;
                }
                return Err(bad(BadReason::Format));
            }
            let shaped = first.len() == 10
                && first.char_indices().all(|(j, c)| {
                    if j == 4 || j == 7 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if !shaped {
                return Err(bad(BadReason::Format));
            }
            let d = Date::parse(first, &fmt).map_err(|_| bad(BadReason::Date))?;
            let holiday = match kind.to_ascii_lowercase().as_str() {
                "holiday" | "休" | "假" | "off" => true,
                "workday" | "班" | "work" => false,
                _ => return Err(bad(BadReason::Format)),
            };
            if !holiday && !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
                return Err(bad(BadReason::WorkdayNotWeekend));
            }
            match seen.get(&d) {
                Some((other, h)) if *h != holiday => {
                    return Err(bad(BadReason::Conflict { other: *other }));
                }
                _ => {
                    seen.insert(d, (i + 1, holiday));
                }
            }
            if holiday {
                f.holidays.push(d);
            } else {
                f.workdays.push(d);
            }
        }
        for v in [&mut f.holidays, &mut f.workdays] {
            v.sort();
            v.dedup();
        }
        for (y, line, text) in official {
            let holidays = f.holidays.iter().filter(|d| d.year() == y).count();
            if holidays < STATUTORY_DAYS {
                return Err(BadLine {
                    line,
                    text,
                    reason: BadReason::OfficialTooFew { holidays },
                });
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_shipped_calendar_knows_national_day_and_the_adjusted_saturday() {
        let c = Calendar::shipped();
        // National Day 2026 is a Thursday: a day off
        assert!(c.is_day_off(date!(2026 - 10 - 01)));
        assert!(c.is_day_off(date!(2026 - 10 - 07)));
        // Saturday 10 October 2026 is worked (调休), Sunday 20 September too
        assert!(!c.is_day_off(date!(2026 - 10 - 10)));
        assert!(!c.is_day_off(date!(2026 - 09 - 20)));
        // Spring Festival 2027 (statutory days only so far)
        assert!(c.is_day_off(date!(2027 - 02 - 08)));
        assert_eq!(c.confirmed_years, vec![2026]);
        assert!(c.year(2026).confirmed && c.year(2026).workdays == 6);
        assert!(!c.year(2027).confirmed && c.year(2027).holidays == 13);
        assert_eq!(c.year(2028).holidays, 0);
    }

    #[test]
    fn off_hours_are_found_exactly_at_their_boundaries() {
        let c = Calendar::default();
        // Tuesday 08:00–20:00: ending at 20:00 sharp touches no night
        assert!(
            c.off_hours(datetime!(2026-11-24 8:00), datetime!(2026-11-24 20:00))
                .is_empty()
        );
        // one minute more does
        assert_eq!(
            c.off_hours(datetime!(2026-11-24 8:00), datetime!(2026-11-24 20:01)),
            vec![OffHours::Night(datetime!(2026-11-24 20:00))]
        );
        // starting at 05:59 is night, at 06:00 it is not
        assert!(
            !c.off_hours(datetime!(2026-11-24 5:59), datetime!(2026-11-24 7:00))
                .is_empty()
        );
        assert!(
            c.off_hours(datetime!(2026-11-24 6:00), datetime!(2026-11-24 7:00))
                .is_empty()
        );
        // a night from 22:15 with a window ending 22:20 is caught
        let late = Calendar {
            night_from: time::macros::time!(22:15),
            ..Calendar::default()
        };
        assert!(
            !late
                .off_hours(datetime!(2026-11-24 21:00), datetime!(2026-11-24 22:20))
                .is_empty()
        );
        // Saturday, and a window into Saturday from Friday evening
        assert_eq!(
            c.off_hours(datetime!(2026-11-28 9:00), datetime!(2026-11-28 11:00)),
            vec![OffHours::DayOff(date!(2026 - 11 - 28), false)]
        );
        let shipped = Calendar::shipped();
        assert_eq!(
            shipped.off_hours(datetime!(2026-10-01 9:00), datetime!(2026-10-01 11:00)),
            vec![OffHours::DayOff(date!(2026 - 10 - 01), true)]
        );
    }

    #[test]
    fn holiday_files_import_by_year_and_name_the_bad_line() {
        let mut file =
            String::from("# test\n2028 official\n2028-01-01,holiday,元旦\n2028-01-02 休\n");
        for d in 1..=11 {
            file.push_str(&format!("2028-10-{d:02} holiday\n"));
        }
        file.push_str("2028-01-08 班 调休\n");
        let f = HolidayFile::parse(&file).unwrap();
        assert_eq!(f.official, vec![2028]);
        assert_eq!(f.holidays.len(), 13);
        let mut c = Calendar::shipped();
        c.import(&f);
        assert!(c.year(2028).confirmed);
        assert!(c.year(2026).confirmed, "other years are kept");
        assert!(!c.is_day_off(date!(2028 - 01 - 08)));
        // dates of a year not marked official are added to it
        c.import(&HolidayFile::parse("2028-05-01 holiday").unwrap());
        assert_eq!(c.year(2028).holidays, 14);
        assert!(c.year(2028).confirmed);
        // a notice starting on 31 December adds that day, and keeps the year before
        let before = c.year(2027).holidays;
        let mut notice = String::from("2029 official\n2028-12-31 holiday\n");
        for d in 1..=13 {
            notice.push_str(&format!("2029-10-{d:02} holiday\n"));
        }
        c.import(&HolidayFile::parse(&notice).unwrap());
        assert_eq!(c.year(2027).holidays, before);
        assert_eq!(c.year(2028).holidays, 15);
        assert!(c.year(2029).confirmed);
        // importing an official year again replaces it
        let mut again = String::from("2029 official\n");
        for d in 1..=13 {
            again.push_str(&format!("2029-05-{d:02} holiday\n"));
        }
        c.import(&HolidayFile::parse(&again).unwrap());
        assert_eq!(c.year(2029).holidays, 13);
        assert!(!c.is_day_off(time::macros::date!(2029 - 10 - 09)));
        // errors name the line and say what is wrong with it
        let e = |t: &str| HolidayFile::parse(t).unwrap_err();
        assert_eq!(
            (
                e("2028-01-01 holiday\n2028-13-01 holiday").line,
                e("2028-02-30 holiday").reason
            ),
            (2, BadReason::Date)
        );
        assert_eq!(e("2028-01-01 sometimes").reason, BadReason::Format);
        assert_eq!(e("28-1-1 holiday").reason, BadReason::Format);
        assert_eq!(
            e("2028-01-08 holiday\n\n2028-01-08 workday"),
            BadLine {
                line: 3,
                text: "2028-01-08 workday".into(),
                reason: BadReason::Conflict { other: 1 }
            }
        );
        // 2029-01-03 is a Wednesday: not a weekend made a working day
        assert_eq!(e("2029-01-03 workday").reason, BadReason::WorkdayNotWeekend);
        // a year "entered in full" without its statutory days
        assert_eq!(
            e("2031 official\n2032-01-01 holiday").reason,
            BadReason::OfficialTooFew { holidays: 0 }
        );
        assert_eq!(e("1999 official").reason, BadReason::Format);
    }
}
