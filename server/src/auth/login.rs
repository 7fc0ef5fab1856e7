//! The sign-in page (plain HTML: it works before and without the wasm bundle), signing in and
//! signing out.

use super::guard::{begin, client_ip, CSRF};
use super::{password, Auth};
use app::i18n::Locale;
use app::prefs::{cookie_value, Theme, LANG_COOKIE, THEME_COOKIE};
use axum::extract::{Query, Request, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use http::header::{ACCEPT_LANGUAGE, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use std::sync::Arc;
use tower_sessions::Session;

/// Double-submit cookie of the sign-in form: the form's hidden field must equal it, so another
/// site cannot sign a browser in to an account of its choosing.
const FORM_COOKIE: &str = "taskdeck_login";

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    /// `out` after signing out.
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// What the page says above the form.
enum Notice {
    None,
    SignedOut,
    Failed,
    Limited(u64),
    FormExpired,
}

/// What the sign-in page needs: the gate's state and the stylesheet's name.
#[derive(Clone)]
pub struct LoginState {
    pub auth: Arc<Auth>,
    pub css: Arc<str>,
}

/// The sign-in page's policy: its stylesheet and icon, its form; no script at all.
const LOGIN_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn page(
    State(login): State<LoginState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("out") => Notice::SignedOut,
        _ => Notice::None,
    };
    render(
        &login,
        &headers,
        StatusCode::OK,
        notice,
        "",
        q.next.as_deref().unwrap_or(""),
    )
}

pub async fn sign_in(State(login): State<LoginState>, req: Request) -> Response {
    let auth = &login.auth;
    let ip = client_ip(req.extensions());
    let session = req.extensions().get::<Session>().cloned();
    let (parts, body) = req.into_parts();
    let headers = parts.headers.clone();
    let form = match Form::<LoginForm>::from_request(Request::from_parts(parts, body), &()).await {
        Ok(Form(f)) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    };
    let cookies = header_str(&headers, COOKIE);
    let form_ok =
        cookie_value(cookies, FORM_COOKIE).is_some_and(|c| !c.is_empty() && c == form.csrf);
    if !form_ok {
        auth.audit(
            super::ANONYMOUS,
            "login",
            &form.name,
            "denied",
            "sign-in form without its CSRF cookie",
            &ip,
        )
        .await;
        return render(
            &login,
            &headers,
            StatusCode::FORBIDDEN,
            Notice::FormExpired,
            &form.name,
            &form.next,
        );
    }
    let now = crate::model::now_epoch();
    let verdict = auth.sign_in_verdict(&ip, &form.name, now);
    if let super::Verdict::Wait(delay) = verdict {
        tokio::time::sleep(delay).await;
    }
    if let super::Verdict::Refuse(wait) = verdict {
        auth.audit(
            super::ANONYMOUS,
            "login",
            &form.name,
            "limited",
            &format!("retry in {wait} s"),
            &ip,
        )
        .await;
        let mut response = render(
            &login,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Notice::Limited(wait),
            &form.name,
            &form.next,
        );
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    let user = match auth.store.user(&form.name).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot read users");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store does not answer; try again",
            )
                .into_response();
        }
    };
    // An unknown name costs as much as a wrong password, so timing does not tell them apart.
    let ok = match &user {
        Some(u) => password::verify(&form.password, &u.password_hash),
        None => {
            password::verify(&form.password, dummy_hash());
            false
        }
    };
    let (Some(user), true, Some(session)) = (user, ok, session) else {
        auth.failed(&ip, &form.name, now);
        auth.audit(
            super::ANONYMOUS,
            "login",
            &form.name,
            "failed",
            "wrong user name or password",
            &ip,
        )
        .await;
        return render(
            &login,
            &headers,
            StatusCode::UNAUTHORIZED,
            Notice::Failed,
            &form.name,
            &form.next,
        );
    };
    if let Err(e) = begin(&session, &user).await {
        tracing::error!(error = %format!("{e:#}"), "cannot start a session");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "cannot start a session; try again",
        )
            .into_response();
    }
    auth.succeeded(&ip, &user.name);
    auth.audit(
        &format!("user:{}", user.name),
        "login",
        &user.name,
        "ok",
        "",
        &ip,
    )
    .await;
    Redirect::to(&local_target(&form.next)).into_response()
}

pub async fn sign_out(State(auth): State<Arc<Auth>>, session: Session, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    let actor = req
        .extensions()
        .get::<super::Principal>()
        .map(|p| p.actor())
        .unwrap_or_default();
    let Ok(Form(form)) = Form::<LogoutForm>::from_request(req, &()).await else {
        return (StatusCode::BAD_REQUEST, "expected a form with `csrf`").into_response();
    };
    let expected: String = session.get(CSRF).await.ok().flatten().unwrap_or_default();
    let presented = HeaderValue::from_str(&form.csrf).ok();
    if !super::guard::csrf_matches(presented.as_ref(), &expected) {
        auth.audit(
            &actor,
            "logout",
            "",
            "denied",
            "missing or wrong CSRF token",
            &ip,
        )
        .await;
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
    }
    if let Err(e) = session.flush().await {
        tracing::error!(error = %format!("{e:#}"), "cannot end a session");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "cannot end the session; try again",
        )
            .into_response();
    }
    auth.audit(&actor, "logout", "", "ok", "", &ip).await;
    Redirect::to("/login?done=out").into_response()
}

use axum::extract::FromRequest;

/// Where to go after signing in: `next` only if, read as a URL reference against this site,
/// it stays on this site and holds no control character or backslash (browsers drop tabs and
/// newlines and read `\\` as `/`, so `/<TAB>/evil.example` and `/\\evil.example` lead away);
/// otherwise the overview. The answer is the normalised, percent-encoded path and query.
fn local_target(next: &str) -> String {
    const HERE: &str = "http://taskdeck.invalid/";
    let clean =
        next.starts_with('/') && !next.contains('\\') && !next.chars().any(|c| c.is_control());
    let base = url::Url::parse(HERE).expect("a valid base");
    match base.join(next) {
        Ok(to) if clean && to.origin() == base.origin() => {
            to[url::Position::BeforePath..].to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn dummy_hash() -> &'static str {
    static HASH: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| password::hash("taskdeck"));
    &HASH
}

fn header_str(headers: &HeaderMap, name: http::header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn render(
    login: &LoginState,
    headers: &HeaderMap,
    status: StatusCode,
    notice: Notice,
    name: &str,
    next: &str,
) -> Response {
    let cookies = header_str(headers, COOKIE);
    let locale = cookie_value(cookies, LANG_COOKIE)
        .and_then(Locale::from_code)
        .unwrap_or_else(|| Locale::from_accept_language(header_str(headers, ACCEPT_LANGUAGE)));
    let theme = cookie_value(cookies, THEME_COOKIE)
        .map(Theme::parse)
        .unwrap_or_default();
    let t = locale.strings();
    // The form's token is renewed with every page, so a stale tab is never stuck.
    let token = password::random_hex();
    let (notice_class, notice_text) = match notice {
        Notice::None => ("", String::new()),
        Notice::SignedOut => ("notice", t.login_signed_out.to_owned()),
        Notice::Failed => ("notice error", t.login_failed.to_owned()),
        Notice::Limited(wait) => ("notice error", locale.login_limited(wait)),
        Notice::FormExpired => ("notice error", t.login_expired_form.to_owned()),
    };
    let notice_html = if notice_text.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p class="{notice_class}" role="alert" data-testid="login-notice">{}</p>"#,
            escape(&notice_text)
        )
    };
    let autofocus_name = if name.is_empty() { " autofocus" } else { "" };
    let autofocus_password = if name.is_empty() { "" } else { " autofocus" };
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="{lang}" data-theme="{theme}">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="color-scheme" content="light dark"/>
<title>{title}</title>
<link rel="icon" href="/favicon.svg"/>
<link rel="stylesheet" href="{css}"/>
</head>
<body class="login-body">
<main class="login-card">
<div class="login-brand"><svg class="logo" viewBox="0 0 32 32" aria-hidden="true"><rect x="3" y="5" width="26" height="6" rx="2"/><rect x="3" y="13" width="18" height="6" rx="2" opacity="0.75"/><rect x="3" y="21" width="11" height="6" rx="2" opacity="0.5"/></svg><span class="brand-name">taskdeck</span></div>
<h1>{title}</h1>
{notice_html}
<form method="post" action="/login" class="login-form" data-testid="login-form">
<input type="hidden" name="csrf" value="{token}"/>
<input type="hidden" name="next" value="{next}"/>
<label>{l_name}<input name="name" autocomplete="username" required value="{name}"{autofocus_name}/></label>
<label>{l_password}<input name="password" type="password" autocomplete="current-password" required{autofocus_password}/></label>
<button type="submit" class="button primary">{submit}</button>
</form>
<p class="login-lead">{lead}</p>
</main>
</body>
</html>"#,
        lang = locale.code(),
        theme = theme.attr(),
        title = escape(t.login_title),
        next = escape(next),
        name = escape(name),
        l_name = escape(t.login_name),
        l_password = escape(t.login_password),
        submit = escape(t.login_submit),
        lead = escape(t.login_lead),
        css = escape(&login.css),
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{FORM_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
            if login.auth.secure_cookies {
                "; Secure"
            } else {
                ""
            }
        ))
        .expect("cookie is ASCII"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(LOGIN_POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        for (next, to) in [
            ("/tasks?state=failed", "/tasks?state=failed"),
            ("/queues/%E4%BD%A0", "/queues/%E4%BD%A0"),
            ("/queues/你好?x=é", "/queues/%E4%BD%A0%E5%A5%BD?x=%C3%A9"),
            ("/a/../tasks", "/tasks"),
            ("/tasks#frag", "/tasks#frag"),
            ("//evil.example/x", "/"),
            ("///evil.example/x", "/"),
            ("/\\evil.example", "/"),
            ("/\t/evil.example", "/"),
            ("/\n/evil.example", "/"),
            ("/\r\nSet-Cookie: x=y", "/"),
            ("/%09/evil.example", "/%09/evil.example"),
            ("https://evil.example", "/"),
            ("javascript:alert(1)", "/"),
            ("http:evil.example", "/"),
            ("", "/"),
            ("tasks", "/"),
            ("/\u{0}", "/"),
        ] {
            assert_eq!(local_target(next), to, "{next:?}");
        }
    }

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
