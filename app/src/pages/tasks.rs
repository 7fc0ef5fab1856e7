//! Every task, newest first, filtered by what the address says (`/tasks?state=failed&q=…`, the
//! keys of `GET /api/v1/tasks`), so a search can be bookmarked and shared. Pages go by keyset
//! cursors; the count stops at 10,000 and says so.

use crate::api::search_tasks;
use crate::components::empty_state::EmptyState;
use crate::components::links::{encode, QueueLink, TaskLink};
use crate::components::live_trouble::LiveTrouble;
use crate::components::pick::{PickAll, PickOne, Picked};
use crate::components::title::PageTitle;
use crate::format;
use crate::live::use_live;
use crate::prefs::{use_prefs, use_strings, Prefs};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use protocol::event::TaskState;
use protocol::task::{TaskPage, TaskQuery, TaskSummary, RANGES};

/// The query a tasks address asks for. Repeated keys (`state=a&state=b`) and comma lists
/// (`state=a,b`) mean the same.
pub(crate) fn query_of(map: &ParamsMap) -> TaskQuery {
    let text = |k: &str| map.get(k).filter(|v| !v.trim().is_empty());
    let joined = |k: &str| {
        let all: Vec<String> = map
            .get_all(k)
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .collect();
        (!all.is_empty()).then(|| all.join(","))
    };
    let number = |k: &str| map.get(k).and_then(|v| v.parse::<f64>().ok());
    TaskQuery {
        queue: joined("queue"),
        state: joined("state"),
        range: text("range"),
        from: number("from"),
        to: number("to"),
        exception_type: text("exception_type"),
        host: text("host"),
        function: text("function"),
        q: text("q"),
        task_id: text("task_id"),
        task_id_prefix: text("task_id_prefix"),
        older: text("older"),
        newer: text("newer"),
        limit: map.get("limit").and_then(|v| v.parse().ok()),
    }
}

/// The query string (without `?`) of `q`, in the keys of `GET /api/v1/tasks`.
pub(crate) fn query_string(q: &TaskQuery) -> String {
    let mut parts = Vec::new();
    let mut add = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{k}={}", encode(&v)));
        }
    };
    add("queue", q.queue.clone());
    add("state", q.state.clone());
    add("range", q.range.clone());
    add("from", q.from.map(|v| v.to_string()));
    add("to", q.to.map(|v| v.to_string()));
    add("exception_type", q.exception_type.clone());
    add("host", q.host.clone());
    add("function", q.function.clone());
    add("q", q.q.clone());
    add("task_id", q.task_id.clone());
    add("task_id_prefix", q.task_id_prefix.clone());
    add("older", q.older.clone());
    add("newer", q.newer.clone());
    add("limit", q.limit.map(|v| v.to_string()));
    parts.join("&")
}

/// The address of the tasks page for `q`.
pub(crate) fn tasks_href(q: &TaskQuery) -> String {
    match query_string(q) {
        s if s.is_empty() => "/tasks".to_owned(),
        s => format!("/tasks?{s}"),
    }
}

/// The filters of `q` alone (its page and size aside): what an export or a bulk command covers.
fn filters_of(q: &TaskQuery) -> String {
    query_string(&TaskQuery {
        older: None,
        newer: None,
        limit: None,
        ..q.clone()
    })
}

/// The address of an export of every task `q` filters.
fn export_href(q: &TaskQuery, format: &str) -> String {
    let filters = filters_of(q);
    match filters.is_empty() {
        true => format!("/api/v1/export/tasks?format={format}"),
        false => format!("/api/v1/export/tasks?format={format}&{filters}"),
    }
}

#[component]
pub fn Tasks() -> impl IntoView {
    let t = use_strings();
    let map = use_query_map();
    let query = Memo::new(move |_| query_of(&map.read()));
    let page = Resource::new(move || query.get(), search_tasks);
    // Kept across searches: a list held still stays held until resumed.
    let paused = RwSignal::new(false);
    view! {
        <PageTitle text=move || t().tasks_title.to_owned()/>
        <div class="page-head">
            <h1>{move || t().tasks_title}</h1>
            <p class="lead">{move || t().tasks_lead}</p>
        </div>
        {move || view! { <FilterBar query=query.get()/> }}
        <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
            {move || page.get().map(|result| match result {
                Ok(first) => view! { <Results first query=query.get_untracked() paused/> }.into_any(),
                Err(e) => view! {
                    <p class="banner warn" data-testid="tasks-error">{move || t().tasks_bad_filter} " " {e.to_string().trim_start_matches("error running server function: ").to_owned()}</p>
                }.into_any(),
            })}
        </Transition>
    }
}

/// The filters as a form, filled from the address; searching navigates to the new address.
#[component]
fn FilterBar(query: TaskQuery) -> impl IntoView {
    let t = use_strings();
    let Prefs { zone, locale, .. } = use_prefs();
    let navigate = use_navigate();
    let field = |v: &Option<String>| RwSignal::new(v.clone().unwrap_or_default());
    let text = field(&query.q);
    let queue = field(&query.queue);
    let exception = field(&query.exception_type);
    let host = field(&query.host);
    let function = field(&query.function);
    let task_id = field(&query.task_id_prefix);
    let states = RwSignal::new(
        query
            .state
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(TaskState::parse)
            .collect::<Vec<_>>(),
    );
    let custom = query.from.is_some() || query.to.is_some();
    let range = RwSignal::new(if custom {
        "custom".to_owned()
    } else {
        query.range.clone().unwrap_or_default()
    });
    let input_of = move |v: Option<f64>| {
        v.map(|e| zone.get_untracked().input_value(e))
            .unwrap_or_default()
    };
    let from = RwSignal::new(input_of(query.from));
    let to = RwSignal::new(input_of(query.to));
    let bad_range = RwSignal::new(false);
    let limit = query.limit;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let opt = |s: RwSignal<String>| {
            Some(s.get_untracked().trim().to_owned()).filter(|v| !v.is_empty())
        };
        let zone = zone.get_untracked();
        let (mut r, mut f, mut to_) = (opt(range), None, None);
        if r.as_deref() == Some("custom") {
            r = None;
            f = zone.parse_input(&from.get_untracked()).map(|v| v as f64);
            to_ = zone.parse_input(&to.get_untracked()).map(|v| v as f64);
            if let (Some(a), Some(b)) = (f, to_) {
                if a >= b {
                    bad_range.set(true);
                    return;
                }
            }
        }
        let picked = states.get_untracked();
        let q = TaskQuery {
            q: opt(text),
            queue: opt(queue),
            state: (!picked.is_empty()).then(|| {
                picked
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            range: r,
            from: f,
            to: to_,
            exception_type: opt(exception),
            host: opt(host),
            function: opt(function),
            task_id_prefix: opt(task_id),
            limit,
            ..TaskQuery::default()
        };
        navigate(&tasks_href(&q), Default::default());
    };
    let input = move |label: fn(&crate::i18n::Strings) -> &'static str,
                      value: RwSignal<String>,
                      name: &'static str| {
        view! {
            <label class="field">
                <span>{move || label(t())}</span>
                <input type="text" name=name prop:value=move || value.get() on:input=move |e| value.set(event_target_value(&e))/>
            </label>
        }
    };
    view! {
        <form class="card filter-bar" data-testid="task-filters" on:submit=submit>
            <div class="filter-search">
                <input
                    type="search"
                    name="q"
                    class="search"
                    placeholder=move || t().tasks_search_placeholder
                    aria-label=move || t().tasks_search_placeholder
                    prop:value=move || text.get()
                    on:input=move |e| text.set(event_target_value(&e))
                />
                <button type="submit" class="button primary">{move || t().tasks_search}</button>
                <A href="/tasks" attr:class="button">{move || t().tasks_clear}</A>
            </div>
            <div class="state-chips" role="group" aria-label=move || t().col_state>
                {TaskState::ALL.into_iter().map(|s| view! {
                    <button
                        type="button"
                        class=format!("chip state-{}", s.as_str())
                        data-state=s.as_str()
                        aria-pressed=move || states.with(|v| v.contains(&s)).to_string()
                        on:click=move |_| states.update(|v| if let Some(i) = v.iter().position(|x| *x == s) { v.remove(i); } else { v.push(s); })
                    >
                        {move || locale.get().state(s)}
                    </button>
                }).collect_view()}
            </div>
            <div class="filter-fields">
                <label class="field">
                    <span>{move || t().tasks_time}</span>
                    <select name="range" on:change=move |e| range.set(event_target_value(&e)) prop:value=move || range.get()>
                        <option value="">{move || t().tasks_any_time}</option>
                        {RANGES.into_iter().map(|(r, _)| view! {
                            <option value=r selected=move || range.get() == r>{move || range_label(t(), r)}</option>
                        }).collect_view()}
                        <option value="custom" selected=move || range.get() == "custom">{move || t().q_custom}</option>
                    </select>
                </label>
                <Show when=move || range.get() == "custom">
                    <label class="field">
                        <span>{move || t().q_from} " (" {move || zone.get().name} ")"</span>
                        <input type="datetime-local" name="from" prop:value=move || from.get() on:input=move |e| from.set(event_target_value(&e))/>
                    </label>
                    <label class="field">
                        <span>{move || t().q_to}</span>
                        <input type="datetime-local" name="to" prop:value=move || to.get() on:input=move |e| to.set(event_target_value(&e))/>
                    </label>
                </Show>
                {input(|s| s.col_queue, queue, "queue")}
                {input(|s| s.tasks_exception_type, exception, "exception_type")}
                {input(|s| s.col_function, function, "function")}
                {input(|s| s.col_host, host, "host")}
                {input(|s| s.tasks_task_id, task_id, "task_id_prefix")}
            </div>
            <Show when=move || bad_range.get()>
                <p class="error small" data-testid="bad-range">{move || t().q_bad_range}</p>
            </Show>
        </form>
    }
}

pub(crate) fn range_label(s: &crate::i18n::Strings, r: &str) -> &'static str {
    match r {
        "15m" => s.tasks_last_15m,
        "1h" => s.tasks_last_1h,
        "6h" => s.tasks_last_6h,
        "24h" => s.tasks_last_24h,
        _ => s.tasks_last_7d,
    }
}

/// The page the address asked for, replaced by the live frames of the same filter while on
/// the newest page (one a second at most) and not paused. Rows keep their place (and any
/// params opened) across frames; rows new since the last frame slide in.
#[component]
fn Results(first: TaskPage, query: TaskQuery, paused: RwSignal<bool>) -> impl IntoView {
    let t = use_strings();
    let Prefs { locale, zone, .. } = use_prefs();
    let newest = query.older.is_none() && query.newer.is_none();
    // Only a filter the store accepted is followed; the stream closes with this list.
    let live = newest.then(|| use_live::<TaskPage>("tasks", format!("&{}", query_string(&query))));
    let frame = Memo::new(move |_| live.and_then(|l| l.get()));
    // What was on screen when the pause began.
    let held = RwSignal::new(None::<TaskPage>);
    let shown = Memo::new(move |_| match (paused.get(), held.get(), frame.get()) {
        (true, Some(h), _) => h,
        (false, _, Some(f)) => f,
        _ => first.clone(),
    });
    let toggle = move |_| {
        if paused.get_untracked() {
            held.set(None);
            paused.set(false);
        } else {
            held.set(Some(shown.get_untracked()));
            paused.set(true);
        }
    };
    // Tasks the live page has that the held one lacks.
    let waiting = Memo::new(move |_| match (paused.get(), held.get(), frame.get()) {
        (true, Some(h), Some(f)) => f
            .tasks
            .iter()
            .filter(|t| !h.tasks.iter().any(|o| o.task_id == t.task_id))
            .count(),
        _ => 0,
    });
    let everything = query == TaskQuery::default();
    let (csv, ndjson) = (export_href(&query, "csv"), export_href(&query, "ndjson"));
    let bulk_filter = filters_of(&query);
    let may = crate::components::control::can_command();
    // Tasks picked on this page (and the pages before): what "Apply to selected" covers.
    let selected = RwSignal::new(std::collections::BTreeSet::<String>::new());
    let at = move |older: Option<String>, newer: Option<String>| {
        tasks_href(&TaskQuery {
            older,
            newer,
            ..query.clone()
        })
    };
    let pager = {
        let at = at.clone();
        move || {
            let p = shown.get();
            let newer = p.newer.clone().map(|c| at(None, Some(c)));
            let older = p.older.clone().map(|c| at(Some(c), None));
            let first = (!newest).then(|| at(None, None));
            view! { <Pager newer older first/> }
        }
    };
    let pager_end = pager.clone();
    let empty = Memo::new(move |_| shown.with(|p| p.tasks.is_empty() && p.stopped.is_none()));
    let stopped = move || {
        shown.with(|p| p.stopped).map(|stop| {
            view! {
                <p class="banner info" data-testid="search-stopped">
                    {move || locale.get().search_stopped(stop.read, &zone.get().datetime(stop.at))}
                </p>
            }
        })
    };
    view! {
        {live.map(|l| view! { <LiveTrouble trouble=l.trouble/> })}
        <div class="results-bar">
            <span data-testid="task-count">{move || shown.with(|p| p.total).map(|n| locale.get().task_count(n))}</span>
            {newest.then(|| view! {
                <button
                    type="button"
                    class="button live-toggle"
                    data-testid="live-toggle"
                    aria-pressed=move || paused.get().to_string()
                    title=move || if paused.get() { t().tasks_resume_hint } else { t().tasks_pause_hint }
                    on:click=toggle
                >
                    {move || match paused.get() {
                        true => view! { <span class="live-off">{move || t().tasks_resume}</span> }.into_any(),
                        false => view! {
                            <span class="live-dot">{move || t().tasks_live}</span>
                            <span class="pause-glyph" aria-hidden="true">"❚❚"</span>
                        }.into_any(),
                    }}
                </button>
                <Show when=move || { waiting.get() > 0 }>
                    <span class="badge" data-testid="live-waiting">{move || locale.get().new_tasks(waiting.get())}</span>
                </Show>
            })}
            {may.then(|| {
                let total = Signal::derive(move || shown.with(|p| p.total));
                view! { <BulkActions filter=bulk_filter.clone() total selected/> }
            })}
            <span class="exports">
                <a class="button" href=csv download data-testid="export-csv" title=move || t().tasks_export_hint>{move || t().tasks_export_csv}</a>
                <a class="button" href=ndjson download data-testid="export-ndjson" title=move || t().tasks_export_hint>"NDJSON"</a>
            </span>
            {pager}
        </div>
        {stopped}
        {move || match empty.get() {
            true if everything => view! {
                <EmptyState title=move || t().tasks_empty_title body=move || t().tasks_empty_body/>
            }.into_any(),
            true => view! {
                <EmptyState title=move || t().tasks_no_match_title body=move || t().tasks_no_match_body/>
            }.into_any(),
            false => view! { <TaskTable shown selected=may.then_some(selected)/> }.into_any(),
        }}
        <div class="results-bar end">
            <span class="muted small">{move || t().tasks_newest}</span>
            {pager_end}
        </div>
    }
}

#[component]
fn Pager(newer: Option<String>, older: Option<String>, first: Option<String>) -> impl IntoView {
    let t = use_strings();
    let link = move |href: Option<String>,
                     label: fn(&crate::i18n::Strings) -> &'static str,
                     test: &'static str| match href {
        Some(h) => {
            view! { <A href=h attr:class="button" attr:data-testid=test>{move || label(t())}</A> }
                .into_any()
        }
        None => {
            view! { <span class="button disabled" aria-disabled="true">{move || label(t())}</span> }
                .into_any()
        }
    };
    view! {
        <nav class="pager">
            {first.map(|h| view! { <A href=h attr:class="button" attr:data-testid="page-first">{move || t().tasks_newest_page}</A> })}
            {link(newer, |s| s.tasks_newer, "page-newer")}
            {link(older, |s| s.tasks_older, "page-older")}
        </nav>
    }
}

/// Most rows marked as just arrived in one frame.
const FRESH_MARKED: usize = 10;

/// What makes a row differ from its last rendering: the same key keeps the row as it is.
fn row_key(t: &TaskSummary) -> (String, TaskState, u32, u64, u64) {
    let bits = |v: Option<f64>| v.map_or(0, f64::to_bits);
    (
        t.task_id.clone(),
        t.state,
        t.run_times,
        bits(t.start_time),
        bits(t.end_time),
    )
}

#[component]
fn TaskTable(
    shown: Memo<TaskPage>,
    /// The picked tasks, when the viewer may send commands.
    selected: Option<Picked>,
) -> impl IntoView {
    let t = use_strings();
    let page_ids = Signal::derive(move || {
        shown.with(|p| {
            p.tasks
                .iter()
                .map(|t| t.task_id.clone())
                .collect::<Vec<_>>()
        })
    });
    let pick_all = selected.map(|picked| {
        view! { <PickAll ids=page_ids picked label=|t| t.tasks_select_page testid="pick-all"/> }
    });
    let Prefs { locale, zone, .. } = use_prefs();
    // The ids on screen and, of those, the ones the previous page lacked.
    let fresh = Memo::new(move |prev: Option<&(Vec<String>, Vec<String>)>| {
        let ids: Vec<String> = shown.with(|p| p.tasks.iter().map(|t| t.task_id.clone()).collect());
        let mut new: Vec<String> = match prev {
            Some((before, _)) => ids
                .iter()
                .filter(|id| !before.contains(id))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        // When most of the page is new every second, marking it all would only make it flicker.
        if new.len() > FRESH_MARKED {
            new.clear();
        }
        (ids, new)
    });
    view! {
        <div class="card table-card">
            <table class="table task-table" data-testid="task-table">
                <thead>
                    <tr>
                        {pick_all}
                        <th>{move || t().col_state}</th>
                        <th>{move || t().col_task}</th>
                        <th>{move || t().col_queue} " · " {move || t().col_function}</th>
                        <th>{move || t().col_params}</th>
                        <th>{move || t().col_exception}</th>
                        <th>{move || t().col_started} <span class="sub">{move || zone.get().name}</span></th>
                        <th class="num">{move || t().col_wait}</th>
                        <th class="num">{move || t().col_run_time}</th>
                        <th class="num" title=move || t().task_attempts>"#"</th>
                        <th>{move || t().col_host}</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || shown.get().tasks key=row_key let:task>{{
                        let state = task.state;
                        let is_fresh = fresh.with_untracked(|(_, new)| new.contains(&task.task_id));
                        let exception_href = task.exception_type.clone().map(|ty| tasks_href(&TaskQuery {
                            exception_type: Some(ty),
                            queue: Some(task.queue.clone()),
                            ..TaskQuery::default()
                        }));
                        let host_href = task.host_name.clone().map(|h| tasks_href(&TaskQuery { host: Some(h), ..TaskQuery::default() }));
                        let started = task.start_time.or(task.publish_time);
                        let pick = selected.map(|picked| view! { <PickOne id=task.task_id.clone() picked label=|t| t.tasks_select/> });
                        view! {
                            <tr data-task-id=task.task_id.clone() data-state=state.as_str() class:fresh=is_fresh>
                                {pick}
                                <td><span class=format!("state state-{}", state.as_str())>{move || locale.get().state(state)}</span></td>
                                <td class="clip-id" title=task.task_id.clone()><TaskLink task_id=task.task_id.clone()/></td>
                                <td class="mono queue-cell" title=task.queue.clone()>
                                    <QueueLink queue=task.queue.clone()/>
                                    <div class="muted small">{task.function.clone()}</div>
                                </td>
                                <td class="params-cell">
                                    {task.params.clone().map(|p| view! {
                                        <details class="more"><summary class="mono">{p}</summary></details>
                                    })}
                                </td>
                                <td class="exception-cell">
                                    {exception_href.map(|href| view! {
                                        <A href=href attr:class="mono bad strong" attr:title=move || t().tasks_same_exception>{task.exception_type.clone()}</A>
                                    })}
                                    {task.exception_msg.clone().map(|m| { let title = m.clone(); view! { <div class="clip small" title=title>{m}</div> } })}
                                </td>
                                <td class="muted nowrap">{move || started.map(|t| zone.get().datetime(t))}</td>
                                <td class="num nowrap">{task.wait.map(format::seconds)}</td>
                                <td class="num nowrap">{task.cost.map(format::seconds)}</td>
                                <td class="num" class:bad={task.run_times > 1}>{task.run_times}</td>
                                <td class="mono">{host_href.map(|href| view! { <A href=href attr:class="plain-link">{task.host_name.clone()}</A> })}</td>
                            </tr>
                        }
                    }}</For>
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_queries() {
        let q = TaskQuery {
            queue: Some("orders,emails".into()),
            state: Some("failed".into()),
            range: Some("1h".into()),
            q: Some("a&b=c 中".into()),
            task_id_prefix: Some("ab".into()),
            older: Some("1795000000.5~t-1".into()),
            ..TaskQuery::default()
        };
        let href = tasks_href(&q);
        assert_eq!(
            href,
            "/tasks?queue=orders%2Cemails&state=failed&range=1h&q=a%26b%3Dc%20%E4%B8%AD&task_id_prefix=ab&older=1795000000.5~t-1"
        );
        let map = ParamsMap::from_iter(
            href.split_once('?')
                .unwrap()
                .1
                .split('&')
                .map(|kv| kv.split_once('=').unwrap())
                .map(|(k, v)| (k.to_owned(), percent_decode(v))),
        );
        assert_eq!(query_of(&map), q);
        assert_eq!(tasks_href(&TaskQuery::default()), "/tasks");
    }

    #[test]
    fn repeated_keys_and_lists_mean_the_same() {
        let mut map = ParamsMap::new();
        map.insert("state", "failed".into());
        map.insert("state", "killed".into());
        map.insert("q", "  ".into());
        let q = query_of(&map);
        assert_eq!(q.state.as_deref(), Some("failed,killed"));
        assert_eq!(q.q, None);
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}

/// Kill, revoke, retry or delete every task the filter matches (operators), with the job's
/// progress.
#[component]
fn BulkActions(
    filter: String,
    total: Signal<Option<protocol::task::TaskTotal>>,
    selected: Picked,
) -> impl IntoView {
    use protocol::control::{Action, Bulk, BulkRequest};
    let t = use_strings();
    let prefs = use_prefs();
    let action = RwSignal::new(Action::Retry);
    let job = RwSignal::new(None::<Bulk>);
    let error = RwSignal::new(None::<String>);
    let busy = Memo::new(move |_| job.get().is_some_and(|j| j.finished_at.is_none()));
    let picked = move || selected.with(|s| s.len());
    // Everything the filter matches (`None`) or the picked tasks.
    let start = move |ids: Option<Vec<String>>| {
        let a = action.get_untracked();
        let locale = prefs.locale.get_untracked();
        let question = match &ids {
            None => locale.bulk_confirm(a, total.get_untracked()),
            Some(ids) => locale.bulk_confirm_selected(a, ids.len()),
        };
        let request = BulkRequest {
            action: a,
            filter: ids.is_none().then(|| filter.clone()),
            ids: ids.clone(),
            queue: None,
        };
        if !crate::components::control::confirmed(Some(&question)) {
            return;
        }
        error.set(None);
        leptos::task::spawn_local(async move {
            crate::components::control::run_bulk(request, job, error).await;
            if ids.is_some() {
                selected.set(Default::default());
            }
        });
    };
    let start_all = start.clone();
    view! {
        <span class="bulk" data-testid="bulk">
            <select aria-label=move || t().bulk_label data-testid="bulk-action" on:change=move |e| {
                if let Some(a) = Action::from_code(&event_target_value(&e)) { action.set(a) }
            }>
                {[Action::Retry, Action::Kill, Action::Revoke, Action::Delete].into_iter().map(|a| view! {
                    <option value=a.code() selected=move || action.get() == a>{move || prefs.locale.get().bulk_action(a)}</option>
                }).collect_view()}
            </select>
            <button type="button" class="button" data-testid="bulk-start" disabled=move || busy.get() on:click=move |_| start_all(None)>
                {move || t().bulk_all_matching}
            </button>
            <button type="button" class="button" data-testid="bulk-selected" disabled=move || busy.get() || picked() == 0
                on:click=move |_| start(Some(selected.get_untracked().into_iter().collect()))>
                {move || t().bulk_selected} " (" {picked} ")"
            </button>
            {move || job.get().map(|j| view! { <span class="muted small" data-testid="bulk-progress">{prefs.locale.get().bulk_progress(&j)}</span> })}
            {move || error.get().map(|e| view! { <span class="command-error error" role="alert">{e}</span> })}
        </span>
    }
}
