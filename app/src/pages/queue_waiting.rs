//! The messages waiting in a queue, in the order its consumers take them: what funboost has no
//! record of yet. Operators move one to the front, revoke or delete it, or revoke or delete a
//! selection in one bulk command.

use crate::api::queue_waiting;
use crate::components::control::{self, CommandButton, CommandStatus};
use crate::components::links::task_href;
use crate::components::pick::{PickAll, PickOne, Picked};
use crate::format;
use crate::prefs::{use_prefs, use_strings, Prefs};
use leptos::prelude::*;
use leptos_router::components::A;
use protocol::control::{Action, Bulk, BulkRequest, Command, MoveTo, WaitingMessage, WaitingPage};
use protocol::rest::{MoveTask, TaskAction, TaskCommand};

/// Messages per page.
const PAGE: u32 = 20;

/// `browse`: `None` until the queue page knows the queue's kind, then whether its waiting
/// messages can be browsed here (or why not).
#[component]
pub fn WaitingMessages(queue: String, browse: Signal<Option<Result<(), String>>>) -> impl IntoView {
    let t = use_strings();
    let offset = RwSignal::new(0u64);
    let reload = RwSignal::new(0u32);
    let q = queue.clone();
    let ready = Memo::new(move |_| browse.get().is_some_and(|b| b.is_ok()));
    let page = Resource::new(
        move || (offset.get(), reload.get(), ready.get()),
        move |(at, _, ready)| {
            let q = q.clone();
            async move {
                // Nothing to ask until the kind is known to allow it.
                if !ready {
                    return Ok(WaitingPage::default());
                }
                queue_waiting(q, at, PAGE).await
            }
        },
    );
    let selected: Picked = RwSignal::new(Default::default());
    // Outside the reloaded list, so a bulk job's progress outlives the reload it ends with.
    let job = RwSignal::new(None::<Bulk>);
    let job_error = RwSignal::new(None::<String>);
    let last = RwSignal::new(None::<Command>);
    let on_sent = Callback::new(move |c| {
        last.set(Some(c));
        reload.update(|n| *n += 1);
    });
    let may = control::can_command();
    view! {
        <section class="card waiting" data-testid="waiting">
            <header class="card-head">
                <div>
                    <h2>{move || t().wait_title}</h2>
                    <p class="muted small">{move || t().wait_lead}</p>
                </div>
                <button type="button" class="button" data-testid="waiting-refresh" on:click=move |_| reload.update(|n| *n += 1)>
                    {move || t().refresh}
                </button>
            </header>
            <CommandStatus command=last.into()/>
            {move || browse.get().and_then(Result::err).map(|why| view! {
                <p class="muted" data-testid="waiting-unavailable">{why}</p>
            })}
            {move || ready.get().then(|| { let queue = queue.clone(); view! {
            <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
                {move || page.get().map(|r| match r {
                    Err(e) => view! { <p class="error">{move || t().load_failed} " " {e.to_string()}</p> }.into_any(),
                    Ok(p) if p.total == 0 => view! { <p class="muted" data-testid="waiting-none">{move || t().wait_none}</p> }.into_any(),
                    Ok(p) => view! {
                        {may.then(|| view! { <SelectionBar queue=queue.clone() selected job error=job_error on_done=move || reload.update(|n| *n += 1)/> })}
                        <WaitingTable page=p.clone() selected may on_sent/>
                        <Pager page=p offset/>
                    }.into_any(),
                })}
            </Transition>
            }})}
        </section>
    }
}

#[component]
fn WaitingTable(
    page: WaitingPage,
    selected: Picked,
    may: bool,
    on_sent: Callback<Command>,
) -> impl IntoView {
    let t = use_strings();
    let queue = page.queue.clone();
    let ids: Vec<String> = page
        .messages
        .iter()
        .filter_map(|m| m.task_id.clone())
        .collect();
    let now = page.now;
    let rows = page
        .messages
        .into_iter()
        .map(|m| view! { <Row m queue=queue.clone() now selected may on_sent/> })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="table waiting-table" data-testid="waiting-table">
                <thead>
                    <tr>
                        {may.then(|| view! {
                            <PickAll ids=Signal::stored(ids) picked=selected label=|t| t.wait_select_page testid="waiting-pick-all"/>
                        })}
                        <th class="num">{move || t().wait_position}</th>
                        <th>{move || t().col_task}</th>
                        <th class="num">{move || t().wait_priority}</th>
                        <th>{move || t().wait_published}</th>
                        <th>{move || t().col_params}</th>
                        <th class="num">{move || t().wait_size}</th>
                        <th>{move || t().col_state}</th>
                        {may.then(|| view! { <th></th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn Row(
    m: WaitingMessage,
    queue: String,
    now: f64,
    selected: Picked,
    may: bool,
    on_sent: Callback<Command>,
) -> impl IntoView {
    let t = use_strings();
    let Prefs { locale, zone, .. } = use_prefs();
    let id = m.task_id.clone();
    let pick = id
        .clone()
        .map(|id| view! { <PickOne id picked=selected label=|t| t.wait_select/> });
    let published = m.publish_time;
    let state = m.state;
    let actions = id.clone().map(|id| {
        // The queue goes along: funboost has no record of a task nobody took yet.
        let on = |action| TaskCommand {
            task_id: id.clone(),
            action,
            queue: Some(queue.clone()),
        };
        let front = MoveTask {
            task_id: id.clone(),
            queue: Some(queue.clone()),
            to: MoveTo {
                front: true,
                priority: None,
            },
        };
        view! {
            <div class="row-actions">
                {(m.position > 0).then(|| view! {
                    <CommandButton label=|t| t.ctl_front call=front on_sent testid="waiting-front"/>
                })}
                <CommandButton label=|t| t.ctl_revoke call=on(TaskAction::Revoke) confirm=|t| t.ctl_revoke_confirm on_sent testid="waiting-revoke"/>
                <CommandButton label=|t| t.ctl_delete call=on(TaskAction::Delete) confirm=|t| t.ctl_delete_confirm on_sent testid="waiting-delete"/>
            </div>
        }
    });
    view! {
        <tr data-task-id=id.clone().unwrap_or_default()>
            {may.then(|| match pick {
                Some(p) => p.into_any(),
                None => view! { <td class="pick"></td> }.into_any(),
            })}
            <td class="num muted">{m.position + 1}</td>
            <td class="clip-id" title=id.clone()>
                {match id.clone() {
                    Some(id) if state.is_some() => view! { <A href=task_href(&id) attr:class="task-link mono">{id}</A> }.into_any(),
                    Some(id) => view! { <span class="mono">{id}</span> }.into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="num">{m.priority.map(|p| p.to_string())}</td>
            <td class="muted nowrap" title=move || published.map(|p| zone.get().datetime(p))>
                {move || published.map(|p| locale.get().ago((now - p).max(0.0) as u64))}
            </td>
            <td class="params-cell"><details class="more"><summary class="mono">{m.params}</summary></details></td>
            <td class="num muted">{format::bytes(m.size)}</td>
            <td>
                {match state {
                    Some(s) => view! { <span class=format!("state state-{}", s.as_str())>{move || locale.get().state(s)}</span> }.into_any(),
                    None => view! { <span class="muted small">{move || t().wait_unrecorded}</span> }.into_any(),
                }}
            </td>
            {may.then(|| view! { <td>{actions}</td> })}
        </tr>
    }
}

/// Revoke or delete the selected messages in one bulk command, with its progress.
#[component]
fn SelectionBar(
    queue: String,
    selected: Picked,
    job: RwSignal<Option<Bulk>>,
    error: RwSignal<Option<String>>,
    on_done: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let t = use_strings();
    let prefs = use_prefs();
    let busy = Memo::new(move |_| job.get().is_some_and(|j| j.finished_at.is_none()));
    let count = move || selected.with(|s| s.len());
    let start = move |action: Action| {
        let queue = queue.clone();
        let on_done = on_done.clone();
        move |_| {
            let ids: Vec<String> = selected.get_untracked().into_iter().collect();
            if ids.is_empty() || busy.get_untracked() {
                return;
            }
            let question = prefs
                .locale
                .get_untracked()
                .bulk_confirm_selected(action, ids.len());
            if !control::confirmed(Some(&question)) {
                return;
            }
            error.set(None);
            let request = BulkRequest {
                action,
                ids: Some(ids),
                filter: None,
                queue: Some(queue.clone()),
            };
            let on_done = on_done.clone();
            leptos::task::spawn_local(async move {
                control::run_bulk(request, job, error).await;
                selected.set(Default::default());
                on_done();
            });
        }
    };
    view! {
        <div class="results-bar" data-testid="waiting-selection">
            <span class="muted small">{move || format!("{} {}", count(), t().wait_selected)}</span>
            <button type="button" class="button" data-testid="waiting-revoke-selected" disabled=move || busy.get() || count() == 0 on:click=start(Action::Revoke)>
                {move || t().wait_revoke_selected}
            </button>
            <button type="button" class="button danger" data-testid="waiting-delete-selected" disabled=move || busy.get() || count() == 0 on:click=start(Action::Delete)>
                {move || t().wait_delete_selected}
            </button>
            {move || job.get().map(|j| view! { <span class="muted small" data-testid="waiting-bulk-progress">{prefs.locale.get().bulk_progress(&j)}</span> })}
            {move || error.get().map(|e| view! { <span class="command-error error" role="alert">{e}</span> })}
        </div>
    }
}

/// "1–20 / 1,234" with the previous and next pages.
#[component]
fn Pager(page: WaitingPage, offset: RwSignal<u64>) -> impl IntoView {
    let t = use_strings();
    let shown = page.messages.len() as u64;
    let (from, total) = (page.offset, page.total);
    let last = from + shown;
    view! {
        <div class="results-bar end">
            <span class="muted small" data-testid="waiting-count">
                {format!("{}–{} / {}", (from + 1).min(total), last, format::count(total as i64))}
                " · " {page.layout}
            </span>
            <span class="pager">
                <button type="button" class="button" disabled={from == 0} data-testid="waiting-prev"
                    on:click=move |_| offset.set(from.saturating_sub(u64::from(PAGE)))>
                    {move || t().wait_prev}
                </button>
                <button type="button" class="button" disabled={last >= total} data-testid="waiting-next"
                    on:click=move |_| offset.set(last)>
                    {move || t().wait_next}
                </button>
            </span>
        </div>
    }
}
