//! The audit log and the command records in SQL.

use super::{on_pool, SqlStore};
use crate::store::records::{AuditEntry, CommandRow, StoredCommand, COMMAND_COLUMNS};
use crate::store::Journal;
use async_trait::async_trait;

#[async_trait]
impl Journal for SqlStore {
    async fn audit(&self, e: &AuditEntry) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO audit (at, actor, action, target, outcome, detail, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(e.at)
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.target)
                .bind(&e.outcome)
                .bind(&e.detail)
                .bind(&e.ip)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn audit_log(
        &self,
        text: &str,
        before: Option<f64>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        let before = before.unwrap_or(f64::MAX);
        Ok(on_pool!(self, pool => {
            let like = format!("%{}%", crate::store::listing::like_escape(text));
            let rows: Vec<(f64, String, String, String, String, String, String)> = sqlx::query_as(
                "SELECT at, actor, action, target, outcome, detail, ip FROM audit WHERE at < $1 \
                 AND lower(actor || ' ' || action || ' ' || target || ' ' || outcome || ' ' || detail) \
                 LIKE lower($2) ESCAPE '\\' ORDER BY at DESC LIMIT $3",
            )
            .bind(before)
            .bind(like)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.into_iter()
                .map(|(at, actor, action, target, outcome, detail, ip)| AuditEntry { at, actor, action, target, outcome, detail, ip })
                .collect()
        }))
    }

    async fn put_command(&self, c: &CommandRow) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query(&format!("INSERT INTO commands ({COMMAND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
                .bind(&c.id)
                .bind(c.requested_at)
                .bind(c.sent_at)
                .bind(&c.actor)
                .bind(c.action.code())
                .bind(&c.queue)
                .bind(&c.task_id)
                .bind(c.version)
                .bind(c.outcome_json())
                .bind(&c.detail)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn command_sent(&self, c: &CommandRow) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE commands SET sent_at = $2, version = $3, outcome = $4, detail = $5 WHERE id = $1")
                .bind(&c.id)
                .bind(c.sent_at)
                .bind(c.version)
                .bind(c.outcome_json())
                .bind(&c.detail)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn commands(
        &self,
        queue: Option<&str>,
        task_id: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<CommandRow>> {
        let stored: Vec<StoredCommand> = on_pool!(self, pool => sqlx::query_as(&format!(
                    "SELECT {COMMAND_COLUMNS} FROM commands WHERE ($1 IS NULL OR queue = $1) \
                     AND ($2 IS NULL OR task_id = $2) ORDER BY requested_at DESC LIMIT $3"
                ))
                .bind(queue)
                .bind(task_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?);
        Ok(stored.into_iter().filter_map(StoredCommand::row).collect())
    }
}
