//! One queue: its live facts, charts by second, minute, hour or day (or a fixed range), its
//! consumers and its registered parameters.

use super::overview::{DrainText, Stat};
use super::queue_charts::{self, Palette};
use super::workers::{groups, Grouping, WorkerTable};
use crate::api::{queue_page, queue_series};
use crate::components::chart::EChart;
use crate::components::control;
use crate::components::empty_state::EmptyState;
use crate::components::links::{encode, queue_href};
use crate::components::live_trouble::LiveTrouble;
use crate::components::publish::PublishForm;
use crate::components::title::PageTitle;
use crate::format;
use crate::live::use_live;
use crate::prefs::{effective_dark, use_prefs, use_strings, Prefs};
use charming::Chart;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::params::ParamsMap;
use protocol::control::Limits;
use protocol::overview::failure_rate;
use protocol::queue::QueuePage;
use protocol::rest::{ClearQueue, QueueAction, QueueCommand, SetLimits};
use protocol::series::{Grain, Series};

/// What the charts show: a live window of one grain, or a fixed range.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Range {
    Live(Grain),
    Fixed { grain: Grain, from: i64, to: i64 },
}

/// Most buckets a fixed range picks automatically.
const AUTO_POINTS: i64 = 360;

impl Range {
    /// `?range=minute` (live) or `?from=…&to=…[&grain=…]` (fixed, epoch seconds).
    fn from_query(q: &ParamsMap) -> Range {
        let epoch = |k| q.get(k).and_then(|v| v.parse::<i64>().ok());
        match (epoch("from"), epoch("to")) {
            (Some(from), Some(to)) => Range::Fixed {
                grain: q
                    .get("grain")
                    .and_then(|g| Grain::parse(&g).ok())
                    .unwrap_or_else(|| auto_grain(from, to)),
                from,
                to,
            },
            _ => Range::Live(
                q.get("range")
                    .and_then(|g| Grain::parse(&g).ok())
                    .unwrap_or(Grain::Minute),
            ),
        }
    }

    /// The grain of the live stream that carries the queue's facts (and, when live, its
    /// series).
    fn live_grain(self) -> Grain {
        match self {
            Range::Live(g) => g,
            Range::Fixed { .. } => Grain::Second,
        }
    }
}

/// The finest grain that keeps `[from, to)` within [`AUTO_POINTS`] buckets.
fn auto_grain(from: i64, to: i64) -> Grain {
    Grain::ALL
        .into_iter()
        .find(|g| to.saturating_sub(from) / g.seconds() <= AUTO_POINTS)
        .unwrap_or(Grain::Day)
}

#[component]
pub fn Queue() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let queue = Memo::new(move |_| params.read().get("queue").unwrap_or_default());
    let range = Memo::new(move |_| Range::from_query(&query.read()));
    view! {
        <PageTitle text=move || queue.get()/>
        {move || view! { <QueueScreen queue=queue.get() range=range.get()/> }}
    }
}

#[component]
fn QueueScreen(queue: String, range: Range) -> impl IntoView {
    let t = use_strings();
    let grain = range.live_grain();
    let q = queue.clone();
    let first = Resource::new(|| (), move |_| queue_page(q.clone(), grain));
    let live = use_live::<QueuePage>(
        "queue",
        format!("&queue={}&grain={}", encode(&queue), grain.as_str()),
    );
    let page = Signal::derive(move || live.get().or_else(|| first.get().and_then(Result::ok)));
    let fixed = match range {
        Range::Fixed { grain, from, to } => {
            let q = queue.clone();
            Some(Resource::new(
                || (),
                move |_| queue_series(q.clone(), grain, from, to),
            ))
        }
        Range::Live(_) => None,
    };
    let series = Signal::derive(move || match fixed {
        Some(r) => r.get().map(|r| r.map_err(|e| e.to_string())),
        None => page.get().map(|p| Ok(p.series)),
    });
    let name = queue.clone();
    let control_queue = queue.clone();
    view! {
        <LiveTrouble trouble=live.trouble/>
        <div class="page-head queue-head">
            <p class="crumbs"><A href="/queues">{move || t().nav_queues}</A> " /"</p>
            <div class="title-row">
                <h1 class="queue-title" data-testid="queue-name">{name}</h1>
                // Inside a transition so the server renders it with the data, as the browser will.
                <Transition fallback=|| ()>
                    {move || page.get().map(|p| view! {
                        {p.row.paused.then(|| view! { <span class="state state-killed" data-testid="queue-paused">{move || t().ov_paused}</span> })}
                        {p.row.project.clone().map(|pr| view! { <span class="badge">{pr}</span> })}
                        {p.broker_kind.clone().map(|k| view! { <span class="badge" title=move || t().q_broker>{k}</span> })}
                    })}
                </Transition>
            </div>
            <p class="lead">{move || t().q_lead}</p>
            // In a transition, so the server renders the last command as the browser will.
            <Transition fallback=|| ()>
                {move || first.get().map(|_| view! { <QueueControl queue=control_queue.clone() page/> })}
            </Transition>
        </div>
        <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
            {move || {
                // Both reads make the server wait for the data before rendering.
                let fixed_ready = fixed.is_none_or(|r| r.get().is_some());
                first.get().filter(|_| fixed_ready).map(|r| match r {
                    Err(e) => view! { <p class="error">{move || t().load_failed} " " {e.to_string()}</p> }.into_any(),
                    Ok(_) => view! { <QueueBody queue=queue.clone() page series range/> }.into_any(),
                })
            }}
        </Transition>
    }
}

#[component]
fn QueueBody(
    queue: String,
    page: Signal<Option<QueuePage>>,
    series: Signal<Option<Result<Series, String>>>,
    range: Range,
) -> impl IntoView {
    let t = use_strings();
    let unknown = move || page.get().is_some_and(|p| !p.known);
    view! {
        {move || page.get().and_then(|p| p.broker_error).map(|e| view! {
            <p class="banner warn">{move || t().ov_broker_down} " " <span class="muted small">{e}</span></p>
        })}
        {move || page.get().and_then(|p| p.row.broker_note).map(|e| view! {
            <p class="banner warn" data-testid="broker-note">{move || t().q_broker_note} " " <span class="muted small">{e}</span></p>
        })}
        <Show when=unknown>
            <EmptyState title=move || t().q_unknown_title body=move || t().q_unknown_body/>
        </Show>
        {move || page.get().map(|p| view! { <QueueStats p/> })}
        <RangeBar queue=queue.clone() range/>
        <Charts series/>
        <section class="queue-section" data-testid="queue-consumers">
            <h2 class="section-title">{move || t().q_consumers}</h2>
            {move || page.get().map(|p| if p.consumers.is_empty() {
                view! { <p class="card muted">{move || t().q_no_consumers}</p> }.into_any()
            } else {
                view! { <WorkerTable groups=groups(&p.consumers, Grouping::Queue) grouping=Grouping::Queue/> }.into_any()
            })}
        </section>
        {control::can_command().then(|| view! { <PublishSection queue=queue.clone() page/> })}
        <super::queue_dead::DeadLetters queue=queue.clone() count=Signal::derive(move || page.get().and_then(|p| p.dead_letters))/>
        <super::queue_waiting::WaitingMessages queue=queue.clone()
            browse=Signal::derive(move || page.get().map(|p| p.abilities.browse.map_or(Ok(()), Err)))/>
        <section class="card" data-testid="queue-params">
            <header class="card-head"><h2>{move || t().q_params}</h2></header>
            {move || page.get().map(|p| match p.params {
                Some(text) => view! { <Params text/> }.into_any(),
                None => view! { <p class="muted">{move || t().q_params_none}</p> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn QueueStats(p: QueuePage) -> impl IntoView {
    let t = use_strings();
    let locale = use_prefs().locale;
    let now = p.now;
    let r = p.row;
    let backlog = r.backlog.clone();
    let rate = failure_rate(r.success_last_hour, r.failed_last_hour);
    let drain = r.drain();
    let oldest = r.oldest_waiting_s.map(|s| s as u64);
    let stalled = drain == protocol::overview::Drain::Stalled;
    view! {
        <section class="totals queue-stats" data-testid="queue-stats">
            <Stat label=move || t().ov_throughput value=format!("{} {}", format::rate(r.throughput), t().ov_per_second) test="throughput"/>
            <DoneStat label=move || t().col_last_minute ok=r.success_last_minute failed=r.failed_last_minute test="minute"/>
            <DoneStat label=move || t().col_last_hour ok=r.success_last_hour failed=r.failed_last_hour test="hour"/>
            <Stat label=move || t().ov_failure_rate value=rate.map(format::percent).unwrap_or_else(|| "—".into()) test="failure-rate" bad={rate.is_some_and(|r| r > 0.05)}/>
            <Stat label=move || t().ov_waiting value=r.waiting.map_or_else(|| "—".to_owned(), |w| format::count(w as i64)) test="waiting"
                note=Signal::derive(move || locale.get().backlog_note(&backlog, now))/>
            <Stat label=move || t().ov_in_flight value=format::count(r.in_flight) test="in-flight"/>
            <div class="stat" data-testid="total-oldest">
                <span class="stat-label">{move || t().ov_oldest}</span>
                <span class="stat-value" class:bad=stalled>{move || oldest.map(|s| locale.get().duration(s)).unwrap_or_else(|| "—".into())}</span>
            </div>
            <div class="stat" data-testid="total-drain" title=move || t().q_drain_hint>
                <span class="stat-label">{move || t().ov_drain}</span>
                <span class="stat-value"><DrainText drain/></span>
            </div>
            <Stat label=move || t().ov_consumers value=format!("{}{}", r.consumers_alive, if r.consumers_stale > 0 { format!(" (+{} {})", r.consumers_stale, t().workers_stale) } else { String::new() }) test="consumers" bad={r.consumers_alive == 0 && r.waiting.unwrap_or(0) > 0}/>
        </section>
    }
}

/// Tasks done in a window: successes, and the failures beside them in red.
#[component]
fn DoneStat(
    label: impl Fn() -> &'static str + Send + Sync + 'static,
    ok: i64,
    failed: i64,
    test: &'static str,
) -> impl IntoView {
    let t = use_strings();
    view! {
        <div class="stat" data-testid=format!("total-{test}")>
            <span class="stat-label">{move || t().ov_done} " · " {label}</span>
            <span class="stat-value">
                <span data-col="success">{format::count(ok)}</span>
                {(failed > 0).then(|| view! { " " <span class="bad small" data-col="failed">"+" {format::count(failed)} " ✗"</span> })}
            </span>
        </div>
    }
}

/// The live windows as links (bookmarkable), and a fixed range read in the viewer's zone.
#[component]
fn RangeBar(queue: String, range: Range) -> impl IntoView {
    let t = use_strings();
    let Prefs { zone, .. } = use_prefs();
    let href = queue_href(&queue);
    let custom = RwSignal::new(matches!(range, Range::Fixed { .. }));
    let (from0, to0) = match range {
        Range::Fixed { from, to, .. } => (from, to),
        Range::Live(g) => {
            let now = (format::now() / 60.0).ceil() as i64 * 60;
            (now - g.default_span(), now)
        }
    };
    let from_in = RwSignal::new(None::<String>);
    let to_in = RwSignal::new(None::<String>);
    let grain_in = RwSignal::new(match range {
        Range::Fixed { grain, .. } => grain.as_str().to_owned(),
        Range::Live(_) => "auto".to_owned(),
    });
    let problem = RwSignal::new(None::<&'static str>);
    let navigate = use_navigate();
    let target = href.clone();
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let z = zone.get_untracked();
        let read = |v: Option<String>, dflt: i64| v.and_then(|v| z.parse_input(&v)).unwrap_or(dflt);
        let from = read(from_in.get_untracked(), from0);
        let to = read(to_in.get_untracked(), to0);
        if from >= to {
            problem.set(Some(t().q_bad_range));
            return;
        }
        problem.set(None);
        let grain =
            Grain::parse(&grain_in.get_untracked()).unwrap_or_else(|_| auto_grain(from, to));
        navigate(
            &format!("{target}?grain={}&from={from}&to={to}", grain.as_str()),
            Default::default(),
        );
    };
    let live_link = |g: Grain, label: fn(&crate::i18n::Strings) -> &'static str| {
        let pressed = range == Range::Live(g);
        view! {
            <A href=format!("{href}?range={}", g.as_str()) attr:class="seg" attr:aria-pressed=pressed.to_string() attr:data-range=g.as_str()>
                {move || label(t())}
            </A>
        }
    };
    let grains = [
        (
            Grain::Second,
            (|s| s.q_grain_second) as fn(&crate::i18n::Strings) -> &'static str,
        ),
        (Grain::Minute, |s| s.q_grain_minute),
        (Grain::Hour, |s| s.q_grain_hour),
        (Grain::Day, |s| s.q_grain_day),
    ];
    view! {
        <div class="board-bar range-bar">
            <div class="segmented" role="group" aria-label=move || t().q_range>
                {live_link(Grain::Second, |s| s.q_range_second)}
                {live_link(Grain::Minute, |s| s.q_range_minute)}
                {live_link(Grain::Hour, |s| s.q_range_hour)}
                {live_link(Grain::Day, |s| s.q_range_day)}
                <button class="seg" type="button" aria-pressed=move || custom.get().to_string() data-range="custom" on:click=move |_| custom.update(|c| *c = !*c)>
                    {move || t().q_custom}
                </button>
            </div>
            <span class="muted small zone-note" data-testid="zone">{move || t().q_times_in} " " {move || zone.get().name}</span>
            {match range {
                Range::Live(_) => view! { <span class="live-dot" title=move || t().ov_paused_hint>{move || t().ov_live}</span> }.into_any(),
                Range::Fixed { .. } => view! {
                    <span class="muted small">{move || t().q_fixed_note} " "
                        <A href=format!("{}?range=minute", queue_href(&queue))>{move || t().q_back_live}</A>
                    </span>
                }.into_any(),
            }}
        </div>
        <Show when=move || custom.get()>
            <form class="range-form card" on:submit=apply.clone() data-testid="range-form">
                <label class="field"><span>{move || t().q_from}</span>
                    <input type="datetime-local" name="from" prop:value=move || from_in.get().unwrap_or_else(|| zone.get().input_value(from0 as f64)) on:input=move |e| from_in.set(Some(event_target_value(&e)))/>
                </label>
                <label class="field"><span>{move || t().q_to}</span>
                    <input type="datetime-local" name="to" prop:value=move || to_in.get().unwrap_or_else(|| zone.get().input_value(to0 as f64)) on:input=move |e| to_in.set(Some(event_target_value(&e)))/>
                </label>
                <label class="field"><span>{move || t().q_per}</span>
                    <select name="grain" on:change=move |e| grain_in.set(event_target_value(&e)) prop:value=move || grain_in.get()>
                        <option value="auto">"auto"</option>
                        {grains.into_iter().map(|(g, label)| view! { <option value=g.as_str()>{move || label(t())}</option> }).collect_view()}
                    </select>
                </label>
                <span class="muted small">{move || zone.get().name}</span>
                <button class="button" type="submit">{move || t().q_show}</button>
                {move || problem.get().map(|p| view! { <span class="error small">{p}</span> })}
            </form>
        </Show>
    }
}

#[component]
fn Charts(series: Signal<Option<Result<Series, String>>>) -> impl IntoView {
    let t = use_strings();
    let Prefs {
        theme,
        zone,
        locale,
    } = use_prefs();
    let build = move |f: fn(&Series, &format::Zone, &crate::i18n::Strings, Palette) -> Chart| {
        Signal::derive(move || {
            let s = series
                .get()
                .and_then(Result::ok)
                .unwrap_or_else(empty_series);
            f(
                &s,
                &zone.get(),
                locale.get().strings(),
                Palette::of(effective_dark(theme.get())),
            )
        })
    };
    let error = move || series.get().and_then(Result::err);
    let empty = move || {
        series.get().and_then(Result::ok).is_some_and(|s| {
            s.points
                .iter()
                .all(|p| p.success + p.failed + p.killed + p.revoked + p.expired == 0)
        })
    };
    view! {
        {move || error().map(|e| view! { <p class="error" data-testid="series-error">{move || t().load_failed} " " {e}</p> })}
        <div class="charts">
            <section class="card chart-card wide">
                <header class="card-head">
                    <h2>{move || t().q_chart_done}</h2>
                    <Show when=empty><span class="muted small">{move || t().q_no_data}</span></Show>
                </header>
                <EChart id="chart-finished" chart=build(queue_charts::finished)/>
            </section>
            <section class="card chart-card">
                <header class="card-head"><h2>{move || t().q_chart_run}</h2></header>
                <EChart id="chart-run" chart=build(|s, z, _, c| queue_charts::latency(s, z, |p| &p.run, c))/>
            </section>
            <section class="card chart-card">
                <header class="card-head"><h2>{move || t().q_chart_wait}</h2></header>
                <EChart id="chart-wait" chart=build(|s, z, _, c| queue_charts::latency(s, z, |p| &p.wait, c))/>
            </section>
        </div>
    }
}

fn empty_series() -> Series {
    Series {
        queue: String::new(),
        grain: Grain::Minute,
        from: 0,
        to: 0,
        points: Vec::new(),
    }
}

/// A queue's registered parameters: one row per top-level key, values as compact JSON.
#[component]
fn Params(text: String) -> impl IntoView {
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => {
            let rows = map
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    view! { <div class="param"><dt class="mono">{k}</dt><dd class="mono">{v}</dd></div> }
                })
                .collect_view();
            view! { <dl class="params">{rows}</dl> }.into_any()
        }
        _ => view! { <pre class="json">{text}</pre> }.into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&'static str, &str)]) -> ParamsMap {
        let mut m = ParamsMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.to_string());
        }
        m
    }

    #[test]
    fn ranges_read_from_the_address() {
        assert_eq!(Range::from_query(&query(&[])), Range::Live(Grain::Minute));
        assert_eq!(
            Range::from_query(&query(&[("range", "day")])),
            Range::Live(Grain::Day)
        );
        assert_eq!(
            Range::from_query(&query(&[("range", "week")])),
            Range::Live(Grain::Minute)
        );
        assert_eq!(
            Range::from_query(&query(&[("from", "0"), ("to", "7200")])),
            Range::Fixed {
                grain: Grain::Minute,
                from: 0,
                to: 7200
            }
        );
        assert_eq!(
            Range::from_query(&query(&[("from", "0"), ("to", "60"), ("grain", "hour")])),
            Range::Fixed {
                grain: Grain::Hour,
                from: 0,
                to: 60
            }
        );
        assert_eq!(auto_grain(0, 360), Grain::Second);
        assert_eq!(auto_grain(0, 86_400), Grain::Hour);
        assert_eq!(auto_grain(0, 400 * 86_400), Grain::Day);
    }
}

/// Pause or resume, for operators, and where the latest such command stands (the live page
/// brings the consumers' confirmations).
#[component]
fn QueueControl(queue: String, page: Signal<Option<QueuePage>>) -> impl IntoView {
    let sent = RwSignal::new(None::<protocol::control::Command>);
    let command = Signal::derive(move || {
        control::newest(page.get().and_then(|p| p.control), sent.get())
            // Another queue's command never shows here.
            .filter(|c| page.get().is_none_or(|p| p.row.queue == c.queue))
    });
    let on_sent = Callback::new(move |c| sent.set(Some(c)));
    let may = control::can_command();
    let paused = Memo::new(move |_| page.get().is_some_and(|p| p.row.paused));
    let q = queue.clone();
    view! {
        <div class="control-row" data-testid="queue-control">
            {may.then_some(move || {
                let q = q.clone();
                let on = |action| QueueCommand { queue: q.clone(), action };
                if paused.get() {
                    view! { <control::CommandButton label=|t| t.ctl_resume call=on(QueueAction::Resume) on_sent testid="resume" primary=true/> }.into_any()
                } else {
                    view! { <control::CommandButton label=|t| t.ctl_pause call=on(QueueAction::Pause) on_sent testid="pause"/> }.into_any()
                }
            })}
            {may.then(|| {
                let call = QueueCommand { queue: queue.clone(), action: QueueAction::Requeue };
                let unavailable = Signal::derive(move || page.get().and_then(|p| p.abilities.requeue));
                view! {
                    <span title=move || use_strings()().ctl_requeue_hint>
                        <control::CommandButton label=|t| t.ctl_requeue call on_sent testid="requeue" unavailable/>
                    </span>
                }
            })}
            {may.then(|| {
                let q = queue.clone();
                let why_not = Signal::derive(move || page.get().and_then(|p| p.abilities.clear));
                view! {
                    <button type="button" class="button danger" data-testid="clear"
                        disabled=move || why_not.get().is_some() title=move || why_not.get()
                        on:click=move |_| clear_queue(q.clone(), on_sent)>
                        {move || use_strings()().ctl_clear}
                    </button>
                }
            })}
            <control::CommandStatus command/>
        </div>
        {may.then(|| view! { <LimitsForm queue=queue.clone() page on_sent/> })}
    }
}

/// A task published from the page, once the page knows the queue's kind and signature.
#[component]
fn PublishSection(queue: String, page: Signal<Option<QueuePage>>) -> impl IntoView {
    let t = use_strings();
    let info = Memo::new(move |_| {
        page.get().map(|p| {
            let priorities = matches!(
                p.broker_kind.as_deref(),
                Some("REDIS_PRIORITY" | "REDIS_ZSET_PRIORITY")
            );
            (p.signature, p.abilities.publish, priorities)
        })
    });
    view! {
        <section class="card" data-testid="publish">
            <details>
                <summary class="card-head"><h2>{move || t().pub_title}</h2></summary>
                <p class="muted small">{move || t().pub_lead}</p>
                {move || info.get().map(|(signature, unavailable, priorities)| match unavailable {
                    Some(why) => view! { <p class="muted" data-testid="publish-unavailable">{why}</p> }.into_any(),
                    None => view! { <PublishForm queue=queue.clone() signature priorities/> }.into_any(),
                })}
            </details>
        </section>
    }
}

/// QPS and concurrency for the queue's taskdeck consumers (funboost reads its own only at
/// start, so a queue without taskdeck consumers says so instead).
#[component]
fn LimitsForm(
    queue: String,
    page: Signal<Option<QueuePage>>,
    on_sent: Callback<protocol::control::Command>,
) -> impl IntoView {
    let t = use_strings();
    // A live taskdeck consumer's current limits (they share the queue's desired state).
    let current = Memo::new(move |_| {
        page.get().and_then(|p| {
            p.consumers
                .into_iter()
                .find(|c| {
                    c.liveness == protocol::heartbeat::Liveness::Alive
                        && c.heartbeat.capabilities.iter().any(|k| k == "qps")
                })
                .map(|c| (c.heartbeat.qps, c.heartbeat.concurrency))
        })
    });
    let qps = RwSignal::new(String::new());
    let concurrency = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let number = |s: String| s.trim().replace(',', ".");
        // An empty field gives the consumers their own setting back.
        let call = SetLimits {
            queue: queue.clone(),
            limits: Limits {
                qps: number(qps.get_untracked()).parse().ok(),
                concurrency: number(concurrency.get_untracked()).parse().ok(),
            },
        };
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match crate::client::send(&call).await {
                Ok(c) => on_sent.run(c),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    move || {
        current.get().map(|(now_qps, now_conc)| {
            let own = t().ctl_own;
            view! {
                <form class="limits-form" data-testid="limits" on:submit=apply.clone()>
                    <span class="limits-label">{t().ctl_limits}</span>
                    <label>"QPS"
                        <input type="number" min="0" step="any" inputmode="decimal" placeholder=now_qps.map_or(own.to_owned(), |q| q.to_string())
                            prop:value=move || qps.get() on:input=move |e| qps.set(event_target_value(&e)) data-testid="limit-qps"/>
                    </label>
                    <label>{t().ctl_concurrency}
                        <input type="number" min="1" step="1" placeholder=now_conc.to_string()
                            prop:value=move || concurrency.get() on:input=move |e| concurrency.set(event_target_value(&e)) data-testid="limit-concurrency"/>
                    </label>
                    <button type="submit" class="button" disabled=move || busy.get() data-testid="apply-limits">{t().ctl_apply}</button>
                    {move || error.get().map(|e| view! { <span class="command-error error" role="alert">{t().ctl_failed} " " {e}</span> })}
                </form>
            }
        })
    }
}

/// Asks for the queue's name typed again, then clears its waiting messages.
fn clear_queue(queue: String, on_sent: Callback<protocol::control::Command>) {
    let question = use_prefs()
        .locale
        .get_untracked()
        .strings()
        .ctl_clear_prompt;
    let Some(typed) = prompt(question) else {
        return;
    };
    if typed.trim() != queue {
        // The server checks it too; saying so here spares a refused request.
        alert(
            use_prefs()
                .locale
                .get_untracked()
                .strings()
                .ctl_clear_mismatch,
        );
        return;
    }
    let call = ClearQueue {
        confirm: typed.trim().to_owned(),
        queue,
    };
    leptos::task::spawn_local(async move {
        match crate::client::send(&call).await {
            Ok(c) => on_sent.run(c),
            Err(e) => alert(&e.message),
        }
    });
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn prompt(question: &str) -> Option<String> {
    web_sys::window()?
        .prompt_with_message(question)
        .ok()
        .flatten()
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
fn prompt(_question: &str) -> Option<String> {
    None
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn alert(message: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.alert_with_message(message);
    }
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
fn alert(_message: &str) {}
