//! What benchmarks read about a process from /proc, and the one percentile rule they share.

/// A process: this one or a child.
#[derive(Clone, Copy, Debug)]
pub enum Proc {
    Current,
    Pid(u32),
}

impl Proc {
    fn file(self, name: &str) -> Option<String> {
        let path = match self {
            Proc::Current => format!("/proc/self/{name}"),
            Proc::Pid(pid) => format!("/proc/{pid}/{name}"),
        };
        std::fs::read_to_string(path).ok()
    }

    /// CPU seconds (user + system) the process has used.
    pub fn cpu_seconds(self) -> f64 {
        self.file("stat")
            .and_then(|s| {
                let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
                let ticks =
                    fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
                Some(ticks / 100.0)
            })
            .unwrap_or(f64::NAN)
    }

    /// Resident memory now, in MiB.
    pub fn rss_mib(self) -> f64 {
        self.status_mib("VmRSS:")
    }

    /// The highest resident memory so far, in MiB.
    pub fn peak_rss_mib(self) -> f64 {
        self.status_mib("VmHWM:")
    }

    fn status_mib(self, field: &str) -> f64 {
        self.file("status")
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with(field))?;
                line.split_whitespace().nth(1)?.parse::<f64>().ok()
            })
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

/// The value at quantile `q` (0..=1) of sorted samples, nearest rank; NaN when there are none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = Proc::Current;
        assert!(me.cpu_seconds() >= 0.0);
        let (rss, peak) = (me.rss_mib(), me.peak_rss_mib());
        assert!(rss > 0.0 && peak >= rss, "rss {rss} peak {peak}");
        assert!(Proc::Pid(u32::MAX).rss_mib().is_nan());
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 51.0);
        assert_eq!(quantile(&v, 0.95), 95.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
