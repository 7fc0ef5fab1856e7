//! Who is asking: users' roles, API tokens' scopes, and what the UI knows of the signed-in user.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's role. Each includes what the ones before it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Also sends commands to queues and tasks.
    Operator,
    /// Also manages users and API tokens and reads the audit log.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The role's name in the API, the store and the command line.
    pub fn code(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| format!("unknown role `{s}`: expected viewer, operator or admin"))
    }
}

/// What an API token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send task events (`POST /api/v1/events`): for workers.
    Ingest,
    /// Read every API route and live stream.
    Read,
    /// Send commands (pause, kill, …); includes `read`.
    Control,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Read, Scope::Control];

    /// The scope's name in the API, the store and `--scope`.
    pub fn code(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Control => "control",
        }
    }

    /// `ingest,read` → the scopes, each known and named once.
    pub fn parse_list(s: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|x| x.code() == part)
                .ok_or_else(|| {
                    format!("unknown scope `{part}`: expected ingest, read or control")
                })?;
            scopes.push(scope);
        }
        Scope::canonical(scopes)
    }

    /// Each scope once, in order; at least one.
    pub fn canonical(mut scopes: Vec<Scope>) -> Result<Vec<Scope>, String> {
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err("a token needs at least one scope: ingest, read or control".into());
        }
        Ok(scopes)
    }

    /// `ingest,read` — what [`Scope::parse_list`] reads back.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.code())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The signed-in user as the pages see them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// The user's name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Sent back with every change the page asks for (`x-csrf-token` or the form field
    /// `csrf`).
    pub csrf: String,
}

/// What the caller of a page or server function may do, as the gate found it (a user's role
/// or a token's scopes). Server functions check it themselves, so a page rendered by mistake
/// for someone the gate did not let through carries no data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// May read queues, tasks and workers.
    pub read: bool,
    /// May send commands.
    pub control: bool,
    /// May manage users and tokens and read the audit log.
    pub admin: bool,
}

/// A user as the API shows it (never its password hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    /// 1–64 letters, digits, `.`, `_`, `-` or `@`.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// When it was created, epoch seconds.
    pub created_at: f64,
    /// When the role or password last changed, epoch seconds.
    pub updated_at: f64,
}

/// Creates a user or changes one: a new user needs both fields; an existing one changes what
/// is given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct UserChange {
    /// The new role (required for a new user).
    pub role: Option<Role>,
    /// At least 8 characters.
    pub password: Option<String>,
}

/// An API token as the API shows it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// Its public part (`td_<id>_…`), which names it in the audit log.
    pub id: String,
    /// Says who uses it.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Who created it (`user:<name>`, or `cli` for the command line).
    pub created_by: String,
    /// Epoch seconds.
    pub created_at: f64,
    /// When it last let a request in, epoch seconds (updated at most once a minute).
    pub last_used_at: Option<f64>,
}

/// A token to create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Says who uses it, e.g. `orders workers`.
    pub name: String,
    /// What it may do: `ingest`, `read`, `control` (at least one).
    pub scopes: Vec<Scope>,
}

/// A token just created, with the only copy of its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    /// The token as listed from now on.
    pub token: TokenInfo,
    /// Send as `Authorization: Bearer <value>`. Shown once; only a hash is kept.
    pub value: String,
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Epoch seconds.
    pub at: f64,
    /// `user:<name>`, `token:<id> (<name>)`, `anonymous` or `system`.
    pub actor: String,
    /// What was done, e.g. `login`, `pause`, `user.put`, `token.create`.
    pub action: String,
    /// What it was done to: a user, a token id, a queue, or `queue/task`.
    pub target: String,
    /// `ok`, `failed`, `denied`, `limited`.
    pub outcome: String,
    /// What changed, or why it was refused (at most 1 KiB).
    pub detail: String,
    /// The client's address, empty for the system.
    pub ip: String,
}

/// Newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// At most the page's limit.
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `next_before` is a cursor compared with `<`: one unit in the last place lost on the way
    /// through JSON repeats or skips an entry (serde_json parses exactly only with its
    /// `float_roundtrip` feature).
    #[test]
    fn cursors_survive_json_exactly() {
        let mut at = 1_796_459_186.895_318_5_f64;
        for _ in 0..10_000 {
            at = f64::from_bits(at.to_bits() + 1);
            let page = AuditPage {
                entries: vec![],
                next_before: Some(at),
            };
            let back: AuditPage =
                serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
            assert_eq!(back.next_before.map(f64::to_bits), Some(at.to_bits()));
        }
    }

    #[test]
    fn roles_and_scopes_read_back() {
        for r in Role::ALL {
            assert_eq!(r.code().parse::<Role>(), Ok(r));
        }
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert!("root"
            .parse::<Role>()
            .unwrap_err()
            .contains("unknown role `root`"));
        assert_eq!(
            Scope::parse_list(" read, ingest,read"),
            Ok(vec![Scope::Ingest, Scope::Read])
        );
        assert!(Scope::parse_list("read,write")
            .unwrap_err()
            .contains("unknown scope `write`"));
        assert!(Scope::parse_list(" , ").is_err());
        assert_eq!(
            Scope::join(&[Scope::Ingest, Scope::Control]),
            "ingest,control"
        );
    }
}
