//! Numbers and times as the pages show them. Times are UTC with the zone named, so the page
//! the server renders is the page the browser hydrates.

/// `2026-11-23 16:42:19 UTC` for epoch seconds.
pub fn utc(epoch: f64) -> String {
    let secs = epoch.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
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
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_423_339.3), "2026-11-23 08:42:19 UTC");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn durations() {
        assert_eq!(seconds(0.0123), "12 ms");
        assert_eq!(seconds(2.346), "2.35 s");
        assert_eq!(seconds(185.0), "3 min 5 s");
    }
}
