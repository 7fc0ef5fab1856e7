//! The queues and tasks the store holds, as tables. Live updates, charts, search and filters
//! build on these pages.

use crate::api::{queue_list, recent_tasks};
use crate::components::empty_state::EmptyState;
use crate::components::links::{QueueLink, TaskLink};
use crate::format;
use crate::prefs::{use_prefs, use_strings, Prefs};
use leptos::prelude::*;
use leptos_meta::Title;
use protocol::task::{QueueSummary, TaskSummary};

#[component]
pub fn Queues() -> impl IntoView {
    let t = use_strings();
    let queues = Resource::new(|| (), |_| queue_list());
    view! {
        <Title text=move || t().queues_title/>
        <div class="page-head">
            <h1>{move || t().queues_title}</h1>
            <p class="lead">{move || t().queues_lead}</p>
        </div>
        <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
            {move || queues.get().map(|result| match result {
                Ok(list) if list.is_empty() => view! {
                    <EmptyState title=move || t().queues_empty_title body=move || t().queues_empty_body/>
                }.into_any(),
                Ok(list) => view! { <QueueTable queues=list/> }.into_any(),
                Err(e) => view! { <p class="error">{move || t().load_failed} " " {e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn QueueTable(queues: Vec<QueueSummary>) -> impl IntoView {
    let t = use_strings();
    let zone = use_prefs().zone;
    view! {
        <div class="card table-card">
            <table class="table" data-testid="queue-table">
                <thead>
                    <tr>
                        <th>{move || t().col_queue}</th>
                        <th class="num">{move || t().col_running}</th>
                        <th class="num">{move || t().col_succeeded} <span class="sub">{move || t().col_last_minute}</span></th>
                        <th class="num">{move || t().col_failed} <span class="sub">{move || t().col_last_minute}</span></th>
                        <th class="num">{move || t().col_succeeded} <span class="sub">{move || t().col_last_hour}</span></th>
                        <th class="num">{move || t().col_failed} <span class="sub">{move || t().col_last_hour}</span></th>
                        <th>{move || t().col_last_seen} <span class="sub">{move || zone.get().name}</span></th>
                    </tr>
                </thead>
                <tbody>
                    {queues.into_iter().map(|q| {
                        let failing = |n: i64| if n > 0 { "num bad" } else { "num" };
                        view! {
                        <tr>
                            <td class="mono strong"><QueueLink queue=q.queue/></td>
                            <td class="num">{q.running}</td>
                            <td class="num">{q.success_last_minute}</td>
                            <td class=failing(q.failed_last_minute)>{q.failed_last_minute}</td>
                            <td class="num">{q.success_last_hour}</td>
                            <td class=failing(q.failed_last_hour)>{q.failed_last_hour}</td>
                            <td class="muted nowrap">{move || (q.last_seen > 0.0).then(|| zone.get().datetime(q.last_seen))}</td>
                        </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn Tasks() -> impl IntoView {
    let t = use_strings();
    let tasks = Resource::new(|| (), |_| recent_tasks());
    view! {
        <Title text=move || t().tasks_title/>
        <div class="page-head">
            <h1>{move || t().tasks_title}</h1>
            <p class="lead">{move || t().tasks_lead}</p>
        </div>
        <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
            {move || tasks.get().map(|result| match result {
                Ok(page) if page.tasks.is_empty() => view! {
                    <EmptyState title=move || t().tasks_empty_title body=move || t().tasks_empty_body/>
                }.into_any(),
                Ok(page) => view! { <TaskTable tasks=page.tasks/> }.into_any(),
                Err(e) => view! { <p class="error">{move || t().load_failed} " " {e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn TaskTable(tasks: Vec<TaskSummary>) -> impl IntoView {
    let t = use_strings();
    let Prefs { locale, zone, .. } = use_prefs();
    view! {
        <p class="muted small">{move || t().tasks_newest}</p>
        <div class="card table-card">
            <table class="table" data-testid="task-table">
                <thead>
                    <tr>
                        <th>{move || t().col_state}</th>
                        <th>{move || t().col_task}</th>
                        <th>{move || t().col_queue}</th>
                        <th>{move || t().col_function}</th>
                        <th>{move || t().col_params}</th>
                        <th>{move || t().col_exception}</th>
                        <th>{move || t().col_started} <span class="sub">{move || zone.get().name}</span></th>
                        <th class="num">{move || t().col_run_time}</th>
                        <th>{move || t().col_host}</th>
                    </tr>
                </thead>
                <tbody>
                    {tasks.into_iter().map(|task| {
                        let state = task.state;
                        let exception = task.exception_type.clone().map(|ty| match &task.exception_msg {
                            Some(m) => format!("{ty}: {m}"),
                            None => ty,
                        });
                        let (params_title, exception_title) = (task.params.clone(), exception.clone());
                        view! {
                            <tr data-task-id=task.task_id.clone()>
                                <td><span class=format!("state state-{}", state.as_str())>{move || locale.get().state(state)}</span></td>
                                <td class="clip-id" title=task.task_id.clone()><TaskLink task_id=task.task_id.clone()/></td>
                                <td class="mono"><QueueLink queue=task.queue/></td>
                                <td class="mono">{task.function}</td>
                                <td class="mono clip" title=params_title>{task.params}</td>
                                <td class="clip bad" title=exception_title>{exception}</td>
                                <td class="muted nowrap">{move || task.start_time.or(task.publish_time).map(|t| zone.get().datetime(t))}</td>
                                <td class="num nowrap">{task.cost.map(format::seconds)}</td>
                                <td class="mono">{task.host_name}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
