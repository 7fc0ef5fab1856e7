//! taskdeck probed the way an attacker would: every route and page × every kind of caller ×
//! paths spelled to confuse the gate, hostile names through every page, redirects, headers,
//! assets, the audit log, sign-in throttling, live-stream shares, sessions after a password
//! change. Requests go out on raw connections, so paths are sent exactly as written.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// In the one task's params, result and exception: no reply to a caller who may not read tasks
/// may contain it.
const MARKER: &str = "secret-7f3a9c";
const QUEUE: &str = "secretq";
const TASK: &str = "secret-task-1";
/// In the names of the tokens: only admins may see it.
const ADMIN_MARKER: &str = "adminonly-51be";

/// One answer, read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a new connection, the path exactly as given, and reads the answer
/// (only its head for an event stream).
async fn raw(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let host = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(body.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let split = loop {
        let mut chunk = [0u8; 16384];
        let n = tokio::time::timeout_at(deadline.into(), conn.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer"))
            .unwrap();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        assert!(n > 0, "{method} {path}: connection closed before the head");
    };
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    };
    if reply.header("content-type") == Some("text/event-stream") {
        return reply;
    }
    let mut rest = Vec::new();
    tokio::time::timeout_at(deadline.into(), conn.read_to_end(&mut rest))
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: the answer did not end"))
        .unwrap();
    reply.body.extend(rest);
    if reply.header("transfer-encoding") == Some("chunked") {
        reply.body = dechunk(&reply.body);
    }
    reply
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..eol])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}

/// A kind of caller and the headers that make a request theirs.
#[derive(Clone, Debug)]
struct Who {
    name: &'static str,
    headers: Vec<(String, String)>,
    read: bool,
    control: bool,
    admin: bool,
    ingest: bool,
    session: bool,
}

impl Who {
    fn headers(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn anonymous(&self) -> bool {
        self.headers.is_empty()
    }
}

/// A signed-in user's session cookie and CSRF token.
async fn session(td: &Taskdeck, name: &str, password: &str) -> (String, String) {
    let http = browser();
    let resp = sign_in(&http, &td.url, name, password, "/").await;
    assert_eq!(resp.status(), 303, "{name} signs in");
    let cookie = session_cookie(&resp).expect("a session cookie");
    let csrf = page_me(&http, &td.url).await["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    (format!("taskdeck_session={cookie}"), csrf)
}

/// `GET path` with a session's cookie.
async fn get_as(td: &Taskdeck, cookie: &str, path: &str) -> Reply {
    raw(&td.url, "GET", path, &[("Cookie", cookie)], "").await
}

/// Sends a change as a signed-in user (with their CSRF token).
async fn change(
    td: &Taskdeck,
    user: &(String, String),
    method: &str,
    path: &str,
    body: Value,
) -> Reply {
    raw(
        &td.url,
        method,
        path,
        &[
            ("Cookie", &user.0),
            ("x-csrf-token", &user.1),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    )
    .await
}

/// The seven kinds of caller: anonymous, viewer, operator, admin, and tokens with the `read`,
/// `ingest` and `control` scopes. The store holds one task carrying [`MARKER`].
async fn callers(td: &Taskdeck) -> Vec<Who> {
    let admin = session(td, "admin", ADMIN_PASSWORD).await;
    for (name, role) in [("vera", "viewer"), ("otto", "operator")] {
        let r = change(
            td,
            &admin,
            "PUT",
            &format!("/api/v1/users/{name}"),
            json!({"role": role, "password": "long enough"}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let token = |scope: &'static str| {
        let admin = admin.clone();
        async move {
            let r = change(
                td,
                &admin,
                "POST",
                "/api/v1/tokens",
                json!({"name": format!("{scope}-{ADMIN_MARKER}"), "scopes": [scope]}),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text());
            let created: Value = serde_json::from_slice(&r.body).unwrap();
            created["value"].as_str().unwrap().to_owned()
        }
    };
    let (read, ingest, control) = (
        token("read").await,
        token("ingest").await,
        token("control").await,
    );
    let events = json!([event(
        TASK,
        QUEUE,
        json!({"state": "failed", "run_times": 1,
        "params": {"order": MARKER}, "result": MARKER, "exception_type": "E",
        "exception_msg": format!("failed {MARKER}"), "time_end": 1_795_000_001.0})
    )]);
    assert_eq!(post(&td.url, events.to_string()).await.0, 202);

    let user = |name, (cookie, _): (String, String), control, admin| Who {
        name,
        headers: vec![("Cookie".into(), cookie)],
        read: true,
        control,
        admin,
        ingest: false,
        session: true,
    };
    let bearer = |name, value: String, read, control, ingest| Who {
        name,
        headers: vec![("Authorization".into(), format!("Bearer {value}"))],
        read,
        control,
        admin: false,
        ingest,
        session: false,
    };
    vec![
        Who {
            name: "anonymous",
            headers: vec![],
            read: false,
            control: false,
            admin: false,
            ingest: false,
            session: false,
        },
        user(
            "viewer",
            session(td, "vera", "long enough").await,
            false,
            false,
        ),
        user(
            "operator",
            session(td, "otto", "long enough").await,
            true,
            false,
        ),
        user("admin", admin, true, true),
        bearer("read token", read, true, false, false),
        bearer("ingest token", ingest, false, false, true),
        bearer("control token", control, true, true, false),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Public,
    Read,
    Control,
    Admin,
    Ingest,
}

impl Need {
    fn allows(self, who: &Who) -> bool {
        match self {
            Need::Public => true,
            Need::Read => who.read,
            Need::Control => who.control,
            Need::Admin => who.admin,
            Need::Ingest => who.ingest,
        }
    }
}

/// The documented rule for each route of the OpenAPI document.
fn need(method: &str, template: &str) -> Need {
    let admin = ["/api/v1/users", "/api/v1/tokens", "/api/v1/audit"]
        .iter()
        .any(|a| template.starts_with(a));
    match (method, template) {
        (_, "/healthz") => Need::Public,
        ("POST", "/api/v1/events") => Need::Ingest,
        _ if admin => Need::Admin,
        ("GET", _) => Need::Read,
        _ => Need::Control,
    }
}

fn fill(template: &str) -> String {
    template
        .replace("{queue}", QUEUE)
        .replace("{task_id}", TASK)
        .replace("{id}", "nonexistent")
        .replace("{name}", "nobody-x")
}

/// Paths that say one thing to a naive gate and another to whatever resolves them (the query,
/// if any, kept as it is).
fn dotted(path_and_query: &str) -> Vec<String> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, format!("?{q}")),
        None => (path_and_query, String::new()),
    };
    let rest = &path[1..];
    let variants = vec![
        format!("/pkg/..{path}"),
        format!("/pkg/%2e%2e{path}"),
        format!("/vendor/%2E%2e{path}"),
        format!("/pkg/.%2E{path}"),
        format!("/pkg/..%2f{rest}"),
        format!("/pkg/..%5C{rest}"),
        format!("/pkg/%252e%252e{path}"),
        format!("/.{path}"),
        format!("{path}/../{rest}"),
    ];
    variants
        .into_iter()
        .map(|v| format!("{v}{query}"))
        .collect()
}

/// Every GET a page or script makes, with what it needs: the REST routes of the OpenAPI
/// document (and `/metrics`), the pages, and the server functions behind the pages.
async fn gets(td: &Taskdeck) -> Vec<(String, Need, bool)> {
    let (_, doc) = get_json(&format!("{}/api/v1/openapi.json", td.url)).await;
    let mut out: Vec<(String, Need, bool)> = Vec::new();
    for (template, methods) in doc["paths"].as_object().unwrap() {
        if methods.get("get").is_some() {
            let mut path = fill(template);
            if template == "/api/v1/live" {
                path.push_str("?view=overview");
            }
            out.push((path, need("GET", template), false));
        }
    }
    out.push(("/metrics".into(), Need::Read, false));
    out.push(("/api/v1/openapi.json".into(), Need::Read, false));
    for page in [
        "/".to_owned(),
        "/queues".into(),
        format!("/queues/{QUEUE}"),
        "/tasks".into(),
        format!("/tasks/{TASK}"),
        "/failures".into(),
        "/workers".into(),
        "/admin/users".into(),
        "/admin/tokens".into(),
        "/admin/audit".into(),
        "/no-such-page".into(),
    ] {
        out.push((page, Need::Read, true));
    }
    for (f, need) in [
        ("system_status", Need::Read),
        ("queues", Need::Read),
        ("overview", Need::Read),
        ("workers", Need::Read),
        ("tasks", Need::Read),
        ("failures", Need::Read),
        ("task?task_id=secret-task-1", Need::Read),
        ("task_controls?task_id=secret-task-1", Need::Read),
        ("queue_page?queue=secretq&grain=second", Need::Read),
        ("queue_waiting?queue=secretq&offset=0&limit=20", Need::Read),
        (
            "queue_series?queue=secretq&grain=minute&from=0&to=600",
            Need::Read,
        ),
        ("admin_users", Need::Admin),
        ("admin_tokens", Need::Admin),
        ("admin_audit?text=", Need::Admin),
    ] {
        out.push((format!("/api/ui/{f}"), need, false));
    }
    out
}

fn leaks(who: &Who, need: Need, reply: &Reply) -> Option<&'static str> {
    let body = reply.text();
    if !who.read && body.contains(MARKER) {
        return Some("task data");
    }
    if !who.admin && need == Need::Admin && body.contains(ADMIN_MARKER) {
        return Some("admin data");
    }
    None
}

#[tokio::test]
async fn every_route_and_page_answers_each_caller_as_documented_whatever_the_path_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let callers = callers(&td).await;
    let gets = gets(&td).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for who in &callers {
        for (path, need, page) in &gets {
            let mut headers = who.headers();
            if *page {
                headers.push(("Accept", "text/html"));
            }
            let r = raw(&td.url, "GET", path, &headers, "").await;
            checked += 1;
            let ok = match (need.allows(who), who.anonymous()) {
                (true, _) => ![401, 403].contains(&r.status) && r.status < 500,
                (false, true) if *page => r.status == 303,
                (false, true) => r.status == 401,
                // An admin page is a page every reader may open; its data is the admins'.
                (false, false) if *page => r.status == 200 || r.status == 403,
                (false, false) => r.status == 403,
            };
            if !ok {
                failures.push(format!("{}: GET {path} → {}", who.name, r.status));
            }
            if let Some(what) = leaks(who, *need, &r) {
                failures.push(format!("{}: GET {path} leaked {what}", who.name));
            }
            // The same path spelled with dot segments is refused for everyone.
            for variant in dotted(path) {
                let r = raw(&td.url, "GET", &variant, &headers, "").await;
                checked += 1;
                if r.status != 400 || r.text().contains(MARKER) {
                    failures.push(format!("{}: GET {variant} → {}", who.name, r.status));
                }
            }
            // Doubled slashes and another case are other paths: never a way in.
            for variant in [format!("/{path}"), path.to_uppercase()] {
                let r = raw(&td.url, "GET", &variant, &headers, "").await;
                checked += 1;
                if (who.anonymous() && ![303, 401].contains(&r.status))
                    || leaks(who, *need, &r).is_some()
                {
                    failures.push(format!("{}: GET {variant} → {}", who.name, r.status));
                }
            }
        }
    }
    // Changes: refused to whoever may not make them, and to sessions without their CSRF token.
    let (_, doc) = get_json(&format!("{}/api/v1/openapi.json", td.url)).await;
    for (template, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            if method == "get" {
                continue;
            }
            let method = method.to_uppercase();
            let need = need(&method, template);
            let path = fill(template);
            for who in &callers {
                let expected = if !need.allows(who) {
                    Some(if who.anonymous() { 401 } else { 403 })
                } else if who.session {
                    Some(403) // no CSRF token
                } else {
                    None // allowed: not sent, it would change something
                };
                if let Some(expected) = expected {
                    let r = raw(&td.url, &method, &path, &who.headers(), "{}").await;
                    checked += 1;
                    if r.status != expected {
                        failures.push(format!(
                            "{}: {method} {path} → {} (wanted {expected})",
                            who.name, r.status
                        ));
                    }
                }
                for variant in dotted(&path) {
                    let r = raw(&td.url, &method, &variant, &who.headers(), "{}").await;
                    checked += 1;
                    if r.status != 400 {
                        failures.push(format!("{}: {method} {variant} → {}", who.name, r.status));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 3_000, "{checked}");
    assert!(!td.log().contains("panicked"), "{}", td.log());
}

/// Hostile text in every field an event carries.
const HOSTILE: [&str; 5] = [
    "<img src=x onerror=alert(1)>",
    "</title><script>alert(document.domain)</script>",
    "\"><svg onload=alert(2)>",
    "' onmouseover='alert(3)' x='",
    "javascript:alert(4)",
];

#[tokio::test]
async fn hostile_names_never_become_markup() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let mut events = Vec::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        events.push(
            json!({"task_id": format!("{h}{i}"), "queue_name": format!("{h}q"),
            "state": "failed", "run_times": 1, "function": h, "host_name": h,
            "exception_type": h, "exception_msg": h, "traceback": h,
            "params": {"p": h, "k": [h]}, "result": h, "script_name": h, "consumer_id": h,
            "publish_time": 1_795_000_000.0, "time_start": 1_795_000_000.5,
            "time_end": 1_795_000_001.0, "odd": h}),
        );
    }
    assert_eq!(post(&td.url, Value::Array(events).to_string()).await.0, 202);
    let (cookie, _) = session(&td, "admin", ADMIN_PASSWORD).await;
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut pages = vec![
        "/".to_owned(),
        "/queues".into(),
        "/tasks".into(),
        "/failures".into(),
        "/workers".into(),
        format!("/tasks?q={}", enc(HOSTILE[0])),
        format!("/failures?queue={}", enc(&format!("{}q", HOSTILE[1]))),
    ];
    for (i, h) in HOSTILE.iter().enumerate() {
        pages.push(format!("/queues/{}", enc(&format!("{h}q"))));
        pages.push(format!("/tasks/{}", enc(&format!("{h}{i}"))));
        // Names that are not stored reach the pages from the address alone.
        pages.push(format!("/queues/{}", enc(h)));
        pages.push(format!("/tasks/{}", enc(h)));
    }
    for page in &pages {
        let r = raw(
            &td.url,
            "GET",
            page,
            &[("Cookie", &cookie), ("Accept", "text/html")],
            "",
        )
        .await;
        assert!(r.status == 200 || r.status == 404, "{page}: {}", r.status);
        let html = scraper::Html::parse_document(&r.text());
        let nonce = r
            .header("content-security-policy")
            .and_then(|p| p.split("'nonce-").nth(1))
            .and_then(|n| n.split('\'').next())
            .unwrap_or_else(|| panic!("{page}: no nonce in the policy"))
            .to_owned();
        for el in html
            .root_element()
            .descendants()
            .filter_map(scraper::ElementRef::wrap)
        {
            let name = el.value().name();
            assert!(
                !["img", "iframe", "object", "embed", "base"].contains(&name),
                "{page}: <{name}> from a name"
            );
            for (attr, value) in el.value().attrs() {
                assert!(!attr.starts_with("on"), "{page}: <{name} {attr}=…>");
                // Addresses taskdeck builds from names stay on this site.
                if ["href", "src", "action", "formaction", "xlink:href"].contains(&attr) {
                    assert!(
                        value.starts_with('/') && !value.starts_with("//")
                            || value.starts_with('#'),
                        "{page}: {attr}={value}"
                    );
                }
            }
            if name == "script" {
                let external = el
                    .value()
                    .attr("src")
                    .is_some_and(|s| s.starts_with("/vendor/") || s.starts_with("/pkg/"));
                assert!(
                    external || el.value().attr("nonce") == Some(nonce.as_str()),
                    "{page}: a script without the nonce: {}",
                    el.html()
                );
            }
        }
        // The title shows the name as text.
        if let Some(title) = html
            .select(&scraper::Selector::parse("title").unwrap())
            .next()
        {
            assert!(
                !title.inner_html().contains('<'),
                "{page}: {}",
                title.inner_html()
            );
        }
    }
    // A payload over its bound is cut when recorded, and its page says so.
    let big = json!([event(
        "big",
        "q",
        json!({"state": "success", "params": {"blob": "x".repeat(200_000)}})
    )]);
    assert_eq!(post(&td.url, big.to_string()).await.0, 202);
    let page = get_as(&td, &cookie, "/tasks/big").await.text();
    let notice = scraper::Html::parse_document(&page)
        .select(&scraper::Selector::parse("[data-testid=task-cut]").unwrap())
        .next()
        .map(|n| n.text().collect::<String>())
        .expect("the page says the params were cut");
    assert!(notice.contains("200,011 B"), "{notice}");
    assert!(!td.log().contains("panicked"));
}

#[tokio::test]
async fn sign_in_sends_the_browser_only_somewhere_on_this_site() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    for (next, to) in [
        ("/tasks?state=failed", "/tasks?state=failed"),
        ("/queues/你好", "/queues/%E4%BD%A0%E5%A5%BD"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/\r\nSet-Cookie: a=b", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/%0d%0aSet-Cookie:%20a=b", "/%0d%0aSet-Cookie:%20a=b"),
        ("", "/"),
    ] {
        let http = browser();
        let resp = sign_in(&http, &td.url, "admin", ADMIN_PASSWORD, next).await;
        assert_eq!(resp.status(), 303, "{next:?}");
        assert_eq!(resp.headers()["location"], to, "{next:?}");
        assert!(resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("a=")));
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let (cookie, _) = session(&td, "admin", ADMIN_PASSWORD).await;
    for (path, page) in [
        ("/", true),
        ("/tasks", true),
        ("/queues/q", true),
        ("/admin/audit", true),
        ("/login", false),
        ("/api/v1/tasks", false),
        ("/api/ui/overview", false),
        ("/healthz", false),
        ("/metrics", false),
        ("/no-such-page", true),
    ] {
        let r = raw(
            &td.url,
            "GET",
            path,
            &[("Cookie", &cookie), ("Accept", "text/html")],
            "",
        )
        .await;
        let csp = r
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no policy"));
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline'; ") || csp.contains("style-src-attr 'unsafe-inline'"),
            "{path}: {csp}"
        );
        if page {
            assert!(
                csp.contains("script-src 'self' 'nonce-") && csp.contains("'wasm-unsafe-eval'"),
                "{path}: {csp}"
            );
            assert!(
                csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"),
                "{path}: {csp}"
            );
            let nonce = csp
                .split("'nonce-")
                .nth(1)
                .unwrap()
                .split('\'')
                .next()
                .unwrap();
            assert!(
                r.text().contains(&format!("nonce=\"{nonce}\"")),
                "{path}: inline scripts carry the nonce"
            );
        }
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert!(r.header("referrer-policy").is_some(), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(
            r.header("strict-transport-security"),
            None,
            "{path}: plain HTTP"
        );
    }
    drop(td);
    // Behind TLS (`--secure-cookies`): HSTS.
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--secure-cookies"]);
    let r = raw(&td.url, "GET", "/login", &[], "").await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
}

/// A site as `scripts/build-site.sh` lays it out, with made-up content.
fn fake_site(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Write;
    let mut files = Vec::new();
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::create_dir_all(root.join("vendor")).unwrap();
    let hashes = [
        ("js", "0123456789abcdef"),
        ("wasm", "1123456789abcdef"),
        ("css", "2123456789abcdef"),
        ("echarts", "3123456789abcdef"),
    ];
    let hash_txt: String = hashes.iter().map(|(k, h)| format!("{k}: {h}\n")).collect();
    std::fs::write(root.join("pkg/hash.txt"), hash_txt).unwrap();
    for (rel, body) in [
        (
            "pkg/taskdeck.0123456789abcdef.js",
            "export default function(){}".repeat(200),
        ),
        (
            "pkg/taskdeck.1123456789abcdef.wasm",
            "\0asm wasm bytes ".repeat(500),
        ),
        (
            "pkg/taskdeck.2123456789abcdef.css",
            "body{color:red}".repeat(300),
        ),
        (
            "vendor/echarts.3123456789abcdef.min.js",
            "var echarts={};".repeat(300),
        ),
        (
            "favicon.svg",
            "<svg xmlns='http://www.w3.org/2000/svg'/>".into(),
        ),
    ] {
        let bytes = body.into_bytes();
        std::fs::write(root.join(rel), &bytes).unwrap();
        if rel.starts_with("pkg/") || rel.starts_with("vendor/") {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(&bytes).unwrap();
            std::fs::write(root.join(format!("{rel}.gz")), gz.finish().unwrap()).unwrap();
            // Marked, to tell the sibling from compression on the fly.
            std::fs::write(
                root.join(format!("{rel}.br")),
                format!("brotli sibling of {rel}"),
            )
            .unwrap();
        }
        files.push((format!("/{rel}"), bytes));
    }
    files
}

#[tokio::test]
async fn assets_are_served_compressed_cached_and_only_as_files() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let files = fake_site(&site);
    let td = Taskdeck::start(dir.path(), &["--site-root", site.to_str().unwrap()]);
    for (path, bytes) in &files {
        let plain = raw(&td.url, "GET", path, &[], "").await;
        assert_eq!(plain.status, 200, "{path}");
        assert_eq!(&plain.body, bytes, "{path}");
        assert_eq!(plain.header("x-content-type-options"), Some("nosniff"));
        let fingerprinted = path != "/favicon.svg";
        let cache = plain.header("cache-control").unwrap();
        if fingerprinted {
            assert_eq!(cache, "public, max-age=31536000, immutable", "{path}");
            let br = raw(&td.url, "GET", path, &[("Accept-Encoding", "br, gzip")], "").await;
            assert_eq!(br.header("content-encoding"), Some("br"), "{path}");
            assert_eq!(br.text(), format!("brotli sibling of {}", &path[1..]));
            let gz = raw(&td.url, "GET", path, &[("Accept-Encoding", "gzip")], "").await;
            assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
            assert!(
                gz.body.len() < bytes.len() / 4,
                "{path}: {} of {}",
                gz.body.len(),
                bytes.len()
            );
        } else {
            assert_eq!(cache, "no-cache", "{path}");
        }
        // Validators: a repeat visit costs a 304; a range is served.
        let modified = plain
            .header("last-modified")
            .expect("last-modified")
            .to_owned();
        let again = raw(
            &td.url,
            "GET",
            path,
            &[("If-Modified-Since", &modified)],
            "",
        )
        .await;
        assert_eq!(again.status, 304, "{path}");
        let part = raw(&td.url, "GET", path, &[("Range", "bytes=0-9")], "").await;
        assert_eq!((part.status, part.body.len()), (206, 10), "{path}");
    }
    // The asset service only ever returns files: anything else under it is 404, never a page.
    for path in ["/pkg/", "/pkg/nothing.js", "/vendor/x", "/pkg/hash.txt/x"] {
        let r = raw(&td.url, "GET", path, &[("Accept", "text/html")], "").await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains("<html"), "{path}");
    }
    // Pages link the hashed names; pages and JSON go out compressed, live streams never.
    let (cookie, _) = session(&td, "admin", ADMIN_PASSWORD).await;
    let page = raw(&td.url, "GET", "/", &[("Cookie", &cookie)], "").await;
    let html = page.text();
    for name in [
        "/pkg/taskdeck.2123456789abcdef.css",
        "/vendor/echarts.3123456789abcdef.min.js",
        "taskdeck.0123456789abcdef",
        "taskdeck.1123456789abcdef",
    ] {
        assert!(html.contains(name), "{name} not linked");
    }
    for path in ["/", "/api/v1/openapi.json"] {
        let r = raw(
            &td.url,
            "GET",
            path,
            &[("Cookie", &cookie), ("Accept-Encoding", "gzip")],
            "",
        )
        .await;
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{path}");
    }
    let live = raw(
        &td.url,
        "GET",
        "/api/v1/live?view=overview",
        &[("Cookie", &cookie), ("Accept-Encoding", "gzip, br")],
        "",
    )
    .await;
    assert_eq!(live.header("content-type"), Some("text/event-stream"));
    assert_eq!(live.header("content-encoding"), None);
    let login = raw(&td.url, "GET", "/login", &[], "").await;
    assert!(login.text().contains("/pkg/taskdeck.2123456789abcdef.css"));
}

#[tokio::test]
async fn nobody_can_grow_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let huge = "n".repeat(1_000_000);
    for _ in 0..40 {
        let http = browser();
        let resp = sign_in(&http, &td.url, &huge, "wrong password", "/").await;
        assert!([401, 429].contains(&resp.status().as_u16()));
    }
    let long_path = format!("/api/v1/tasks/{}", "p".repeat(60_000));
    for _ in 0..40 {
        let r = raw(
            &td.url,
            "GET",
            &long_path,
            &[("Authorization", "Bearer td_0123456789ab_bogus")],
            "",
        )
        .await;
        assert_eq!(r.status, 401);
    }
    let (cookie, _) = session(&td, "admin", ADMIN_PASSWORD).await;
    let r = get_as(&td, &cookie, "/api/v1/audit?limit=500").await;
    assert_eq!(r.status, 200);
    assert!(r.body.len() < 64 * 1024, "{} bytes of audit", r.body.len());
    let page: Value = serde_json::from_slice(&r.body).unwrap();
    let entries = page["entries"].as_array().unwrap();
    // A few written one by one per address, kind and minute; the rest counted for one
    // summary each.
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| {
                e["action"] == action && e["actor"] == "anonymous" && e["outcome"] == outcome
            })
            .count()
    };
    for (action, outcome) in [
        ("login", "failed"),
        ("login", "limited"),
        ("token.use", "denied"),
    ] {
        let n = count(action, outcome);
        assert!((1..=5).contains(&n), "{action} {outcome}: {n}");
    }
    for e in entries {
        for field in ["actor", "action", "target", "outcome", "ip"] {
            assert!(
                e[field].as_str().unwrap().len() <= 300,
                "{field}: {}",
                e[field].as_str().unwrap().len()
            );
        }
        assert!(e["detail"].as_str().unwrap().len() <= 1100);
    }
    assert!(entries
        .iter()
        .any(|e| e["target"].as_str().unwrap().ends_with("(1000000 bytes)")));
}

#[tokio::test]
async fn failed_sign_ins_cannot_lock_the_owner_out() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--trusted-proxies", "127.0.0.1"]);
    let attempt = |from: String, password: &'static str| {
        let url = td.url.clone();
        async move {
            let http = reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(
                    [(
                        reqwest::header::HeaderName::from_static("x-forwarded-for"),
                        from.parse().unwrap(),
                    )]
                    .into_iter()
                    .collect(),
                )
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            sign_in(&http, &url, "admin", password, "/")
                .await
                .status()
                .as_u16()
        }
    };
    // One attacker address: refused after five failures, for this name only.
    for _ in 0..5 {
        assert_eq!(attempt("10.0.0.1".into(), "guess").await, 401);
    }
    assert_eq!(
        attempt("10.0.0.1".into(), ADMIN_PASSWORD).await,
        429,
        "that address is refused"
    );
    // Many attacker addresses at once: the name is slowed, never locked.
    let attackers = (2..12).map(|a| {
        let attempt = &attempt;
        async move {
            for _ in 0..5 {
                assert_eq!(attempt(format!("10.0.1.{a}"), "guess").await, 401);
            }
        }
    });
    futures_util::future::join_all(attackers).await;
    let started = Instant::now();
    assert_eq!(
        attempt("192.0.2.7".into(), ADMIN_PASSWORD).await,
        303,
        "the owner signs in from a fresh address"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(td);
    // Without trusted proxies a client cannot pick the address its failures count against.
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let url = td.url.clone();
    for i in 0..5 {
        let from = format!("10.9.0.{i}");
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let csrf = form_token(&http, &url).await;
        let status = http
            .post(format!("{url}/login"))
            .header("x-forwarded-for", from)
            .form(&[
                ("name", "admin"),
                ("password", "guess"),
                ("csrf", &csrf),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    let http = browser();
    assert_eq!(
        sign_in(&http, &url, "admin", "guess", "/").await.status(),
        429,
        "all five counted against the peer"
    );
}

/// Opens a live stream and keeps its connection: the status and the head of the answer.
async fn open_stream(url: &str, path: &str, auth: &str) -> (u16, String, tokio::net::TcpStream) {
    let host = url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text, conn)
}

#[tokio::test]
async fn live_streams_are_shared_fairly_between_callers() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let token = format!("Bearer {}", td.token);
    let mut kept = Vec::new();
    for i in 0..24 {
        let path = format!("/api/v1/live?view=queue&queue=q{i}");
        let (status, _, conn) = open_stream(&td.url, &path, &token).await;
        assert_eq!(status, 200, "stream {i}");
        kept.push(conn);
    }
    let (status, text, _) = open_stream(&td.url, "/api/v1/live?view=overview", &token).await;
    assert_eq!(status, 429, "one caller's share is full: {text}");
    // Another caller is not affected.
    let (cookie, _) = session(&td, "admin", ADMIN_PASSWORD).await;
    let r = get_as(&td, &cookie, "/api/v1/live?view=overview").await;
    assert_eq!(r.status, 200);
    drop(kept);

    // Task filters: four per caller, so nobody takes every slot of the instance (a second
    // instance: the first may not have noticed the closed streams yet).
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let token = format!("Bearer {}", td.token);
    let mut filters = Vec::new();
    for q in 0..4 {
        let path = format!("/api/v1/live?view=tasks&queue=f{q}");
        let (status, _, conn) = open_stream(&td.url, &path, &token).await;
        assert_eq!(status, 200);
        filters.push(conn);
    }
    let (status, text, _) = open_stream(&td.url, "/api/v1/live?view=tasks&queue=f9", &token).await;
    assert_eq!(status, 429, "{text}");
    assert!(text.contains("live task filters"), "{text}");
    // The same filter again is not a new one.
    let (status, _, _again) =
        open_stream(&td.url, "/api/v1/live?view=tasks&queue=f0", &token).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn account_rules_hold() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &[]);
    let first = session(&td, "admin", ADMIN_PASSWORD).await;
    let second = session(&td, "admin", ADMIN_PASSWORD).await;
    let signed_in = |s: &(String, String)| {
        let (url, cookie) = (td.url.clone(), s.0.clone());
        async move {
            raw(&url, "GET", "/api/v1/users", &[("Cookie", &cookie)], "")
                .await
                .status
        }
    };
    assert_eq!(
        (signed_in(&first).await, signed_in(&second).await),
        (200, 200)
    );
    // Blank passwords are refused.
    let r = change(
        &td,
        &first,
        "PUT",
        "/api/v1/users/vera",
        json!({"role": "viewer", "password": "          "}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("only spaces"));
    let r = change(
        &td,
        &first,
        "PUT",
        "/api/v1/users/vera",
        json!({"role": "viewer", "password": "long enough"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let vera = session(&td, "vera", "long enough").await;
    // A viewer's admin reads are refused with 403, not an error.
    for f in ["admin_users", "admin_tokens", "admin_audit?text="] {
        let r = raw(
            &td.url,
            "GET",
            &format!("/api/ui/{f}"),
            &[("Cookie", &vera.0)],
            "",
        )
        .await;
        assert_eq!(r.status, 403, "{f}: {}", r.text());
    }
    // An admin resets vera's password: her session ends.
    let r = change(
        &td,
        &first,
        "PUT",
        "/api/v1/users/vera",
        json!({"password": "another one"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        raw(&td.url, "GET", "/api/v1/tasks", &[("Cookie", &vera.0)], "")
            .await
            .status,
        401
    );
    // The admin changes their own password: their other session ends, this one stays.
    let r = change(
        &td,
        &first,
        "PUT",
        "/api/v1/users/admin",
        json!({"password": "a new admin password"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        signed_in(&first).await,
        200,
        "the session that changed it stays"
    );
    assert_eq!(signed_in(&second).await, 401, "the other one ends");
    // A bulk command with the documented 10,000 ids of full length fits.
    let ids: Vec<String> = (0..10_000).map(|i| format!("{i:0>256}")).collect();
    let body = json!({"action": "revoke", "ids": ids, "queue": "q"}).to_string();
    assert!(body.len() > 2 * 1024 * 1024);
    let r = raw(
        &td.url,
        "POST",
        "/api/v1/tasks/bulk",
        &[
            ("Authorization", &format!("Bearer {}", td.token)),
            ("Content-Type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
}

#[tokio::test]
async fn pages_cut_off_by_their_clients_leave_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let td = Taskdeck::start(dir.path(), &["--demo"]);
    let (cookie, _) = session(&td, "admin", ADMIN_PASSWORD).await;
    let paths = [
        "/",
        "/tasks",
        "/failures",
        "/workers",
        "/queues/demo_orders",
        "/tasks/none",
        "/no-such-page",
        "/admin/users",
    ];
    for round in 0..6u64 {
        let mut all = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            for cut in [false, true] {
                let (url, cookie, path) = (td.url.clone(), cookie.clone(), path.to_string());
                all.push(tokio::spawn(async move {
                    let headers = [("Cookie", cookie.as_str()), ("Accept", "text/html")];
                    let req = raw(&url, "GET", &path, &headers, "");
                    if cut {
                        // Gone after a few milliseconds, mid-render.
                        let _ = tokio::time::timeout(
                            Duration::from_millis(1 + (round * 7 + i as u64) % 9),
                            req,
                        )
                        .await;
                    } else {
                        assert!(req.await.status < 500, "{path}");
                    }
                }));
            }
        }
        for task in all {
            task.await.unwrap();
        }
    }
    // Renders that outlived their request have run by the time the same pages rendered in
    // full once more.
    for path in paths {
        let r = raw(
            &td.url,
            "GET",
            path,
            &[("Cookie", &cookie), ("Accept", "text/html")],
            "",
        )
        .await;
        assert!(r.status < 500, "{path}");
    }
    assert!(!td.log().contains("panicked"), "{}", td.log());
}
