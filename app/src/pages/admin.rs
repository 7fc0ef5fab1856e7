//! Administration, for admins: users and their roles, API tokens, and the audit log. Reads are
//! server functions that refuse anyone but an admin; changes go through the REST API with the
//! session's CSRF token, like every other change a page makes.

use crate::api::{admin_audit, admin_tokens, admin_users};
use crate::client::send;
use crate::components::empty_state::EmptyState;
use crate::components::links::encode;
use crate::components::title::PageTitle;
use crate::me::use_me;
use crate::prefs::{use_prefs, use_strings, Prefs};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use protocol::auth::{
    AuditPage, CreatedToken, NewToken, Role, Scope, TokenInfo, UserChange, UserInfo,
};
use protocol::rest::{Call, CreateToken, DeleteUser, PutUser, RevokeToken};

/// The three tabs, and a plain refusal for anyone but an admin.
#[component]
fn AdminFrame(
    title: fn(&crate::i18n::Strings) -> &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let t = use_strings();
    let admin = use_me().is_some_and(|m| m.role == Role::Admin);
    view! {
        <PageTitle text=move || title(t()).to_owned()/>
        <div class="page-head">
            <h1>{move || t().nav_admin}</h1>
            <p class="lead">{move || t().adm_lead}</p>
        </div>
        <nav class="tabs" aria-label="Administration">
            <A href="/admin/users">{move || t().adm_users}</A>
            <A href="/admin/tokens">{move || t().adm_tokens}</A>
            <A href="/admin/audit">{move || t().adm_audit}</A>
        </nav>
        {move || if admin {
            children().into_any()
        } else {
            view! { <EmptyState title=move || t().adm_only body=move || ""/> }.into_any()
        }}
    }
}

fn when(prefs: Prefs, at: Option<f64>) -> String {
    match at {
        Some(at) => prefs.zone.get().datetime(at),
        None => prefs.locale.get().strings().adm_never.to_owned(),
    }
}

/// Asks the browser, in the page's words.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn confirm(question: &str) -> bool {
    web_sys::window().is_some_and(|w| w.confirm_with_message(question).unwrap_or(false))
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
fn confirm(_question: &str) -> bool {
    false
}

#[component]
pub fn AdminUsers() -> impl IntoView {
    view! { <AdminFrame title=|t| t.adm_users><UsersBody/></AdminFrame> }
}

#[component]
fn UsersBody() -> impl IntoView {
    let t = use_strings();
    let prefs = use_prefs();
    let me = use_me().map(|m| m.name).unwrap_or_default();
    let version = RwSignal::new(0u32);
    let users = Resource::new(move || version.get(), |_| admin_users());
    let message = RwSignal::new(None::<Result<String, String>>);
    let put =
        move |name: String, change: UserChange| apply(PutUser { name, change }, message, version);
    let (new_name, new_role, new_password) = (
        RwSignal::new(String::new()),
        RwSignal::new(Role::Viewer),
        RwSignal::new(String::new()),
    );
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        put(
            new_name.get_untracked().trim().to_owned(),
            UserChange {
                role: Some(new_role.get_untracked()),
                password: Some(new_password.get_untracked()),
            },
        );
        new_password.set(String::new());
        new_name.set(String::new());
    };
    view! {
        <Transition fallback=|| ()>
            {move || users.get().map(|r| match r {
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Ok(list) => {
                    let me = me.clone();
                    view! {
                        <section class="card table-card">
                            <table class="table" data-testid="users">
                                <thead><tr>
                                    <th>{move || t().adm_name}</th><th>{move || t().adm_role}</th>
                                    <th>{move || t().adm_created}</th><th>{move || t().adm_changed}</th><th>{move || t().adm_set_password}</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u: UserInfo| {
                                        let own = u.name == me;
                                        let name = u.name.clone();
                                        let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
                                        let password = RwSignal::new(String::new());
                                        view! {
                                            <tr data-user=name.clone()>
                                                <td class="mono">{name.clone()} {own.then(|| view! { <span class="muted small">" (" {move || t().adm_you} ")"</span> })}</td>
                                                <td>
                                                    <select disabled=own data-testid="role" on:change=move |e| {
                                                        if let Ok(role) = event_target_value(&e).parse::<Role>() {
                                                            put(n1.clone(), UserChange { role: Some(role), password: None });
                                                        }
                                                    }>
                                                        {Role::ALL.into_iter().map(|r| view! {
                                                            <option value=r.code() selected=r == u.role>{move || prefs.locale.get().role(r)}</option>
                                                        }).collect_view()}
                                                    </select>
                                                </td>
                                                <td>{move || when(prefs, Some(u.created_at))}</td>
                                                <td>{move || when(prefs, Some(u.updated_at))}</td>
                                                <td>
                                                    <form class="inline-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                                                        ev.prevent_default();
                                                        put(n2.clone(), UserChange { role: None, password: Some(password.get_untracked()) });
                                                        password.set(String::new());
                                                    }>
                                                        <input type="password" autocomplete="new-password" minlength="8" required placeholder=move || t().adm_new_password
                                                            prop:value=move || password.get() on:input=move |e| password.set(event_target_value(&e)) data-testid="new-password"/>
                                                        <button type="submit" class="button">{move || t().adm_set_password}</button>
                                                    </form>
                                                </td>
                                                <td>
                                                    {(!own).then(|| view! {
                                                        <button type="button" class="button danger" data-testid="remove" on:click=move |_| {
                                                            if confirm(t().adm_remove_confirm) { apply(DeleteUser { name: n3.clone() }, message, version) }
                                                        }>{move || t().adm_remove}</button>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
        <Notice message/>
        <section class="card">
            <h2>{move || t().adm_add_user}</h2>
            <form class="inline-form add-form" on:submit=add data-testid="add-user">
                <label>{move || t().adm_name}<input required maxlength="64" pattern="[A-Za-z0-9._@\\-]+" prop:value=move || new_name.get() on:input=move |e| new_name.set(event_target_value(&e))/></label>
                <label>{move || t().adm_role}
                    <select on:change=move |e| if let Ok(r) = event_target_value(&e).parse() { new_role.set(r) }>
                        {Role::ALL.into_iter().map(|r| view! { <option value=r.code() selected=r == Role::Viewer>{move || prefs.locale.get().role(r)}</option> }).collect_view()}
                    </select>
                </label>
                <label>{move || t().adm_password}<input type="password" autocomplete="new-password" minlength="8" required prop:value=move || new_password.get() on:input=move |e| new_password.set(event_target_value(&e))/></label>
                <button type="submit" class="button primary">{move || t().adm_add_user}</button>
            </form>
        </section>
    }
}

/// Sends a change, says how it went in `message`, then has the list read again.
fn apply<C: Call + 'static>(
    call: C,
    message: RwSignal<Option<Result<String, String>>>,
    version: RwSignal<u32>,
) {
    message.set(None);
    leptos::task::spawn_local(async move {
        let done = send(&call).await;
        message.set(Some(
            done.map(|_| use_strings_now().adm_saved.to_owned())
                .map_err(|e| e.message),
        ));
        version.update(|v| *v += 1);
    });
}

/// The strings of the page's language now (outside a reactive view).
fn use_strings_now() -> &'static crate::i18n::Strings {
    use_prefs().locale.get_untracked().strings()
}

/// The outcome of the last change: saved, or the API's reason.
#[component]
fn Notice(message: RwSignal<Option<Result<String, String>>>) -> impl IntoView {
    move || {
        message.get().map(|m| match m {
            Ok(text) => view! { <p class="command-status applied" role="status" data-testid="admin-notice">{text}</p> }.into_any(),
            Err(e) => view! { <p class="command-status failed" role="alert" data-testid="admin-notice">{e}</p> }.into_any(),
        })
    }
}

#[component]
pub fn AdminTokens() -> impl IntoView {
    view! { <AdminFrame title=|t| t.adm_tokens><TokensBody/></AdminFrame> }
}

#[component]
fn TokensBody() -> impl IntoView {
    let t = use_strings();
    let prefs = use_prefs();
    let version = RwSignal::new(0u32);
    let tokens = Resource::new(move || version.get(), |_| admin_tokens());
    let message = RwSignal::new(None::<Result<String, String>>);
    let created = RwSignal::new(None::<CreatedToken>);
    let name = RwSignal::new(String::new());
    let scopes = RwSignal::new(vec![Scope::Ingest]);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let call = CreateToken(NewToken {
            name: name.get_untracked(),
            scopes: scopes.get_untracked(),
        });
        message.set(None);
        leptos::task::spawn_local(async move {
            match send(&call).await {
                Ok(c) => {
                    created.set(Some(c));
                    name.set(String::new());
                }
                Err(e) => message.set(Some(Err(e.message))),
            }
            version.update(|v| *v += 1);
        });
    };
    let revoke = move |id: String| {
        if !confirm(t().adm_revoke_confirm) {
            return;
        }
        apply(RevokeToken { id }, message, version);
    };
    view! {
        {move || created.get().map(|c| view! {
            <div class="banner info token-once" data-testid="token-value">
                <p>{move || t().adm_token_once}</p>
                <code class="mono">{c.value.clone()}</code>
            </div>
        })}
        <Notice message/>
        <Transition fallback=|| ()>
            {move || tokens.get().map(|r| match r {
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted">{move || t().adm_empty}</p> }.into_any(),
                Ok(list) => view! {
                    <section class="card table-card">
                        <table class="table" data-testid="tokens">
                            <thead><tr>
                                <th>{move || t().adm_name}</th><th>"ID"</th><th>{move || t().adm_scopes}</th>
                                <th>{move || t().adm_created_by}</th><th>{move || t().adm_created}</th><th>{move || t().adm_last_used}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|tk: TokenInfo| {
                                    let id = tk.id.clone();
                                    view! {
                                        <tr data-token=tk.id.clone()>
                                            <td>{tk.name.clone()}</td>
                                            <td class="mono">{tk.id.clone()}</td>
                                            <td>{Scope::join(&tk.scopes)}</td>
                                            <td class="mono">{tk.created_by.clone()}</td>
                                            <td>{move || when(prefs, Some(tk.created_at))}</td>
                                            <td>{move || when(prefs, tk.last_used_at)}</td>
                                            <td><button type="button" class="button danger" data-testid="revoke-token" on:click=move |_| revoke(id.clone())>{move || t().adm_revoke}</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </section>
                }.into_any(),
            })}
        </Transition>
        <section class="card">
            <h2>{move || t().adm_create_token}</h2>
            <form class="inline-form add-form" on:submit=create data-testid="create-token">
                <label>{move || t().adm_name}<input required maxlength="100" prop:value=move || name.get() on:input=move |e| name.set(event_target_value(&e))/></label>
                <fieldset class="scopes">
                    <legend>{move || t().adm_scopes}</legend>
                    {Scope::ALL.into_iter().map(|s| view! {
                        <label class="check">
                            <input type="checkbox" value=s.code() prop:checked=move || scopes.get().contains(&s)
                                on:change=move |e| {
                                    let on = event_target_checked(&e);
                                    scopes.update(|list| { list.retain(|x| *x != s); if on { list.push(s); list.sort(); } });
                                }/>
                            {s.code()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <button type="submit" class="button primary">{move || t().adm_create_token}</button>
            </form>
        </section>
    }
}

#[component]
pub fn AdminAudit() -> impl IntoView {
    view! { <AdminFrame title=|t| t.adm_audit><AuditBody/></AdminFrame> }
}

/// The log, searchable; the search and the page live in the address (`?q=…&before=…`).
#[component]
fn AuditBody() -> impl IntoView {
    let t = use_strings();
    let prefs = use_prefs();
    let query = use_query_map();
    let text = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let before = Memo::new(move |_| {
        query
            .read()
            .get("before")
            .and_then(|b| b.parse::<f64>().ok())
    });
    let page = Resource::new(
        move || (text.get(), before.get()),
        |(q, b)| admin_audit(q, b),
    );
    let draft = RwSignal::new(String::new());
    Effect::new(move || draft.set(text.get()));
    let navigate = use_navigate();
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        navigate(
            &format!("/admin/audit?q={}", encode(draft.get_untracked().trim())),
            Default::default(),
        );
    };
    view! {
        <form class="inline-form" role="search" on:submit=search>
            <input type="search" placeholder=move || t().adm_search prop:value=move || draft.get() on:input=move |e| draft.set(event_target_value(&e)) data-testid="audit-search"/>
            <button type="submit" class="button">{move || t().adm_search}</button>
        </form>
        <Transition fallback=|| ()>
            {move || page.get().map(|r| match r {
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                Ok(AuditPage { entries, .. }) if entries.is_empty() => view! { <p class="muted">{move || t().adm_empty}</p> }.into_any(),
                Ok(AuditPage { entries, next_before }) => view! {
                    <section class="card table-card">
                        <table class="table audit-table" data-testid="audit">
                            <thead><tr>
                                <th>{move || t().adm_when}</th><th>{move || t().adm_actor}</th><th>{move || t().adm_action}</th>
                                <th>{move || t().adm_target}</th><th>{move || t().adm_outcome}</th><th>{move || t().adm_detail}</th><th>{move || t().adm_ip}</th>
                            </tr></thead>
                            <tbody>
                                {entries.into_iter().map(|e| {
                                    let class = match e.outcome.as_str() {
                                        "ok" => "outcome ok",
                                        _ => "outcome bad",
                                    };
                                    view! {
                                        <tr>
                                            <td>{move || prefs.zone.get().datetime(e.at)}</td>
                                            <td class="mono">{e.actor.clone()}</td>
                                            <td class="mono">{e.action.clone()}</td>
                                            <td class="mono wrap">{e.target.clone()}</td>
                                            <td><span class=class>{e.outcome.clone()}</span></td>
                                            <td class="wrap">{e.detail.clone()}</td>
                                            <td class="mono">{e.ip.clone()}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </section>
                    {next_before.map(|b| {
                        let href = format!("/admin/audit?q={}&before={b}", encode(&text.get_untracked()));
                        view! { <p class="pager"><A href=href attr:class="button" attr:data-testid="audit-older">{move || t().adm_older}</A></p> }
                    })}
                }.into_any(),
            })}
        </Transition>
    }
}
