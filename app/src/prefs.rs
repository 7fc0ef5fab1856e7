//! The viewer's display preferences: theme and language, kept in cookies so the server
//! renders the page the way the browser will hydrate it (no flash, no hydration mismatch),
//! and the time zone, which only the browser knows and sets once the page is interactive.

use crate::i18n::Locale;
use leptos::prelude::*;

pub const THEME_COOKIE: &str = "taskdeck_theme";
pub const LANG_COOKIE: &str = "taskdeck_lang";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    /// Follow the operating system's light/dark setting.
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub fn attr(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(v: &str) -> Theme {
        match v {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::System,
        }
    }
}

/// Reactive preferences shared by the whole app through context.
#[derive(Clone, Copy)]
pub struct Prefs {
    pub theme: Pref<Theme>,
    pub locale: Pref<Locale>,
    /// UTC on the server and until hydration, then the browser's zone.
    pub zone: Pref<crate::format::Zone>,
}

/// A preference, read by nearly every piece of text. Its reads never panic: on the server,
/// leptos may still resolve the view of a request whose client has left (a suspense's
/// effect, once its resources load) after the request's signals were disposed; such a read
/// gets the default instead of panicking a worker thread.
#[derive(Debug)]
pub struct Pref<T: Send + Sync + 'static>(RwSignal<T>);

impl<T: Send + Sync + 'static> Clone for Pref<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Pref<T> {}

impl<T: Clone + Default + Send + Sync + 'static> Pref<T> {
    pub fn new(value: T) -> Self {
        Pref(RwSignal::new(value))
    }

    pub fn get(&self) -> T {
        self.0.try_get().unwrap_or_default()
    }

    pub fn get_untracked(&self) -> T {
        self.0.try_get_untracked().unwrap_or_default()
    }

    pub fn set(&self, value: T) {
        let _ = self.0.try_set(value);
    }
}

impl Prefs {
    pub fn provide() -> Prefs {
        let cookies = request_cookies();
        let theme = cookie_value(&cookies, THEME_COOKIE)
            .map(Theme::parse)
            .unwrap_or_default();
        let locale = cookie_value(&cookies, LANG_COOKIE)
            .and_then(Locale::from_code)
            .unwrap_or_else(preferred_locale);
        let prefs = Prefs {
            theme: Pref::new(theme),
            locale: Pref::new(locale),
            zone: Pref::new(crate::format::Zone::utc()),
        };
        provide_context(prefs);
        prefs
    }

    pub fn set_theme(&self, theme: Theme) {
        self.theme.set(theme);
        store_cookie(THEME_COOKIE, theme.attr());
    }

    pub fn set_locale(&self, locale: Locale) {
        self.locale.set(locale);
        store_cookie(LANG_COOKIE, locale.code());
    }
}

pub fn use_prefs() -> Prefs {
    expect_context::<Prefs>()
}

/// The strings of the viewer's language; reactive, so text follows a language switch.
pub fn use_strings() -> impl Fn() -> &'static crate::i18n::Strings + Copy {
    let locale = use_prefs().locale;
    move || locale.get().strings()
}

pub fn cookie_value<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookies.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(feature = "ssr")]
fn request_header(name: http::header::HeaderName) -> String {
    use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
fn request_cookies() -> String {
    request_header(http::header::COOKIE)
}

/// Without a stored choice the server's pick comes from `Accept-Language`; the browser sees
/// the same page it was served, so it keeps that pick during hydration.
#[cfg(feature = "ssr")]
fn preferred_locale() -> Locale {
    Locale::from_accept_language(&request_header(http::header::ACCEPT_LANGUAGE))
}

#[cfg(not(feature = "ssr"))]
fn preferred_locale() -> Locale {
    document_lang().unwrap_or_default()
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn html_document() -> Option<web_sys::HtmlDocument> {
    use wasm_bindgen::JsCast;
    web_sys::window()?.document()?.dyn_into().ok()
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn document_lang() -> Option<Locale> {
    let lang = web_sys::window()?
        .document()?
        .document_element()?
        .get_attribute("lang")?;
    Locale::from_code(&lang)
}

#[cfg(all(not(feature = "hydrate"), not(feature = "ssr")))]
fn document_lang() -> Option<Locale> {
    None
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn request_cookies() -> String {
    html_document()
        .and_then(|d| d.cookie().ok())
        .unwrap_or_default()
}

#[cfg(all(not(feature = "hydrate"), not(feature = "ssr")))]
fn request_cookies() -> String {
    String::new()
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn store_cookie(name: &str, value: &str) {
    if let Some(doc) = html_document() {
        // A year; SameSite=Lax because the value only changes how pages look.
        let _ = doc.set_cookie(&format!(
            "{name}={value}; Path=/; Max-Age=31536000; SameSite=Lax"
        ));
    }
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
fn store_cookie(_name: &str, _value: &str) {}

/// Whether the page currently shows dark colours, resolving `System` through the browser.
pub fn effective_dark(theme: Theme) -> bool {
    match theme {
        Theme::Dark => true,
        Theme::Light => false,
        Theme::System => system_prefers_dark(),
    }
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn system_prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
fn system_prefers_dark() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookie_among_others() {
        let c = "a=1; taskdeck_theme=dark; taskdeck_lang=zh-CN";
        assert_eq!(cookie_value(c, THEME_COOKIE), Some("dark"));
        assert_eq!(cookie_value(c, LANG_COOKIE), Some("zh-CN"));
        assert_eq!(cookie_value(c, "missing"), None);
        assert_eq!(cookie_value("", THEME_COOKIE), None);
    }

    #[test]
    fn unknown_theme_values_follow_the_system() {
        assert_eq!(Theme::parse("dark"), Theme::Dark);
        assert_eq!(Theme::parse("<script>"), Theme::System);
    }
}
