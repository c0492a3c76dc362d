//! Scheduled jobs of a plugin (contract 0.2, capability `schedule`): what `schedule.set`
//! asked for, when each is next due in plant time, and how its runs went. The plugin's
//! thread runs them (`instance.rs`); a run past its time limit is stopped without counting
//! as a fault, and a job that overruns three times in a row is suspended until the plugin
//! restarts.

use std::time::Duration;

/// Jobs per plugin.
pub const MAX_JOBS: usize = 20;
/// Runs in a row past their time limit that suspend a job.
pub const OVERRUNS_TO_SUSPEND: u32 = 3;

/// A job as the plugin set it, checked.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    pub cron_text: String,
    pub cron: croner::Cron,
    pub deadline: Duration,
}

/// Parses a cron expression: five fields (minute hour day-of-month month day-of-week), or
/// six with seconds first.
pub fn parse_cron(text: &str) -> Result<croner::Cron, String> {
    let fields = text.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(format!(
            "five fields (minute hour day month weekday), or six with seconds first; {fields} given"
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(text)
        .map_err(|e| e.to_string())
}

/// The first time after `after_ms` the expression names, in plant time (`offset`).
pub fn next_due(cron: &croner::Cron, after_ms: i64, offset: time::UtcOffset) -> Option<i64> {
    let tz = chrono::FixedOffset::east_opt(offset.whole_seconds())?;
    let t = chrono::DateTime::from_timestamp_millis(after_ms)?.with_timezone(&tz);
    cron.find_next_occurrence(&t, false)
        .ok()
        .map(|n| n.timestamp_millis())
}

/// A job's state between runs, for the thread and the console.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct JobStat {
    pub name: String,
    pub cron: String,
    pub deadline_ms: u64,
    /// When it runs next (Unix ms); none while suspended.
    pub next_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// `ok`, the plugin's error, or why the box stopped it.
    pub last: String,
    /// Runs in a row past the time limit.
    pub overruns: u32,
    pub suspended: bool,
}

/// The jobs of one running plugin.
#[derive(Default)]
pub struct Jobs {
    pub list: Vec<(JobSpec, JobStat)>,
}

impl Jobs {
    /// Takes a new set of jobs; a job of the same name keeps its record of overruns (a
    /// restart after an overrun sets the same jobs again).
    pub fn replace(&mut self, specs: Vec<JobSpec>, now_ms: i64, offset: time::UtcOffset) {
        let old = std::mem::take(&mut self.list);
        for spec in specs {
            let before = old
                .iter()
                .find(|(s, _)| s.name == spec.name)
                .map(|(_, st)| st);
            let suspended = before.is_some_and(|b| b.suspended);
            let stat = JobStat {
                name: spec.name.clone(),
                cron: spec.cron_text.clone(),
                deadline_ms: spec.deadline.as_millis() as u64,
                next_ms: if suspended {
                    None
                } else {
                    next_due(&spec.cron, now_ms, offset)
                },
                last_ms: before.and_then(|b| b.last_ms),
                last: before.map(|b| b.last.clone()).unwrap_or_default(),
                overruns: before.map_or(0, |b| b.overruns),
                suspended,
            };
            self.list.push((spec, stat));
        }
    }

    /// Each job's state, for the console.
    pub fn stats(&self) -> Vec<JobStat> {
        self.list.iter().map(|(_, st)| st.clone()).collect()
    }

    /// The job due first, if one is due at `now_ms`.
    pub fn due(&self, now_ms: i64) -> Option<usize> {
        self.list
            .iter()
            .enumerate()
            .filter_map(|(i, (_, st))| Some((i, st.next_ms?)))
            .filter(|(_, t)| *t <= now_ms)
            .min_by_key(|(_, t)| *t)
            .map(|(i, _)| i)
    }

    /// When the next job is due (Unix ms).
    pub fn next_ms(&self) -> Option<i64> {
        self.list.iter().filter_map(|(_, st)| st.next_ms).min()
    }

    /// Records how a run ended (`overran`: stopped at its limit) and schedules the next;
    /// returns true when the job was suspended by this run.
    pub fn finished(
        &mut self,
        i: usize,
        ran_ms: i64,
        result: Result<(), String>,
        overran: bool,
        offset: time::UtcOffset,
    ) -> bool {
        let (spec, st) = &mut self.list[i];
        st.last_ms = Some(ran_ms);
        if overran {
            st.overruns += 1;
            st.last = format!(
                "stopped at its time limit of {} ms",
                spec.deadline.as_millis()
            );
        } else {
            st.overruns = 0;
            st.last = match result {
                Ok(()) => "ok".into(),
                Err(e) => e.chars().take(300).collect(),
            };
        }
        if st.overruns >= OVERRUNS_TO_SUSPEND {
            st.suspended = true;
            st.next_ms = None;
            return true;
        }
        // missed times are not made up: the next one after now
        st.next_ms = next_due(&spec.cron, ran_ms.max(crate::util::now_ms()), offset);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cst() -> time::UtcOffset {
        time::UtcOffset::from_hms(8, 0, 0).unwrap()
    }
    /// 2026-12-01 00:00 plant time (+08:00), a Tuesday.
    const DAY0: i64 = 1_796_054_400_000;
    const H: i64 = 3_600_000;

    #[test]
    fn cron_times_are_plant_times() {
        // Mondays at 08:00: the Tuesday is past it, so the next Monday, 7 December
        let c = parse_cron("0 8 * * 1").unwrap();
        assert_eq!(next_due(&c, DAY0, cst()), Some(DAY0 + 6 * 24 * H + 8 * H));
        let c = parse_cron("*/15 * * * *").unwrap();
        assert_eq!(next_due(&c, DAY0 + 1, cst()), Some(DAY0 + H / 4));
        // with seconds first: every 2 s
        let c = parse_cron("*/2 * * * * *").unwrap();
        assert_eq!(next_due(&c, DAY0 + 1, cst()), Some(DAY0 + 2_000));
    }

    #[test]
    fn bad_expressions_say_why() {
        for bad in [
            "",
            "* * * *",
            "61 * * * *",
            "* * * * * * * *",
            "0 8 * * funday",
        ] {
            assert!(parse_cron(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn three_overruns_in_a_row_suspend_a_job_even_when_the_plugin_sets_it_again() {
        let spec = JobSpec {
            name: "report".into(),
            cron_text: "* * * * *".into(),
            cron: parse_cron("* * * * *").unwrap(),
            deadline: Duration::from_millis(500),
        };
        let mut j = Jobs::default();
        j.replace(vec![spec.clone()], DAY0, cst());
        assert_eq!(j.due(DAY0 + 60_000), Some(0));
        assert!(!j.finished(0, DAY0 + 60_000, Ok(()), true, cst()));
        // an ordinary run in between resets the count
        assert!(!j.finished(0, DAY0 + 120_000, Err("no data".into()), false, cst()));
        assert_eq!(j.list[0].1.last, "no data");
        assert!(!j.finished(0, DAY0 + 180_000, Ok(()), true, cst()));
        // the restart after an overrun sets the same jobs: the count stays
        j.replace(vec![spec.clone()], DAY0 + 200_000, cst());
        assert!(!j.finished(0, DAY0 + 240_000, Ok(()), true, cst()));
        assert!(j.finished(0, DAY0 + 300_000, Ok(()), true, cst()));
        assert_eq!(j.next_ms(), None);
        assert!(j.list[0].1.suspended);
        j.replace(vec![spec], DAY0 + 400_000, cst());
        assert!(
            j.list[0].1.suspended,
            "still suspended after the plugin sets it again"
        );
    }
}
