//! `taskdeck serve` end to end: the real binary, real stores, real HTTP.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn embedded_default_creates_its_sqlite_store_and_serves_everything() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);

    // The default store is ./data/taskdeck.db, migrated at start, in WAL mode.
    let db = dir.path().join("data/taskdeck.db");
    assert!(db.is_file(), "no database at {}", db.display());
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let created: String =
        sqlx::query_scalar("SELECT value FROM taskdeck_meta WHERE key = 'created_at'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(created.ends_with('Z'), "{created}");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");

    let (status, health) = get_json(&format!("{}/healthz", td.url)).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"], "sqlite");
    assert_eq!(health["bus"], "memory");
    assert_eq!(health["checks"]["store"]["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));

    let (status, version) = get_json(&format!("{}/api/v1/version", td.url)).await;
    assert_eq!(status, 200);
    assert_eq!(version["name"], "taskdeck");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    let (status, api) = get_json(&format!("{}/api/v1/openapi.json", td.url)).await;
    assert_eq!(status, 200);
    assert!(api["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(api["info"]["version"], env!("CARGO_PKG_VERSION"));
    for path in ["/healthz", "/api/v1/version"] {
        assert!(
            api["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(api["components"]["schemas"].get("Health").is_some());

    let (status, err) = get_json(&format!("{}/api/v1/no-such-route", td.url)).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "not_found");
}

/// Rendering a page on the server must never race itself: a signal written while a page
/// rendered once disposed the page mid-stream and dropped the connection on 2-5 % of loads.
/// The race needed an idle worker thread, hence one load at a time with a pause between.
#[tokio::test]
async fn every_page_renders_whole_load_after_load() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    for round in 0..100 {
        for path in ["/", "/queues", "/tasks", "/failures", "/workers"] {
            let res = get(&format!("{}{path}", td.url)).send().await;
            let res = res.unwrap_or_else(|e| panic!("{path}, load {round}: {e:?}"));
            assert_eq!(res.status(), 200, "{path}");
            let html = res.text().await.unwrap();
            assert!(html.contains("</html>"), "{path}, load {round}: {html}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    assert!(!td.log().contains("panicked"), "{}", td.log());
}

#[tokio::test]
async fn pages_render_on_the_server_in_the_viewers_language_and_theme() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let page = |path: &'static str| get(&format!("{}{path}", td.url));

    let home = page("/").send().await.unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains(r#"lang="en""#), "{html}");
    assert!(html.contains(r#"data-theme="system""#));
    assert!(
        html.contains("/pkg/taskdeck.js"),
        "hydration script missing"
    );
    for link in [
        r#"href="/queues""#,
        r#"href="/tasks""#,
        r#"href="/workers""#,
    ] {
        assert!(html.contains(link), "navigation lacks {link}");
    }

    for path in ["/queues", "/tasks", "/workers"] {
        assert_eq!(page(path).send().await.unwrap().status(), 200, "{path}");
    }
    let missing = page("/no/such/page").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));
    // A task nobody recorded: the page explains it, and says 404 to whoever asks by link.
    let task = page("/tasks/no-such-task").send().await.unwrap();
    assert_eq!(task.status(), 404);
    assert!(task.text().await.unwrap().contains("No such task"));

    let zh = page("/")
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let html = zh.text().await.unwrap();
    assert!(
        html.contains(r#"lang="zh-CN""#) && html.contains("总览"),
        "{html}"
    );

    let chosen = page("/")
        .header("accept-language", "zh-CN")
        .header("cookie", "taskdeck_lang=en; taskdeck_theme=dark")
        .send()
        .await
        .unwrap();
    let html = chosen.text().await.unwrap();
    assert!(
        html.contains(r#"lang="en""#) && html.contains(r#"data-theme="dark""#),
        "{html}"
    );
}

#[tokio::test]
async fn server_function_and_rest_api_share_the_service_layer() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let resp = get(&format!("{}/api/ui/system_status", td.url))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let via_ui: serde_json::Value = resp.json().await.unwrap();
    let (_, via_api) = get_json(&format!("{}/healthz", td.url)).await;
    for key in ["status", "store", "bus", "version"] {
        assert_eq!(via_ui[key], via_api[key], "{key}");
    }
    // One error type: the same refusal has the same status through either door.
    for (ui, api, status) in [
        (
            "/api/ui/queue_waiting?queue=nope&offset=0&limit=20",
            "/api/v1/queues/nope/waiting",
            404,
        ),
        (
            "/api/ui/queue_series?queue=q&grain=minute&from=-5&to=60",
            "/api/v1/queues/q/series?grain=minute&from=-5&to=60",
            400,
        ),
        (
            "/api/ui/tasks?query[state]=done",
            "/api/v1/tasks?state=done",
            400,
        ),
    ] {
        let via_ui = get(&format!("{}{ui}", td.url)).send().await.unwrap();
        let (via_api, body) = get_json(&format!("{}{api}", td.url)).await;
        assert_eq!(
            (via_ui.status().as_u16(), via_api),
            (status, status),
            "{ui} / {api}: {body}"
        );
    }
}

/// Sends `call` as a signed-in page does (session cookie and CSRF token) and reads the answer
/// the way the pages do.
async fn send_as_page<C: protocol::rest::Call>(
    http: &reqwest::Client,
    url: &str,
    csrf: &str,
    call: &C,
) -> Result<C::Answer, protocol::ServiceError> {
    let method = reqwest::Method::from_bytes(C::METHOD.as_str().as_bytes()).unwrap();
    let mut req = http
        .request(method, format!("{url}{}", call.path()))
        .header("x-csrf-token", csrf)
        .header("accept", "application/json");
    if let Some(body) = call.body() {
        req = req.header("content-type", "application/json").body(body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    protocol::rest::answer::<C>(status, &resp.text().await.unwrap())
}

fn method_of<C: protocol::rest::Call>(_: &C) -> &'static str {
    C::METHOD.as_str()
}

/// Whether `path` (query cut off) is an instance of one of the OpenAPI document's templates
/// with `method`, and whether that operation takes a body.
fn documented(api: &serde_json::Value, method: &str, path: &str) -> Option<bool> {
    let path = path.split('?').next().unwrap();
    let parts: Vec<&str> = path.split('/').collect();
    let paths = api["paths"].as_object().unwrap();
    // A literal route (`/tasks/bulk`) before a template (`/tasks/{task_id}`).
    let ops = paths.get(path).or_else(|| {
        paths.iter().find_map(|(template, ops)| {
            let pattern: Vec<&str> = template.split('/').collect();
            let fits = pattern.len() == parts.len()
                && pattern
                    .iter()
                    .zip(&parts)
                    .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()));
            fits.then_some(ops)
        })
    })?;
    ops.get(method.to_lowercase())
        .map(|op| op.get("requestBody").is_some())
}

/// Every change a page sends is a typed request of `protocol::rest`: its method and path are
/// a route of the OpenAPI document (with a body exactly when the route takes one), the server
/// accepts it from a signed-in page, and its answer, or refusal, reads back typed.
#[tokio::test]
async fn every_change_the_pages_send_is_a_documented_route_answered_in_its_type() {
    use protocol::control::{Action, BulkRequest, Limits, MoveTo};
    use protocol::rest::*;
    use protocol::ErrorKind;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let (_, api) = get_json(&format!("{}/api/v1/openapi.json", td.url)).await;
    let http = browser();
    assert_eq!(
        sign_in(&http, &td.url, "admin", ADMIN_PASSWORD, "/")
            .await
            .status(),
        303
    );
    let csrf = page_me(&http, &td.url).await["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    macro_rules! check {
        ($call:expr) => {{
            let call = $call;
            let path = call.path();
            let method = method_of(&call);
            let takes_body = documented(&api, method, &path)
                .unwrap_or_else(|| panic!("{method} {path} is not in the OpenAPI document"));
            assert_eq!(takes_body, call.body().is_some(), "{method} {path}");
            send_as_page(&http, &td.url, &csrf, &call).await
        }};
    }
    let odd = "a/b c?%";
    let user = check!(PutUser {
        name: "ops.one".into(),
        change: protocol::auth::UserChange {
            role: Some(protocol::auth::Role::Operator),
            password: Some("long enough".into()),
        },
    })
    .unwrap();
    assert_eq!(
        (user.name.as_str(), user.role),
        ("ops.one", protocol::auth::Role::Operator)
    );
    check!(DeleteUser {
        name: "ops.one".into()
    })
    .unwrap();
    let e = check!(DeleteUser { name: odd.into() }).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let token = check!(CreateToken(protocol::auth::NewToken {
        name: "scripts".into(),
        scopes: vec![protocol::auth::Scope::Read],
    }))
    .unwrap();
    assert!(!token.value.is_empty());
    check!(RevokeToken { id: token.token.id }).unwrap();

    // Commands on a queue and tasks nobody knows: refused, each with its kind.
    for action in [
        QueueAction::Pause,
        QueueAction::Resume,
        QueueAction::Requeue,
    ] {
        let e = check!(QueueCommand {
            queue: odd.into(),
            action
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{action:?}: {e}");
    }
    let e = check!(SetLimits {
        queue: odd.into(),
        limits: Limits {
            qps: Some(1.0),
            concurrency: None
        }
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let e = check!(ClearQueue {
        queue: odd.into(),
        confirm: "other".into()
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{e}");
    for action in [
        TaskAction::Kill,
        TaskAction::Revoke,
        TaskAction::Retry,
        TaskAction::Delete,
    ] {
        let e = check!(TaskCommand {
            task_id: odd.into(),
            action,
            queue: None
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{action:?}: {e}");
    }
    let e = check!(MoveTask {
        task_id: odd.into(),
        queue: None,
        to: MoveTo {
            front: true,
            priority: None
        }
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let e = check!(PublishTask {
        queue: odd.into(),
        request: protocol::control::PublishRequest {
            params: serde_json::Map::new(),
            ..Default::default()
        },
    })
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let bulk = check!(StartBulk(BulkRequest {
        action: Action::Retry,
        ids: None,
        filter: Some("state=failed".into()),
        queue: None,
    }))
    .unwrap();
    let progress = check!(BulkProgress {
        id: bulk.id.clone()
    })
    .unwrap();
    assert_eq!((progress.id, progress.action), (bulk.id, Action::Retry));
    let e = check!(BulkProgress { id: odd.into() }).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}

#[tokio::test]
async fn postgres_store_is_migrated_once_and_reported_healthy() {
    let admin_url = service_url("TEST_POSTGRES_URL");
    let db_name = format!("taskdeck_serve_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {db_name}"))
        .execute(&admin)
        .await
        .unwrap();
    let url = format!("{}/{db_name}", admin_url.rsplit_once('/').unwrap().0);

    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        // The second start finds the schema current and changes nothing.
        let td = Taskdeck::start(dir.path(), &["--store", &url]);
        let (status, health) = get_json(&format!("{}/healthz", td.url)).await;
        assert_eq!(status, 200, "{health}");
        assert_eq!(health["store"], "postgres");
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM taskdeck_meta")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(applied >= 1);
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {db_name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn mongodb_store_is_reported_healthy() {
    let url = service_url("TEST_MONGODB_URL");
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &url]);
    let (status, health) = get_json(&format!("{}/healthz", td.url)).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["store"], "mongodb");
    assert_eq!(health["checks"]["store"]["status"], "ok");
}

#[tokio::test]
async fn redis_bus_configured_from_a_file_is_reported_healthy() {
    let redis = service_url("TEST_REDIS_URL");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("taskdeck.toml");
    std::fs::write(&config, format!("redis = \"{redis}\"\nlog = \"info\"\n")).unwrap();
    let td = Taskdeck::start(dir.path(), &["--config", config.to_str().unwrap()]);
    let (status, health) = get_json(&format!("{}/healthz", td.url)).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["bus"], "redis");
    assert_eq!(health["checks"]["bus"]["status"], "ok");
}

/// A Redis server of this test's own, so it can be stopped and started again.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    fn new() -> OwnRedis {
        OwnRedis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn start(&self) {
        let status = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "yes", "--pidfile"])
            .arg(self.dir.path().join("redis.pid"))
            .arg("--dir")
            .arg(self.dir.path())
            .status()
            .expect("redis-server on PATH (make test installs it)");
        assert!(status.success());
    }

    fn stop(&self) {
        let pid_file = self.dir.path().join("redis.pid");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !pid_file.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis wrote no pid file"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        std::process::Command::new("kill")
            .arg(pid.trim())
            .status()
            .unwrap();
        while pid_file.exists() {
            assert!(std::time::Instant::now() < deadline, "redis did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if self.dir.path().join("redis.pid").exists() {
            self.stop();
        }
    }
}

#[tokio::test]
async fn a_redis_that_goes_away_is_reported_down_and_picked_up_again() {
    let redis = OwnRedis::new();
    redis.start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{}/0", redis.port);
    let td = Taskdeck::start(dir.path(), &["--redis", &url]);
    wait_health(&td.url, 200, Duration::from_secs(10)).await;

    redis.stop();
    let down = wait_health(&td.url, 503, Duration::from_secs(10)).await;
    assert_eq!(down["status"], "down");
    assert_eq!(down["checks"]["bus"]["status"], "down");
    assert!(
        down["checks"]["bus"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{down}"
    );
    assert_eq!(down["checks"]["store"]["status"], "ok");
    // The dashboard keeps working while Redis is away.
    let page = get(&td.url).send().await;
    let page =
        page.unwrap_or_else(|e| panic!("GET / while Redis is away: {e}; log:\n{}", td.log()));
    assert_eq!(page.status(), 200);

    redis.start();
    let up = wait_health(&td.url, 200, Duration::from_secs(15)).await;
    assert_eq!(up["checks"]["bus"]["status"], "ok");
}

#[tokio::test]
async fn taskdeck_starts_with_redis_down_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let td = Taskdeck::start(dir.path(), &["--redis", &url]);
    let health = wait_health(&td.url, 503, Duration::from_secs(10)).await;
    assert_eq!(health["bus"], "redis");
    assert_eq!(health["checks"]["bus"]["status"], "down");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut td = Taskdeck::start(dir.path(), &[]);
    let status = td.terminate();
    assert!(status.success(), "exit status {status}; log:\n{}", td.log());
    let log = td.log();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("taskdeck stopped"), "{log}");
}

#[test]
fn bad_settings_fail_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    // A file whose values would be wrong too: the layer above it is the one named.
    let toml = dir.path().join("taskdeck.toml");
    std::fs::write(&toml, "retention = \"2s\"\nsearch_scan = 5\n").unwrap();
    let toml = toml.to_str().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 12] = [
        (&["--bind", "localhost"], &[], "`bind`"),
        (&[], &[("TASKDECK_STORE", "mysql://db/x")], "TASKDECK_STORE"),
        (
            &[],
            &[("TASKDECK_LOG_FORMATT", "json")],
            "TASKDECK_LOG_FORMATT",
        ),
        (&["--redis", "http://127.0.0.1:6379"], &[], "`redis`"),
        (
            &[],
            &[("TASKDECK_REDIS", "rediss://h/0")],
            "TLS is not supported",
        ),
        (&[], &[("TASKDECK_LOG", "info,=[")], "TASKDECK_LOG"),
        (&["--demo=maybe"], &[], "`demo` (from --demo)"),
        (
            &[],
            &[("TASKDECK_SEARCH_SCAN", "lots")],
            "TASKDECK_SEARCH_SCAN",
        ),
        (&["--config", toml], &[], "(from config file"),
        (
            &["--config", toml],
            &[("TASKDECK_RETENTION", "1s")],
            "`retention` (from TASKDECK_RETENTION)",
        ),
        (
            &["--config", toml, "--retention", "3s"],
            &[("TASKDECK_RETENTION", "1s")],
            "`retention` (from --retention)",
        ),
        (&[], &[("TASKDECK_CONFIG", toml)], "(from config file"),
    ];
    for (args, env, expected) in cases {
        let mut cmd = command(dir.path(), args);
        cmd.envs(env.iter().copied());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?} {env:?}: {stderr}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "a rejected start must not create a store"
    );
}

#[test]
fn an_unreachable_store_fails_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/none", free_port());
    let mut child = command(dir.path(), &["--store", &url]).spawn().unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(40));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot open the store"), "{stderr}");
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let out = std::process::Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "TASKDECK_BIND",
        "TASKDECK_STORE",
        "TASKDECK_REDIS",
        "TASKDECK_LOG",
        "TASKDECK_LOG_FORMAT",
        "TASKDECK_CONFIG",
    ] {
        assert!(help.contains(var), "{var} missing from --help");
    }
}

#[test]
fn a_log_that_is_not_a_terminal_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // Human format (the default), stderr a pipe: an unreachable store makes it log and stop.
    let url = format!("postgres://postgres@127.0.0.1:{}/none", free_port());
    let mut child = command(dir.path(), &["--store", &url, "--log-format", "human"])
        .spawn()
        .unwrap();
    wait_exit(&mut child, Duration::from_secs(40));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}
