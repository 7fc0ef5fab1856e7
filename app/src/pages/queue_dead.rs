//! The messages funboost dead-lettered from a queue (`<queue>_dlx`: tasks that failed every
//! retry with `is_push_to_dlx_queue_when_retry_max_times`): listed, and put back on the queue
//! or deleted, the picked ones or all — each a command, recorded and audited.

use crate::api::queue_dead;
use crate::components::control::{self, CommandStatus};
use crate::components::links::task_href;
use crate::components::pick::{PickAll, PickOne, Picked};
use crate::format;
use crate::prefs::{use_prefs, use_strings, Prefs};
use leptos::prelude::*;
use leptos_router::components::A;
use protocol::control::{Command, DeadLetters as Which, WaitingPage};
use protocol::rest::DeadLetterCommand;

/// Dead letters per page.
const PAGE: u32 = 20;

/// Shown once the queue page knows there are dead letters.
#[component]
pub fn DeadLetters(queue: String, count: Signal<Option<u64>>) -> impl IntoView {
    let t = use_strings();
    let any = Memo::new(move |_| count.get().unwrap_or(0) > 0);
    let reload = RwSignal::new(0u32);
    let q = queue.clone();
    let page = Resource::new(
        move || (reload.get(), any.get()),
        move |(_, any)| {
            let q = q.clone();
            async move {
                if !any {
                    return Ok(WaitingPage::default());
                }
                queue_dead(q, 0, PAGE).await
            }
        },
    );
    let picked: Picked = RwSignal::new(Default::default());
    let last = RwSignal::new(None::<Command>);
    let error = RwSignal::new(None::<String>);
    let may = control::can_command();
    let act = move |redrive: bool, all: bool| {
        let queue = queue.clone();
        move |_| {
            let t = t();
            let ids: Vec<String> = picked.get_untracked().into_iter().collect();
            if !all && ids.is_empty() {
                return;
            }
            let question = match (redrive, all) {
                (true, true) => t.dead_redrive_all_confirm,
                (false, true) => t.dead_discard_all_confirm,
                (false, false) => t.dead_discard_confirm,
                (true, false) => "",
            };
            if !question.is_empty() && !control::confirmed(Some(question)) {
                return;
            }
            let call = DeadLetterCommand {
                queue: queue.clone(),
                redrive,
                which: Which {
                    ids: (!all).then_some(ids),
                },
            };
            error.set(None);
            leptos::task::spawn_local(async move {
                match crate::client::send(&call).await {
                    Ok(c) => last.set(Some(c)),
                    Err(e) => error.set(Some(e.message)),
                }
                picked.set(Default::default());
                reload.update(|n| *n += 1);
            });
        }
    };
    view! {
        <Show when=move || any.get()>
            <section class="card waiting" data-testid="dead-letters">
                <header class="card-head">
                    <div>
                        <h2>{move || t().dead_title} " " <span class="muted">{move || count.get().map(|n| format::count(n as i64))}</span></h2>
                        <p class="muted small">{move || t().dead_lead}</p>
                    </div>
                </header>
                <CommandStatus command=last.into()/>
                {move || error.get().map(|e| view! { <p class="command-error error" role="alert">{e}</p> })}
                {may.then(|| view! {
                    <div class="results-bar">
                        <button type="button" class="button" data-testid="dead-redrive-picked" on:click=act(true, false)>{move || t().dead_redrive_picked}</button>
                        <button type="button" class="button" data-testid="dead-redrive-all" on:click=act(true, true)>{move || t().dead_redrive_all}</button>
                        <button type="button" class="button danger" data-testid="dead-discard-picked" on:click=act(false, false)>{move || t().dead_discard_picked}</button>
                        <button type="button" class="button danger" data-testid="dead-discard-all" on:click=act(false, true)>{move || t().dead_discard_all}</button>
                    </div>
                })}
                <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
                    {move || page.get().map(|r| match r {
                        Err(e) => view! { <p class="error">{move || t().load_failed} " " {e.to_string()}</p> }.into_any(),
                        Ok(p) => view! { <DeadTable page=p picked may/> }.into_any(),
                    })}
                </Transition>
            </section>
        </Show>
    }
}

#[component]
fn DeadTable(page: WaitingPage, picked: Picked, may: bool) -> impl IntoView {
    let t = use_strings();
    let Prefs { locale, zone, .. } = use_prefs();
    let now = page.now;
    let ids: Vec<String> = page
        .messages
        .iter()
        .filter_map(|m| m.task_id.clone())
        .collect();
    let rows = page
        .messages
        .into_iter()
        .map(|m| {
            let id = m.task_id.clone();
            let published = m.publish_time;
            view! {
                <tr data-task-id=id.clone().unwrap_or_default()>
                    {may.then(|| match id.clone() {
                        Some(id) => view! { <PickOne id picked label=|t| t.wait_select/> }.into_any(),
                        None => view! { <td class="pick"></td> }.into_any(),
                    })}
                    <td class="clip-id" title=id.clone()>
                        {match id.clone() {
                            Some(id) => view! { <A href=task_href(&id) attr:class="task-link mono">{id}</A> }.into_any(),
                            None => view! { <span class="muted">"—"</span> }.into_any(),
                        }}
                    </td>
                    <td class="muted nowrap" title=move || published.map(|p| zone.get().datetime(p))>
                        {move || published.map(|p| locale.get().ago((now - p).max(0.0) as u64))}
                    </td>
                    <td class="params-cell"><details class="more"><summary class="mono">{m.params}</summary></details></td>
                    <td class="num muted">{format::bytes(m.size)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="table waiting-table" data-testid="dead-table">
                <thead>
                    <tr>
                        {may.then(|| view! { <PickAll ids=Signal::stored(ids) picked label=|t| t.wait_select_page testid="dead-pick-all"/> })}
                        <th>{move || t().col_task}</th>
                        <th>{move || t().wait_published}</th>
                        <th>{move || t().col_params}</th>
                        <th class="num">{move || t().wait_size}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
