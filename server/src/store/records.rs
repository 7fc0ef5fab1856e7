//! What the store keeps, as taskdeck's code handles it (each backend maps it to its rows or
//! documents).

pub use protocol::auth::AuditEntry;
use protocol::auth::{Role, Scope};
use protocol::control::{Action, Outcome};

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

/// A command as recorded (its effect is read from heartbeats and task records when asked).
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRow {
    pub id: String,
    pub requested_at: f64,
    pub sent_at: Option<f64>,
    pub actor: String,
    pub action: Action,
    pub queue: String,
    pub task_id: Option<String>,
    pub version: Option<i64>,
    /// What sending it did.
    pub outcome: Option<Outcome>,
    /// Why sending failed, when it did.
    pub detail: String,
}

impl CommandRow {
    /// The outcome as the store keeps it (JSON text).
    pub fn outcome_json(&self) -> Option<String> {
        self.outcome
            .as_ref()
            .and_then(|o| serde_json::to_string(o).ok())
    }
}

/// A command as a backend reads it, before its action and outcome are checked.
#[derive(sqlx::FromRow)]
pub(super) struct StoredCommand {
    pub id: String,
    pub requested_at: f64,
    pub sent_at: Option<f64>,
    pub actor: String,
    pub action: String,
    pub queue: String,
    pub task_id: Option<String>,
    pub version: Option<i64>,
    pub outcome: Option<String>,
    pub detail: String,
}

impl StoredCommand {
    /// The command, or `None` (with a warning) for an action this version does not know — a
    /// row a newer taskdeck wrote is left out rather than misread.
    pub fn row(self) -> Option<CommandRow> {
        let Some(action) = Action::from_code(&self.action) else {
            tracing::warn!(id = %self.id, action = %self.action, "a command with an unknown action is left out");
            return None;
        };
        Some(CommandRow {
            id: self.id,
            requested_at: self.requested_at,
            sent_at: self.sent_at,
            actor: self.actor,
            action,
            queue: self.queue,
            task_id: self.task_id,
            version: self.version,
            outcome: self.outcome.and_then(|o| serde_json::from_str(&o).ok()),
            detail: self.detail,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: f64,
    pub updated_at: f64,
}

impl UserRow {
    pub fn user(self) -> anyhow::Result<User> {
        Ok(User {
            role: self.role.parse().map_err(anyhow::Error::msg)?,
            name: self.name,
            password_hash: self.password_hash,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_by: String,
    pub created_at: f64,
    pub last_used_at: Option<f64>,
}

impl TokenRow {
    pub fn token(self) -> anyhow::Result<Token> {
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
}

pub(super) const USER_COLUMNS: &str = "name, password_hash, role, created_at, updated_at";
pub(super) const TOKEN_COLUMNS: &str =
    "id, name, secret_hash, scopes, created_by, created_at, last_used_at";

pub(super) const COMMAND_COLUMNS: &str =
    "id, requested_at, sent_at, actor, action, queue, task_id, version, outcome, detail";

/// An event that could not be read, kept with the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub received_at: f64,
    /// Where it came from: `http`, `redis`, `memory`, or `store` for an event the store
    /// refused.
    pub source: String,
    pub error: String,
    /// The event as received (truncated to 64 KiB).
    pub payload: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Records inserted or moved forward by this batch.
    pub changed: usize,
    /// Records that reached a final state with this batch (counted in the charts).
    pub finished: usize,
}
