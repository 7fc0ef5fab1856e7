//! taskdeck's user interface: the document shell, the app with its routes, and the pages.

pub mod api;
pub mod assets;
#[cfg(feature = "ssr")]
pub mod backend;
mod client;
mod components;
mod format;
pub mod i18n;
mod live;
pub mod me;
mod pages;
pub mod prefs;

use components::layout::Layout;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Html, Link, Meta, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use prefs::Prefs;

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let me = me::current().and_then(|m| serde_json::to_string(&m).ok());
    let names = use_context::<assets::AssetNames>().unwrap_or_default();
    #[cfg(feature = "ssr")]
    assets::send_page_policy();
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                {me.map(|m| view! { <meta name=me::META content=m/> })}
                <link rel="stylesheet" id="taskdeck" href=names.css/>
                // The queue page's charts; before the app's scripts, which draw with it.
                <script src=names.echarts defer></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let prefs = Prefs::provide();
    provide_context(me::SignedIn(me::current()));
    // Effects run only in the browser, so this marks the moment the page became interactive.
    let hydrated = RwSignal::new(false);
    provide_context(Hydrated(hydrated));
    Effect::new(move |_| {
        prefs.zone.set(format::Zone::browser());
        hydrated.set(true);
    });

    view! {
        <Html
            {..}
            lang=move || prefs.locale.get().code()
            data-theme=move || prefs.theme.get().attr()
            data-hydrated=move || hydrated.get().then_some("true")
        />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="taskdeck: live dashboard and control plane for function workers"/>
        <Title formatter=title_text/>
        <Router>
            <Layout>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Overview/>
                    <Route path=path!("/queues") view=pages::Queues/>
                    <Route path=path!("/queues/:queue") view=pages::Queue/>
                    <Route path=path!("/tasks") view=pages::Tasks/>
                    <Route path=path!("/tasks/:task_id") view=pages::Task ssr=SsrMode::Async/>
                    <Route path=path!("/failures") view=pages::Failures/>
                    <Route path=path!("/workers") view=pages::Workers/>
                    <Route path=path!("/admin/users") view=pages::AdminUsers/>
                    <Route path=path!("/admin/tokens") view=pages::AdminTokens/>
                    <Route path=path!("/admin/audit") view=pages::AdminAudit/>
                </Routes>
            </Layout>
        </Router>
    }
}

/// True once the page is interactive in the browser; never on the server.
#[derive(Clone, Copy)]
pub struct Hydrated(pub RwSignal<bool>);

impl Hydrated {
    /// Whether the browser runs the page now (for parts that only work there).
    pub fn get() -> bool {
        use_context::<Hydrated>().is_some_and(|h| h.0.get())
    }
}

/// The document title of a page. leptos_meta writes the server's `<title>` as it gets it, so
/// text that came from a worker or the address (a queue name, a task id) is escaped here; the
/// browser sets `document.title`, which is text already.
fn title_text(page: String) -> String {
    let title = if page.is_empty() {
        "taskdeck".to_owned()
    } else {
        format!("{page} · taskdeck")
    };
    #[cfg(feature = "ssr")]
    let title = html_escape::encode_text(&title).into_owned();
    title
}
