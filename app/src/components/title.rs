//! The document title of a page.

use leptos::prelude::*;
use leptos_meta::Title;

/// Sets the page's title to `text`, which follows signals (a language switch, a new route
/// parameter) in the browser. On the server the text is computed while the page renders:
/// leptos_meta reads the title again after rendering, outside the request's reactive arena,
/// where reading a signal panics ("already disposed" / "no Arena is active").
#[component]
pub fn PageTitle(text: impl Fn() -> String + Send + Sync + 'static) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let text = {
        let fixed = text();
        move || fixed.clone()
    };
    view! { <Title text=text/> }
}
