//! The Redis stream source: workers `XADD taskdeck:events * event <json>`; every taskdeck
//! instance reads through one consumer group, so instances share the load. An entry is
//! acknowledged (XACK, then XDEL so the stream does not grow) only after its event is
//! committed. Entries a dead instance left pending are claimed after [`CLAIM_IDLE`].

use super::{Ingest, Prepared};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::Value;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const STREAM: &str = "taskdeck:events";
pub const GROUP: &str = "taskdeck";
pub const FIELD: &str = "event";
/// Entries pending this long on another consumer are taken over: that instance is gone.
pub const CLAIM_IDLE: Duration = Duration::from_secs(30);
const READ_COUNT: usize = 2_000;
const BLOCK: Duration = Duration::from_millis(1_000);
const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

pub struct StreamSource {
    conn: ConnectionManager,
    ingest: Ingest,
    consumer: String,
}

impl StreamSource {
    pub fn new(
        client: redis::Client,
        ingest: Ingest,
        consumer: String,
    ) -> redis::RedisResult<StreamSource> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(BLOCK + Duration::from_secs(5)))
            .set_max_delay(Duration::from_secs(1));
        Ok(StreamSource {
            conn: ConnectionManager::new_lazy_with_config(client, config)?,
            ingest,
            consumer,
        })
    }

    /// Reads until `shutdown`; the batch in hand is finished (committed and acknowledged)
    /// before returning.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        let mut group_ready = false;
        // Our own pending entries first (a previous run under this name), then new ones.
        let mut read_from = "0".to_owned();
        let mut last_claim = tokio::time::Instant::now() - CLAIM_IDLE;
        while !shutdown.is_cancelled() {
            let step = async {
                if !group_ready {
                    self.create_group().await?;
                    group_ready = true;
                }
                if last_claim.elapsed() >= CLAIM_IDLE / 2 {
                    last_claim = tokio::time::Instant::now();
                    self.claim_abandoned().await?;
                }
                let entries = self.read(&read_from).await?;
                if read_from != ">" && entries.is_empty() {
                    read_from = ">".into();
                }
                let all_acked = self.process(entries).await?;
                if !all_acked {
                    read_from = "0".into();
                }
                redis::RedisResult::Ok(())
            };
            let result = tokio::select! {
                r = step => r,
                _ = shutdown.cancelled() => break,
            };
            match result {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(e) => {
                    if e.code() == Some("NOGROUP") {
                        group_ready = false;
                    }
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "reading the Redis event stream failed");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {},
                        _ = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn create_group(&mut self) -> redis::RedisResult<()> {
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(STREAM)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn)
            .await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(e),
            _ => Ok(()),
        }
    }

    async fn read(&mut self, from: &str) -> redis::RedisResult<Vec<StreamId>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(READ_COUNT);
        if from == ">" {
            cmd.arg("BLOCK").arg(BLOCK.as_millis() as u64);
        }
        cmd.arg("STREAMS").arg(STREAM).arg(from);
        let reply: Option<StreamReadReply> = cmd.query_async(&mut self.conn).await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect())
    }

    /// Takes over entries another consumer has held for longer than [`CLAIM_IDLE`], and
    /// processes them.
    async fn claim_abandoned(&mut self) -> redis::RedisResult<()> {
        let mut cursor = "0-0".to_owned();
        loop {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(STREAM)
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(CLAIM_IDLE.as_millis() as u64)
                .arg(&cursor)
                .arg("COUNT")
                .arg(READ_COUNT)
                .query_async(&mut self.conn)
                .await?;
            if !reply.claimed.is_empty() {
                tracing::info!(
                    entries = reply.claimed.len(),
                    "claimed events left pending by a stopped taskdeck instance"
                );
                self.process(reply.claimed).await?;
            }
            if reply.next_stream_id == "0-0" {
                return Ok(());
            }
            cursor = reply.next_stream_id;
        }
    }

    /// Commits the entries' events, then acknowledges and deletes the entries. Returns false
    /// when the store did not commit them in time: they stay pending and are read again.
    async fn process(&mut self, entries: Vec<StreamId>) -> redis::RedisResult<bool> {
        if entries.is_empty() {
            return Ok(true);
        }
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        let prepared = Prepared::from_raw(entries.into_iter().map(parse_entry), "redis");
        self.ingest.metrics.received("redis", prepared.len());
        self.ingest.metrics.rejected("redis", prepared.dead.len());
        if let Err(e) = self.ingest.submit(prepared, COMMIT_TIMEOUT).await {
            tracing::warn!(error = %e, entries = ids.len(), "events from the stream not committed; they stay pending");
            return Ok(false);
        }
        let mut pipe = redis::pipe();
        pipe.cmd("XACK").arg(STREAM).arg(GROUP).arg(&ids).ignore();
        pipe.cmd("XDEL").arg(STREAM).arg(&ids).ignore();
        pipe.query_async::<()>(&mut self.conn).await?;
        Ok(true)
    }
}

fn parse_entry(entry: StreamId) -> super::RawEvent {
    let describe = |entry: &StreamId| format!("{:?}", entry.map);
    let Some(value) = entry.map.get(FIELD) else {
        return Err((
            format!("stream entry {} has no `{FIELD}` field", entry.id),
            describe(&entry),
        ));
    };
    let bytes = match value {
        Value::BulkString(b) => b.as_slice(),
        Value::SimpleString(s) => s.as_bytes(),
        _ => {
            return Err((
                format!("stream entry {}: `{FIELD}` is not a string", entry.id),
                describe(&entry),
            ))
        }
    };
    serde_json::from_slice(bytes).map_err(|e| {
        (
            format!("stream entry {}: `{FIELD}` is not JSON: {e}", entry.id),
            String::from_utf8_lossy(bytes).into_owned(),
        )
    })
}
