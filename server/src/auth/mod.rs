//! Who may do what. Every request but `/healthz`, the login page and static assets needs a
//! signed-in user (a server-side session) or an API token; each route needs a role or scope
//! ([`need_of`]); a change asked for by a session must carry its CSRF token. Sign-ins, sign-outs,
//! refusals and token and password changes go to the audit log.

pub mod guard;
pub mod login;
pub mod password;
pub mod sessions;
pub mod tokens;

pub use guard::guard;

use crate::store::auth::{Token, User};
use crate::store::Store;
use protocol::auth::AuditEntry;
use protocol::auth::{Role, Scope};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often every instance rereads the API tokens: a token revoked on another instance
/// stops working here within this.
pub const TOKENS_RELOAD: Duration = Duration::from_secs(30);
/// Shortest password taskdeck accepts.
pub const MIN_PASSWORD: usize = 8;
/// A session unused this long is over.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// The name of the account created on the first run.
pub const ADMIN: &str = "admin";

/// Who a request comes from, once authenticated.
#[derive(Clone, Debug, PartialEq)]
pub enum Principal {
    User {
        name: String,
        role: Role,
    },
    Token {
        id: String,
        name: String,
        scopes: Vec<Scope>,
    },
}

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any signed-in user or token (signing out).
    Any,
    Read,
    Ingest,
    Control,
    Admin,
}

impl Principal {
    /// How the audit log names it.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { name, .. } => format!("user:{name}"),
            Principal::Token { id, name, .. } => format!("token:{id} ({name})"),
        }
    }

    pub fn allows(&self, need: Need) -> bool {
        match self {
            Principal::User { role, .. } => match need {
                Need::Any | Need::Read => true,
                // Users do not post task events: that is what workers' tokens are for.
                Need::Ingest => false,
                Need::Control => *role >= Role::Operator,
                Need::Admin => *role == Role::Admin,
            },
            Principal::Token { scopes, .. } => match need {
                Need::Any => true,
                Need::Read => scopes.contains(&Scope::Read) || scopes.contains(&Scope::Control),
                Need::Ingest => scopes.contains(&Scope::Ingest),
                Need::Control => scopes.contains(&Scope::Control),
                Need::Admin => false,
            },
        }
    }
}

/// What a route needs, by method and path; `None` for what anyone may fetch.
pub fn need_of(method: &http::Method, path: &str) -> Option<Need> {
    let public = matches!(path, "/healthz" | "/login" | "/favicon.svg")
        || path.starts_with("/pkg/")
        || path.starts_with("/vendor/");
    if public {
        return None;
    }
    let safe = matches!(*method, http::Method::GET | http::Method::HEAD);
    Some(match path {
        "/logout" => Need::Any,
        "/api/v1/events" if !safe => Need::Ingest,
        p if ["/api/v1/users", "/api/v1/tokens", "/api/v1/audit"]
            .iter()
            .any(|a| p == *a || p.starts_with(&format!("{a}/"))) =>
        {
            Need::Admin
        }
        _ if safe => Need::Read,
        // Anything else that changes something is a command unless said otherwise.
        _ => Need::Control,
    })
}

/// Sign-in failures kept per client address and per account name.
#[derive(Default)]
struct Failures {
    by_key: HashMap<String, Vec<f64>>,
}

/// Sign-in attempts allowed per window: per address, and per account name.
pub const LIMIT_PER_IP: usize = 20;
pub const LIMIT_PER_NAME: usize = 5;
pub const LIMIT_WINDOW: f64 = 15.0 * 60.0;

impl Failures {
    fn recent(&mut self, key: &str, now: f64) -> &mut Vec<f64> {
        let list = self.by_key.entry(key.to_owned()).or_default();
        list.retain(|t| now - t < LIMIT_WINDOW);
        list
    }

    fn limited(&mut self, ip: &str, name: &str, now: f64) -> Option<u64> {
        let wait = |list: &Vec<f64>, limit: usize| {
            (list.len() >= limit)
                .then(|| (LIMIT_WINDOW - (now - list[list.len() - limit])).ceil() as u64)
        };
        let by_ip = wait(self.recent(&format!("ip:{ip}"), now), LIMIT_PER_IP);
        let by_name = wait(
            self.recent(&format!("name:{}", name.to_lowercase()), now),
            LIMIT_PER_NAME,
        );
        by_ip.max(by_name)
    }

    fn failed(&mut self, ip: &str, name: &str, now: f64) {
        self.recent(&format!("ip:{ip}"), now).push(now);
        self.recent(&format!("name:{}", name.to_lowercase()), now)
            .push(now);
        // Keys whose failures all aged out go, so the map cannot grow without bound.
        self.by_key
            .retain(|_, l| l.iter().any(|t| now - t < LIMIT_WINDOW));
    }

    fn succeeded(&mut self, name: &str) {
        self.by_key.remove(&format!("name:{}", name.to_lowercase()));
    }
}

/// Authentication state shared by every request of this instance.
pub struct Auth {
    pub store: Store,
    /// Sign-in rate limit. Per instance: behind a load balancer each instance counts its own.
    failures: Mutex<Failures>,
    /// When each token's `last_used_at` was last written (at most once a minute).
    touched: Mutex<HashMap<String, f64>>,
    /// Every token, reloaded every [`TOKENS_RELOAD`]: workers keep sending events while the
    /// store is away, and a request costs no store read. A token unknown here is looked up.
    tokens: std::sync::RwLock<HashMap<String, Token>>,
    /// Counts revocations, so a reload that read the store before one does not bring the
    /// revoked token back.
    revocations: std::sync::atomic::AtomicU64,
    pub secure_cookies: bool,
}

impl Auth {
    pub fn new(store: Store, secure_cookies: bool) -> Auth {
        Auth {
            store,
            failures: Mutex::default(),
            touched: Mutex::default(),
            tokens: Default::default(),
            revocations: Default::default(),
            secure_cookies,
        }
    }

    /// Seconds until `ip` or `name` may try again, when either used up its attempts.
    pub fn limited(&self, ip: &str, name: &str, now: f64) -> Option<u64> {
        self.failures.lock().unwrap().limited(ip, name, now)
    }

    pub fn failed(&self, ip: &str, name: &str, now: f64) {
        self.failures.lock().unwrap().failed(ip, name, now)
    }

    pub fn succeeded(&self, name: &str) {
        self.failures.lock().unwrap().succeeded(name)
    }

    /// The token `presented` names if its secret matches; `Err` when it had to be looked up
    /// and the store did not answer.
    pub async fn verify_token(&self, presented: &str) -> anyhow::Result<Option<Token>> {
        let Some((id, secret)) = tokens::split(presented) else {
            return Ok(None);
        };
        let seen = self.revocations.load(std::sync::atomic::Ordering::SeqCst);
        let cached = self.tokens.read().unwrap().get(id).cloned();
        let token = match cached {
            Some(t) => t,
            None => match self.store.token(id).await? {
                Some(t) => {
                    let mut tokens = self.tokens.write().unwrap();
                    if self.revocations.load(std::sync::atomic::Ordering::SeqCst) == seen {
                        tokens.insert(t.id.clone(), t.clone());
                    }
                    t
                }
                None => return Ok(None),
            },
        };
        Ok(tokens::matches(&token, secret).then_some(token))
    }

    /// A revoked token stops working here at once.
    pub fn forget_token(&self, id: &str) {
        let mut tokens = self.tokens.write().unwrap();
        self.revocations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokens.remove(id);
    }

    /// Replaces the cached tokens with the store's (revocations by other instances apply).
    pub async fn reload_tokens(&self) -> anyhow::Result<()> {
        let seen = self.revocations.load(std::sync::atomic::Ordering::SeqCst);
        let all = self.store.tokens().await?;
        let mut tokens = self.tokens.write().unwrap();
        // A revocation while the store was read: that read may still hold the token.
        if self.revocations.load(std::sync::atomic::Ordering::SeqCst) == seen {
            *tokens = all.into_iter().map(|t| (t.id.clone(), t)).collect();
        }
        Ok(())
    }

    /// Keeps the token cache fresh until `stop`.
    pub async fn run(self: std::sync::Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        loop {
            if let Err(e) = self.reload_tokens().await {
                tracing::warn!(error = %format!("{e:#}"), "cannot reload API tokens; keeping the known ones");
            }
            tokio::select! {
                _ = tokio::time::sleep(TOKENS_RELOAD) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Whether the token's last use should be written now.
    fn should_touch(&self, id: &str, now: f64) -> bool {
        let mut t = self.touched.lock().unwrap();
        match t.get(id) {
            Some(at) if now - at < 60.0 => false,
            _ => {
                t.insert(id.to_owned(), now);
                true
            }
        }
    }

    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
        ip: &str,
    ) {
        audit(&self.store, actor, action, target, outcome, detail, ip).await
    }
}

/// Writes an audit entry; a store that fails to take it is logged, never a reason to fail the
/// request that caused it.
pub async fn audit(
    store: &Store,
    actor: &str,
    action: &str,
    target: &str,
    outcome: &str,
    detail: &str,
    ip: &str,
) {
    let entry = AuditEntry {
        at: crate::ingest::now_epoch(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        outcome: outcome.to_owned(),
        detail: detail.to_owned(),
        ip: ip.to_owned(),
    };
    tracing::info!(actor, action, target, outcome, detail, ip, "audit");
    if let Err(e) = store.audit(&entry).await {
        tracing::error!(error = %format!("{e:#}"), action, "cannot write the audit log");
    }
}

/// Makes sure someone can sign in. With `TASKDECK_ADMIN_PASSWORD` the `admin` account gets that
/// password (created as admin if missing). Without it, the first run (no user at all) creates
/// `admin` with a generated password, printed once on standard error and never again.
pub async fn ensure_admin(store: &Store, password: Option<&str>) -> anyhow::Result<()> {
    let now = crate::ingest::now_epoch();
    let system = Auth::new(store.clone(), false);
    if let Some(password) = password {
        let existing = store.user(ADMIN).await?;
        if existing
            .as_ref()
            .is_some_and(|u| password::verify(password, &u.password_hash))
        {
            return Ok(());
        }
        store
            .put_user(
                &User {
                    name: ADMIN.into(),
                    password_hash: password::hash(password),
                    role: existing.as_ref().map_or(Role::Admin, |u| u.role),
                    created_at: now,
                    updated_at: now,
                },
                false,
            )
            .await?;
        system
            .audit(
                "system",
                "user.password",
                ADMIN,
                "ok",
                "set from TASKDECK_ADMIN_PASSWORD",
                "",
            )
            .await;
        return Ok(());
    }
    if !store.users().await?.is_empty() {
        return Ok(());
    }
    let generated = password::generate();
    let created = store
        .put_user(
            &User {
                name: ADMIN.into(),
                password_hash: password::hash(&generated),
                role: Role::Admin,
                created_at: now,
                updated_at: now,
            },
            true,
        )
        .await?;
    // Another instance starting at the same moment may have created it first: its password
    // stands, and it printed it.
    if created {
        eprintln!(
            "\n  taskdeck: first run — sign in as `{ADMIN}` with the password\n\n      {generated}\n\n  \
             It is shown only now. Set another with TASKDECK_ADMIN_PASSWORD.\n"
        );
        system
            .audit(
                "system",
                "user.create",
                ADMIN,
                "ok",
                "first run: generated password",
                "",
            )
            .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn routes_need_what_they_change() {
        assert_eq!(need_of(&Method::GET, "/healthz"), None);
        assert_eq!(need_of(&Method::POST, "/login"), None);
        assert_eq!(need_of(&Method::GET, "/pkg/taskdeck.wasm"), None);
        assert_eq!(need_of(&Method::GET, "/"), Some(Need::Read));
        assert_eq!(need_of(&Method::GET, "/api/v1/tasks"), Some(Need::Read));
        assert_eq!(need_of(&Method::GET, "/metrics"), Some(Need::Read));
        assert_eq!(need_of(&Method::POST, "/api/v1/events"), Some(Need::Ingest));
        assert_eq!(need_of(&Method::GET, "/api/v1/audit"), Some(Need::Admin));
        assert_eq!(
            need_of(&Method::DELETE, "/api/v1/tokens/x"),
            Some(Need::Admin)
        );
        assert_eq!(need_of(&Method::GET, "/api/v1/usersx"), Some(Need::Read));
        assert_eq!(
            need_of(&Method::POST, "/api/v1/queues/q/pause"),
            Some(Need::Control)
        );
        assert_eq!(need_of(&Method::POST, "/logout"), Some(Need::Any));
        // A path that looks public only by a prefix of its name is not.
        assert_eq!(need_of(&Method::GET, "/pkgs"), Some(Need::Read));
    }

    #[test]
    fn roles_and_scopes_allow_in_order() {
        let user = |role| Principal::User {
            name: "u".into(),
            role,
        };
        let token = |scopes: &[Scope]| Principal::Token {
            id: "i".into(),
            name: "n".into(),
            scopes: scopes.to_vec(),
        };
        assert!(user(Role::Viewer).allows(Need::Read));
        assert!(!user(Role::Viewer).allows(Need::Control));
        assert!(user(Role::Operator).allows(Need::Control));
        assert!(!user(Role::Operator).allows(Need::Admin));
        assert!(user(Role::Admin).allows(Need::Admin));
        assert!(!user(Role::Admin).allows(Need::Ingest));
        assert!(token(&[Scope::Ingest]).allows(Need::Ingest));
        assert!(!token(&[Scope::Ingest]).allows(Need::Read));
        assert!(token(&[Scope::Control]).allows(Need::Read));
        assert!(!token(&[Scope::Read]).allows(Need::Control));
        assert!(!token(&Scope::ALL).allows(Need::Admin));
    }

    #[test]
    fn sign_in_failures_are_limited_per_name_and_address() {
        let mut auth = Failures::default();
        for i in 0..LIMIT_PER_NAME {
            assert_eq!(auth.limited("1.2.3.4", "Admin", 100.0 + i as f64), None);
            auth.failed("1.2.3.4", "Admin", 100.0 + i as f64);
        }
        let wait = auth
            .limited("5.6.7.8", "admin", 110.0)
            .expect("the name is limited from any address");
        assert_eq!(wait, (LIMIT_WINDOW - 10.0) as u64);
        assert_eq!(
            auth.limited("1.2.3.4", "bob", 110.0),
            None,
            "other names still may try"
        );
        assert_eq!(
            auth.limited("1.2.3.4", "admin", 100.0 + LIMIT_WINDOW + 5.0),
            None,
            "the window passes"
        );
        auth.succeeded("admin");
        assert_eq!(auth.limited("1.2.3.4", "admin", 111.0), None);
    }
}
