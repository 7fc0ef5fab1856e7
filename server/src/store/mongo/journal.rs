//! The audit log and the command records on MongoDB.

use super::MongoStore;
use crate::store::records::{AuditEntry, CommandRow, StoredCommand};
use crate::store::Journal;
use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};

fn stored_command(d: &Document) -> anyhow::Result<StoredCommand> {
    let opt_str = |k: &str| d.get_str(k).ok().map(str::to_owned);
    Ok(StoredCommand {
        id: d.get_str("_id")?.to_owned(),
        requested_at: d.get_f64("requested_at")?,
        sent_at: d.get_f64("sent_at").ok(),
        actor: d.get_str("actor")?.to_owned(),
        action: d.get_str("action")?.to_owned(),
        queue: d.get_str("queue")?.to_owned(),
        task_id: opt_str("task_id"),
        version: d.get_i64("version").ok(),
        outcome: opt_str("outcome"),
        detail: d.get_str("detail").unwrap_or_default().to_owned(),
    })
}

fn opt(s: Option<String>) -> Bson {
    s.map_or(Bson::Null, Bson::String)
}

#[async_trait]
impl Journal for MongoStore {
    async fn audit(&self, e: &AuditEntry) -> anyhow::Result<()> {
        self.own()
            .collection::<Document>("audit")
            .insert_one(doc! {
                "at": e.at, "actor": &e.actor, "action": &e.action, "target": &e.target,
                "outcome": &e.outcome, "detail": &e.detail, "ip": &e.ip,
            })
            .await?;
        Ok(())
    }

    async fn audit_log(
        &self,
        text: &str,
        before: Option<f64>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        let before = before.unwrap_or(f64::MAX);
        let mut filter = doc! { "at": { "$lt": before } };
        if !text.is_empty() {
            let re = mongodb::bson::Regex {
                pattern: super::regex_escape(text),
                options: "i".into(),
            };
            filter.insert(
                "$or",
                ["actor", "action", "target", "outcome", "detail"]
                    .map(|f| doc! { f: re.clone() })
                    .to_vec(),
            );
        }
        let mut cursor = self
            .own()
            .collection::<Document>("audit")
            .find(filter)
            .sort(doc! { "at": -1 })
            .limit(i64::from(limit))
            .await?;
        let mut out = Vec::new();
        while cursor.advance().await? {
            let d = cursor.deserialize_current()?;
            let at = d.get_f64("at")?;
            let s = |k: &str| d.get_str(k).unwrap_or_default().to_owned();
            out.push(AuditEntry {
                at,
                actor: s("actor"),
                action: s("action"),
                target: s("target"),
                outcome: s("outcome"),
                detail: s("detail"),
                ip: s("ip"),
            });
        }
        Ok(out)
    }

    async fn put_command(&self, c: &CommandRow) -> anyhow::Result<()> {
        self.own()
            .collection::<Document>("commands")
            .insert_one(doc! {
                "_id": &c.id, "requested_at": c.requested_at, "actor": &c.actor,
                "action": c.action.code(), "queue": &c.queue, "task_id": opt(c.task_id.clone()),
                "outcome": opt(c.outcome_json()), "detail": &c.detail,
            })
            .await?;
        Ok(())
    }

    async fn command_sent(&self, c: &CommandRow) -> anyhow::Result<()> {
        self.own()
            .collection::<Document>("commands")
            .update_one(
                doc! { "_id": &c.id },
                doc! { "$set": {
                    "sent_at": c.sent_at.map_or(Bson::Null, Bson::Double),
                    "version": c.version.map_or(Bson::Null, Bson::Int64),
                    "outcome": opt(c.outcome_json()),
                    "detail": &c.detail,
                } },
            )
            .await?;
        Ok(())
    }

    async fn commands(
        &self,
        queue: Option<&str>,
        task_id: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<CommandRow>> {
        let mut filter = doc! {};
        if let Some(q) = queue {
            filter.insert("queue", q);
        }
        if let Some(t) = task_id {
            filter.insert("task_id", t);
        }
        let mut cursor = self
            .own()
            .collection::<Document>("commands")
            .find(filter)
            .sort(doc! { "requested_at": -1 })
            .limit(i64::from(limit))
            .await?;
        let mut rows = Vec::new();
        while cursor.advance().await? {
            rows.extend(stored_command(&cursor.deserialize_current()?)?.row());
        }
        Ok(rows)
    }
}
