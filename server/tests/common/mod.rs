//! Runs the real `taskdeck` binary for integration tests and talks to it over HTTP.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_taskdeck");
/// The admin password of every test server (`TASKDECK_ADMIN_PASSWORD`).
pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// The API token (scopes ingest, read, control) of each running test server, by its URL: the
/// request helpers below send it to whichever server a URL names.
static TOKENS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// The token of the test server `url` belongs to.
pub fn token_for(url: &str) -> Option<String> {
    TOKENS
        .lock()
        .unwrap()
        .iter()
        .find(|(base, _)| url.starts_with(base.as_str()))
        .map(|(_, token)| token.clone())
}

/// A running `taskdeck serve`; killed when dropped.
pub struct Taskdeck {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
    /// An API token with every scope, created before the server started.
    pub token: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// A `taskdeck serve` command in a fresh working directory, with JSON logs, without the demo
/// fleet (unless `--demo` is passed) and no `TASKDECK_*` variables inherited from the test
/// environment.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve");
    if !args.contains(&"--bind") {
        cmd.args(["--bind", "127.0.0.1:0"]);
    }
    // Tests count what they send: no demo tasks unless a test asks for them.
    if !args.iter().any(|a| a.starts_with("--demo")) {
        cmd.arg("--no-demo");
    }
    if !args.contains(&"--log-format") {
        cmd.args(["--log-format", "json"]);
    }
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TASKDECK_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("TASKDECK_ADMIN_PASSWORD", ADMIN_PASSWORD);
    cmd
}

/// `taskdeck token create` against the store `serve` will use (its `--store`, `--config`,
/// working directory and environment): a token with every scope.
pub fn create_token(serve: &Command) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "token",
        "create",
        "--scope",
        "ingest,read,control",
        "--name",
        "tests",
    ]);
    let args: Vec<String> = serve
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for flag in ["--store", "--config"] {
        if let Some(i) = args.iter().position(|a| a == flag) {
            cmd.args([flag, &args[i + 1]]);
        }
    }
    if let Some(dir) = serve.get_current_dir() {
        cmd.current_dir(dir);
    }
    for (k, v) in serve.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .expect("run taskdeck token create");
    assert!(out.status.success(), "taskdeck token create failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Taskdeck {
    pub fn start(dir: &Path, args: &[&str]) -> Taskdeck {
        Taskdeck::start_command(command(dir, args), dir)
    }

    pub fn start_command(mut cmd: Command, dir: &Path) -> Taskdeck {
        let token = create_token(&cmd);
        let mut child = cmd.spawn().expect("spawn taskdeck");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(addr) = v.get("addr").and_then(|a| a.as_str()) {
                        let _ = tx.send(addr.to_owned());
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(40)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "taskdeck did not become ready; log:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        let url = format!("http://{addr}");
        let mut tokens = TOKENS.lock().unwrap();
        tokens.retain(|(base, _)| base != &url);
        tokens.push((url.clone(), token.clone()));
        drop(tokens);
        Taskdeck {
            child,
            url,
            dir: dir.to_owned(),
            token,
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        wait_exit(&mut self.child, Duration::from_secs(25))
    }
}

impl Drop for Taskdeck {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failed test shows what the server said: a dropped connection alone explains nothing.
        if std::thread::panicking() {
            eprintln!("taskdeck log:\n{}", self.log());
        }
    }
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A service URL the test script provides; tests that need one fail loudly without it.
pub fn service_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests with `make test`, which starts Postgres, Redis and MongoDB")
    })
}

/// A client that sends nobody's credentials.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A request to a test server, with that server's token.
pub fn request(method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
    let req = client().request(method, url);
    match token_for(url) {
        Some(token) => req.bearer_auth(token),
        None => req,
    }
}

pub fn get(url: &str) -> reqwest::RequestBuilder {
    request(reqwest::Method::GET, url)
}

/// The Prometheus text of `GET /metrics`.
pub async fn metrics(base: &str) -> String {
    get(&format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let resp = get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Polls `url`'s health until `want` (an HTTP status) or the deadline.
pub async fn wait_health(url: &str, want: u16, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = get_json(&format!("{url}/healthz")).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "health stayed {status} (wanted {want}): {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads a store directly, whichever kind it is, with SQL both dialects accept.
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Db {
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar::<_, Option<i64>>(sql)
                .fetch_one(p)
                .await
                .unwrap()
                .unwrap_or(0),
            Db::Pg(p) => sqlx::query_scalar::<_, Option<i64>>(sql)
                .fetch_one(p)
                .await
                .unwrap()
                .unwrap_or(0),
        }
    }

    pub async fn text(&self, sql: &str) -> Option<String> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_optional(p).await.unwrap(),
            Db::Pg(p) => sqlx::query_scalar(sql).fetch_optional(p).await.unwrap(),
        }
    }

    pub async fn state(&self, task: &str) -> i64 {
        self.scalar(&format!(
            "SELECT CAST(state AS BIGINT) FROM tasks WHERE task_id = '{task}'"
        ))
        .await
    }

    /// Sum of a chart counter over every bucket of one grain (0 = second … 3 = day).
    pub async fn stat(&self, queue: &str, grain: i64, metric: i64) -> i64 {
        self.scalar(&format!(
            "SELECT CAST(SUM(count) AS BIGINT) FROM task_stats WHERE queue = '{queue}' AND grain = {grain} AND metric = {metric}"
        ))
        .await
    }
}

/// A fresh Postgres database for one test, dropped with it.
pub struct PgDb {
    pub admin: sqlx::PgPool,
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub async fn new(tag: &str) -> PgDb {
        let admin_url = service_url("TEST_POSTGRES_URL");
        let name = format!("taskdeck_{tag}_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
        PgDb { admin, name, url }
    }

    pub async fn drop(self) {
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&self.admin)
        .await
        .unwrap();
    }
}

pub fn event(task: &str, queue: &str, extra: Value) -> Value {
    let mut e = json!({
        "task_id": task, "queue_name": queue, "function": "work", "params": {"n": 1},
        "publish_time": 1_795_000_000.0, "time_start": 1_795_000_000.5, "host_name": "h1"
    });
    e.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    e
}

pub async fn post(url: &str, body: String) -> (u16, Value) {
    let resp = request(reqwest::Method::POST, &format!("{url}/api/v1/events"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// A MongoDB store for one test (funboost's records database and taskdeck's beside it), dropped
/// with it.
pub struct MongoDb {
    pub name: String,
    pub url: String,
}

impl MongoDb {
    pub fn new(tag: &str) -> MongoDb {
        let name = format!("td_{tag}_{}", std::process::id());
        let url = format!("{}/{name}", service_url("TEST_MONGODB_URL"));
        MongoDb { name, url }
    }

    pub async fn drop(self) {
        let client = mongodb::Client::with_uri_str(service_url("TEST_MONGODB_URL"))
            .await
            .unwrap();
        for name in [self.name.clone(), format!("{}_taskdeck", self.name)] {
            client.database(&name).drop().await.unwrap();
        }
    }
}

/// Database `db` of the test Redis: tests that write fixed keys each have their own.
pub fn redis_db(db: u8) -> String {
    let base = service_url("TEST_REDIS_URL");
    format!("{}/{db}", base.rsplit_once('/').unwrap().0)
}

/// [`redis_db`] emptied, with a connection to it.
pub async fn fresh_redis(db: u8) -> (String, redis::aio::MultiplexedConnection) {
    let url = redis_db(db);
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("FLUSHDB")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    (url, conn)
}

/// A browser without JavaScript: keeps cookies, never follows redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The body of `GET url` with this client's cookies.
pub async fn text_of(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// The sign-in form's hidden CSRF field (its cookie lands in the client's jar).
pub async fn form_token(http: &reqwest::Client, url: &str) -> String {
    let html = text_of(http, &format!("{url}/login")).await;
    let at = html.find(r#"name="csrf" value=""#).expect("csrf field") + 19;
    html[at..at + 64].to_owned()
}

pub async fn sign_in(
    http: &reqwest::Client,
    url: &str,
    name: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let csrf = form_token(http, url).await;
    http.post(format!("{url}/login"))
        .form(&[
            ("name", name),
            ("password", password),
            ("csrf", &csrf),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

/// The page's CSRF token, from the `taskdeck-me` meta tag a signed-in page carries.
pub async fn page_me(http: &reqwest::Client, url: &str) -> Value {
    let html = text_of(http, &format!("{url}/tasks")).await;
    let at = html
        .find(r#"<meta name="taskdeck-me" content=""#)
        .expect("me meta")
        + 34;
    let end = html[at..].find('"').unwrap();
    serde_json::from_str(&html[at..at + end].replace("&quot;", "\"")).unwrap()
}

pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("taskdeck_session="))
        .map(|c| {
            c.split(';')
                .next()
                .unwrap()
                .trim_start_matches("taskdeck_session=")
                .to_owned()
        })
}

/// Waits until every entry of taskdeck's event stream has been acknowledged and removed.
pub async fn wait_stream_empty(conn: &mut redis::aio::MultiplexedConnection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let len: i64 = redis::cmd("XLEN")
            .arg("taskdeck:events")
            .query_async(conn)
            .await
            .unwrap();
        if len == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{len} entries left in the stream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A new API token with `scopes`, created by the admin through the API.
pub async fn new_token(url: &str, scopes: &[&str]) -> String {
    let admin = browser();
    let resp = sign_in(&admin, url, "admin", ADMIN_PASSWORD, "/").await;
    assert_eq!(resp.status(), 303);
    let csrf = page_me(&admin, url).await["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = admin
        .post(format!("{url}/api/v1/tokens"))
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "test", "scopes": scopes}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned()
}
