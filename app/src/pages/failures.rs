//! Failures grouped by queue, final state and exception type over a range (`/failures?range=
//! 24h&queue=…`, the keys of `GET /api/v1/failures`), most frequent first, each with its trend
//! and latest message; a group opens the tasks list filtered to it.

use super::tasks::tasks_href;
use crate::api::failure_groups;
use crate::components::empty_state::EmptyState;
use crate::components::links::{encode, QueueLink, TaskLink};
use crate::components::sparkline::Sparkline;
use crate::components::title::PageTitle;
use crate::format;
use crate::prefs::{use_prefs, use_strings, Prefs};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use protocol::event::TaskState;
use protocol::failures::{FailureGroup, FailureGroups, FailureQuery, DEFAULT_FAILURE_RANGE};
use protocol::task::{TaskQuery, RANGES};

/// The failures address of a query: only the keys it sets.
fn failures_href(q: &FailureQuery) -> String {
    let parts: Vec<String> = [("range", &q.range), ("queue", &q.queue)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    match parts.is_empty() {
        true => "/failures".into(),
        false => format!("/failures?{}", parts.join("&")),
    }
}

/// The tasks of one group over the same range.
fn group_href(g: &FailureGroup, range: &str) -> String {
    tasks_href(&TaskQuery {
        queue: Some(g.queue.clone()),
        state: Some(g.state.as_str().into()),
        exception_type: Some(g.exception_type.clone()).filter(|e| !e.is_empty()),
        range: Some(range.into()),
        ..TaskQuery::default()
    })
}

#[component]
pub fn Failures() -> impl IntoView {
    let t = use_strings();
    let map = use_query_map();
    let query = Memo::new(move |_| {
        map.with(|m| {
            let text = |k: &str| m.get(k).filter(|v| !v.trim().is_empty());
            FailureQuery {
                range: text("range"),
                queue: text("queue"),
            }
        })
    });
    let groups = Resource::new(move || query.get(), failure_groups);
    view! {
        <PageTitle text=move || t().failures_title.to_owned()/>
        <div class="page-head">
            <h1>{move || t().failures_title}</h1>
            <p class="lead">{move || t().failures_lead}</p>
        </div>
        {move || view! { <FilterBar query=query.get()/> }}
        <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
            {move || groups.get().map(|result| match result {
                Ok(g) if g.groups.is_empty() => view! {
                    <EmptyState title=move || t().failures_empty_title body=move || t().failures_empty_body/>
                }.into_any(),
                Ok(g) => view! { <GroupTable groups=g range=range_of(&query.get())/> }.into_any(),
                Err(e) => view! {
                    <p class="banner warn" data-testid="failures-error">{move || t().tasks_bad_filter} " " {e.to_string().trim_start_matches("error running server function: ").to_owned()}</p>
                }.into_any(),
            })}
        </Transition>
    }
}

fn range_of(q: &FailureQuery) -> String {
    q.range
        .clone()
        .unwrap_or_else(|| DEFAULT_FAILURE_RANGE.into())
}

/// Range chips (links) and a queue filter.
#[component]
fn FilterBar(query: FailureQuery) -> impl IntoView {
    let t = use_strings();
    let navigate = use_navigate();
    let range = range_of(&query);
    let queue = RwSignal::new(query.queue.clone().unwrap_or_default());
    let kept_range = query.range.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = FailureQuery {
            range: kept_range.clone(),
            queue: Some(queue.get_untracked().trim().to_owned()).filter(|q| !q.is_empty()),
        };
        navigate(&failures_href(&q), Default::default());
    };
    view! {
        <form class="card filter-bar" data-testid="failure-filters" on:submit=submit>
            <div class="state-chips" role="group" aria-label=move || t().tasks_time>
                {RANGES.into_iter().map(|(r, _)| {
                    let href = failures_href(&FailureQuery { range: Some(r.into()), queue: query.queue.clone() });
                    view! {
                        // A plain link: the router's <A> marks every link to /failures current.
                        <a href=href class="chip" data-range=r aria-current=(r == range).then_some("true")>
                            {move || super::tasks::range_label(t(), r)}
                        </a>
                    }
                }).collect_view()}
            </div>
            <div class="filter-search">
                <input
                    type="search"
                    name="queue"
                    class="search"
                    placeholder=move || t().failures_all_queues
                    aria-label=move || t().col_queue
                    prop:value=move || queue.get()
                    on:input=move |e| queue.set(event_target_value(&e))
                />
                <button type="submit" class="button primary">{move || t().failures_filter}</button>
            </div>
        </form>
    }
}

#[component]
fn GroupTable(groups: FailureGroups, range: String) -> impl IntoView {
    let t = use_strings();
    let Prefs { locale, zone, .. } = use_prefs();
    let total: i64 = groups.groups.iter().map(|g| g.count).sum();
    let n = groups.groups.len();
    let per = groups.grain;
    let now = format::now();
    view! {
        <div class="results-bar">
            <span data-testid="failure-summary">{move || locale.get().failure_summary(total, n)}</span>
        </div>
        <div class="card table-card">
            <table class="table failure-table" data-testid="failure-table">
                <thead>
                    <tr>
                        <th>{move || t().col_exception}</th>
                        <th>{move || t().col_queue}</th>
                        <th class="num">{move || t().col_count}</th>
                        <th>{move || t().col_trend}</th>
                        <th>{move || t().col_first_seen}</th>
                        <th>{move || t().col_latest}</th>
                        <th>{move || t().col_sample}</th>
                    </tr>
                </thead>
                <tbody>
                    {groups.groups.into_iter().map(|g| {
                        let href = group_href(&g, &range);
                        let state = g.state;
                        let label = g.exception_type.clone();
                        let peak = g.series.iter().copied().max().unwrap_or(0);
                        let (first, last) = (g.first_at, g.last_at);
                        let trend = format!("max {peak}/{}", per.as_str());
                        view! {
                            <tr data-queue=g.queue.clone() data-exception=g.exception_type.clone() data-state=state.as_str()>
                                <td class="wrap">
                                    <A href=href attr:class="exception-link" attr:data-testid="failure-group">
                                        {move || match label.is_empty() {
                                            true => locale.get().state(state).to_owned(),
                                            false => label.clone(),
                                        }}
                                    </A>
                                    // The state beside an exception type, when it is not a plain failure.
                                    {(state != TaskState::Failed && !g.exception_type.is_empty()).then(|| view! {
                                        " " <span class=format!("chip small state-{}", state.as_str())>{move || locale.get().state(state)}</span>
                                    })}
                                </td>
                                <td><QueueLink queue=g.queue.clone()/></td>
                                <td class="num bad" data-col="count">{format::count(g.count)}</td>
                                <td><Sparkline values=g.series title=trend tone="bad"/></td>
                                <td class="muted nowrap" title=move || zone.get().datetime(first)>{move || locale.get().ago((now - first).max(0.0) as u64)}</td>
                                <td class="nowrap" title=move || zone.get().datetime(last)>{move || locale.get().ago((now - last).max(0.0) as u64)}</td>
                                <td class="sample">
                                    <span class="clip" title=g.sample_msg.clone().unwrap_or_default()>{g.sample_msg.clone().unwrap_or_default()}</span>
                                    " " <TaskLink task_id=g.sample_task_id.clone()/>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_open_their_tasks_over_the_same_range() {
        let g = FailureGroup {
            queue: "orders v2".into(),
            state: TaskState::Failed,
            exception_type: "KeyError".into(),
            count: 3,
            first_at: 0.0,
            last_at: 1.0,
            sample_task_id: "t".into(),
            sample_msg: None,
            series: vec![],
        };
        assert_eq!(
            group_href(&g, "1h"),
            "/tasks?queue=orders%20v2&state=failed&range=1h&exception_type=KeyError"
        );
        let killed = FailureGroup {
            state: TaskState::Killed,
            exception_type: String::new(),
            ..g
        };
        assert_eq!(
            group_href(&killed, "24h"),
            "/tasks?queue=orders%20v2&state=killed&range=24h"
        );
        assert_eq!(
            failures_href(&FailureQuery {
                range: Some("7d".into()),
                queue: Some("a,b".into())
            }),
            "/failures?range=7d&queue=a%2Cb"
        );
        assert_eq!(failures_href(&FailureQuery::default()), "/failures");
    }
}
