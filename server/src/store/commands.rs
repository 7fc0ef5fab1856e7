//! Command records: who asked for what, when it was sent, and the desired-state version it set.

use super::Store;
use crate::by_store;
use mongodb::bson::{doc, Bson, Document};

/// A command as recorded (its effect is read from heartbeats and task records when asked).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct CommandRow {
    pub id: String,
    pub requested_at: f64,
    pub sent_at: Option<f64>,
    pub actor: String,
    pub action: String,
    pub queue: String,
    pub task_id: Option<String>,
    pub version: Option<i64>,
    /// Why sending failed, when it did.
    pub detail: String,
}

const COLUMNS: &str = "id, requested_at, sent_at, actor, action, queue, task_id, version, detail";

fn from_doc(d: &Document) -> anyhow::Result<CommandRow> {
    let opt_str = |k: &str| d.get_str(k).ok().map(str::to_owned);
    Ok(CommandRow {
        id: d.get_str("_id")?.to_owned(),
        requested_at: d.get_f64("requested_at")?,
        sent_at: d.get_f64("sent_at").ok(),
        actor: d.get_str("actor")?.to_owned(),
        action: d.get_str("action")?.to_owned(),
        queue: d.get_str("queue")?.to_owned(),
        task_id: opt_str("task_id"),
        version: d.get_i64("version").ok(),
        detail: d.get_str("detail").unwrap_or_default().to_owned(),
    })
}

impl Store {
    pub async fn put_command(&self, c: &CommandRow) -> anyhow::Result<()> {
        by_store!(self,
            pool => {
                sqlx::query(&format!("INSERT INTO commands ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
                    .bind(&c.id)
                    .bind(c.requested_at)
                    .bind(c.sent_at)
                    .bind(&c.actor)
                    .bind(&c.action)
                    .bind(&c.queue)
                    .bind(&c.task_id)
                    .bind(c.version)
                    .bind(&c.detail)
                    .execute(pool)
                    .await?;
            },
            m => {
                m.own().collection::<Document>("commands").insert_one(doc! {
                    "_id": &c.id, "requested_at": c.requested_at, "actor": &c.actor, "action": &c.action,
                    "queue": &c.queue, "task_id": c.task_id.clone().map_or(Bson::Null, Bson::String),
                    "detail": &c.detail,
                }).await?;
            }
        );
        Ok(())
    }

    /// Records that the command reached the control channel (with the version it set), or why
    /// it did not.
    pub async fn command_sent(
        &self,
        id: &str,
        sent_at: Option<f64>,
        version: Option<i64>,
        detail: &str,
    ) -> anyhow::Result<()> {
        by_store!(self,
            pool => {
                sqlx::query("UPDATE commands SET sent_at = $2, version = $3, detail = $4 WHERE id = $1")
                    .bind(id)
                    .bind(sent_at)
                    .bind(version)
                    .bind(detail)
                    .execute(pool)
                    .await?;
            },
            m => {
                m.own().collection::<Document>("commands").update_one(
                    doc! { "_id": id },
                    doc! { "$set": {
                        "sent_at": sent_at.map_or(Bson::Null, Bson::Double),
                        "version": version.map_or(Bson::Null, Bson::Int64),
                        "detail": detail,
                    } },
                ).await?;
            }
        );
        Ok(())
    }

    /// The newest `limit` commands, of one queue and/or task when given.
    pub async fn commands(
        &self,
        queue: Option<&str>,
        task_id: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<CommandRow>> {
        Ok(by_store!(self,
            pool => sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM commands WHERE ($1 IS NULL OR queue = $1) \
                     AND ($2 IS NULL OR task_id = $2) ORDER BY requested_at DESC LIMIT $3"
                ))
                .bind(queue)
                .bind(task_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?,
            m => {
                let mut filter = doc! {};
                if let Some(q) = queue {
                    filter.insert("queue", q);
                }
                if let Some(t) = task_id {
                    filter.insert("task_id", t);
                }
                let mut cursor = m.own().collection::<Document>("commands").find(filter)
                    .sort(doc! { "requested_at": -1 }).limit(i64::from(limit)).await?;
                let mut rows = Vec::new();
                while cursor.advance().await? {
                    rows.push(from_doc(&cursor.deserialize_current()?)?);
                }
                rows
            }
        ))
    }
}
