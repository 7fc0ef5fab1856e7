//! Users, sessions and API tokens in SQL (`$n` placeholders run on both databases).

use super::{on_pool, SqlStore};
use crate::store::records::{Token, TokenRow, User, UserRow, TOKEN_COLUMNS, USER_COLUMNS};
use crate::store::Accounts;
use async_trait::async_trait;
use protocol::auth::Scope;

#[async_trait]
impl Accounts for SqlStore {
    async fn user(&self, name: &str) -> anyhow::Result<Option<User>> {
        let row: Option<UserRow> = on_pool!(self, pool => sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"))
                .bind(name)
                .fetch_optional(pool)
                .await?);
        row.map(UserRow::user).transpose()
    }

    async fn users(&self) -> anyhow::Result<Vec<User>> {
        let rows: Vec<UserRow> = on_pool!(self, pool => sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
                .fetch_all(pool)
                .await?);
        rows.into_iter().map(UserRow::user).collect()
    }

    async fn put_user(&self, u: &User, only_new: bool) -> anyhow::Result<bool> {
        let conflict = if only_new {
            "DO NOTHING"
        } else {
            "DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, \
             updated_at = excluded.updated_at"
        };
        Ok(on_pool!(self, pool => sqlx::query(&format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) {conflict}"
                ))
                .bind(&u.name)
                .bind(&u.password_hash)
                .bind(u.role.code())
                .bind(u.created_at)
                .bind(u.updated_at)
                .execute(pool)
                .await?
                .rows_affected() > 0))
    }

    async fn delete_user(&self, name: &str) -> anyhow::Result<bool> {
        Ok(
            on_pool!(self, pool => sqlx::query("DELETE FROM users WHERE name = $1").bind(name).execute(pool).await?.rows_affected() > 0),
        )
    }

    async fn session(&self, id: &str, now: i64) -> anyhow::Result<Option<(String, i64)>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await?),
        )
    }

    async fn put_session(
        &self,
        id: &str,
        data: &str,
        expires_at: i64,
        only_new: bool,
    ) -> anyhow::Result<bool> {
        let conflict = if only_new {
            "DO NOTHING"
        } else {
            "DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at"
        };
        Ok(on_pool!(self, pool => sqlx::query(&format!(
                    "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) {conflict}"
                ))
                .bind(id)
                .bind(data)
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected() > 0))
    }

    async fn delete_session(&self, id: &str) -> anyhow::Result<()> {
        on_pool!(self, pool => { sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(pool).await?; });
        Ok(())
    }

    async fn purge_sessions(&self, now: i64) -> anyhow::Result<u64> {
        Ok(
            on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(pool).await?.rows_affected()),
        )
    }

    async fn token(&self, id: &str) -> anyhow::Result<Option<Token>> {
        let row: Option<TokenRow> = on_pool!(self, pool => sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?);
        row.map(TokenRow::token).transpose()
    }

    async fn tokens(&self) -> anyhow::Result<Vec<Token>> {
        let rows: Vec<TokenRow> = on_pool!(self, pool => sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at DESC"))
                .fetch_all(pool)
                .await?);
        rows.into_iter().map(TokenRow::token).collect()
    }

    async fn put_token(&self, t: &Token) -> anyhow::Result<()> {
        let scopes = Scope::join(&t.scopes);
        on_pool!(self, pool => {
            sqlx::query(&format!(
                "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(&t.id)
            .bind(&t.name)
            .bind(&t.secret_hash)
            .bind(&scopes)
            .bind(&t.created_by)
            .bind(t.created_at)
            .bind(t.last_used_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn delete_token(&self, id: &str) -> anyhow::Result<bool> {
        Ok(
            on_pool!(self, pool => sqlx::query("DELETE FROM api_tokens WHERE id = $1").bind(id).execute(pool).await?.rows_affected() > 0),
        )
    }

    async fn touch_token(&self, id: &str, at: f64) -> anyhow::Result<()> {
        on_pool!(self, pool => { sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1").bind(id).bind(at).execute(pool).await?; });
        Ok(())
    }
}
