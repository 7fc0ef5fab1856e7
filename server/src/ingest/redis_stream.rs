//! The Redis stream source: workers `XADD taskdeck:events * event <json>`; every taskdeck
//! instance reads through one consumer group, so instances share the load. An entry is
//! acknowledged (XACK, then XDEL so the stream does not grow) only after its event is
//! committed. Entries a dead instance left pending are claimed after [`CLAIM_IDLE`].

use super::{Ingest, Prepared, RawEvent};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamAutoClaimReply, StreamId};
use redis::Value;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub const STREAM: &str = "taskdeck:events";
pub const GROUP: &str = "taskdeck";
pub const FIELD: &str = "event";
/// Entries pending this long on another consumer are taken over: that instance is gone.
pub const CLAIM_IDLE: Duration = Duration::from_secs(30);
const READ_COUNT: usize = 2_000;
const BLOCK: Duration = Duration::from_millis(1_000);
const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Entries read ahead while earlier ones wait for their commit (sixteen full chunks: about
/// three batches, one being gathered, one being written and one whose running tasks were
/// carried into the next, see `Ingest::submit_patient`). Counted in entries, not chunks: at a
/// moderate rate reads return small chunks, and a budget of chunks would run out within
/// milliseconds, leaving new events unread in Redis until the batch in flight commits — a
/// whole batch age of extra latency.
const IN_FLIGHT: u32 = 16 * READ_COUNT as u32;
/// After a short read, time for entries to gather before reading again, so events trickling
/// in one by one are not read (and acknowledged) one round trip each.
const LINGER: Duration = Duration::from_millis(10);

pub struct StreamSource {
    conn: ConnectionManager,
    /// XREADGROUP only: its large replies are parsed by `resp`.
    reads: super::resp::ReplyConn,
    ingest: Ingest,
    consumer: String,
    in_flight: Arc<Semaphore>,
    /// Set when a chunk was not committed or not acknowledged: its entries are still pending
    /// on this consumer and must be read again.
    unacked: Arc<AtomicBool>,
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
            reads: super::resp::ReplyConn::new(&client, BLOCK + Duration::from_secs(5)),
            conn: ConnectionManager::new_lazy_with_config(client, config)?,
            ingest,
            consumer,
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT as usize)),
            unacked: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Reads until `shutdown`; chunks in flight are finished (committed and acknowledged)
    /// before returning.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        let mut group_ready = false;
        // This consumer's own pending entries first (a previous run under this name, or
        // chunks that failed), walked by id; then new entries (">").
        let mut read_from = "0".to_owned();
        let mut last_claim = tokio::time::Instant::now() - CLAIM_IDLE;
        while !shutdown.is_cancelled() {
            let step = async {
                if !group_ready {
                    self.create_group().await?;
                    group_ready = true;
                }
                if self.unacked.swap(false, Relaxed) {
                    self.drain().await;
                    read_from = "0".into();
                }
                if last_claim.elapsed() >= CLAIM_IDLE / 2 {
                    last_claim = tokio::time::Instant::now();
                    self.claim_abandoned().await?;
                }
                let entries = self.read(&read_from).await?;
                if read_from != ">" {
                    read_from = entries
                        .last()
                        .map_or_else(|| ">".to_owned(), |e| e.id.clone());
                }
                let short = entries.len() < READ_COUNT;
                self.process(entries).await?;
                if short {
                    tokio::time::sleep(LINGER).await;
                }
                Ok::<(), redis::RedisError>(())
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
        self.drain().await;
    }

    /// Waits until every chunk in flight is committed and acknowledged (or has failed).
    async fn drain(&self) {
        if let Ok(all) = self.in_flight.acquire_many(IN_FLIGHT).await {
            drop(all);
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

    async fn read(&mut self, from: &str) -> redis::RedisResult<Vec<Entry>> {
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
        // Walked by hand: redis' `StreamReadReply` clones the whole reply and builds a map per
        // entry, which cost more CPU than reading it.
        let reply = self.reads.query(&cmd).await?;
        read_reply(reply).map_err(|what| {
            redis::RedisError::from((redis::ErrorKind::Parse, "unexpected XREADGROUP reply", what))
        })
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
                self.process(reply.claimed.into_iter().map(Entry::of).collect())
                    .await?;
            }
            if reply.next_stream_id == "0-0" {
                return Ok(());
            }
            cursor = reply.next_stream_id;
        }
    }

    /// Hands the entries' events to the batcher and, once they are committed, acknowledges
    /// and deletes the entries — in the background, so the next chunk is read meanwhile.
    async fn process(&mut self, entries: Vec<Entry>) -> redis::RedisResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let permit = self
            .in_flight
            .clone()
            .acquire_many_owned(entries.len() as u32)
            .await
            .expect("semaphore never closed");
        let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
        let (ingest, mut conn, unacked) =
            (self.ingest.clone(), self.conn.clone(), self.unacked.clone());
        tokio::spawn(async move {
            let _permit = permit;
            // Parsing here, not in the reading loop, spreads it over the runtime's threads.
            let prepared = Prepared::from_raw(entries.into_iter().map(|e| e.event), "redis");
            ingest.metrics.received("redis", prepared.len());
            ingest.metrics.rejected("redis", prepared.dead.len());
            if let Err(e) = ingest.submit_patient(prepared, COMMIT_TIMEOUT).await {
                tracing::warn!(error = %e, entries = ids.len(), "events from the stream not committed; they stay pending");
                unacked.store(true, Relaxed);
                return;
            }
            // In one transaction: a process killed while writing the two commands must not
            // leave entries acknowledged but never deleted, which nothing would remove.
            let mut pipe = redis::pipe();
            pipe.atomic();
            pipe.cmd("XACK").arg(STREAM).arg(GROUP).arg(&ids).ignore();
            pipe.cmd("XDEL").arg(STREAM).arg(&ids).ignore();
            if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                // Committed but still pending: read again later, recorded again harmlessly.
                tracing::warn!(error = %e, entries = ids.len(), "acknowledging stream entries failed");
                unacked.store(true, Relaxed);
            }
        });
        Ok(())
    }
}

/// One stream entry: its id and its event, or why it has none.
struct Entry {
    id: String,
    event: RawEvent,
}

impl Entry {
    /// An entry as redis' own stream types hold it (claimed entries).
    fn of(mut entry: StreamId) -> Entry {
        let event = match entry.map.remove(FIELD) {
            Some(value) => event_of(&entry.id, value, || format!("{:?}", entry.map)),
            None => RawEvent::Invalid {
                error: format!("stream entry {} has no `{FIELD}` field", entry.id),
                payload: format!("{:?}", entry.map),
            },
        };
        Entry {
            id: entry.id,
            event,
        }
    }
}

/// The `event` field's value as JSON text.
fn event_of(id: &str, value: Value, rest: impl FnOnce() -> String) -> RawEvent {
    let bytes = match value {
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.into_bytes(),
        other => {
            return RawEvent::Invalid {
                error: format!("stream entry {id}: `{FIELD}` is not a string"),
                payload: format!("{other:?} {}", rest()),
            }
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => RawEvent::Text(text),
        Err(e) => RawEvent::Invalid {
            error: format!("stream entry {id}: `{FIELD}` is not UTF-8"),
            payload: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        },
    }
}

/// The entries of an XREADGROUP reply: nil (nothing new), or per stream `[name, entries]`
/// (RESP2 arrays, RESP3 a map), each entry `[id, [field, value, …]]` — fields nil for an entry
/// deleted while pending.
fn read_reply(reply: Value) -> Result<Vec<Entry>, String> {
    let streams: Vec<Value> = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => streams
            .into_iter()
            .map(|s| match s {
                Value::Array(mut pair) if pair.len() == 2 => Ok(pair.swap_remove(1)),
                other => Err(format!("stream {other:?}")),
            })
            .collect::<Result<_, _>>()?,
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        other => return Err(format!("{other:?}")),
    };
    let mut out = Vec::new();
    for entries in streams {
        let Value::Array(entries) = entries else {
            return Err(format!("entries {entries:?}"));
        };
        out.reserve(entries.len());
        for entry in entries {
            let Value::Array(mut parts) = entry else {
                return Err(format!("entry {entry:?}"));
            };
            let (fields, id) = match (parts.pop(), parts.pop()) {
                (Some(fields), Some(Value::BulkString(id))) if parts.is_empty() => {
                    (fields, String::from_utf8(id).map_err(|e| e.to_string())?)
                }
                _ => return Err("an entry is not [id, fields]".into()),
            };
            let mut fields = match fields {
                Value::Array(f) => f,
                Value::Nil => Vec::new(),
                other => return Err(format!("fields {other:?}")),
            };
            let at = fields
                .iter()
                .step_by(2)
                .position(|k| matches!(k, Value::BulkString(k) if k == FIELD.as_bytes()));
            let event = match at.filter(|i| 2 * i + 1 < fields.len()) {
                Some(i) => {
                    let value = fields.swap_remove(2 * i + 1);
                    event_of(&id, value, || format!("{fields:?}"))
                }
                None => RawEvent::Invalid {
                    error: format!("stream entry {id} has no `{FIELD}` field"),
                    payload: format!("{fields:?}"),
                },
            };
            out.push(Entry { id, event });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: Value) -> Value {
        Value::Array(vec![bulk(id), fields])
    }

    fn texts(entries: &[Entry]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|e| {
                let what = match &e.event {
                    RawEvent::Text(t) => t.clone(),
                    RawEvent::Invalid { error, .. } => format!("invalid: {error}"),
                };
                (e.id.clone(), what)
            })
            .collect()
    }

    #[test]
    fn replies_are_read_in_both_protocols_and_odd_entries_are_explained() {
        let entries = Value::Array(vec![
            entry("1-0", Value::Array(vec![bulk("event"), bulk("{\"a\":1}")])),
            entry(
                "1-1",
                Value::Array(vec![bulk("other"), bulk("x"), bulk("event"), bulk("{}")]),
            ),
            entry("1-2", Value::Nil),
            entry("1-3", Value::Array(vec![bulk("other"), bulk("x")])),
            entry(
                "1-4",
                Value::Array(vec![bulk("event"), Value::BulkString(vec![0xff, 0xfe])]),
            ),
            entry("1-5", Value::Array(vec![bulk("event"), Value::Int(3)])),
        ]);
        let want = [
            ("1-0", "{\"a\":1}"),
            ("1-1", "{}"),
            ("1-2", "invalid: stream entry 1-2 has no `event` field"),
            ("1-3", "invalid: stream entry 1-3 has no `event` field"),
            ("1-4", "invalid: stream entry 1-4: `event` is not UTF-8"),
            ("1-5", "invalid: stream entry 1-5: `event` is not a string"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let resp2 = Value::Array(vec![Value::Array(vec![bulk(STREAM), entries.clone()])]);
        assert_eq!(texts(&read_reply(resp2).unwrap()), want);
        let resp3 = Value::Map(vec![(bulk(STREAM), entries)]);
        assert_eq!(texts(&read_reply(resp3).unwrap()), want);
        assert!(read_reply(Value::Nil).unwrap().is_empty());
        assert!(read_reply(Value::Int(1)).is_err());
        let no_id = Value::Array(vec![Value::Array(vec![
            bulk(STREAM),
            Value::Array(vec![Value::Array(vec![Value::Nil])]),
        ])]);
        assert!(read_reply(no_id).is_err());
    }
}
