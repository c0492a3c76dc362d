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

    /// Replaces the entries of every year the file covers with the file's.
    pub fn import(&mut self, f: &HolidayFile) {
        let years: BTreeSet<i32> = f
            .holidays
            .iter()
            .chain(&f.workdays)
            .map(|d| d.year())
            .chain(f.official.iter().copied())
            .collect();
        let keep = |v: &mut Vec<Date>, new: &[Date]| {
            v.retain(|d| !years.contains(&d.year()));
            v.extend_from_slice(new);
            v.sort();
            v.dedup();
        };
        keep(&mut self.holidays, &f.holidays);
        keep(&mut self.working_weekends, &f.workdays);
        self.confirmed_years.retain(|y| !years.contains(y));
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

/// A line of a holiday file that could not be read: its number (from 1) and the text.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
}

impl HolidayFile {
    pub fn parse(text: &str) -> Result<HolidayFile, BadLine> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        let mut f = HolidayFile::default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = || BadLine {
                line: i + 1,
                text: raw.trim().chars().take(80).collect(),
            };
            let mut parts = line
                .split(|c: char| c.is_whitespace() || c == ',' || c == '，' || c == '\t')
                .filter(|p| !p.is_empty());
            let first = parts.next().ok_or_else(bad)?;
            let kind = parts.next().unwrap_or("");
            if let Ok(y) = first.parse::<i32>() {
                if (2000..=2200).contains(&y) && kind.eq_ignore_ascii_case("official") {
                    f.official.push(y);
                    continue;
                }
                return Err(bad());
            }
            let d = Date::parse(first, &fmt).map_err(|_| bad())?;
            match kind.to_ascii_lowercase().as_str() {
                "holiday" | "休" | "假" | "off" => f.holidays.push(d),
                "workday" | "班" | "work" => f.workdays.push(d),
                _ => return Err(bad()),
            }
        }
        for v in [&mut f.holidays, &mut f.workdays] {
            v.sort();
            v.dedup();
        }
        if let Some(d) = f.holidays.iter().find(|d| f.workdays.contains(d)) {
            let s = d.to_string();
            let line = text.lines().position(|l| l.contains(&s)).unwrap_or(0) + 1;
            return Err(BadLine { line, text: s });
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
        let f = HolidayFile::parse(
            "# test\n2028 official\n2028-01-01,holiday,元旦\n2028-01-02 休\n2028-01-08 班 调休\n",
        )
        .unwrap();
        assert_eq!(f.official, vec![2028]);
        assert_eq!(f.holidays.len(), 2);
        let mut c = Calendar::shipped();
        c.import(&f);
        assert!(c.year(2028).confirmed);
        assert!(c.year(2026).confirmed, "other years are kept");
        assert!(!c.is_day_off(date!(2028 - 01 - 08)));
        // importing a year again replaces it
        c.import(&HolidayFile::parse("2028-05-01 holiday").unwrap());
        assert_eq!(c.year(2028).holidays, 1);
        assert!(!c.year(2028).confirmed);
        // errors name the line
        assert_eq!(
            HolidayFile::parse("2028-01-01 holiday\n2028-13-01 holiday")
                .unwrap_err()
                .line,
            2
        );
        assert_eq!(
            HolidayFile::parse("2028-01-01 sometimes").unwrap_err().line,
            1
        );
        assert!(HolidayFile::parse("2028-01-01 holiday\n2028-01-01 workday").is_err());
        assert!(HolidayFile::parse("1999 official").is_err());
    }
}
