//! The in-process source: workers running inside taskdeck (the demo fleet) hand their records
//! straight to the batcher, parsed and checked like those from any other source.

use super::{Ingest, Prepared, RawEvent};
use std::time::Duration;

const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

pub struct IngestSink(pub Ingest);

#[async_trait::async_trait]
impl taskdeck_worker::EventSink for IngestSink {
    async fn send(&self, events: &[String]) -> Result<(), String> {
        let prepared = Prepared::from_raw(events.iter().cloned().map(RawEvent::Text), "memory");
        self.0.metrics.received("memory", prepared.len());
        self.0.metrics.rejected("memory", prepared.dead.len());
        self.0
            .submit(prepared, COMMIT_TIMEOUT)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
