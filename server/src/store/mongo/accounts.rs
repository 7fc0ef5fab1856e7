//! Users, sessions and API tokens on MongoDB: one collection each in taskdeck's database
//! (sessions expire by a TTL index).

use super::MongoStore;
use crate::store::records::{Token, TokenRow, User, UserRow};
use crate::store::Accounts;
use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use protocol::auth::Scope;

pub(super) async fn ensure_auth_indexes(m: &MongoStore) -> anyhow::Result<()> {
    let own = m.own();
    // Sessions past their expiry are removed by the server itself (TTL index on a date).
    own.collection::<Document>("sessions")
        .create_index(
            IndexModel::builder()
                .keys(doc! { "expires": 1 })
                .options(
                    IndexOptions::builder()
                        .expire_after(std::time::Duration::ZERO)
                        .build(),
                )
                .build(),
        )
        .await?;
    own.collection::<Document>("audit")
        .create_index(IndexModel::builder().keys(doc! { "at": -1 }).build())
        .await?;
    for keys in [
        doc! { "requested_at": -1 },
        doc! { "queue": 1, "requested_at": -1 },
        doc! { "task_id": 1 },
    ] {
        own.collection::<Document>("commands")
            .create_index(IndexModel::builder().keys(keys).build())
            .await?;
    }
    Ok(())
}

pub(super) fn user_row(d: &Document) -> anyhow::Result<UserRow> {
    Ok(UserRow {
        name: d.get_str("_id")?.to_owned(),
        password_hash: d.get_str("password_hash")?.to_owned(),
        role: d.get_str("role")?.to_owned(),
        created_at: d.get_f64("created_at")?,
        updated_at: d.get_f64("updated_at")?,
    })
}

pub(super) fn token_row(d: &Document) -> anyhow::Result<TokenRow> {
    Ok(TokenRow {
        id: d.get_str("_id")?.to_owned(),
        name: d.get_str("name")?.to_owned(),
        secret_hash: d.get_str("secret_hash")?.to_owned(),
        scopes: d.get_str("scopes")?.to_owned(),
        created_by: d.get_str("created_by")?.to_owned(),
        created_at: d.get_f64("created_at")?,
        last_used_at: d.get_f64("last_used_at").ok(),
    })
}

#[async_trait]
impl Accounts for MongoStore {
    async fn user(&self, name: &str) -> anyhow::Result<Option<User>> {
        let found = self
            .own()
            .collection::<Document>("users")
            .find_one(doc! { "_id": name })
            .await?;
        found.map(|d| user_row(&d)?.user()).transpose()
    }

    async fn users(&self) -> anyhow::Result<Vec<User>> {
        let mut cursor = self
            .own()
            .collection::<Document>("users")
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await?;
        let mut users = Vec::new();
        while cursor.advance().await? {
            users.push(user_row(&cursor.deserialize_current()?)?.user()?);
        }
        Ok(users)
    }

    async fn put_user(&self, u: &User, only_new: bool) -> anyhow::Result<bool> {
        let users = self.own().collection::<Document>("users");
        if only_new {
            let d = doc! {
                "_id": &u.name, "password_hash": &u.password_hash, "role": u.role.code(),
                "created_at": u.created_at, "updated_at": u.updated_at,
            };
            return match users.insert_one(d).await {
                Ok(_) => Ok(true),
                Err(e) if duplicate_key(&e) => Ok(false),
                Err(e) => Err(e.into()),
            };
        }
        users
            .update_one(
                doc! { "_id": &u.name },
                doc! {
                    "$set": { "password_hash": &u.password_hash, "role": u.role.code(), "updated_at": u.updated_at },
                    "$setOnInsert": { "created_at": u.created_at },
                },
            )
            .upsert(true)
            .await?;
        Ok(true)
    }

    async fn delete_user(&self, name: &str) -> anyhow::Result<bool> {
        let deleted = self
            .own()
            .collection::<Document>("users")
            .delete_one(doc! { "_id": name })
            .await?;
        Ok(deleted.deleted_count > 0)
    }

    async fn session(&self, id: &str, now: i64) -> anyhow::Result<Option<(String, i64)>> {
        let Some(d) = self
            .own()
            .collection::<Document>("sessions")
            .find_one(doc! { "_id": id })
            .await?
        else {
            return Ok(None);
        };
        let expires = d.get_datetime("expires")?.timestamp_millis() / 1000;
        if expires <= now {
            return Ok(None);
        }
        Ok(Some((d.get_str("data")?.to_owned(), expires)))
    }

    async fn put_session(
        &self,
        id: &str,
        data: &str,
        expires_at: i64,
        only_new: bool,
    ) -> anyhow::Result<bool> {
        let sessions = self.own().collection::<Document>("sessions");
        let expires = mongodb::bson::DateTime::from_millis(expires_at.saturating_mul(1000));
        if only_new {
            return match sessions
                .insert_one(doc! { "_id": id, "data": data, "expires": expires })
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if duplicate_key(&e) => Ok(false),
                Err(e) => Err(e.into()),
            };
        }
        sessions
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "data": data, "expires": expires } },
            )
            .upsert(true)
            .await?;
        Ok(true)
    }

    async fn delete_session(&self, id: &str) -> anyhow::Result<()> {
        self.own()
            .collection::<Document>("sessions")
            .delete_one(doc! { "_id": id })
            .await?;
        Ok(())
    }

    /// Nothing to do: the TTL index on `expires` removes them.
    async fn purge_sessions(&self, _now: i64) -> anyhow::Result<u64> {
        Ok(0)
    }

    async fn token(&self, id: &str) -> anyhow::Result<Option<Token>> {
        let found = self
            .own()
            .collection::<Document>("api_tokens")
            .find_one(doc! { "_id": id })
            .await?;
        found.map(|d| token_row(&d)?.token()).transpose()
    }

    async fn tokens(&self) -> anyhow::Result<Vec<Token>> {
        let mut cursor = self
            .own()
            .collection::<Document>("api_tokens")
            .find(doc! {})
            .sort(doc! { "created_at": -1 })
            .await?;
        let mut tokens = Vec::new();
        while cursor.advance().await? {
            tokens.push(token_row(&cursor.deserialize_current()?)?.token()?);
        }
        Ok(tokens)
    }

    async fn put_token(&self, t: &Token) -> anyhow::Result<()> {
        self.own()
            .collection::<Document>("api_tokens")
            .insert_one(doc! {
                "_id": &t.id, "name": &t.name, "secret_hash": &t.secret_hash,
                "scopes": Scope::join(&t.scopes), "created_by": &t.created_by,
                "created_at": t.created_at,
            })
            .await?;
        Ok(())
    }

    async fn delete_token(&self, id: &str) -> anyhow::Result<bool> {
        let deleted = self
            .own()
            .collection::<Document>("api_tokens")
            .delete_one(doc! { "_id": id })
            .await?;
        Ok(deleted.deleted_count > 0)
    }

    async fn touch_token(&self, id: &str, at: f64) -> anyhow::Result<()> {
        self.own()
            .collection::<Document>("api_tokens")
            .update_one(doc! { "_id": id }, doc! { "$set": { "last_used_at": at } })
            .await?;
        Ok(())
    }
}

fn duplicate_key(e: &mongodb::error::Error) -> bool {
    matches!(
        *e.kind,
        mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(ref w)) if w.code == 11000
    )
}
