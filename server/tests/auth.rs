//! Sign-in, sessions, CSRF, API tokens and the audit log against a real `taskdeck serve`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Stdio;

async fn audit(td: &Taskdeck, text: &str) -> Vec<Value> {
    let (status, body) = get_json(&format!("{}/api/v1/audit?text={text}", td.url)).await;
    assert_eq!(status, 403, "tokens never read the audit log: {body}");
    // An admin session reads it.
    let http = browser();
    sign_in(&http, &td.url, "admin", ADMIN_PASSWORD, "/").await;
    let resp = http
        .get(format!("{}/api/v1/audit?text={text}", td.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["entries"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn nothing_but_health_login_and_assets_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let anon = browser();
    for path in ["/healthz", "/login"] {
        let resp = anon.get(format!("{}{path}", td.url)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    // Assets are served without credentials (this server has no built site: 404, not 401).
    for path in [
        "/favicon.svg",
        "/pkg/taskdeck.css",
        "/vendor/echarts.min.js",
    ] {
        let resp = anon.get(format!("{}{path}", td.url)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    for path in [
        "/api/v1/tasks",
        "/api/v1/queues",
        "/api/v1/overview",
        "/api/v1/openapi.json",
        "/metrics",
        "/api/v1/live?view=overview",
        "/api/ui/overview",
        "/api/v1/export/tasks",
    ] {
        let resp = anon.get(format!("{}{path}", td.url)).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer realm=\"taskdeck\""
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{path}");
    }
    // A page sends the browser to sign in, and back afterwards.
    let resp = anon
        .get(format!("{}/tasks?state=failed", td.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/login?next=%2Ftasks%3Fstate%3Dfailed"
    );
    let events = json!([event("t1", "q", json!({"state": "success"}))]).to_string();
    let resp = anon
        .post(format!("{}/api/v1/events", td.url))
        .body(events)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // A made-up token is refused as such, and recorded.
    let resp = anon
        .get(format!("{}/api/v1/tasks", td.url))
        .bearer_auth("td_0123456789ab_feedface")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let denied = audit(&td, "unknown%20or%20revoked").await;
    assert_eq!(denied[0]["action"], "token.use");
    assert_eq!(denied[0]["outcome"], "denied");
}

#[tokio::test]
async fn sign_in_sessions_csrf_and_sign_out() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let http = browser();

    // A wrong password: the page again, with the name kept and the reason.
    let resp = sign_in(&http, &td.url, "admin", "wrong password", "/tasks").await;
    assert_eq!(resp.status(), 401);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Wrong user name or password."), "{html}");
    assert!(html.contains(r#"value="admin""#));

    // Without the form's cookie (another site posting the form) nothing happens.
    let stranger = browser();
    let resp = stranger
        .post(format!("{}/login", td.url))
        .form(&[
            ("name", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf", "0".repeat(64).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(session_cookie(&resp).is_none());

    let resp = sign_in(
        &http,
        &td.url,
        "admin",
        ADMIN_PASSWORD,
        "/tasks?state=failed",
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/tasks?state=failed");
    let first = session_cookie(&resp).expect("a session cookie");
    // Signing in again starts a new session and ends the old one (no fixation).
    let resp = sign_in(&http, &td.url, "admin", ADMIN_PASSWORD, "/").await;
    let id = session_cookie(&resp).expect("a session cookie");
    assert_ne!(id, first);
    let resp = client()
        .get(format!("{}/api/v1/tasks", td.url))
        .header("cookie", format!("taskdeck_session={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the session signed in before is gone");
    let resp = sign_in(&http, &td.url, "admin", ADMIN_PASSWORD, "/").await;
    let id = session_cookie(&resp).unwrap();
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("taskdeck_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

    // Signed in: pages and the API answer; the page names the user and carries the token.
    let me = page_me(&http, &td.url).await;
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("admin"), Some("admin"))
    );
    let csrf = me["csrf"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);
    let resp = http
        .get(format!("{}/api/v1/tasks", td.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A forged session cookie is nobody.
    let forged = browser();
    let resp = forged
        .get(format!("{}/api/v1/tasks", td.url))
        .header(
            "cookie",
            format!("taskdeck_session={}x", &id[..id.len() - 1]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A change without the CSRF token is refused; with it, it passes the gate (the route itself
    // may not exist yet: 404 is past authentication).
    let resp = http
        .post(format!("{}/api/v1/queues/q/pause", td.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("CSRF"),
        "{body}"
    );
    let resp = http
        .post(format!("{}/api/v1/queues/q/pause", td.url))
        .header("x-csrf-token", "f".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = http
        .post(format!("{}/api/v1/queues/q/pause", td.url))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 403);
    assert_ne!(resp.status(), 401);
    // Users do not post events: that is for workers' tokens.
    let resp = http
        .post(format!("{}/api/v1/events", td.url))
        .header("x-csrf-token", &csrf)
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Signing out needs the token too, then ends the session everywhere.
    let resp = http
        .post(format!("{}/logout", td.url))
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = http
        .post(format!("{}/logout", td.url))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?done=out");
    let resp = http
        .get(format!("{}/api/v1/tasks", td.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let replay = browser();
    let resp = replay
        .get(format!("{}/api/v1/tasks", td.url))
        .header("cookie", format!("taskdeck_session={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the old session id is dead");

    let log = audit(&td, "").await;
    let seen: Vec<(String, String)> = log
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("login", "failed"),
        ("login", "denied"),
        ("login", "ok"),
        ("logout", "ok"),
        ("logout", "denied"),
    ] {
        assert!(
            seen.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} in {seen:?}"
        );
    }
    assert!(log
        .iter()
        .any(|e| e["detail"] == "missing or wrong CSRF token"
            && e["target"] == "/api/v1/queues/q/pause"));
    let failed = log
        .iter()
        .find(|e| e["action"] == "login" && e["outcome"] == "failed")
        .unwrap();
    assert_eq!(failed["ip"], "127.0.0.1");
    assert_eq!(failed["target"], "admin");
}

#[tokio::test]
async fn sign_in_failures_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let http = browser();
    for _ in 0..5 {
        assert_eq!(
            sign_in(&http, &td.url, "admin", "guess", "/")
                .await
                .status(),
            401
        );
    }
    // Even the right password waits now.
    let resp = sign_in(&http, &td.url, "admin", ADMIN_PASSWORD, "/").await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&wait), "{wait}");
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-ins. Try again in 15 min."));
    // Another account from the same address still may.
    assert_eq!(
        sign_in(&http, &td.url, "someone", "guess", "/")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn tokens_do_what_their_scopes_say() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path(), &[]);
    let ingest = {
        let mut c = std::process::Command::new(BIN);
        c.args(["token", "create", "--scope", "ingest", "--name", "fleet"])
            .current_dir(dir.path())
            .env("TASKDECK_ADMIN_PASSWORD", ADMIN_PASSWORD);
        let out = c.stderr(Stdio::inherit()).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert!(ingest.starts_with("td_") && ingest.len() > 70, "{ingest}");
    let bad = std::process::Command::new(BIN)
        .args(["token", "create", "--scope", "ingest,write", "--name", "x"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scope `write`"));
    cmd.arg("--log").arg("info");
    let td = Taskdeck::start_command(cmd, dir.path());
    let http = client();
    let events = json!([event(
        "t1",
        "q",
        json!({"state": "success", "time_cost": 0.1})
    )])
    .to_string();
    let resp = http
        .post(format!("{}/api/v1/events", td.url))
        .bearer_auth(&ingest)
        .body(events.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let resp = http
        .get(format!("{}/api/v1/tasks", td.url))
        .bearer_auth(&ingest)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], "this token has no `read` scope");
    // The OpenAPI document says how to authenticate.
    let (_, doc) = get_json(&format!("{}/api/v1/openapi.json", td.url)).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"], "bearer",
        "{}",
        doc["components"]["securitySchemes"]
    );
    assert_eq!(doc["security"][0]["token"], json!([]));
    // The test's own token reads and may send commands, but never administers.
    let (status, _) = get_json(&format!("{}/api/v1/tasks/t1", td.url)).await;
    assert_eq!(status, 200);
    let resp = request(reqwest::Method::GET, &format!("{}/api/v1/audit", td.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A token's secret is checked, not just its id.
    let (id, _) = ingest.trim_start_matches("td_").split_once('_').unwrap();
    let resp = http
        .post(format!("{}/api/v1/events", td.url))
        .bearer_auth(format!("td_{id}_{}", "0".repeat(64)))
        .body(events)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn first_run_prints_a_generated_password_once() {
    let dir = tempfile::tempdir().unwrap();
    // A fresh store: the server's own first run.
    let dir2 = dir;
    let mut cmd = command(dir2.path(), &[]);
    cmd.env_remove("TASKDECK_ADMIN_PASSWORD");
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let password = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok);
        lines.find(|l| l.contains("first run"))?;
        lines
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
    })
    .join()
    .unwrap_or_default()
    .expect("the generated password");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(password.len(), 20, "{password}");
    // It signs in; a second start prints nothing, and TASKDECK_ADMIN_PASSWORD replaces it.
    let td = Taskdeck::start_command(
        {
            let mut c = command(dir2.path(), &[]);
            c.env_remove("TASKDECK_ADMIN_PASSWORD");
            c
        },
        dir2.path(),
    );
    assert!(!td.log().contains("first run"));
    let http = browser();
    assert_eq!(
        sign_in(&http, &td.url, "admin", &password, "/")
            .await
            .status(),
        303
    );
    drop(td);
    let td = Taskdeck::start(dir2.path(), &[]);
    assert_eq!(
        sign_in(&browser(), &td.url, "admin", &password, "/")
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_in(&browser(), &td.url, "admin", ADMIN_PASSWORD, "/")
            .await
            .status(),
        303
    );
    let short = command(dir2.path(), &[])
        .env("TASKDECK_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("a password has at least 8 characters"));
}

/// Users, roles, tokens and the audit log through the admin API, in one store.
async fn admin_scenario(td: &Taskdeck) {
    let admin = browser();
    assert_eq!(
        sign_in(&admin, &td.url, "admin", ADMIN_PASSWORD, "/")
            .await
            .status(),
        303
    );
    let csrf = page_me(&admin, &td.url).await["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = |method: reqwest::Method, path: &str, body: Value| {
        admin
            .request(method, format!("{}{path}", td.url))
            .header("x-csrf-token", &csrf)
            .json(&body)
    };

    // A viewer and an operator.
    let resp = send(
        reqwest::Method::PUT,
        "/api/v1/users/vera",
        json!({"role": "viewer"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 400, "a new user needs a password");
    let resp = send(
        reqwest::Method::PUT,
        "/api/v1/users/vera",
        json!({"role": "viewer", "password": "short"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    for (name, role) in [("vera", "viewer"), ("otto", "operator")] {
        let resp = send(
            reqwest::Method::PUT,
            &format!("/api/v1/users/{name}"),
            json!({"role": role, "password": "long enough"}),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.json::<Value>().await.unwrap()["role"], role);
    }
    let resp = send(
        reqwest::Method::PUT,
        "/api/v1/users/admin",
        json!({"role": "viewer"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 400, "an admin keeps their own role");
    let users: Value = admin
        .get(format!("{}/api/v1/users", td.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "otto", "vera"]);
    assert!(users[0].get("password_hash").is_none());

    // The viewer reads, but may not command or administer.
    let vera = browser();
    assert_eq!(
        sign_in(&vera, &td.url, "vera", "long enough", "/")
            .await
            .status(),
        303
    );
    let me = page_me(&vera, &td.url).await;
    assert_eq!(me["role"], "viewer");
    let vcsrf = me["csrf"].as_str().unwrap().to_owned();
    assert_eq!(
        vera.get(format!("{}/api/v1/tasks", td.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = vera
        .post(format!("{}/api/v1/queues/q/pause", td.url))
        .header("x-csrf-token", &vcsrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        vera.get(format!("{}/api/v1/users", td.url))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // The operator commands (past the gate), but does not administer.
    let otto = browser();
    assert_eq!(
        sign_in(&otto, &td.url, "otto", "long enough", "/")
            .await
            .status(),
        303
    );
    let ocsrf = page_me(&otto, &td.url).await["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = otto
        .post(format!("{}/api/v1/queues/q/pause", td.url))
        .header("x-csrf-token", &ocsrf)
        .send()
        .await
        .unwrap();
    assert!(
        resp.status() != 403 && resp.status() != 401,
        "{}",
        resp.status()
    );
    assert_eq!(
        otto.get(format!("{}/api/v1/audit", td.url))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // A role change applies to a running session at once; a removed user is signed out.
    let resp = send(
        reqwest::Method::PUT,
        "/api/v1/users/vera",
        json!({"role": "operator"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = vera
        .post(format!("{}/api/v1/queues/q/pause", td.url))
        .header("x-csrf-token", &vcsrf)
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 403);
    let resp = send(reqwest::Method::DELETE, "/api/v1/users/vera", json!(null))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        vera.get(format!("{}/api/v1/tasks", td.url))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        send(reqwest::Method::DELETE, "/api/v1/users/admin", json!(null))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    // A token made in the UI works at once, shows no secret in the list, and dies when revoked.
    let resp = send(
        reqwest::Method::POST,
        "/api/v1/tokens",
        json!({"name": "reports script", "scopes": ["read"]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let value = created["value"].as_str().unwrap().to_owned();
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["token"]["created_by"], "user:admin");
    let anon = client();
    let resp = anon
        .get(format!("{}/api/v1/queues", td.url))
        .bearer_auth(&value)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let list = admin
        .get(format!("{}/api/v1/tokens", td.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("reports script") && !list.contains(&value[20..]),
        "{list}"
    );
    let resp = send(
        reqwest::Method::POST,
        "/api/v1/tokens",
        json!({"name": "x", "scopes": []}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = send(
        reqwest::Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        json!(null),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = anon
        .get(format!("{}/api/v1/queues", td.url))
        .bearer_auth(&value)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Everything above is in the audit log, newest first, searchable and paged.
    let page: Value = admin
        .get(format!("{}/api/v1/audit?limit=3", td.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    assert_eq!(page["entries"][0]["action"], "token.use");
    let before = page["next_before"].as_f64().unwrap();
    let older: Value = admin
        .get(format!("{}/api/v1/audit?limit=3&before={before}", td.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        older["entries"][0]["at"].as_f64().unwrap() < before,
        "{before} then {older}\nfirst page {page}"
    );
    let users: Value = admin
        .get(format!("{}/api/v1/audit?text=USER.", td.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = users["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    for want in [
        ("user.delete", "vera"),
        ("user.put", "otto"),
        ("user.put", "vera"),
    ] {
        assert!(actions.contains(&want), "{want:?} in {actions:?}");
    }
    let denied: Value = admin
        .get(format!("{}/api/v1/audit?text=needs%20Control", td.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(denied["entries"][0]["actor"], "user:vera");
    assert_eq!(
        admin
            .get(format!("{}/api/v1/audit?limit=0", td.url))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn admin_api_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    admin_scenario(&td).await;
}

#[tokio::test]
async fn admin_api_on_postgres() {
    let pg = PgDb::new("auth").await;
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &pg.url]);
    admin_scenario(&td).await;
    drop(td);
    pg.drop().await;
}

#[tokio::test]
async fn admin_api_on_mongodb() {
    let mongo = MongoDb::new("auth");
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--store", &mongo.url]);
    admin_scenario(&td).await;
    drop(td);
    mongo.drop().await;
}
