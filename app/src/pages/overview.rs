use crate::api::{overview, system_status};
use crate::components::empty_state::EmptyState;
use crate::components::links::QueueLink;
use crate::components::live_trouble::LiveTrouble;
use crate::components::sparkline::Sparkline;
use crate::components::title::PageTitle;
use crate::format;
use crate::live::use_live;
use crate::prefs::{use_prefs, use_strings};
use leptos::prelude::*;
use protocol::overview::{failure_rate, Drain, Overview, QueueRow, Totals};
use protocol::{BusKind, Check, Health};

#[component]
pub fn Overview() -> impl IntoView {
    let t = use_strings();
    view! {
        <PageTitle text=move || t().overview_title.to_owned()/>
        <div class="page-head">
            <h1>{move || t().overview_title}</h1>
            <p class="lead">{move || t().overview_lead}</p>
        </div>
        <QueueBoard/>
        <SystemCard/>
    }
}

/// Every queue, live: totals at the top, one row per queue, a project filter when funboost
/// projects exist.
#[component]
fn QueueBoard() -> impl IntoView {
    let t = use_strings();
    let first = Resource::new(|| (), |_| overview());
    let live = use_live::<Overview>("overview", String::new());
    let project = RwSignal::new(None::<String>);
    let data = move || live.get().or_else(|| first.get().and_then(Result::ok));
    view! {
        <LiveTrouble trouble=live.trouble/>
        <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
            {move || {
                let error = first.get().and_then(|r| r.err());
                match (data(), error) {
                    (Some(o), _) if o.queues.is_empty() => view! {
                        <EmptyState title=move || t().queues_empty_title body=move || t().queues_empty_body/>
                    }.into_any(),
                    (Some(o), _) => view! { <Board o project chosen=project.get()/> }.into_any(),
                    (None, Some(e)) => view! {
                        <p class="error">{move || t().load_failed} " " {e.to_string()}</p>
                    }.into_any(),
                    (None, None) => ().into_any(),
                }
            }}
        </Transition>
    }
}

#[component]
fn Board(o: Overview, project: RwSignal<Option<String>>, chosen: Option<String>) -> impl IntoView {
    let t = use_strings();
    let locale = use_prefs().locale;
    let rows: Vec<QueueRow> = o.rows(chosen.as_deref()).cloned().collect();
    let totals = Totals::of(rows.iter());
    let rate = totals.failure_rate();
    let projects = o.projects.clone();
    let now = o.now;
    view! {
        {o.broker_error.map(|e| view! {
            <p class="banner warn" data-testid="broker-error">{move || t().ov_broker_down} " " <span class="muted small">{e}</span></p>
        })}
        <section class="totals" data-testid="totals">
            <Stat label=move || t().ov_queues value=totals.queues.to_string() test="queues"/>
            <Stat label=move || t().ov_throughput value=format!("{} {}", format::rate(totals.throughput), t().ov_per_second) test="throughput"/>
            <Stat label=move || t().ov_finished_hour value=format::count(totals.success_last_hour + totals.failed_last_hour) test="finished"/>
            <Stat label=move || t().ov_failure_rate value=rate.map(format::percent).unwrap_or_else(|| "—".into()) test="failure-rate" bad={rate.is_some_and(|r| r > 0.05)}/>
            <Stat label=move || t().ov_waiting value=format::count(totals.waiting as i64) test="waiting"/>
            <Stat label=move || t().ov_in_flight value=format::count(totals.in_flight) test="in-flight"/>
            <Stat label=move || t().ov_consumers value=totals.consumers_alive.to_string() test="consumers"/>
            <Stat label=move || t().ov_paused value=totals.paused.to_string() test="paused" bad={totals.paused > 0}/>
        </section>
        <div class="board-bar">
            {(!projects.is_empty()).then(|| view! {
                <label class="field">
                    <span>{move || t().ov_project}</span>
                    <select
                        data-testid="project"
                        on:change=move |e| {
                            let v = event_target_value(&e);
                            project.set((!v.is_empty()).then_some(v));
                        }
                    >
                        <option value="" selected=chosen.is_none()>{move || t().ov_all_projects}</option>
                        {projects.into_iter().map(|p| {
                            let selected = chosen.as_deref() == Some(p.as_str());
                            view! { <option value=p.clone() selected=selected>{p.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
            })}
            <span class="live-dot" title=move || t().ov_paused_hint>{move || t().ov_live}</span>
        </div>
        <div class="card table-card">
            <table class="table queue-board" data-testid="queue-board">
                <thead>
                    <tr>
                        <th>{move || t().col_queue}</th>
                        <th class="num">{move || t().ov_throughput}</th>
                        <th class="num">{move || t().ov_done} <span class="sub">{move || t().col_last_minute}</span></th>
                        <th class="num">{move || t().ov_done} <span class="sub">{move || t().col_last_hour}</span></th>
                        <th class="num">{move || t().ov_waiting}</th>
                        <th class="num">{move || t().ov_in_flight}</th>
                        <th>{move || t().ov_oldest}</th>
                        <th>{move || t().ov_drain}</th>
                        <th>{move || t().ov_consumers}</th>
                        <th>{move || t().ov_trend}</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|r| view! { <BoardRow r locale now/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub(crate) fn Stat(
    label: impl Fn() -> &'static str + Send + Sync + 'static,
    value: String,
    test: &'static str,
    #[prop(optional)] bad: bool,
    /// A line under the figure: where it comes from, or why it is not known.
    #[prop(optional, into)]
    note: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <div class="stat" data-testid=format!("total-{test}")>
            <span class="stat-label">{label}</span>
            <span class="stat-value" class:bad=bad>{value}</span>
            {move || note.get().map(|n| view! { <span class="stat-note" data-testid=format!("note-{test}")>{n}</span> })}
        </div>
    }
}

/// A queue's backlog in a table cell: the figure, and where it comes from when not counted
/// in the broker now (or "—" with why it is not known).
#[component]
pub(crate) fn BacklogCell(r: QueueRow, now: f64) -> impl IntoView {
    let locale = use_prefs().locale;
    let backlog = r.backlog.clone();
    let note = move || locale.get().backlog_note(&backlog, now);
    view! {
        <td class="num" data-col="waiting" title=note.clone()>
            {r.waiting.map_or_else(|| "—".to_owned(), |w| format::count(w as i64))}
            {matches!(r.backlog, protocol::overview::Backlog::Reported { .. }).then(|| view! {
                <div class="muted small" data-testid="backlog-reported">{note.clone()}</div>
            })}
        </td>
    }
}

#[component]
fn BoardRow(
    r: QueueRow,
    locale: crate::prefs::Pref<crate::i18n::Locale>,
    now: f64,
) -> impl IntoView {
    let t = use_strings();
    let share = failure_rate(r.success_last_hour, r.failed_last_hour);
    let drain = r.drain();
    let stalled = drain == Drain::Stalled;
    let oldest = r.oldest_waiting_s.map(|s| s as u64);
    view! {
        <tr data-queue=r.queue.clone() class:paused=r.paused>
            <td>
                <span class="mono queue-name"><QueueLink queue=r.queue.clone()/></span>
                {r.paused.then(|| view! { " " <span class="state state-killed">{move || t().ov_paused}</span> })}
                {r.project.clone().map(|p| view! { " " <span class="muted small">{p}</span> })}
            </td>
            <td class="num" data-col="throughput">{format::rate(r.throughput)}</td>
            <td class="num"><Done ok=r.success_last_minute failed=r.failed_last_minute window="minute"/></td>
            <td class="num">
                <Done ok=r.success_last_hour failed=r.failed_last_hour window="hour"/>
                {share.filter(|s| *s > 0.0).map(|s| view! {
                    <div class="muted small" class:bad={s > 0.05}>{format::percent(s)} " " {move || t().ov_failed_share}</div>
                })}
            </td>
            <BacklogCell r=r.clone() now/>
            <td class="num" data-col="in-flight">{format::count(r.in_flight)}</td>
            <td class:bad=stalled data-col="oldest">{move || oldest.map(|s| locale.get().duration(s)).unwrap_or_else(|| "—".into())}</td>
            <td data-col="drain"><DrainText drain/></td>
            <td data-col="consumers">
                {if r.consumers_alive > 0 {
                    view! { <span class="badge ok">{r.consumers_alive}</span> }.into_any()
                } else {
                    view! { <span class="muted small">{move || t().ov_no_consumer}</span> }.into_any()
                }}
                {(r.consumers_stale > 0).then(|| view! { " " <span class="badge down">{r.consumers_stale} " " {move || t().workers_stale}</span> })}
            </td>
            <td>{spark_per_minute(r.spark)}</td>
        </tr>
    }
}

/// The time a backlog needs at the current rate, or that it is stalled.
#[component]
pub(crate) fn DrainText(drain: Drain) -> impl IntoView {
    let t = use_strings();
    let locale = use_prefs().locale;
    match drain {
        Drain::Stalled => {
            view! { <span class="state state-failed">{move || t().ov_stalled}</span> }.into_any()
        }
        Drain::Eta(s) => view! { <span>{move || locale.get().duration(s)}</span> }.into_any(),
        Drain::Empty => view! { <span>"—"</span> }.into_any(),
    }
}

/// Successes, and failures (in red) when there are any.
#[component]
fn Done(ok: i64, failed: i64, window: &'static str) -> impl IntoView {
    view! {
        <span data-col=format!("success-{window}")>{format::count(ok)}</span>
        {(failed > 0).then(|| view! {
            " " <span class="bad" data-col=format!("failed-{window}")>"+" {format::count(failed)} " ✗"</span>
        })}
    }
}

/// Finished tasks per minute; the title gives the peak.
fn spark_per_minute(values: Vec<i64>) -> impl IntoView {
    let peak = values.iter().copied().max().unwrap_or(0);
    view! { <Sparkline values title=format!("max {peak}/min")/> }
}

/// Reachability of this instance's dependencies, checked by a real round trip on demand.
#[component]
fn SystemCard() -> impl IntoView {
    let t = use_strings();
    let checks = RwSignal::new(0u32);
    let checking = RwSignal::new(false);
    let status = Resource::new(move || checks.get(), |_| system_status());
    // Cleared when an answer arrives. Not the Transition's `set_pending`: a signal written by an
    // effect while the server renders the page raced the render and disposed it mid-stream.
    Effect::new(move |_| {
        status.track();
        checking.set(false);
    });
    view! {
        <section class="card system-card" data-testid="system-card">
            <header class="card-head">
                <h2>{move || t().system_title}</h2>
                <button
                    class="button"
                    type="button"
                    data-testid="recheck"
                    disabled=move || checking.get()
                    on:click=move |_| {
                        checking.set(true);
                        checks.update(|n| *n += 1);
                    }
                >
                    {move || if checking.get() { t().status_loading } else { t().refresh }}
                </button>
            </header>
            <Transition
                fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }
            >
                {move || {
                    status
                        .get()
                        .map(|result| match result {
                            Ok(health) => view! { <SystemFacts health/> }.into_any(),
                            Err(_) => {
                                view! { <p class="error">{move || t().status_unreachable}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn SystemFacts(health: Health) -> impl IntoView {
    let t = use_strings();
    let locale = use_prefs().locale;
    let bus_name = move || match health.bus {
        BusKind::Memory => t().bus_memory,
        BusKind::Redis => t().bus_redis,
    };
    let Health {
        store,
        checks,
        version,
        uptime_s,
        ..
    } = health;
    view! {
        <dl class="facts">
            <Fact label=move || t().store name=store.as_str() check=checks.store/>
            <Fact label=move || t().bus name=bus_name check=checks.bus/>
            <div class="fact">
                <dt>{move || t().version}</dt>
                <dd>{version}</dd>
            </div>
            <div class="fact">
                <dt>{move || t().uptime}</dt>
                <dd data-testid="uptime">{move || locale.get().duration(uptime_s)}</dd>
            </div>
        </dl>
    }
}

#[component]
fn Fact(
    label: impl Fn() -> &'static str + Send + Sync + 'static,
    #[prop(into)] name: Signal<&'static str>,
    check: Check,
) -> impl IntoView {
    let t = use_strings();
    let ok = check.is_ok();
    let latency = format!("{:.1} ms", check.latency_ms);
    let error = check.error;
    view! {
        <div class="fact">
            <dt>{label}</dt>
            <dd>
                <span class="kind">{name}</span>
                <span class=if ok { "badge ok" } else { "badge down" }>
                    {move || if ok { t().status_ok } else { t().status_down }}
                </span>
                <span class="muted small">{latency}</span>
                {error.map(|e| view! { <span class="error small">{e}</span> })}
            </dd>
        </div>
    }
}
