use leptos::prelude::*;

/// What a page shows while it has nothing to show: what will appear and how to get it there.
#[component]
pub fn EmptyState(
    title: impl Fn() -> &'static str + Send + Sync + 'static,
    body: impl Fn() -> &'static str + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <section class="empty-state">
            <svg class="empty-icon" viewBox="0 0 48 48" aria-hidden="true">
                <rect x="6" y="10" width="36" height="28" rx="4" fill="none" stroke="currentColor" stroke-width="2.5"/>
                <path d="M6 18h36M14 26h12M14 31h8" stroke="currentColor" stroke-width="2.5" stroke-linecap="round"/>
            </svg>
            <h2>{title}</h2>
            <p>{body}</p>
        </section>
    }
}
