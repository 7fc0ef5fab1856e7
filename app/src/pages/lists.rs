//! The queues the store holds, as a table.

use crate::api::queue_list;
use crate::components::empty_state::EmptyState;
use crate::components::links::QueueLink;
use crate::components::title::PageTitle;
use crate::prefs::{use_prefs, use_strings};
use leptos::prelude::*;
use protocol::task::QueueSummary;

#[component]
pub fn Queues() -> impl IntoView {
    let t = use_strings();
    let queues = Resource::new(|| (), |_| queue_list());
    view! {
        <PageTitle text=move || t().queues_title.to_owned()/>
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
