//! Checkboxes that pick rows of a table by id, for a command on the selection: one per row and
//! one for every row on the page.

use crate::i18n::Strings;
use crate::prefs::use_strings;
use leptos::prelude::*;
use std::collections::BTreeSet;

/// The ids picked so far.
pub type Picked = RwSignal<BTreeSet<String>>;

/// A row's checkbox, in its own cell.
#[component]
pub fn PickOne(id: String, picked: Picked, label: fn(&Strings) -> &'static str) -> impl IntoView {
    let t = use_strings();
    let checked_id = id.clone();
    view! {
        <td class="pick">
            <input type="checkbox" aria-label=move || label(t())
                prop:checked=move || picked.with(|s| s.contains(&checked_id))
                on:change=move |_| picked.update(|s| if !s.remove(&id) { s.insert(id.clone()); })/>
        </td>
    }
}

/// The header checkbox: checked when every id on the page is picked; toggles them all.
#[component]
pub fn PickAll(
    ids: Signal<Vec<String>>,
    picked: Picked,
    label: fn(&Strings) -> &'static str,
    testid: &'static str,
) -> impl IntoView {
    let t = use_strings();
    let all = move || {
        ids.with(|ids| picked.with(|s| !ids.is_empty() && ids.iter().all(|id| s.contains(id))))
    };
    let toggle = move |_| {
        let on = !all();
        let ids = ids.get_untracked();
        picked.update(|s| {
            for id in ids {
                if on {
                    s.insert(id);
                } else {
                    s.remove(&id);
                }
            }
        });
    };
    view! {
        <th class="pick">
            <input type="checkbox" aria-label=move || label(t()) prop:checked=all on:change=toggle data-testid=testid/>
        </th>
    }
}
