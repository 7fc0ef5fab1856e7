//! Who may do what. Every request but `/healthz`, the login page and static assets needs a
//! signed-in user (a server-side session) or an API token; each route needs a role or scope
//! ([`need_of`]); a change asked for by a session must carry its CSRF token. Sign-ins, sign-outs,
//! refusals and token and password changes go to the audit log.

pub mod accounts;
pub mod client;
pub mod guard;
pub mod login;
pub mod password;
pub mod sessions;
pub mod tokens;

pub use accounts::Requester;
pub use guard::guard;

use crate::store::Store;
use crate::store::{Token, User};
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
    // Exact paths: the router serves these two routes only at exactly these paths, and the
    // static assets never reach the gate (they have a file service of their own).
    if matches!(path, "/healthz" | "/login") {
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

/// Sign-in throttling, built so that an attacker cannot lock the real user out:
///
/// - a **name from one address** that failed [`LIMIT_PER_PAIR`] times in [`LIMIT_WINDOW`] is
///   refused (429) until the oldest failure ages out — only that pair;
/// - a **name** that failed [`SLOW_NAME_AFTER`] times (from anywhere) makes every attempt on it
///   wait, doubling from 250 ms up to [`MAX_NAME_DELAY`]: guessing from many addresses is slow,
///   and its owner, from an address without failures, still signs in;
/// - an **address** that failed [`SLOW_ADDRESS_AFTER`] times (any names) waits likewise, up to
///   [`MAX_ADDRESS_DELAY`]: spraying one password over many names is slow, and people behind the
///   same proxy are slowed, never refused (tell taskdeck the proxy with `--trusted-proxies` and
///   it counts the real clients).
///
/// The wait comes before the password is checked, whatever its outcome, so it tells nothing.
/// Counted per instance.
#[derive(Default)]
struct Throttle {
    by_pair: HashMap<(String, String), Vec<f64>>,
    by_name: HashMap<String, Vec<f64>>,
    by_address: HashMap<String, Vec<f64>>,
}

pub const LIMIT_PER_PAIR: usize = 5;
pub const SLOW_NAME_AFTER: usize = 5;
pub const SLOW_ADDRESS_AFTER: usize = 20;
pub const MAX_NAME_DELAY: Duration = Duration::from_secs(2);
pub const MAX_ADDRESS_DELAY: Duration = Duration::from_secs(5);
pub const LIMIT_WINDOW: f64 = 15.0 * 60.0;
/// Keys kept at most per kind: beyond, new names and addresses are not tracked one by one
/// (each failure costs an argon2 hash, so reaching it takes a long time).
const THROTTLE_KEYS: usize = 100_000;

/// What a sign-in attempt may do now.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Refused: this name from this address may try again in so many seconds.
    Refuse(u64),
    /// May try after waiting this long.
    Wait(Duration),
}

/// The name as throttling keys it: case-insensitive, and no longer than a user name can be.
fn name_key(name: &str) -> String {
    protocol::cut(name.to_lowercase(), 64)
}

fn recent(list: &mut Vec<f64>, now: f64) -> usize {
    list.retain(|t| now - t < LIMIT_WINDOW);
    list.len()
}

/// 250 ms after the first failure over `after`, doubling, at most `max`.
fn slowdown(failures: usize, after: usize, max: Duration) -> Duration {
    let excess = failures.saturating_sub(after);
    if excess == 0 {
        return Duration::ZERO;
    }
    let d = Duration::from_millis(250).saturating_mul(1 << (excess - 1).min(16) as u32);
    d.min(max)
}

impl Throttle {
    fn verdict(&mut self, ip: &str, name: &str, now: f64) -> Verdict {
        let name = name_key(name);
        if let Some(list) = self.by_pair.get_mut(&(name.clone(), ip.to_owned())) {
            if recent(list, now) >= LIMIT_PER_PAIR {
                let oldest = list[list.len() - LIMIT_PER_PAIR];
                return Verdict::Refuse((LIMIT_WINDOW - (now - oldest)).ceil().max(1.0) as u64);
            }
        }
        let by_name = self.by_name.get_mut(&name).map_or(0, |l| recent(l, now));
        let by_address = self.by_address.get_mut(ip).map_or(0, |l| recent(l, now));
        Verdict::Wait(
            slowdown(by_name, SLOW_NAME_AFTER, MAX_NAME_DELAY).max(slowdown(
                by_address,
                SLOW_ADDRESS_AFTER,
                MAX_ADDRESS_DELAY,
            )),
        )
    }

    fn failed(&mut self, ip: &str, name: &str, now: f64) {
        let name = name_key(name);
        fn note<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<f64>>, key: K, now: f64) {
            if map.len() >= THROTTLE_KEYS && !map.contains_key(&key) {
                map.retain(|_, l| recent(l, now) > 0);
                if map.len() >= THROTTLE_KEYS {
                    return;
                }
            }
            map.entry(key).or_default().push(now);
        }
        note(&mut self.by_pair, (name.clone(), ip.to_owned()), now);
        note(&mut self.by_name, name, now);
        note(&mut self.by_address, ip.to_owned(), now);
    }

    /// The right password from this address: its own failures for this name are forgiven
    /// (the name's and the address's totals stay: they slow whoever guesses).
    fn succeeded(&mut self, ip: &str, name: &str) {
        self.by_pair.remove(&(name_key(name), ip.to_owned()));
    }
}

/// Authentication state shared by every request of this instance.
pub struct Auth {
    pub store: Store,
    /// Sign-in throttling. Per instance: behind a load balancer each instance counts its own.
    throttle: Mutex<Throttle>,
    /// When each token's `last_used_at` was last written (at most once a minute).
    touched: Mutex<HashMap<String, f64>>,
    /// Anonymous refusals of the current minute, for the audit log's rate limit.
    anonymous: Mutex<Anonymous>,
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
            throttle: Mutex::default(),
            touched: Mutex::default(),
            anonymous: Mutex::default(),
            tokens: Default::default(),
            revocations: Default::default(),
            secure_cookies,
        }
    }

    /// Whether a sign-in as `name` from `ip` may go ahead now, and after how long a wait.
    pub fn sign_in_verdict(&self, ip: &str, name: &str, now: f64) -> Verdict {
        self.throttle.lock().unwrap().verdict(ip, name, now)
    }

    pub fn failed(&self, ip: &str, name: &str, now: f64) {
        self.throttle.lock().unwrap().failed(ip, name, now)
    }

    pub fn succeeded(&self, ip: &str, name: &str) {
        self.throttle.lock().unwrap().succeeded(ip, name)
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

    /// Keeps the token cache fresh and writes the anonymous refusals' summaries until `stop`.
    pub async fn run(self: std::sync::Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let mut reload = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= reload {
                if let Err(e) = self.reload_tokens().await {
                    tracing::warn!(error = %format!("{e:#}"), "cannot reload API tokens; keeping the known ones");
                }
                reload = tokio::time::Instant::now() + TOKENS_RELOAD;
            }
            self.flush_anonymous().await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stop.cancelled() => {
                    let later = crate::model::now_epoch() + 120.0;
                    let due = self.anonymous.lock().unwrap().due(later);
                    self.write_summaries(due).await;
                    return;
                }
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

    /// Writes an audit entry. Refusals of anonymous callers (failed sign-ins, unknown
    /// tokens) are written one by one only up to [`ANONYMOUS_ROWS`] a minute per address and
    /// kind; the rest are counted and written as one entry when the minute is over, so nobody
    /// can grow the log by sending requests.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
        ip: &str,
    ) {
        let now = crate::model::now_epoch();
        if actor == ANONYMOUS {
            let (write, due) = self
                .anonymous
                .lock()
                .unwrap()
                .note(ip, action, outcome, now);
            self.write_summaries(due).await;
            if !write {
                return;
            }
        }
        audit(&self.store, actor, action, target, outcome, detail, ip).await
    }

    /// Writes the summaries of the anonymous refusals whose minute is over.
    pub async fn flush_anonymous(&self) {
        let now = crate::model::now_epoch();
        let due = self.anonymous.lock().unwrap().due(now);
        self.write_summaries(due).await;
    }

    async fn write_summaries(&self, due: Vec<Summary>) {
        for s in due {
            let detail = format!(
                "{} more {} {} from {} in the minute from {} (not written one by one)",
                s.count,
                s.action,
                s.outcome,
                s.ip,
                chrono::DateTime::from_timestamp(s.since as i64, 0)
                    .map(|t| t.format("%H:%M:%S UTC").to_string())
                    .unwrap_or_default()
            );
            audit(
                &self.store,
                ANONYMOUS,
                &s.action,
                "",
                &s.outcome,
                &detail,
                &s.ip,
            )
            .await;
        }
    }
}

/// How the audit log names a caller it does not know.
pub const ANONYMOUS: &str = "anonymous";
/// Anonymous refusals written one by one per address, kind and minute.
pub const ANONYMOUS_ROWS: u32 = 5;
/// Addresses and kinds tracked at once; beyond, refusals are counted under address `*`.
const ANONYMOUS_KEYS: usize = 10_000;

/// Anonymous refusals per (address, action, outcome) in the current minute.
#[derive(Default)]
struct Anonymous {
    windows: HashMap<(String, String, String), Window>,
}

struct Window {
    since: f64,
    written: u32,
    suppressed: u64,
}

/// Refusals counted but not written one by one.
#[derive(Debug, PartialEq)]
struct Summary {
    ip: String,
    action: String,
    outcome: String,
    since: f64,
    count: u64,
}

impl Anonymous {
    /// Whether this refusal is written on its own, and the summaries now due.
    fn note(&mut self, ip: &str, action: &str, outcome: &str, now: f64) -> (bool, Vec<Summary>) {
        let due = self.due(now);
        let ip = if self.windows.len() >= ANONYMOUS_KEYS
            && !self
                .windows
                .contains_key(&(ip.to_owned(), action.to_owned(), outcome.to_owned()))
        {
            "*"
        } else {
            ip
        };
        let w = self
            .windows
            .entry((ip.to_owned(), action.to_owned(), outcome.to_owned()))
            .or_insert(Window {
                since: now,
                written: 0,
                suppressed: 0,
            });
        let write = w.written < ANONYMOUS_ROWS;
        if write {
            w.written += 1;
        } else {
            w.suppressed += 1;
        }
        (write, due)
    }

    /// Ends the windows a minute old, with a summary for those that counted refusals.
    fn due(&mut self, now: f64) -> Vec<Summary> {
        let mut out = Vec::new();
        self.windows.retain(|(ip, action, outcome), w| {
            if now - w.since < 60.0 {
                return true;
            }
            if w.suppressed > 0 {
                out.push(Summary {
                    ip: ip.clone(),
                    action: action.clone(),
                    outcome: outcome.clone(),
                    since: w.since,
                    count: w.suppressed,
                });
            }
            false
        });
        out
    }
}

/// Longest audited field, in bytes (the detail: [`AUDIT_DETAIL`]); what is longer is cut and
/// its length noted.
pub const AUDIT_FIELD: usize = 256;
pub const AUDIT_DETAIL: usize = 1024;

/// `s` within `max` bytes: cut, with its original length, when longer.
fn bounded(s: &str, max: usize) -> String {
    let clean = protocol::text::storable(s.to_owned(), usize::MAX);
    if clean.len() <= max {
        return clean;
    }
    format!("{} ({} bytes)", protocol::cut(clean, max), s.len())
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
        at: crate::model::now_epoch(),
        actor: bounded(actor, AUDIT_FIELD),
        action: bounded(action, AUDIT_FIELD),
        target: bounded(target, AUDIT_FIELD),
        outcome: bounded(outcome, AUDIT_FIELD),
        detail: bounded(detail, AUDIT_DETAIL),
        ip: bounded(ip, AUDIT_FIELD),
    };
    tracing::info!(actor = %entry.actor, action = %entry.action, target = %entry.target,
        outcome = %entry.outcome, detail = %entry.detail, ip = %entry.ip, "audit");
    if let Err(e) = store.audit(&entry).await {
        tracing::error!(error = %format!("{e:#}"), action, "cannot write the audit log");
    }
}

/// Makes sure someone can sign in. With `TASKDECK_ADMIN_PASSWORD` the `admin` account gets that
/// password (created as admin if missing). Without it, the first run (no user at all) creates
/// `admin` with a generated password, printed once on standard error and never again.
pub async fn ensure_admin(store: &Store, password: Option<&str>) -> anyhow::Result<()> {
    let now = crate::model::now_epoch();
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
        assert_eq!(need_of(&Method::GET, "/login/"), Some(Need::Read));
        assert_eq!(need_of(&Method::GET, "/pkg/../tasks"), Some(Need::Read));
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
    fn anonymous_refusals_are_written_a_few_a_minute_then_counted() {
        let mut a = Anonymous::default();
        let mut written = 0;
        for i in 0..100 {
            let (write, due) = a.note("1.2.3.4", "login", "failed", 100.0 + i as f64 * 0.1);
            written += u32::from(write);
            assert!(due.is_empty());
        }
        assert_eq!(written, ANONYMOUS_ROWS);
        assert!(
            a.note("5.6.7.8", "login", "failed", 110.0).0,
            "another address"
        );
        assert!(a.due(150.0).is_empty(), "the minute is not over");
        let due = a.due(161.0);
        assert_eq!(
            due,
            vec![Summary {
                ip: "1.2.3.4".into(),
                action: "login".into(),
                outcome: "failed".into(),
                since: 100.0,
                count: 100 - u64::from(ANONYMOUS_ROWS),
            }]
        );
        assert!(
            a.note("1.2.3.4", "login", "failed", 162.0).0,
            "a new minute"
        );
    }

    #[test]
    fn audited_fields_are_bounded_with_their_length() {
        let long = "x".repeat(1_000_000);
        let b = bounded(&long, AUDIT_FIELD);
        assert!(b.len() < AUDIT_FIELD + 32, "{}", b.len());
        assert!(b.ends_with("… (1000000 bytes)"), "{}", &b[b.len() - 30..]);
        assert_eq!(bounded("a\0b", 10), "a\u{FFFD}b");
    }

    #[test]
    fn sign_in_throttling_never_locks_the_owner_out() {
        let mut t = Throttle::default();
        let go = Verdict::Wait(Duration::ZERO);
        for i in 0..LIMIT_PER_PAIR {
            assert_eq!(t.verdict("1.2.3.4", "Admin", 100.0 + i as f64), go);
            t.failed("1.2.3.4", "Admin", 100.0 + i as f64);
        }
        assert_eq!(
            t.verdict("1.2.3.4", "admin", 110.0),
            Verdict::Refuse((LIMIT_WINDOW - 10.0) as u64),
            "this name from this address is refused"
        );
        assert_eq!(
            t.verdict("5.6.7.8", "admin", 110.0),
            go,
            "from another address it is not"
        );
        assert_eq!(t.verdict("1.2.3.4", "bob", 110.0), go, "nor another name");
        // Failures from many addresses slow every attempt on the name, never beyond the cap.
        for a in 0..50 {
            t.failed(&format!("10.0.0.{a}"), "admin", 120.0);
        }
        assert_eq!(
            t.verdict("9.9.9.9", "admin", 121.0),
            Verdict::Wait(MAX_NAME_DELAY)
        );
        // One address failing over many names slows that address only.
        for n in 0..SLOW_ADDRESS_AFTER + 2 {
            t.failed("7.7.7.7", &format!("user{n}"), 130.0);
        }
        assert_eq!(
            t.verdict("7.7.7.7", "carol", 131.0),
            Verdict::Wait(Duration::from_millis(500))
        );
        assert_eq!(t.verdict("7.7.7.8", "carol", 131.0), go);
        assert_eq!(
            t.verdict("1.2.3.4", "admin", 130.0 + LIMIT_WINDOW),
            go,
            "the window passes"
        );
        t.succeeded("1.2.3.4", "ADMIN");
        assert!(matches!(
            t.verdict("1.2.3.4", "admin", 111.0),
            Verdict::Wait(_)
        ));
        assert_eq!(slowdown(6, 5, MAX_NAME_DELAY), Duration::from_millis(250));
        assert_eq!(slowdown(7, 5, MAX_NAME_DELAY), Duration::from_millis(500));
        assert_eq!(slowdown(1000, 5, MAX_NAME_DELAY), MAX_NAME_DELAY);
    }
}
