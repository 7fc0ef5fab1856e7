//! Ingest and live-stream metrics, exposed on `GET /metrics` (OpenMetrics text, which
//! Prometheus reads) through `prometheus-client`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Where events come in.
pub const SOURCES: [&str; 3] = ["http", "redis", "memory"];
const BATCH_BOUNDS: [f64; 8] = [1.0, 10.0, 100.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0];
const FLUSH_BOUNDS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Source {
    source: &'static str,
}

fn source(name: &str) -> Source {
    Source {
        source: SOURCES.into_iter().find(|s| *s == name).unwrap_or("http"),
    }
}

pub struct Metrics {
    registry: Registry,
    received: Family<Source, Counter>,
    rejected: Family<Source, Counter>,
    /// Records inserted or moved forward.
    pub stored: Counter,
    /// Tasks that reached a final state.
    pub finished: Counter,
    pub flush_errors: Counter,
    /// Events the store refused (isolated from their batch and kept as dead letters).
    pub refused: Counter,
    /// Events waiting for the writer right now.
    pub queued: Gauge,
    /// Browsers connected to the live stream right now.
    pub live_clients: Gauge,
    /// Bumped after each committed batch that changed a record: wakes the live push.
    pub committed: tokio::sync::watch::Sender<u64>,
    batch_rows: Histogram,
    flush_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Metrics {
            registry: Registry::default(),
            received: Family::default(),
            rejected: Family::default(),
            stored: Counter::default(),
            finished: Counter::default(),
            flush_errors: Counter::default(),
            refused: Counter::default(),
            queued: Gauge::default(),
            live_clients: Gauge::default(),
            committed: tokio::sync::watch::Sender::new(0),
            batch_rows: Histogram::new(BATCH_BOUNDS),
            flush_seconds: Histogram::new(FLUSH_BOUNDS),
        };
        let mut registry = Registry::default();
        // Every source appears from the start, at 0.
        for s in SOURCES {
            let _ = m.received.get_or_create(&source(s));
            let _ = m.rejected.get_or_create(&source(s));
        }
        registry.register(
            "taskdeck_ingest_events_received",
            "Events received, by source",
            m.received.clone(),
        );
        registry.register(
            "taskdeck_ingest_events_rejected",
            "Malformed events, kept as dead letters, by source",
            m.rejected.clone(),
        );
        registry.register(
            "taskdeck_ingest_events_refused",
            "Events the store refused, isolated from their batch and kept as dead letters",
            m.refused.clone(),
        );
        registry.register(
            "taskdeck_ingest_records_stored",
            "Task records inserted or moved forward",
            m.stored.clone(),
        );
        registry.register(
            "taskdeck_ingest_tasks_finished",
            "Tasks that reached a final state",
            m.finished.clone(),
        );
        registry.register(
            "taskdeck_ingest_flush_errors",
            "Batch writes that failed and were retried",
            m.flush_errors.clone(),
        );
        registry.register(
            "taskdeck_ingest_queue_events",
            "Events accepted and waiting to be written",
            m.queued.clone(),
        );
        registry.register(
            "taskdeck_live_clients",
            "Browsers connected to the live stream",
            m.live_clients.clone(),
        );
        registry.register(
            "taskdeck_ingest_batch_rows",
            "Records per write: a batch, or on Postgres one share of it",
            m.batch_rows.clone(),
        );
        registry.register(
            "taskdeck_ingest_flush_seconds",
            "Duration of one write (a batch, or on Postgres one share of it)",
            m.flush_seconds.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn received(&self, source_name: &str, n: usize) {
        self.received
            .get_or_create(&source(source_name))
            .inc_by(n as u64);
    }

    pub fn rejected(&self, source_name: &str, n: usize) {
        self.rejected
            .get_or_create(&source(source_name))
            .inc_by(n as u64);
    }

    pub fn flushed(&self, rows: usize, seconds: f64) {
        self.batch_rows.observe(rows as f64);
        self.flush_seconds.observe(seconds);
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openmetrics_text() {
        let m = Metrics::default();
        m.received("http", 3);
        m.rejected("redis", 1);
        m.flushed(700, 0.02);
        m.queued.inc_by(5);
        m.queued.dec_by(2);
        let text = m.render();
        assert!(text.contains("taskdeck_ingest_events_received_total{source=\"http\"} 3"));
        assert!(text.contains("taskdeck_ingest_events_received_total{source=\"memory\"} 0"));
        assert!(text.contains("taskdeck_ingest_events_rejected_total{source=\"redis\"} 1"));
        assert!(text.contains("taskdeck_ingest_batch_rows_bucket{le=\"500.0\"} 0"));
        assert!(text.contains("taskdeck_ingest_batch_rows_bucket{le=\"1000.0\"} 1"));
        assert!(text.contains("taskdeck_ingest_flush_seconds_count 1"));
        assert!(text.contains("taskdeck_ingest_queue_events 3"));
        assert!(text.ends_with("# EOF\n"));
    }
}
