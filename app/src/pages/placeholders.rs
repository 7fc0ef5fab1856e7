//! Pages whose data arrives with heartbeats; until then they say what will appear.

use crate::components::empty_state::EmptyState;
use crate::i18n::Strings;
use crate::prefs::use_strings;
use leptos::prelude::*;
use leptos_meta::Title;

type Text = fn(&Strings) -> &'static str;

#[component]
fn Page(title: Text, lead: Text, empty_title: Text, empty_body: Text) -> impl IntoView {
    let t = use_strings();
    view! {
        <Title text=move || title(t())/>
        <div class="page-head">
            <h1>{move || title(t())}</h1>
            <p class="lead">{move || lead(t())}</p>
        </div>
        <EmptyState title=move || empty_title(t()) body=move || empty_body(t())/>
    }
}

#[component]
pub fn Workers() -> impl IntoView {
    view! {
        <Page
            title=|s| s.workers_title
            lead=|s| s.workers_lead
            empty_title=|s| s.workers_empty_title
            empty_body=|s| s.workers_empty_body
        />
    }
}
