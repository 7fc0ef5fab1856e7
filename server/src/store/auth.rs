//! Users, sessions, API tokens and the audit log in whichever store taskdeck uses, so several
//! instances behind a load balancer share them. SQLite and Postgres run the same statements
//! (`$n` placeholders work in both); MongoDB keeps one collection each in taskdeck's database.

use super::Store;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use protocol::auth::{AuditEntry, Role, Scope};

/// Runs `$sql` (an expression using the pool `$pool`) on either SQL store, `$mongo` otherwise.
#[macro_export]
macro_rules! by_store {
    ($store:expr, $pool:ident => $sql:expr, $m:ident => $mongo:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $sql,
            $crate::store::Store::Postgres($pool) => $sql,
            $crate::store::Store::Mongodb($m) => $mongo,
        }
    };
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: f64,
    pub updated_at: f64,
}

impl User {
    /// As the API shows it (without the hash).
    pub fn info(self) -> protocol::auth::UserInfo {
        protocol::auth::UserInfo {
            name: self.name,
            role: self.role,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    name: String,
    password_hash: String,
    role: String,
    created_at: f64,
    updated_at: f64,
}

impl UserRow {
    fn user(self) -> anyhow::Result<User> {
        Ok(User {
            role: self.role.parse().map_err(anyhow::Error::msg)?,
            name: self.name,
            password_hash: self.password_hash,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    fn from_doc(d: &Document) -> anyhow::Result<UserRow> {
        Ok(UserRow {
            name: d.get_str("_id")?.to_owned(),
            password_hash: d.get_str("password_hash")?.to_owned(),
            role: d.get_str("role")?.to_owned(),
            created_at: d.get_f64("created_at")?,
            updated_at: d.get_f64("updated_at")?,
        })
    }
}

/// An API token as stored: the secret itself is never kept, only its SHA-256.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
    pub created_by: String,
    pub created_at: f64,
    pub last_used_at: Option<f64>,
}

impl Token {
    /// As the API shows it (without the secret's hash).
    pub fn info(self) -> protocol::auth::TokenInfo {
        protocol::auth::TokenInfo {
            id: self.id,
            name: self.name,
            scopes: self.scopes,
            created_by: self.created_by,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    name: String,
    secret_hash: String,
    scopes: String,
    created_by: String,
    created_at: f64,
    last_used_at: Option<f64>,
}

impl TokenRow {
    fn token(self) -> anyhow::Result<Token> {
        Ok(Token {
            scopes: Scope::parse_list(&self.scopes).map_err(anyhow::Error::msg)?,
            id: self.id,
            name: self.name,
            secret_hash: self.secret_hash,
            created_by: self.created_by,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        })
    }

    fn from_doc(d: &Document) -> anyhow::Result<TokenRow> {
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
}

const USER_COLUMNS: &str = "name, password_hash, role, created_at, updated_at";
const TOKEN_COLUMNS: &str = "id, name, secret_hash, scopes, created_by, created_at, last_used_at";

impl Store {
    pub async fn ensure_auth_indexes(&self) -> anyhow::Result<()> {
        if let Store::Mongodb(m) = self {
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
        }
        Ok(())
    }

    pub async fn user(&self, name: &str) -> anyhow::Result<Option<User>> {
        let row: Option<UserRow> = by_store!(self,
            pool => sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"))
                .bind(name)
                .fetch_optional(pool)
                .await?,
            m => match m.own().collection::<Document>("users").find_one(doc! { "_id": name }).await? {
                Some(d) => Some(UserRow::from_doc(&d)?),
                None => None,
            }
        );
        row.map(UserRow::user).transpose()
    }

    /// Every user, by name.
    pub async fn users(&self) -> anyhow::Result<Vec<User>> {
        let rows: Vec<UserRow> = by_store!(self,
            pool => sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
                .fetch_all(pool)
                .await?,
            m => {
                let mut cursor = m.own().collection::<Document>("users").find(doc! {}).sort(doc! { "_id": 1 }).await?;
                let mut rows = Vec::new();
                while cursor.advance().await? {
                    rows.push(UserRow::from_doc(&cursor.deserialize_current()?)?);
                }
                rows
            }
        );
        rows.into_iter().map(UserRow::user).collect()
    }

    /// Creates the user or replaces its hash and role (keeping when it was created); with
    /// `only_new` an existing user is left alone and false returned.
    pub async fn put_user(&self, u: &User, only_new: bool) -> anyhow::Result<bool> {
        let conflict = if only_new {
            "DO NOTHING"
        } else {
            "DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, \
             updated_at = excluded.updated_at"
        };
        Ok(by_store!(self,
            pool => sqlx::query(&format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) {conflict}"
                ))
                .bind(&u.name)
                .bind(&u.password_hash)
                .bind(u.role.code())
                .bind(u.created_at)
                .bind(u.updated_at)
                .execute(pool)
                .await?
                .rows_affected() > 0,
            m => {
                let users = m.own().collection::<Document>("users");
                if only_new {
                    let d = doc! {
                        "_id": &u.name, "password_hash": &u.password_hash, "role": u.role.code(),
                        "created_at": u.created_at, "updated_at": u.updated_at,
                    };
                    match users.insert_one(d).await {
                        Ok(_) => true,
                        Err(e) if duplicate_key(&e) => false,
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    users.update_one(
                        doc! { "_id": &u.name },
                        doc! {
                            "$set": { "password_hash": &u.password_hash, "role": u.role.code(), "updated_at": u.updated_at },
                            "$setOnInsert": { "created_at": u.created_at },
                        },
                    ).upsert(true).await?;
                    true
                }
            }
        ))
    }

    /// Removes the user and every session it has; true when it existed.
    pub async fn delete_user(&self, name: &str) -> anyhow::Result<bool> {
        Ok(by_store!(self,
            pool => sqlx::query("DELETE FROM users WHERE name = $1").bind(name).execute(pool).await?.rows_affected() > 0,
            m => m.own().collection::<Document>("users").delete_one(doc! { "_id": name }).await?.deleted_count > 0
        ))
    }

    pub async fn session(&self, id: &str, now: i64) -> anyhow::Result<Option<(String, i64)>> {
        Ok(by_store!(self,
            pool => sqlx::query_as("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id)
                .bind(now)
                .fetch_optional(pool)
                .await?,
            m => match m.own().collection::<Document>("sessions").find_one(doc! { "_id": id }).await? {
                Some(d) => {
                    let expires = d.get_datetime("expires")?.timestamp_millis() / 1000;
                    (expires > now).then(|| Ok::<_, anyhow::Error>((d.get_str("data")?.to_owned(), expires))).transpose()?
                }
                None => None,
            }
        ))
    }

    /// Stores a session; with `only_new` it refuses (returns false) an id already taken.
    pub async fn put_session(
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
        Ok(by_store!(self,
            pool => sqlx::query(&format!(
                    "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) {conflict}"
                ))
                .bind(id)
                .bind(data)
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected() > 0,
            m => {
                let sessions = m.own().collection::<Document>("sessions");
                let expires = mongodb::bson::DateTime::from_millis(expires_at.saturating_mul(1000));
                if only_new {
                    match sessions.insert_one(doc! { "_id": id, "data": data, "expires": expires }).await {
                        Ok(_) => true,
                        Err(e) if duplicate_key(&e) => false,
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    sessions.update_one(doc! { "_id": id }, doc! { "$set": { "data": data, "expires": expires } }).upsert(true).await?;
                    true
                }
            }
        ))
    }

    pub async fn delete_session(&self, id: &str) -> anyhow::Result<()> {
        by_store!(self,
            pool => { sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(pool).await?; },
            m => { m.own().collection::<Document>("sessions").delete_one(doc! { "_id": id }).await?; }
        );
        Ok(())
    }

    /// Removes sessions that expired before `now` (MongoDB's TTL index does it by itself).
    pub async fn purge_sessions(&self, now: i64) -> anyhow::Result<u64> {
        Ok(by_store!(self,
            pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(pool).await?.rows_affected(),
            _m => 0
        ))
    }

    pub async fn token(&self, id: &str) -> anyhow::Result<Option<Token>> {
        let row: Option<TokenRow> = by_store!(self,
            pool => sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?,
            m => match m.own().collection::<Document>("api_tokens").find_one(doc! { "_id": id }).await? {
                Some(d) => Some(TokenRow::from_doc(&d)?),
                None => None,
            }
        );
        row.map(TokenRow::token).transpose()
    }

    /// Every token, newest first.
    pub async fn tokens(&self) -> anyhow::Result<Vec<Token>> {
        let rows: Vec<TokenRow> = by_store!(self,
            pool => sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at DESC"))
                .fetch_all(pool)
                .await?,
            m => {
                let mut cursor = m.own().collection::<Document>("api_tokens").find(doc! {}).sort(doc! { "created_at": -1 }).await?;
                let mut rows = Vec::new();
                while cursor.advance().await? {
                    rows.push(TokenRow::from_doc(&cursor.deserialize_current()?)?);
                }
                rows
            }
        );
        rows.into_iter().map(TokenRow::token).collect()
    }

    pub async fn put_token(&self, t: &Token) -> anyhow::Result<()> {
        let scopes = Scope::join(&t.scopes);
        by_store!(self,
            pool => {
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
            },
            m => {
                m.own().collection::<Document>("api_tokens").insert_one(doc! {
                    "_id": &t.id, "name": &t.name, "secret_hash": &t.secret_hash, "scopes": &scopes,
                    "created_by": &t.created_by, "created_at": t.created_at,
                }).await?;
            }
        );
        Ok(())
    }

    /// Revokes a token; true when it existed.
    pub async fn delete_token(&self, id: &str) -> anyhow::Result<bool> {
        Ok(by_store!(self,
            pool => sqlx::query("DELETE FROM api_tokens WHERE id = $1").bind(id).execute(pool).await?.rows_affected() > 0,
            m => m.own().collection::<Document>("api_tokens").delete_one(doc! { "_id": id }).await?.deleted_count > 0
        ))
    }

    pub async fn touch_token(&self, id: &str, at: f64) -> anyhow::Result<()> {
        by_store!(self,
            pool => { sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1").bind(id).bind(at).execute(pool).await?; },
            m => { m.own().collection::<Document>("api_tokens").update_one(doc! { "_id": id }, doc! { "$set": { "last_used_at": at } }).await?; }
        );
        Ok(())
    }

    pub async fn audit(&self, e: &AuditEntry) -> anyhow::Result<()> {
        by_store!(self,
            pool => {
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
            },
            m => {
                m.own().collection::<Document>("audit").insert_one(doc! {
                    "at": e.at, "actor": &e.actor, "action": &e.action, "target": &e.target,
                    "outcome": &e.outcome, "detail": &e.detail, "ip": &e.ip,
                }).await?;
            }
        );
        Ok(())
    }

    /// The newest `limit` audit entries before `before` (all when `None`) whose actor, action,
    /// target, outcome or detail contains `text`, newest first.
    pub async fn audit_log(
        &self,
        text: &str,
        before: Option<f64>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        let before = before.unwrap_or(f64::MAX);
        Ok(by_store!(self,
            pool => {
                let like = format!("%{}%", super::query::like_escape(text));
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
            },
            m => {
                let mut filter = doc! { "at": { "$lt": before } };
                if !text.is_empty() {
                    let re = mongodb::bson::Regex { pattern: regex_escape(text), options: "i".into() };
                    filter.insert("$or", ["actor", "action", "target", "outcome", "detail"].map(|f| doc! { f: re.clone() }).to_vec());
                }
                let mut cursor = m.own().collection::<Document>("audit").find(filter).sort(doc! { "at": -1 }).limit(i64::from(limit)).await?;
                let mut out = Vec::new();
                while cursor.advance().await? {
                    let d = cursor.deserialize_current()?;
                    let at = d.get_f64("at")?;
                    let s = |k: &str| d.get_str(k).unwrap_or_default().to_owned();
                    out.push(AuditEntry {
                        at,
                        actor: s("actor"), action: s("action"), target: s("target"),
                        outcome: s("outcome"), detail: s("detail"), ip: s("ip"),
                    });
                }
                out
            }
        ))
    }
}

fn duplicate_key(e: &mongodb::error::Error) -> bool {
    matches!(
        *e.kind,
        mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(ref w)) if w.code == 11000
    )
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
