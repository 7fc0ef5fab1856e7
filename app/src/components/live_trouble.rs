//! Says when a live page stopped following the server, so stale figures never pass for
//! current ones.

use crate::live::Trouble;
use crate::prefs::use_strings;
use leptos::prelude::*;

#[component]
pub fn LiveTrouble(trouble: ReadSignal<Option<Trouble>>) -> impl IntoView {
    let t = use_strings();
    move || {
        trouble.get().map(|tr| {
            let text = match tr {
                Trouble::Unavailable(why) => format!("{} {why}", t().live_unavailable),
                Trouble::Disconnected => t().live_disconnected.to_owned(),
            };
            view! {
                <p class="notice warn" role="status" data-testid="live-trouble">{text}</p>
            }
        })
    }
}
