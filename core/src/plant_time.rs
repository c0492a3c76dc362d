//! Plant time. The box keeps instants as UTC milliseconds; people read and type the
//! plant's local time (`App::offset`, +08:00 in China) to the minute, and days as
//! `YYYY-MM-DD`. Every module converts through these, so a form, a filter and a report
//! read the same string the same way.

use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");
const MINUTE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]");

/// A local date and time → UTC ms. Takes `YYYY-MM-DD HH:MM` (a `T` instead of the space,
/// as `datetime-local` inputs send it, and seconds are accepted; seconds are dropped) and a
/// bare `YYYY-MM-DD` (midnight).
pub fn parse_local(s: &str, offset: UtcOffset) -> Option<i64> {
    let s = s.trim().replace('T', " ");
    let t = if s.len() == 10 {
        Date::parse(&s, DAY).ok()?.midnight()
    } else {
        PrimitiveDateTime::parse(s.get(..16)?, MINUTE).ok()?
    };
    Some(ms_of(t, offset))
}

/// A plant-local date and time → UTC ms.
pub fn ms_of(t: PrimitiveDateTime, offset: UtcOffset) -> i64 {
    (t.assume_offset(offset).unix_timestamp_nanos() / 1_000_000) as i64
}

/// UTC ms → the plant's local date and time.
pub fn local(ms: i64, offset: UtcOffset) -> PrimitiveDateTime {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    PrimitiveDateTime::new(t.date(), t.time())
}

/// UTC ms → `YYYY-MM-DD HH:MM` local (signatures and plans are to the minute).
pub fn format_minute(ms: i64, offset: UtcOffset) -> String {
    local(ms, offset).format(MINUTE).unwrap_or_default()
}

/// UTC ms → `YYYY-MM-DD HH:MM:SS` local (events, logs, alarm times).
pub fn format_ms(ms: i64, offset: UtcOffset) -> String {
    let t = local(ms, offset);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `YYYY-MM-DD` → a date.
pub fn parse_day(s: &str) -> Option<Date> {
    Date::parse(s.trim(), DAY).ok()
}

pub fn format_day(d: Date) -> String {
    d.format(DAY).expect("dates always format")
}

/// Today in the plant's time zone.
pub fn today(offset: UtcOffset) -> Date {
    OffsetDateTime::now_utc().to_offset(offset).date()
}

/// The first millisecond of a plant-local day.
pub fn day_start(d: Date, offset: UtcOffset) -> i64 {
    ms_of(d.midnight(), offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CN: UtcOffset = time::macros::offset!(+8);

    #[test]
    fn one_reading_of_local_times_for_every_form() {
        let a = parse_local("2026-11-24 08:30", CN).unwrap();
        assert_eq!(parse_local("2026-11-24T08:30", CN), Some(a));
        assert_eq!(parse_local(" 2026-11-24T08:30:59 ", CN), Some(a));
        assert_eq!(format_minute(a, CN), "2026-11-24 08:30");
        assert_eq!(format_ms(a, CN), "2026-11-24 08:30:00");
        assert_eq!(a, 1_795_480_200_000);
        let d = parse_day("2026-11-24").unwrap();
        assert_eq!(parse_local("2026-11-24", CN), Some(day_start(d, CN)));
        assert_eq!(format_day(d), "2026-11-24");
        for bad in [
            "",
            "2026-11-24 8:30",
            "2026-13-01 08:00",
            "24.11.2026",
            "2026-11-24 08",
        ] {
            assert_eq!(parse_local(bad, CN), None, "{bad}");
        }
        assert_eq!(parse_day("2026-02-30"), None);
    }
}
