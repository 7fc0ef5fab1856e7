use crate::i18n::Locale;
use crate::prefs::{effective_dark, use_prefs, use_strings, Theme};
use leptos::prelude::*;
use leptos_router::components::A;

/// Header with navigation and display settings around every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let t = use_strings();
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand" attr:title=move || t().product_tagline>
                <Logo/>
                <span class="brand-name">"taskdeck"</span>
            </A>
            <nav class="nav" aria-label="Main">
                <A href="/" exact=true>{move || t().nav_overview}</A>
                <A href="/queues">{move || t().nav_queues}</A>
                <A href="/tasks">{move || t().nav_tasks}</A>
                <A href="/failures">{move || t().nav_failures}</A>
                <A href="/workers">{move || t().nav_workers}</A>
                {crate::me::use_me().is_some_and(|m| m.role == protocol::auth::Role::Admin).then(|| {
                    // Current on every admin page, not only the one it links to.
                    let path = leptos_router::hooks::use_location().pathname;
                    let here = move || path.get().starts_with("/admin/").then_some("page");
                    view! { <a href="/admin/users" aria-current=here>{move || t().nav_admin}</a> }
                })}
            </nav>
            <div class="toolbar">
                <LanguageSwitch/>
                <ThemeToggle/>
                <UserMenu/>
            </div>
        </header>
        <main class="content">{children()}</main>
        <footer class="footer">
            <a href="/api/v1/openapi.json" rel="external">{move || t().api_docs}</a>
        </footer>
    }
}

#[component]
fn Logo() -> impl IntoView {
    view! {
        <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
            <rect x="3" y="5" width="26" height="6" rx="2"/>
            <rect x="3" y="13" width="18" height="6" rx="2" opacity="0.75"/>
            <rect x="3" y="21" width="11" height="6" rx="2" opacity="0.5"/>
        </svg>
    }
}

#[component]
fn ThemeToggle() -> impl IntoView {
    let prefs = use_prefs();
    let t = use_strings();
    let toggle = move |_| {
        let next = if effective_dark(prefs.theme.get_untracked()) {
            Theme::Light
        } else {
            Theme::Dark
        };
        prefs.set_theme(next);
    };
    // Both icons are rendered; CSS shows the one matching the effective theme, which the
    // server cannot know while the theme follows the system.
    view! {
        <button
            class="icon-button theme-toggle"
            type="button"
            on:click=toggle
            data-testid="theme-toggle"
            aria-label=move || format!("{} / {}", t().theme_to_dark, t().theme_to_light)
        >
            <svg class="icon-moon" viewBox="0 0 24 24" aria-hidden="true">
                <title>{move || t().theme_to_dark}</title>
                <path d="M20 14.5A8.5 8.5 0 0 1 9.5 4a8.5 8.5 0 1 0 10.5 10.5z"/>
            </svg>
            <svg class="icon-sun" viewBox="0 0 24 24" aria-hidden="true">
                <title>{move || t().theme_to_light}</title>
                <circle cx="12" cy="12" r="4.5"/>
                <path d="M12 2v2.5M12 19.5V22M2 12h2.5M19.5 12H22M4.9 4.9l1.8 1.8M17.3 17.3l1.8 1.8M4.9 19.1l1.8-1.8M17.3 6.7l1.8-1.8"/>
            </svg>
        </button>
    }
}

#[component]
fn LanguageSwitch() -> impl IntoView {
    let prefs = use_prefs();
    let t = use_strings();
    let on_change = move |ev| {
        if let Some(locale) = Locale::from_code(&event_target_value(&ev)) {
            prefs.set_locale(locale);
        }
    };
    view! {
        <label class="lang-switch">
            <span class="visually-hidden">{move || t().language}</span>
            <select on:change=on_change data-testid="language" prop:value=move || prefs.locale.get().code()>
                {Locale::ALL
                    .into_iter()
                    .map(|l| {
                        view! {
                            <option value=l.code() selected=move || prefs.locale.get() == l>
                                {l.native_name()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Who is signed in, with their role, and the way out. Signing out is a plain form post (with
/// the session's CSRF token), so it works before the page is interactive.
#[component]
fn UserMenu() -> impl IntoView {
    let t = use_strings();
    let prefs = use_prefs();
    crate::me::use_me().map(|me| {
        let role = me.role;
        view! {
            <div class="user-menu" data-testid="user-menu">
                <span class="user-name" title=move || format!("{} {}", t().signed_in_as, me.name)>
                    {me.name.clone()}
                </span>
                <span class="role-badge" data-role=role.code()>{move || prefs.locale.get().role(role)}</span>
                <form method="post" action="/logout" class="sign-out">
                    <input type="hidden" name="csrf" value=me.csrf.clone()/>
                    <button type="submit" class="link-button" data-testid="sign-out">{move || t().sign_out}</button>
                </form>
            </div>
        }
    })
}
