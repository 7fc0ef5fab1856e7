use crate::components::title::PageTitle;
use crate::prefs::use_strings;
use leptos::prelude::*;
use leptos_router::components::A;

/// Makes the server answer 404 for the page being rendered (on routes that render whole
/// before answering, `SsrMode::Async`, or before the first byte).
pub fn answer_not_found() {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    answer_not_found();
    let t = use_strings();
    view! {
        <PageTitle text=move || t().not_found_title.to_owned()/>
        <section class="empty-state">
            <h1>{move || t().not_found_title}</h1>
            <p>{move || t().not_found_body}</p>
            <A href="/">{move || t().back_to_overview}</A>
        </section>
    }
}
