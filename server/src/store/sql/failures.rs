//! The failure counters (`model::failures`) in SQL: added to in the batch's transaction, read
//! by range for the failures view.

use super::{on_pool, Dialect, SqlStore};
use crate::model::failures::{assemble, FailureKey, FailureRow, FailureValue};
use crate::store::Failures;
use async_trait::async_trait;
use protocol::event::TaskState;
use protocol::failures::{FailureFilter, FailureGroups};
use protocol::series::Grain;
use sqlx::QueryBuilder;

const COLUMNS: &str = "queue, state, exception_type, grain, bucket, count, first_at, last_at, sample_task_id, sample_msg";

/// The conflict half of the counter upsert; `greatest`/`least` name the dialect's functions.
/// Every SET expression reads the stored row as it was, so the sample follows the later task.
fn upsert_tail(dialect: Dialect) -> String {
    let (greatest, least) = (dialect.greatest(), dialect.least());
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
        qb.push(upsert_tail(Dialect::Sqlite));
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
        upsert_tail(Dialect::Postgres)
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

#[async_trait]
impl Failures for SqlStore {
    async fn failure_groups(&self, filter: &FailureFilter) -> anyhow::Result<FailureGroups> {
        let to = filter.to.floor() as i64;
        let rows: Vec<SqlRow> = on_pool!(self, pool, Db => {
            let mut qb = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM failure_stats"));
            push_range(&mut qb, filter, to);
            qb.build_query_as().fetch_all(pool).await?
        });
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
