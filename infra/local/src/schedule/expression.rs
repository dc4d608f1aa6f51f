//! EventBridge schedule expressions: `rate(N unit)` and the six-field `cron(...)`, parsed,
//! and the next time each fires.
//!
//! Cron fields: minutes (0–59), hours (0–23), day-of-month (1–31), month (1–12 or
//! `JAN`–`DEC`), day-of-week (1–7 = `SUN`–`SAT`), year (1970–2199); all times UTC.
//! Supported: `*`, `?`, `,`, `-`, `/`; in day-of-month `L` (last day), `LW` (last weekday)
//! and `nW` (the weekday nearest day n, within the month); in day-of-week `nL` (the last
//! weekday n of the month, `L` alone = `SAT`) and `n#k` (the k-th weekday n). As in
//! EventBridge, exactly one of day-of-month and day-of-week is `?`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, TimeZone, Timelike, Utc};

/// Why an expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule expression {expression:?}: {reason}")]
pub struct ExpressionError {
    pub expression: String,
    pub reason: String,
}

/// A parsed `ScheduleExpression`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every period, counted from when the rule was created (here: when the runner starts).
    Rate(Duration),
    Cron(Box<Cron>),
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Rate(period) => write!(f, "every {} s", period.as_secs()),
            Schedule::Cron(cron) => write!(f, "cron({})", cron.text),
        }
    }
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, ExpressionError> {
        let error = |reason: String| ExpressionError {
            expression: expression.to_owned(),
            reason,
        };
        let text = expression.trim();
        if let Some(inner) = text.strip_prefix("rate(").and_then(|t| t.strip_suffix(')')) {
            return parse_rate(inner).map(Schedule::Rate).map_err(error);
        }
        if let Some(inner) = text.strip_prefix("cron(").and_then(|t| t.strip_suffix(')')) {
            return Cron::parse(inner)
                .map(|c| Schedule::Cron(Box::new(c)))
                .map_err(error);
        }
        Err(error(
            "expected rate(N unit) or cron(minutes hours day-of-month month day-of-week year)"
                .to_owned(),
        ))
    }

    /// The first firing strictly after `after`. `anchor` is when the schedule started
    /// (rate schedules count from it). `None`: never again (e.g. a cron whose years are past).
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Rate(period) => {
                let period = ChronoDuration::from_std(*period).ok()?;
                if after < anchor {
                    return Some(anchor + period);
                }
                let elapsed = (after - anchor).num_milliseconds();
                let step = period.num_milliseconds().max(1);
                let k = elapsed / step + 1;
                Some(anchor + ChronoDuration::milliseconds(k * step))
            }
            Schedule::Cron(cron) => cron.next_after(after),
        }
    }
}

fn parse_rate(inner: &str) -> Result<Duration, String> {
    let mut parts = inner.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("a rate is `rate(value unit)`, e.g. rate(5 minutes)".to_owned());
    };
    let value: u64 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("the rate value {value:?} is not a positive integer"))?;
    let (seconds, singular) = match unit {
        "minute" => (60, true),
        "minutes" => (60, false),
        "hour" => (3600, true),
        "hours" => (3600, false),
        "day" => (86_400, true),
        "days" => (86_400, false),
        other => {
            return Err(format!(
                "unknown rate unit {other:?} (minute(s), hour(s), day(s))"
            ))
        }
    };
    // EventBridge's rule: 1 takes the singular unit, anything else the plural.
    if (value == 1) != singular {
        return Err(if value == 1 {
            format!(
                "a value of 1 takes the singular unit, e.g. rate(1 {})",
                unit.trim_end_matches('s')
            )
        } else {
            format!("a value above 1 takes the plural unit, e.g. rate({value} {unit}s)")
        });
    }
    Ok(Duration::from_secs(value * seconds))
}

/// The six fields of an EventBridge cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: Vec<bool>,
    hours: Vec<bool>,
    months: Vec<bool>,
    days: Days,
    /// `None`: every year.
    years: Option<Vec<bool>>,
}

const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2199;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    /// Day-of-month given, day-of-week `?`.
    OfMonth(Vec<MonthDay>),
    /// Day-of-week given, day-of-month `?`.
    OfWeek(Vec<WeekDay>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MonthDay {
    Every,
    Set(Vec<bool>),
    Last,
    LastWeekday,
    NearestWeekday(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum WeekDay {
    Every,
    /// 1 = Sunday … 7 = Saturday.
    Set(Vec<bool>),
    Last(u32),
    Nth(u32, u32),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(text: &str, field: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(i) = names.iter().position(|n| *n == upper) {
        return Ok(min + i as u32);
    }
    text.parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| format!("{field}: {text:?} is not in {min}–{max}"))
}

/// `*`, `a`, `a-b`, `*/s`, `a/s`, `a-b/s`, comma-separated; index = value.
fn set(text: &str, field: &str, min: u32, max: u32, names: &[&str]) -> Result<Vec<bool>, String> {
    let mut allowed = vec![false; max as usize + 1];
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("{field}: the step {step:?} is not a positive integer")
                })?;
                (range, step)
            }
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (
                    value(a, field, min, max, names)?,
                    value(b, field, min, max, names)?,
                ),
                None => {
                    let a = value(range, field, min, max, names)?;
                    // `a/s` runs from a to the end, as in EventBridge.
                    (a, if item.contains('/') { max } else { a })
                }
            },
        };
        if from > to {
            return Err(format!("{field}: the range {range:?} runs backwards"));
        }
        for v in (from..=to).step_by(step as usize) {
            allowed[v as usize] = true;
        }
    }
    Ok(allowed)
}

impl Cron {
    fn parse(inner: &str) -> Result<Self, String> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields.as_slice() else {
            return Err(format!(
                "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                fields.len()
            ));
        };
        let days = match (*dom, *dow) {
            ("?", "?") => return Err("day-of-month and day-of-week cannot both be `?`".to_owned()),
            ("?", dow) => Days::OfWeek(
                dow.split(',')
                    .map(week_day)
                    .collect::<Result<_, _>>()?,
            ),
            (dom, "?") => Days::OfMonth(
                dom.split(',')
                    .map(month_day)
                    .collect::<Result<_, _>>()?,
            ),
            _ => {
                return Err(
                    "one of day-of-month and day-of-week must be `?` (EventBridge does not combine them)"
                        .to_owned(),
                )
            }
        };
        for (field, text) in [
            ("minutes", minutes),
            ("hours", hours),
            ("month", month),
            ("year", year),
        ] {
            if text.contains(['L', 'W', '#', '?']) && !text.eq_ignore_ascii_case("?") {
                if field == "month" && MONTHS.iter().any(|m| text.to_ascii_uppercase().contains(m))
                {
                    continue;
                }
                return Err(format!("{field}: L, W, # and ? are not allowed here"));
            }
            if *text == "?" {
                return Err(format!(
                    "{field}: `?` is only allowed in day-of-month or day-of-week"
                ));
            }
        }
        let years = match *year {
            "*" => None,
            text => {
                let mut allowed = vec![false; (LAST_YEAR - FIRST_YEAR + 1) as usize];
                let offsets = set(text, "year", FIRST_YEAR as u32, LAST_YEAR as u32, &[])?;
                for (y, on) in offsets.iter().enumerate() {
                    if *on {
                        allowed[y - FIRST_YEAR as usize] = true;
                    }
                }
                Some(allowed)
            }
        };
        Ok(Cron {
            text: inner.trim().to_owned(),
            minutes: set(minutes, "minutes", 0, 59, &[])?,
            hours: set(hours, "hours", 0, 23, &[])?,
            months: set(month, "month", 1, 12, &MONTHS)?,
            days,
            years,
        })
    }

    fn year_matches(&self, year: i32) -> bool {
        match &self.years {
            None => (FIRST_YEAR..=LAST_YEAR).contains(&year),
            Some(allowed) => usize::try_from(year - FIRST_YEAR)
                .ok()
                .and_then(|i| allowed.get(i))
                .copied()
                .unwrap_or(false),
        }
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let last = last_day(date.year(), date.month());
        match &self.days {
            Days::OfMonth(items) => items.iter().any(|item| match item {
                MonthDay::Every => true,
                MonthDay::Set(days) => days[date.day() as usize],
                MonthDay::Last => date.day() == last,
                MonthDay::LastWeekday => date.day() == nearest_weekday(date, last),
                MonthDay::NearestWeekday(n) => {
                    *n <= last && date.day() == nearest_weekday(date, *n)
                }
            }),
            Days::OfWeek(items) => {
                let weekday = date.weekday().number_from_sunday();
                items.iter().any(|item| match item {
                    WeekDay::Every => true,
                    WeekDay::Set(days) => days[weekday as usize],
                    WeekDay::Last(d) => weekday == *d && date.day() + 7 > last,
                    WeekDay::Nth(d, k) => weekday == *d && (date.day() - 1) / 7 + 1 == *k,
                })
            }
        }
    }

    /// The first matching minute strictly after `after`.
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + ChronoDuration::minutes(1);
        let mut date = start.date_naive();
        let mut first_day = true;
        // Bounded: a day at a time, whole months and years skipped when they cannot match.
        for _ in 0..200_000 {
            if date.year() > LAST_YEAR {
                return None;
            }
            if !self.year_matches(date.year()) {
                date = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)?;
                first_day = false;
                continue;
            }
            if !self.months[date.month() as usize] {
                date = first_of_next_month(date)?;
                first_day = false;
                continue;
            }
            if self.day_matches(date) {
                let (from_hour, from_minute) = if first_day {
                    (start.hour(), start.minute())
                } else {
                    (0, 0)
                };
                for hour in from_hour..24 {
                    if !self.hours[hour as usize] {
                        continue;
                    }
                    let first_minute = if hour == from_hour { from_minute } else { 0 };
                    if let Some(minute) = (first_minute..60).find(|m| self.minutes[*m as usize]) {
                        return Utc
                            .with_ymd_and_hms(
                                date.year(),
                                date.month(),
                                date.day(),
                                hour,
                                minute,
                                0,
                            )
                            .single();
                    }
                }
            }
            date = date.succ_opt()?;
            first_day = false;
        }
        None
    }
}

fn month_day(item: &str) -> Result<MonthDay, String> {
    let upper = item.to_ascii_uppercase();
    match upper.as_str() {
        "*" => return Ok(MonthDay::Every),
        "L" => return Ok(MonthDay::Last),
        "LW" => return Ok(MonthDay::LastWeekday),
        _ => {}
    }
    if let Some(day) = upper.strip_suffix('W') {
        return value(day, "day-of-month", 1, 31, &[]).map(MonthDay::NearestWeekday);
    }
    if upper.contains(['L', 'W', '#']) {
        return Err(format!(
            "day-of-month: {item:?} is not understood (L, LW, nW, or numbers)"
        ));
    }
    set(item, "day-of-month", 1, 31, &[]).map(MonthDay::Set)
}

fn week_day(item: &str) -> Result<WeekDay, String> {
    let upper = item.to_ascii_uppercase();
    if upper == "*" {
        return Ok(WeekDay::Every);
    }
    if upper == "L" {
        return Ok(WeekDay::Last(7));
    }
    if let Some(day) = upper.strip_suffix('L') {
        return value(day, "day-of-week", 1, 7, &WEEKDAYS).map(WeekDay::Last);
    }
    if let Some((day, nth)) = upper.split_once('#') {
        let day = value(day, "day-of-week", 1, 7, &WEEKDAYS)?;
        let nth = nth
            .parse::<u32>()
            .ok()
            .filter(|k| (1..=5).contains(k))
            .ok_or_else(|| format!("day-of-week: in {item:?} the week after # must be 1–5"))?;
        return Ok(WeekDay::Nth(day, nth));
    }
    if upper.contains(['L', 'W']) && !WEEKDAYS.iter().any(|d| upper.contains(d)) {
        return Err(format!(
            "day-of-week: {item:?} is not understood (nL, n#k, or days)"
        ));
    }
    set(item, "day-of-week", 1, 7, &WEEKDAYS).map(WeekDay::Set)
}

fn last_day(year: i32, month: u32) -> u32 {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(first_of_next_month)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    }
}

/// The weekday nearest day `n` of `date`'s month, never leaving the month (Quartz's `W`).
fn nearest_weekday(date: NaiveDate, n: u32) -> u32 {
    let Some(target) = date.with_day(n) else {
        return 0;
    };
    let last = last_day(date.year(), date.month());
    match target.weekday().number_from_sunday() {
        7 if n == 1 => 3,        // Saturday the 1st → Monday the 3rd
        7 => n - 1,              // Saturday → Friday
        1 if n == last => n - 2, // Sunday the last → Friday
        1 => n + 1,              // Sunday → Monday
        _ => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next(expression: &str, after: &str) -> Option<DateTime<Utc>> {
        Schedule::parse(expression)
            .unwrap()
            .next_after(at(after), at(after))
    }

    #[test]
    fn rates_need_the_right_unit_and_count_from_their_anchor() {
        assert_eq!(
            Schedule::parse("rate(10 minutes)").unwrap(),
            Schedule::Rate(Duration::from_secs(600))
        );
        assert_eq!(
            Schedule::parse("rate(1 day)").unwrap(),
            Schedule::Rate(Duration::from_secs(86_400))
        );
        for bad in [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 hours)",
            "rate(5 weeks)",
            "rate(x)",
            "every 5",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad} was accepted");
        }
        let schedule = Schedule::parse("rate(10 minutes)").unwrap();
        let anchor = at("2026-01-01T00:00:00Z");
        assert_eq!(
            schedule.next_after(anchor, anchor),
            Some(at("2026-01-01T00:10:00Z"))
        );
        assert_eq!(
            schedule.next_after(at("2026-01-01T00:25:00Z"), anchor),
            Some(at("2026-01-01T00:30:00Z"))
        );
    }

    #[test]
    fn the_reconcile_cron_fires_at_three_every_night() {
        assert_eq!(
            next("cron(0 3 * * ? *)", "2026-03-10T02:59:30Z"),
            Some(at("2026-03-10T03:00:00Z"))
        );
        assert_eq!(
            next("cron(0 3 * * ? *)", "2026-03-10T03:00:00Z"),
            Some(at("2026-03-11T03:00:00Z"))
        );
    }

    #[test]
    fn lists_ranges_steps_and_names() {
        // every 15 minutes during office hours on weekdays
        assert_eq!(
            next("cron(0/15 9-17 ? * MON-FRI *)", "2026-03-13T17:50:00Z"), // a Friday
            Some(at("2026-03-16T09:00:00Z"))
        );
        assert_eq!(
            next("cron(5,35 * * * ? *)", "2026-03-10T10:06:00Z"),
            Some(at("2026-03-10T10:35:00Z"))
        );
        assert_eq!(
            next("cron(0 12 1 JAN,JUL ? *)", "2026-03-10T00:00:00Z"),
            Some(at("2026-07-01T12:00:00Z"))
        );
        assert_eq!(
            next("cron(*/10 * * * ? 2027)", "2026-03-10T00:00:00Z"),
            Some(at("2027-01-01T00:00:00Z"))
        );
        assert_eq!(next("cron(0 0 1 1 ? 1990)", "2026-03-10T00:00:00Z"), None);
    }

    #[test]
    fn last_nearest_weekday_and_nth_weekday() {
        // the last day of February 2028 (a leap year)
        assert_eq!(
            next("cron(0 0 L 2 ? *)", "2028-01-01T00:00:00Z"),
            Some(at("2028-02-29T00:00:00Z"))
        );
        // the last weekday of May 2026: the 31st is a Sunday → Friday the 29th
        assert_eq!(
            next("cron(0 0 LW 5 ? *)", "2026-05-01T00:00:00Z"),
            Some(at("2026-05-29T00:00:00Z"))
        );
        // nearest weekday to the 1st of August 2026 (a Saturday) → Monday the 3rd
        assert_eq!(
            next("cron(0 0 1W 8 ? *)", "2026-07-15T00:00:00Z"),
            Some(at("2026-08-03T00:00:00Z"))
        );
        // the second Tuesday of March 2026 is the 10th
        assert_eq!(
            next("cron(0 8 ? 3 3#2 *)", "2026-03-01T00:00:00Z"),
            Some(at("2026-03-10T08:00:00Z"))
        );
        // the last Friday of March 2026 is the 27th
        assert_eq!(
            next("cron(0 8 ? 3 6L *)", "2026-03-01T00:00:00Z"),
            Some(at("2026-03-27T08:00:00Z"))
        );
    }

    #[test]
    fn malformed_crons_are_refused_with_the_reason() {
        for (bad, says) in [
            ("cron(0 3 * * * *)", "must be `?`"),
            ("cron(0 3 ? * ? *)", "both be `?`"),
            ("cron(0 3 * *)", "6 fields"),
            ("cron(60 3 * * ? *)", "minutes"),
            ("cron(0 24 * * ? *)", "hours"),
            ("cron(0 3 32 * ? *)", "day-of-month"),
            ("cron(0 3 ? * 8 *)", "day-of-week"),
            ("cron(0 3 ? * 2#6 *)", "1–5"),
            ("cron(0 3 * FOO ? *)", "month"),
            ("cron(0 L * * ? *)", "hours"),
            ("cron(10-5 * * * ? *)", "backwards"),
            ("cron(0/0 * * * ? *)", "step"),
        ] {
            let error = Schedule::parse(bad).expect_err(bad);
            assert!(error.to_string().contains(says), "{bad}: {error}");
        }
    }
}
