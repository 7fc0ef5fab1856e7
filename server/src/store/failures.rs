//! The failure counters (ingest/failures.rs) in each store: added to in the batch's
//! transaction, read by range for the failures view.

use super::Store;
use crate::model::failures::{assemble, FailureKey, FailureRow, FailureValue};
use crate::store::retention::STATS_KEEP;
use mongodb::bson::{doc, DateTime, Document};
use protocol::event::TaskState;
use protocol::failures::{FailureFilter, FailureGroups};
use protocol::series::Grain;
use sqlx::QueryBuilder;

const COLUMNS: &str = "queue, state, exception_type, grain, bucket, count, first_at, last_at, sample_task_id, sample_msg";

/// The conflict half of the counter upsert; `greatest`/`least` name the dialect's functions.
/// Every SET expression reads the stored row as it was, so the sample follows the later task.
fn upsert_tail(greatest: &str, least: &str) -> String {
    let later = "excluded.last_at >= failure_stats.last_at";
    format!(
        " ON CONFLICT (queue, state, exception_type, grain, bucket) DO UPDATE SET \
         count = failure_stats.count + excluded.count, \
         first_at = {least}(failure_stats.first_at, excluded.first_at), \
         sample_task_id = CASE WHEN {later} THEN excluded.sample_task_id ELSE failure_stats.sample_task_id END, \
         sample_msg = CASE WHEN {later} THEN excluded.sample_msg ELSE failure_stats.sample_msg END, \
         last_at = {greatest}(failure_stats.last_at, excluded.last_at)"
    )
}

pub(super) async fn add_sqlite(
    tx: &mut sqlx::SqliteConnection,
    rows: &[FailureRow],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(1_000) {
        let mut qb =
            QueryBuilder::<sqlx::Sqlite>::new(format!("INSERT INTO failure_stats ({COLUMNS}) "));
        qb.push_values(chunk, |mut b, (k, v)| {
            b.push_bind(&k.queue)
                .push_bind(k.state.code())
                .push_bind(&k.exception_type)
                .push_bind(k.grain.code())
                .push_bind(k.bucket)
                .push_bind(v.count)
                .push_bind(v.first_at)
                .push_bind(v.last_at)
                .push_bind(&v.sample_task_id)
                .push_bind(&v.sample_msg);
        });
        qb.push(upsert_tail("max", "min"));
        qb.build().execute(&mut *tx).await?;
    }
    Ok(())
}

pub(super) async fn add_postgres(
    tx: &mut sqlx::PgConnection,
    rows: &[FailureRow],
) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO failure_stats ({COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::int2[], $3::text[], \
         $4::int2[], $5::int8[], $6::int8[], $7::float8[], $8::float8[], $9::text[], $10::text[]){}",
        upsert_tail("GREATEST", "LEAST")
    );
    let col = |f: fn(&FailureRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
    sqlx::query(&sql)
        .bind(col(|(k, _)| k.queue.clone()))
        .bind(rows.iter().map(|(k, _)| k.state.code()).collect::<Vec<_>>())
        .bind(col(|(k, _)| k.exception_type.clone()))
        .bind(rows.iter().map(|(k, _)| k.grain.code()).collect::<Vec<_>>())
        .bind(rows.iter().map(|(k, _)| k.bucket).collect::<Vec<_>>())
        .bind(rows.iter().map(|(_, v)| v.count).collect::<Vec<_>>())
        .bind(rows.iter().map(|(_, v)| v.first_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|(_, v)| v.last_at).collect::<Vec<_>>())
        .bind(col(|(_, v)| v.sample_task_id.clone()))
        .bind(
            rows.iter()
                .map(|(_, v)| v.sample_msg.clone())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn mongo_id(k: &FailureKey) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        k.queue,
        k.state.code(),
        k.exception_type,
        k.grain.code(),
        k.bucket
    )
}

/// When a counter row may go: the end of its grain's keep (TTL index on `expire_at`).
fn expire_at(k: &FailureKey) -> DateTime {
    let keep = STATS_KEEP
        .iter()
        .find(|(g, _)| *g == k.grain)
        .map_or(0, |(_, d)| d.as_millis() as i64);
    DateTime::from_millis((k.bucket + k.grain.seconds()) * 1_000 + keep)
}

/// MongoDB: inserts for new counters, `$inc`/`$min`/`$max` for the others, the sample replaced
/// when this batch's task is the later one (read with the existing rows).
pub(super) async fn add_mongo(own: &mongodb::Database, rows: &[FailureRow]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let coll = own.collection::<Document>("failure_stats");
    let ids: Vec<String> = rows.iter().map(|(k, _)| mongo_id(k)).collect();
    let mut stored: std::collections::HashMap<String, f64> = Default::default();
    let mut cursor = coll
        .find(doc! { "_id": { "$in": &ids } })
        .projection(doc! { "last_at": 1 })
        .await?;
    while cursor.advance().await? {
        let d = cursor.deserialize_current()?;
        if let (Ok(id), Ok(at)) = (d.get_str("_id"), d.get_f64("last_at")) {
            stored.insert(id.to_owned(), at);
        }
    }
    let update = |id: &str, v: &FailureValue, later: bool| {
        let mut u = doc! {
            "$inc": { "count": v.count },
            "$min": { "first_at": v.first_at },
            "$max": { "last_at": v.last_at },
        };
        if later {
            u.insert(
                "$set",
                doc! { "sample_task_id": &v.sample_task_id, "sample_msg": v.sample_msg.clone() },
            );
        }
        doc! { "q": { "_id": id }, "u": u }
    };
    let mut updates = Vec::new();
    let mut inserts: Vec<(usize, Document)> = Vec::new();
    for (i, ((k, v), id)) in rows.iter().zip(&ids).enumerate() {
        match stored.get(id) {
            Some(at) => updates.push(update(id, v, v.last_at >= *at)),
            None => inserts.push((
                i,
                doc! {
                    "_id": id, "queue": &k.queue, "state": i32::from(k.state.code()),
                    "exception_type": &k.exception_type, "grain": i32::from(k.grain.code()), "bucket": k.bucket,
                    "count": v.count, "first_at": v.first_at, "last_at": v.last_at,
                    "sample_task_id": &v.sample_task_id, "sample_msg": v.sample_msg.clone(),
                    "expire_at": expire_at(k),
                },
            )),
        }
    }
    let docs = inserts.iter().map(|(_, d)| d.clone()).collect();
    // One inserted meanwhile by another instance is added to instead.
    for position in super::mongo::insert_new(&coll, docs, "a failure counter").await? {
        let i = inserts[position].0;
        updates.push(update(&ids[i], &rows[i].1, false));
    }
    if !updates.is_empty() {
        own.run_command(doc! { "update": "failure_stats", "updates": updates, "ordered": false })
            .await?;
    }
    Ok(())
}

pub(super) async fn ensure_mongo_indexes(own: &mongodb::Database) -> mongodb::error::Result<()> {
    use mongodb::options::IndexOptions;
    use mongodb::IndexModel;
    let coll = own.collection::<Document>("failure_stats");
    coll.create_index(
        IndexModel::builder()
            .keys(doc! { "grain": 1, "bucket": 1 })
            .build(),
    )
    .await?;
    let ttl = IndexModel::builder()
        .keys(doc! { "expire_at": 1 })
        .options(
            IndexOptions::builder()
                .expire_after(std::time::Duration::ZERO)
                .build(),
        )
        .build();
    // Servers without TTL indexes keep the rows; the view reads by range all the same.
    let _ = coll.create_index(ttl).await;
    Ok(())
}

type SqlRow = (
    String,
    i16,
    String,
    i16,
    i64,
    i64,
    f64,
    f64,
    String,
    Option<String>,
);

impl Store {
    /// The failure groups of `filter`'s range, from the counters.
    pub async fn failure_groups(&self, filter: &FailureFilter) -> anyhow::Result<FailureGroups> {
        let to = filter.to.floor() as i64;
        let rows: Vec<SqlRow> = match self {
            Store::Sqlite(pool) => {
                let mut qb = QueryBuilder::<sqlx::Sqlite>::new(format!(
                    "SELECT {COLUMNS} FROM failure_stats"
                ));
                push_range(&mut qb, filter, to);
                qb.build_query_as().fetch_all(pool).await?
            }
            Store::Postgres(pool) => {
                let mut qb = QueryBuilder::<sqlx::Postgres>::new(format!(
                    "SELECT {COLUMNS} FROM failure_stats"
                ));
                push_range(&mut qb, filter, to);
                qb.build_query_as().fetch_all(pool).await?
            }
            Store::Mongodb(m) => return mongo_groups(m, filter, to).await,
        };
        let rows = rows
            .into_iter()
            .filter_map(|r| {
                Some((
                    FailureKey {
                        queue: r.0,
                        state: TaskState::from_code(r.1)?,
                        exception_type: r.2,
                        grain: Grain::from_code(r.3)?,
                        bucket: r.4,
                    },
                    FailureValue {
                        count: r.5,
                        first_at: r.6,
                        last_at: r.7,
                        sample_task_id: r.8,
                        sample_msg: r.9,
                    },
                ))
            })
            .collect();
        Ok(assemble(filter, rows))
    }
}

fn push_range<'a, DB: sqlx::Database>(
    qb: &mut QueryBuilder<'a, DB>,
    filter: &'a FailureFilter,
    to: i64,
) where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    qb.push(format!(
        " WHERE grain = {} AND bucket >= ",
        filter.grain.code()
    ))
    .push_bind(filter.from)
    .push(" AND bucket <= ")
    .push_bind(to);
    if !filter.queues.is_empty() {
        qb.push(" AND queue IN (");
        let mut sep = qb.separated(", ");
        for q in &filter.queues {
            sep.push_bind(q.clone());
        }
        qb.push(")");
    }
}

async fn mongo_groups(
    m: &super::MongoStore,
    filter: &FailureFilter,
    to: i64,
) -> anyhow::Result<FailureGroups> {
    let mut query = doc! { "grain": i32::from(filter.grain.code()), "bucket": { "$gte": filter.from, "$lte": to } };
    if !filter.queues.is_empty() {
        query.insert("queue", doc! { "$in": &filter.queues });
    }
    let mut cursor = m
        .own()
        .collection::<Document>("failure_stats")
        .find(query)
        .await?;
    let mut rows = Vec::new();
    while cursor.advance().await? {
        let d = cursor.deserialize_current()?;
        let int = |k: &str| {
            d.get_i64(k)
                .ok()
                .or_else(|| d.get_i32(k).ok().map(i64::from))
        };
        let (Some(state), Some(grain)) = (
            int("state").and_then(|c| TaskState::from_code(c as i16)),
            int("grain").and_then(|c| Grain::from_code(c as i16)),
        ) else {
            continue;
        };
        rows.push((
            FailureKey {
                queue: d.get_str("queue").unwrap_or_default().to_owned(),
                state,
                exception_type: d.get_str("exception_type").unwrap_or_default().to_owned(),
                grain,
                bucket: int("bucket").unwrap_or_default(),
            },
            FailureValue {
                count: int("count").unwrap_or_default(),
                first_at: d.get_f64("first_at").unwrap_or_default(),
                last_at: d.get_f64("last_at").unwrap_or_default(),
                sample_task_id: d.get_str("sample_task_id").unwrap_or_default().to_owned(),
                sample_msg: d.get_str("sample_msg").ok().map(str::to_owned),
            },
        ));
    }
    Ok(assemble(filter, rows))
}
