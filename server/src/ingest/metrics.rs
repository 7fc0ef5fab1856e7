//! Ingest counters, rendered on `GET /metrics` in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub const SOURCES: [&str; 3] = ["http", "redis", "memory"];
const BATCH_BOUNDS: [f64; 8] = [1.0, 10.0, 100.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0];
const FLUSH_BOUNDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
pub struct Metrics {
    received: [AtomicU64; 3],
    rejected: [AtomicU64; 3],
    /// Records inserted or moved forward.
    pub stored: AtomicU64,
    /// Tasks that reached a final state.
    pub finished: AtomicU64,
    pub flush_errors: AtomicU64,
    /// Events the store refused (isolated from their batch and kept as dead letters).
    pub refused: AtomicU64,
    /// Events waiting for the writer right now.
    pub queued: AtomicU64,
    /// Browsers connected to the live stream right now.
    pub live_clients: AtomicU64,
    /// Bumped after each committed batch that changed a record: wakes the live push.
    pub committed: tokio::sync::watch::Sender<u64>,
    batch_rows: Histogram<8>,
    flush_seconds: Histogram<10>,
}

struct Histogram<const N: usize> {
    buckets: [AtomicU64; N],
    count: AtomicU64,
    /// Sum in micro-units, so it fits an atomic integer.
    sum_micros: AtomicU64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl<const N: usize> Histogram<N> {
    fn observe(&self, bounds: &[f64; N], v: f64) {
        for (b, bound) in self.buckets.iter().zip(bounds) {
            if v <= *bound {
                b.fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add((v * 1e6) as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str, bounds: &[f64; N]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, bound) in self.buckets.iter().zip(bounds) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", b.load(Relaxed));
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

fn source_index(source: &str) -> usize {
    SOURCES.iter().position(|s| *s == source).unwrap_or(0)
}

impl Metrics {
    pub fn received(&self, source: &str, n: usize) {
        self.received[source_index(source)].fetch_add(n as u64, Relaxed);
    }

    pub fn rejected(&self, source: &str, n: usize) {
        self.rejected[source_index(source)].fetch_add(n as u64, Relaxed);
    }

    pub fn flushed(&self, rows: usize, seconds: f64) {
        self.batch_rows.observe(&BATCH_BOUNDS, rows as f64);
        self.flush_seconds.observe(&FLUSH_BOUNDS, seconds);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, values) in [
            (
                "taskdeck_ingest_events_received_total",
                "Events received, by source.",
                &self.received,
            ),
            (
                "taskdeck_ingest_events_rejected_total",
                "Malformed events, kept as dead letters, by source.",
                &self.rejected,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (source, v) in SOURCES.iter().zip(values.iter()) {
                let _ = writeln!(out, "{name}{{source=\"{source}\"}} {}", v.load(Relaxed));
            }
        }
        for (name, kind, help, v) in [
            (
                "taskdeck_ingest_records_stored_total",
                "counter",
                "Task records inserted or moved forward.",
                &self.stored,
            ),
            (
                "taskdeck_ingest_tasks_finished_total",
                "counter",
                "Tasks that reached a final state.",
                &self.finished,
            ),
            (
                "taskdeck_ingest_flush_errors_total",
                "counter",
                "Batch writes that failed and were retried.",
                &self.flush_errors,
            ),
            (
                "taskdeck_ingest_events_refused_total",
                "counter",
                "Events the store refused, isolated from their batch and kept as dead letters.",
                &self.refused,
            ),
            (
                "taskdeck_ingest_queue_events",
                "gauge",
                "Events accepted and waiting to be written.",
                &self.queued,
            ),
            (
                "taskdeck_live_clients",
                "gauge",
                "Browsers connected to the live stream.",
                &self.live_clients,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Relaxed)
            );
        }
        self.batch_rows.render(
            &mut out,
            "taskdeck_ingest_batch_rows",
            "Records per write: a batch, or on Postgres one share of it.",
            &BATCH_BOUNDS,
        );
        self.flush_seconds.render(
            &mut out,
            "taskdeck_ingest_flush_seconds",
            "Duration of one write (a batch, or on Postgres one share of it).",
            &FLUSH_BOUNDS,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.received("http", 3);
        m.rejected("redis", 1);
        m.flushed(700, 0.02);
        let text = m.render();
        assert!(text.contains("taskdeck_ingest_events_received_total{source=\"http\"} 3"));
        assert!(text.contains("taskdeck_ingest_events_rejected_total{source=\"redis\"} 1"));
        assert!(text.contains("taskdeck_ingest_batch_rows_bucket{le=\"500\"} 0"));
        assert!(text.contains("taskdeck_ingest_batch_rows_bucket{le=\"1000\"} 1"));
        assert!(text.contains("taskdeck_ingest_flush_seconds_count 1"));
    }
}
