//! Every consumer heard from, grouped by queue or by host, from funboost's heartbeat keys
//! (taskdeck's own workers write the same ones).

use crate::api::workers;
use crate::components::empty_state::EmptyState;
use crate::components::live_trouble::LiveTrouble;
use crate::components::title::PageTitle;
use crate::format;
use crate::live::use_live;
use crate::prefs::{use_prefs, use_strings};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use protocol::heartbeat::{Consumer, Fleet, Liveness};
use std::collections::BTreeMap;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grouping {
    Queue,
    Host,
}

#[component]
pub fn Workers() -> impl IntoView {
    let t = use_strings();
    // The server renders the first snapshot; the browser then follows the live stream.
    let first = Resource::new(|| (), |_| workers());
    let live = use_live::<Fleet>("workers", String::new());
    // `?host=NAME` (a task page's link) shows that host's consumers only, by host.
    let query = use_query_map();
    let host = Memo::new(move |_| query.read().get("host"));
    let grouping = RwSignal::new(if host.get_untracked().is_some() {
        Grouping::Host
    } else {
        Grouping::Queue
    });
    Effect::new(move |_| {
        if host.get().is_some() {
            grouping.set(Grouping::Host);
        }
    });
    view! {
        <PageTitle text=move || t().workers_title.to_owned()/>
        <div class="page-head">
            <h1>{move || t().workers_title}</h1>
            <p class="lead">{move || t().workers_lead}</p>
        </div>
        <LiveTrouble trouble=live.trouble/>
        <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
            {move || live.get().map(Ok).or_else(|| first.get()).map(|result| match result {
                Ok(fleet) if fleet.consumers.is_empty() => view! {
                    <EmptyState title=move || t().workers_empty_title body=move || t().workers_empty_body/>
                }.into_any(),
                Ok(fleet) => view! { <FleetView fleet grouping host=host.get()/> }.into_any(),
                Err(e) => view! { <p class="error">{move || t().load_failed} " " {e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn FleetView(
    mut fleet: Fleet,
    grouping: RwSignal<Grouping>,
    host: Option<String>,
) -> impl IntoView {
    let t = use_strings();
    let locale = use_prefs().locale;
    if let Some(h) = &host {
        fleet
            .consumers
            .retain(|c| c.heartbeat.computer_name == *h || c.heartbeat.computer_ip == *h);
    }
    let alive = fleet
        .consumers
        .iter()
        .filter(|c| c.liveness == Liveness::Alive)
        .count();
    let stale = fleet.consumers.len() - alive;
    let drop_after = fleet.drop_after_s as u64;
    let consumers = StoredValue::new(fleet.consumers);
    let toggle = move |g: Grouping, label: fn(&crate::i18n::Strings) -> &'static str| {
        view! {
            <button
                class="seg"
                aria-pressed=move || (grouping.get() == g).to_string()
                on:click=move |_| grouping.set(g)
            >
                {move || label(t())}
            </button>
        }
    };
    view! {
        <div class="fleet-bar">
            <div class="segmented" role="group">
                {toggle(Grouping::Queue, |s| s.workers_by_queue)}
                {toggle(Grouping::Host, |s| s.workers_by_host)}
            </div>
            <span class="badge ok" data-testid="alive-count">{alive} " " {move || t().workers_alive}</span>
            {(stale > 0).then(|| view! {
                <span class="badge down" data-testid="stale-count">{stale} " " {move || t().workers_stale}</span>
            })}
            {host.map(|h| view! {
                <span class="badge" data-testid="host-filter">{move || t().col_host} ": " <span class="mono">{h}</span></span>
                <A href="/workers">{move || t().workers_show_all}</A>
            })}
            <span class="muted small">{move || t().workers_refresh_hint}</span>
        </div>
        {(stale > 0).then(|| view! {
            <p class="muted small">
                {move || t().workers_stale_hint} " " {move || locale.get().duration(drop_after)} "."
            </p>
        })}
        {move || {
            let g = grouping.get();
            let groups = consumers.with_value(|all| groups(all, g));
            view! { <WorkerTable groups grouping=g/> }
        }}
    }
}

/// Consumers by queue name or by host, members in fleet order; groups with someone alive
/// first, then by name.
pub(crate) fn groups(all: &[Consumer], g: Grouping) -> Vec<(String, Vec<Consumer>)> {
    let mut by_key: BTreeMap<String, Vec<Consumer>> = BTreeMap::new();
    for c in all {
        let key = match g {
            Grouping::Queue => c.heartbeat.queue_name.clone(),
            Grouping::Host => host_of(c),
        };
        by_key.entry(key).or_default().push(c.clone());
    }
    let mut out: Vec<_> = by_key.into_iter().collect();
    let dead = |g: &[Consumer]| g.iter().all(|c| c.liveness == Liveness::Stale);
    out.sort_by_key(|(_, members)| dead(members));
    out
}

fn host_of(c: &Consumer) -> String {
    let hb = &c.heartbeat;
    match (hb.computer_name.is_empty(), hb.computer_ip.is_empty()) {
        (false, false) => format!("{} ({})", hb.computer_name, hb.computer_ip),
        (false, true) => hb.computer_name.clone(),
        _ => hb.computer_ip.clone(),
    }
}

#[component]
pub(crate) fn WorkerTable(
    groups: Vec<(String, Vec<Consumer>)>,
    grouping: Grouping,
) -> impl IntoView {
    let t = use_strings();
    let zone = use_prefs().zone;
    let other = move || match grouping {
        Grouping::Queue => t().col_host,
        Grouping::Host => t().col_queue,
    };
    view! {
        <div class="card table-card">
            <table class="table worker-table" data-testid="worker-table">
                <thead>
                    <tr>
                        <th>{move || t().col_state}</th>
                        <th>{other}</th>
                        <th>{move || t().col_process}</th>
                        <th>{move || t().col_function}</th>
                        <th>{move || t().col_heartbeat}</th>
                        <th>{move || t().col_up_since} <span class="sub">{move || zone.get().name}</span></th>
                        <th class="num">{move || t().col_done} <span class="sub">{move || t().col_since_start}</span></th>
                        <th class="num">{move || t().col_window}</th>
                        <th class="num">{move || t().col_avg_time}</th>
                        <th class="num">{move || t().col_concurrency}</th>
                        <th>{move || t().col_capabilities}</th>
                    </tr>
                </thead>
                {groups.into_iter().map(|(title, members)| {
                    let alive = members.iter().filter(|c| c.liveness == Liveness::Alive).count();
                    let total = members.len();
                    let group = title.clone();
                    view! {
                        <tbody data-group=group>
                            <tr class="group-row">
                                <th colspan="11">
                                    <span class="mono">{title}</span>
                                    <span class="muted small">{alive} " / " {total} " " {move || t().workers_alive}</span>
                                </th>
                            </tr>
                            {members.into_iter().map(|c| view! { <WorkerRow c grouping/> }).collect_view()}
                        </tbody>
                    }
                }).collect_view()}
            </table>
        </div>
    }
}

#[component]
fn WorkerRow(c: Consumer, grouping: Grouping) -> impl IntoView {
    let t = use_strings();
    let locale = use_prefs().locale;
    let hb = c.heartbeat.clone();
    let stale = c.liveness == Liveness::Stale;
    let age = c.age_s.round() as u64;
    let where_ = match grouping {
        Grouping::Queue => host_of(&c),
        Grouping::Host => hb.queue_name.clone(),
    };
    // A stale consumer's uptime stops at its last heartbeat.
    let up = (hb.start_timestamp > 0.0).then(|| {
        let until = if stale { 0.0 } else { c.age_s };
        ((hb.hearbeat_timestamp - hb.start_timestamp).max(0.0) + until) as u64
    });
    let zone = use_prefs().zone;
    let start = hb.start_timestamp;
    let started = move || (start > 0.0).then(|| zone.get().datetime(start));
    let (done, failed) = (
        hb.total_consume_count_from_start,
        hb.total_consume_count_from_start_fail,
    );
    let (window, window_fail) = (hb.last_x_s_execute_count, hb.last_x_s_execute_count_fail);
    let avg = hb
        .last_x_s_avarage_function_spend_time
        .or(hb.avarage_function_spend_time_from_start);
    let limit = (c.kind != "funboost").then(|| {
        let qps = hb.qps.map(|q| format!(" · {q} qps")).unwrap_or_default();
        format!("{} / {}{qps}", hb.running, hb.concurrency)
    });
    // funboost workers obey the pause flag and the kill hash; they report no capabilities.
    let caps = if hb.capabilities.is_empty() {
        "pause, kill".to_owned()
    } else {
        hb.capabilities.join(", ")
    };
    let script = hb.code_filename.clone();
    view! {
        <tr class:stale=stale data-consumer=hb.consumer_uuid.clone() data-liveness=if stale { "stale" } else { "alive" }>
            <td><div class="who">
                {if stale {
                    view! { <span class="state state-failed">{move || t().workers_stale}</span> }.into_any()
                } else {
                    view! { <span class="state state-success">{move || t().workers_alive}</span> }.into_any()
                }}
                {hb.paused.then(|| view! { " " <span class="state">{move || t().workers_paused}</span> })}
                <span class=format!("kind kind-{}", c.kind)>{c.kind.clone()}</span>
            </div></td>
            <td class="mono">{where_}</td>
            <td class="mono" title=script>{hb.process_id}</td>
            <td class="mono">{hb.consuming_function.clone()}</td>
            <td class:bad=stale>{move || locale.get().ago(age)}</td>
            <td class="muted nowrap">{move || up.map(|u| locale.get().duration(u))}<div class="small">{started}</div></td>
            <td class="num">
                {done}
                {(failed > 0).then(|| view! { <span class="bad">" (" {failed} " ✗)"</span> })}
            </td>
            <td class="num">
                {window}
                {(window_fail > 0).then(|| view! { <span class="bad">" (" {window_fail} " ✗)"</span> })}
            </td>
            <td class="num">{avg.map(format::seconds)}</td>
            <td class="num">{limit.unwrap_or_else(|| "—".to_owned())}</td>
            <td class="muted small wrap">{caps}</td>
        </tr>
    }
}
