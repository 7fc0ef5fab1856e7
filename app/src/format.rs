//! Numbers and times as the pages show them. Times are shown in a [`Zone`]: UTC while the
//! server renders (it cannot know the viewer's zone), then the browser's own zone, named on
//! the page, once the app is interactive.

use protocol::series::Grain;

/// Now in epoch seconds, by the browser's clock (the server's while rendering and in server
/// functions).
pub fn now() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() / 1000.0
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// The time zone pages show times in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// IANA name (`Europe/Berlin`) or `UTC`.
    pub name: String,
    browser: bool,
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::utc()
    }
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            browser: false,
        }
    }

    /// The browser's zone (`UTC` when it has none, and on the server).
    pub fn browser() -> Zone {
        #[cfg(feature = "hydrate")]
        {
            let options =
                js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
                    .resolved_options();
            let name = js_sys::Reflect::get(&options, &"timeZone".into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_else(|| "UTC".into());
            Zone {
                name,
                browser: true,
            }
        }
        #[cfg(not(feature = "hydrate"))]
        Zone::utc()
    }

    /// Seconds to add to UTC for local time at `epoch` (daylight saving included).
    fn offset_s(&self, epoch: f64) -> i64 {
        #[cfg(feature = "hydrate")]
        if self.browser {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch * 1000.0));
            return -(date.get_timezone_offset() as i64) * 60;
        }
        let _ = epoch;
        0
    }

    fn civil(&self, epoch: f64) -> Civil {
        Civil::of(epoch.floor() as i64 + self.offset_s(epoch))
    }

    /// `2026-11-23 16:42:19`.
    pub fn datetime(&self, epoch: f64) -> String {
        let c = self.civil(epoch);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// `2026-11-23 16:42:19.042`.
    pub fn datetime_ms(&self, epoch: f64) -> String {
        let ms = ((epoch - epoch.floor()) * 1000.0).floor() as u32;
        format!("{}.{ms:03}", self.datetime(epoch))
    }

    /// A chart axis label for a bucket starting at `epoch`: `16:42:19`, `16:42`,
    /// `11-23 16:00`, `2026-11-23`.
    pub fn tick(&self, epoch: f64, grain: Grain) -> String {
        let c = self.civil(epoch);
        match grain {
            Grain::Second => format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second),
            Grain::Minute => format!("{:02}:{:02}", c.hour, c.minute),
            Grain::Hour => format!("{:02}-{:02} {:02}:00", c.month, c.day, c.hour),
            Grain::Day => format!("{:04}-{:02}-{:02}", c.year, c.month, c.day),
        }
    }

    /// The value of an `<input type="datetime-local">` for `epoch`: `2026-11-23T16:42`.
    pub fn input_value(&self, epoch: f64) -> String {
        let c = self.civil(epoch);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute
        )
    }

    /// Epoch seconds of a `datetime-local` value read in this zone; `None` when malformed.
    pub fn parse_input(&self, value: &str) -> Option<i64> {
        let (date, time) = value.split_once('T')?;
        let mut d = date.splitn(3, '-').map(str::parse::<i64>);
        let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
        let mut t = time
            .splitn(3, ':')
            .map(|p| p.split('.').next().unwrap_or(p).parse::<i64>());
        let (h, mi) = (t.next()?.ok()?, t.next()?.ok()?);
        let s = t.next().and_then(Result::ok).unwrap_or(0);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || s > 59 {
            return None;
        }
        let local = days_from_civil(y, mo, da) * 86_400 + h * 3_600 + mi * 60 + s;
        // The offset at the local reading is the offset at the instant except across a
        // daylight-saving change; one correction settles it.
        let guess = local - self.offset_s(local as f64);
        Some(local - self.offset_s(guess as f64))
    }
}

struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Civil {
    /// Civil date and time from seconds since 1970-01-01 (Howard Hinnant's algorithm).
    fn of(secs: i64) -> Civil {
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Civil {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: rem / 3_600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }
}

/// Days since 1970-01-01 of a civil date (the inverse of [`Civil::of`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A duration in seconds, to three significant figures: `850 ms`, `2.35 s`, `3 min 5 s`.
pub fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 60.0 {
        format!("{s:.2} s")
    } else {
        format!("{} min {} s", (s / 60.0).floor(), (s % 60.0).floor())
    }
}

/// A count with thousands separators: `12,345` (the same in English and Chinese).
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size in bytes: `850 B`, `1.2 KB`, `3.4 MB` (powers of 1,024).
pub fn bytes(n: u64) -> String {
    match n {
        0..1_024 => format!("{n} B"),
        1_024..1_048_576 => format!("{:.1} KB", n as f64 / 1_024.0),
        _ => format!("{:.1} MB", n as f64 / 1_048_576.0),
    }
}

/// A rate per second: one decimal below 100, whole numbers above.
pub fn rate(per_s: f64) -> String {
    if per_s >= 100.0 {
        count(per_s.round() as i64)
    } else {
        format!("{per_s:.1}")
    }
}

/// A share as a percentage: `3.8%`, `0.05%`, `100%`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 0.1 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rates_and_percentages_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(-1_234_567), "-1,234,567");
        assert_eq!(rate(0.25), "0.2");
        assert_eq!(rate(1234.4), "1,234");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.038), "3.8%");
        assert_eq!(percent(0.0005), "0.05%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(bytes(850), "850 B");
        assert_eq!(bytes(1_260), "1.2 KB");
        assert_eq!(bytes(3_565_158), "3.4 MB");
    }

    #[test]
    fn utc_dates_ticks_and_inputs() {
        let z = Zone::utc();
        assert_eq!(z.datetime(0.0), "1970-01-01 00:00:00");
        assert_eq!(z.datetime(1_795_423_339.3), "2026-11-23 08:42:19");
        assert_eq!(z.datetime(951_782_400.0), "2000-02-29 00:00:00");
        assert_eq!(
            z.datetime_ms(1_795_423_339.042_5),
            "2026-11-23 08:42:19.042"
        );
        assert_eq!(z.tick(1_795_423_339.0, Grain::Second), "08:42:19");
        assert_eq!(z.tick(1_795_423_339.0, Grain::Minute), "08:42");
        assert_eq!(z.tick(1_795_423_339.0, Grain::Hour), "11-23 08:00");
        assert_eq!(z.tick(1_795_423_339.0, Grain::Day), "2026-11-23");
        assert_eq!(z.input_value(1_795_423_339.0), "2026-11-23T08:42");
        assert_eq!(z.parse_input("2026-11-23T08:42"), Some(1_795_423_320));
        assert_eq!(z.parse_input("2000-02-29T00:00:00"), Some(951_782_400));
        assert_eq!(z.parse_input("1970-01-01T00:00"), Some(0));
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00",
            "2026-11-23T25:00",
            "x-y-zT1:2",
        ] {
            assert_eq!(z.parse_input(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(seconds(0.0123), "12 ms");
        assert_eq!(seconds(2.346), "2.35 s");
        assert_eq!(seconds(185.0), "3 min 5 s");
    }
}
