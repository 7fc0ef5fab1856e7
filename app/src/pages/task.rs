//! One task: every recorded field, its timeline, parameters and result as collapsible JSON,
//! the exception with its traceback, where it ran, and links onward. Everything shown comes
//! from workers and is untrusted: it is rendered as text only.

use crate::api::task_detail;
use crate::components::empty_state::EmptyState;
use crate::components::json_view::JsonView;
use crate::components::links::{encode, QueueLink};
use crate::components::publish::PublishForm;
use crate::components::title::PageTitle;
use crate::format;
use crate::prefs::{use_prefs, use_strings, Prefs};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use protocol::event::TaskState;
use protocol::task::{Attempt, TaskDetail};

#[component]
pub fn Task() -> impl IntoView {
    let t = use_strings();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("task_id").unwrap_or_default());
    let detail = Resource::new(move || id.get(), task_detail);
    view! {
        <PageTitle text=move || format!("{} · {}", id.get(), t().nav_tasks)/>
        <div class="page-head task-head">
            <p class="crumbs"><A href="/tasks">{move || t().nav_tasks}</A> " /"</p>
        </div>
        <Transition fallback=move || view! { <p class="muted">{move || t().status_loading}</p> }>
            {move || detail.get().map(|result| match result {
                Ok(Some(task)) => view! { <TaskView task/> }.into_any(),
                Ok(None) => {
                    super::not_found::answer_not_found();
                    view! {
                    <h1 class="task-id" data-testid="task-id">{id.get()}</h1>
                    <EmptyState title=move || t().task_missing_title body=move || t().task_missing_body/>
                    }.into_any()
                }
                Err(e) => view! { <p class="error">{move || t().load_failed} " " {e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn TaskView(task: TaskDetail) -> impl IntoView {
    let t = use_strings();
    let Prefs { locale, zone, .. } = use_prefs();
    let s = task.summary.clone();
    let state = s.state;
    let same_params = s
        .params
        .clone()
        .filter(|p| !p.is_empty())
        .map(|p| format!("/tasks?queue={}&q={}", encode(&s.queue), encode(&p)));
    let host_href = s
        .host_name
        .clone()
        .map(|h| format!("/workers?host={}", encode(&h)));
    let field = |label: fn(&crate::i18n::Strings) -> &'static str, value: Option<String>| {
        value.map(|v| {
            view! {
                <dt>{move || label(t())}</dt>
                <dd class="mono">{v}</dd>
            }
        })
    };
    let updated = task.updated_at;
    // Payloads taskdeck cut to size when it recorded them, with their original sizes.
    let cut = cut_fields(&task.extra);
    let other_cut: Vec<(String, i64)> = cut
        .iter()
        .filter(|(k, _)| *k != "params" && *k != "result")
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    view! {
        <div class="title-row">
            <h1 class="task-id" data-testid="task-id">{s.task_id.clone()}</h1>
            <span class=format!("state state-{}", state.as_str()) data-testid="task-state">{move || locale.get().state(state)}</span>
        </div>
        <p class="task-sub">
            <QueueLink queue=s.queue.clone()/>
            {s.function.clone().map(|f| view! { " · " <span class="mono">{f}</span> })}
            {task.origin.clone().map(|o| view! {
                " · " {move || t().pub_origin} " "
                <A href=crate::components::links::task_href(&o) attr:class="mono" attr:data-testid="task-origin">{o.clone()}</A>
            })}
        </p>
        // Browser-only: its reads (a local resource) would keep a server render's suspense
        // waiting on data the server never loads.
        {
            let (task_id, queue, params) = (s.task_id.clone(), s.queue.clone(), s.params.clone());
            move || crate::Hydrated::get().then(|| view! {
                <TaskControl task_id=task_id.clone() state queue=queue.clone() params=params.clone()/>
            })
        }
        <div class="task-grid">
            <div class="task-main">
                <section class="card">
                    <h2>{move || t().task_timeline} <span class="sub">{move || t().q_times_in} " " {move || zone.get().name}</span></h2>
                    <Timeline s=s.clone() retried=!task.attempts.is_empty()/>
                    {(!task.attempts.is_empty()).then(|| view! { <Attempts attempts=task.attempts.clone()/> })}
                </section>
                {s.exception_type.clone().or(s.exception_msg.clone()).or(task.traceback.clone()).map(|_| view! {
                    <section class="card exception-card" data-testid="task-exception">
                        // funboost keeps a failed attempt's exception on a task a retry saved.
                        <h2>{move || if state == TaskState::Success { t().task_earlier_exception } else { t().task_exception }}</h2>
                        <p class="exception-line">
                            <span class="mono strong bad">{s.exception_type.clone()}</span>
                            {s.exception_msg.clone().map(|m| view! { ": " <span class="exception-msg">{m}</span> })}
                        </p>
                        {task.traceback.clone().map(|tb| view! {
                            <h3>{move || t().task_traceback}</h3>
                            <pre class="traceback" data-testid="task-traceback">{tb}</pre>
                        })}
                    </section>
                })}
                <section class="card">
                    <h2>{move || t().task_params}</h2>
                    <CutNote bytes=cut.get("params").copied()/>
                    {match s.params.clone() {
                        Some(p) => view! { <Payload text=p cut=cut.contains_key("params") test="task-params"/> }.into_any(),
                        None => view! { <p class="muted">{move || t().task_no_params}</p> }.into_any(),
                    }}
                </section>
                <section class="card">
                    <h2>{move || t().task_result}</h2>
                    <CutNote bytes=cut.get("result").copied()/>
                    {match task.result.clone() {
                        Some(r) => view! { <Payload text=r cut=cut.contains_key("result") test="task-result"/> }.into_any(),
                        None => view! { <p class="muted">{move || t().task_no_result}</p> }.into_any(),
                    }}
                </section>
                <section class="card">
                    <h2>{move || t().task_extra}</h2>
                    <CutNote bytes=(!other_cut.is_empty()).then(|| other_cut.iter().map(|(_, n)| *n).sum())/>
                    <JsonView text=task.extra.clone() test="task-extra"/>
                </section>
            </div>
            <aside class="task-side">
                <section class="card">
                    <h2>{move || t().task_where}</h2>
                    <dl class="kv">
                        {field(|s| s.col_host, s.host_name.clone())}
                        {field(|s| s.col_process, task.process_id.map(|p| p.to_string()))}
                        {field(|s| s.task_thread, task.thread_id.map(|p| p.to_string()))}
                        {field(|s| s.task_script, task.script_name.clone())}
                        {field(|s| s.task_consumer, task.consumer_id.clone())}
                        <dt>{move || t().task_attempts}</dt>
                        <dd data-testid="task-attempts">{s.run_times}</dd>
                        <dt>{move || t().task_updated}</dt>
                        <dd>{move || zone.get().datetime(updated)}</dd>
                    </dl>
                </section>
                <nav class="card task-links">
                    {same_params.map(|href| view! { <A href=href attr:data-testid="same-params">{move || t().task_same_params}</A> })}
                    <A href=format!("/tasks?queue={}", encode(&s.queue))>{move || t().task_queue_tasks}</A>
                    <A href=crate::components::links::queue_href(&s.queue)>{move || t().task_queue_charts}</A>
                    {host_href.map(|href| view! { <A href=href attr:data-testid="host-workers">{move || t().task_host_workers}</A> })}
                </nav>
            </aside>
        </div>
    }
}

/// Published → started (after its wait) → finished (after its run). The start is the first
/// attempt's and the run spans every attempt: funboost's `time_start` and `time_cost`.
#[component]
fn Timeline(s: protocol::task::TaskSummary, retried: bool) -> impl IntoView {
    let t = use_strings();
    let Prefs { locale, zone, .. } = use_prefs();
    let state = s.state;
    let at = move |epoch: Option<f64>| move || epoch.map(|e| zone.get().datetime_ms(e));
    let end_label = move || match state {
        TaskState::Pending | TaskState::Running => t().task_finished,
        other => locale.get().state(other),
    };
    view! {
        <ol class="timeline" data-testid="task-timeline">
            <li class:done=s.publish_time.is_some()>
                <span class="step">{move || t().task_published}</span>
                <span class="when">{at(s.publish_time)}</span>
            </li>
            <li class:done=s.start_time.is_some()>
                <span class="step">{move || t().task_started}</span>
                <span class="when">{at(s.start_time)}</span>
                {s.wait.map(|w| view! { <span class="gap">{move || t().task_waited} " " {format::seconds(w)}</span> })}
            </li>
            <li class:done=s.end_time.is_some() class=format!("end state-{}", state.as_str())>
                <span class="step">{end_label}</span>
                <span class="when">{at(s.end_time)}</span>
                {s.cost.map(|c| view! { <span class="gap">{move || t().task_ran} " " {format::seconds(c)}</span> })}
            </li>
        </ol>
        {(s.run_times > 1 && !retried).then(|| view! { <p class="muted small">{move || t().task_times_span}</p> })}
    }
}

/// Each attempt of a retried task: a strip that draws the runs and the pauses between them to
/// scale, and a row per attempt with its times, outcome and exception.
#[component]
fn Attempts(attempts: Vec<Attempt>) -> impl IntoView {
    let t = use_strings();
    let Prefs { locale, zone, .. } = use_prefs();
    let first = attempts.first().map_or(0.0, |a| a.start);
    let last = attempts
        .iter()
        .map(|a| a.end.unwrap_or(a.start))
        .fold(first, f64::max);
    let span = (last - first).max(1e-3);
    // An attempt without an outcome is still running.
    let outcome = |a: &Attempt| a.state.unwrap_or(TaskState::Running);
    let label = move |state: TaskState| match state {
        TaskState::Pending => t().task_requeued.to_owned(),
        other => locale.get().state(other).to_owned(),
    };
    let bars = attempts
        .iter()
        .map(|a| {
            let state = outcome(a);
            let left = (a.start - first) / span * 100.0;
            let width = a.run().map_or(100.0 - left, |r| r / span * 100.0);
            let title = format!(
                "#{} · {}",
                a.n,
                a.run().map(format::seconds).unwrap_or_default()
            );
            view! {
                <span class=format!("attempt-bar state-{}", state.as_str())
                    style=format!("left:{left:.3}%;width:max({width:.3}%, 3px)") title=title>
                </span>
            }
        })
        .collect_view();
    let mut previous_end: Option<f64> = None;
    let rows = attempts
        .iter()
        .map(|a| {
            let state = outcome(a);
            let gap = previous_end
                .map(|end| (a.start - end).max(0.0))
                .map(format::seconds);
            previous_end = a.end;
            let start = a.start;
            let exception = a.exception_type.clone().map(|ty| {
                let msg = a.exception_msg.clone();
                view! {
                    <span class="mono strong bad">{ty}</span>
                    {msg.map(|m| view! { ": " <span class="exception-msg">{m}</span> })}
                }
            });
            view! {
                <tr data-testid="attempt-row">
                    <td class="num">{a.n}</td>
                    <td class="mono">{move || zone.get().datetime_ms(start)}</td>
                    <td class="num">{gap}</td>
                    <td class="num">{a.run().map(format::seconds)}</td>
                    <td><span class=format!("state state-{}", state.as_str())>{move || label(state)}</span></td>
                    <td class="attempt-exception">{exception}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3 class="attempts-title">{move || t().task_attempts} " " <span class="sub">{attempts.len()}</span></h3>
        <div class="attempt-strip" data-testid="attempt-strip" aria-hidden="true">{bars}</div>
        <div class="attempts-scroll">
            <table class="table attempts" data-testid="task-attempt-table">
                <thead><tr>
                    <th class="num">"#"</th>
                    <th>{move || t().task_started}</th>
                    <th class="num">{move || t().task_retry_after}</th>
                    <th class="num">{move || t().col_run_time}</th>
                    <th>{move || t().task_outcome}</th>
                    <th>{move || t().col_exception}</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Kill a running task or revoke a waiting one (operators), or say why it cannot be done, and
/// follow the latest such command until it took effect.
#[component]
fn TaskControl(
    task_id: String,
    state: TaskState,
    queue: String,
    params: Option<String>,
) -> impl IntoView {
    use crate::components::control::{can_command, newest, CommandButton, CommandStatus};
    use crate::components::links::task_href;
    use protocol::control::{MoveTo, Outcome};
    use protocol::rest::{MoveTask, TaskAction, TaskCommand};
    let t = use_strings();
    let id = task_id.clone();
    // Asked once the page is interactive, and again while a command is on its way.
    let tick = RwSignal::new(0u32);
    let controls = LocalResource::new(move || {
        tick.track();
        crate::api::task_controls(id.clone())
    });
    let sent = RwSignal::new(None::<protocol::control::Command>);
    let latest = Signal::derive(move || {
        newest(
            controls.get().and_then(Result::ok).and_then(|c| c.latest),
            sent.get(),
        )
    });
    // While the latest command has not taken effect, look again every second (for a minute).
    Effect::new(move |polls: Option<u32>| {
        let polls = polls.unwrap_or(0);
        let waiting = latest
            .get()
            .is_some_and(|c| c.state == protocol::control::CommandState::Sent);
        if waiting && polls < 60 {
            set_timeout(
                move || tick.update(|n| *n += 1),
                std::time::Duration::from_secs(1),
            );
        }
        polls + 1
    });
    let on_sent = Callback::new(move |c| sent.set(Some(c)));
    let action = match state {
        TaskState::Running => Some(TaskAction::Kill),
        TaskState::Pending => Some(TaskAction::Revoke),
        _ => None,
    };
    let retryable = state.is_final() && state != TaskState::Success;
    let front = MoveTask {
        task_id: task_id.clone(),
        queue: None,
        to: MoveTo {
            front: true,
            priority: None,
        },
    };
    let on = |action| TaskCommand {
        task_id: task_id.clone(),
        action,
        queue: None,
    };
    let (stop, retry) = (action.map(on), on(TaskAction::Retry));
    let rerun_id = task_id.clone();
    let may = can_command();
    view! {
        <div class="control-row" data-testid="task-control">
            {move || stop.clone().filter(|_| may).map(|call| {
                let is_kill = call.action == TaskAction::Kill;
                let verb = call.action.action().code();
                let why_not = controls.get().and_then(Result::ok).and_then(|c| if is_kill { c.kill_unsupported } else { c.revoke_unsupported });
                match why_not {
                    Some(why) => view! {
                        <button type="button" class="button" disabled=true data-testid=verb title=why.clone()>
                            {move || if is_kill { t().ctl_kill } else { t().ctl_revoke }}
                        </button>
                        <span class="muted small" data-testid="control-unavailable">{why}</span>
                    }.into_any(),
                    None if is_kill => view! { <CommandButton label=|t| t.ctl_kill call confirm=|t| t.ctl_kill_confirm on_sent testid="kill"/> }.into_any(),
                    None => view! { <CommandButton label=|t| t.ctl_revoke call confirm=|t| t.ctl_revoke_confirm on_sent testid="revoke"/> }.into_any(),
                }
            })}
            {(may && state == TaskState::Pending).then(|| view! {
                <CommandButton label=|t| t.ctl_front call=front.clone() on_sent testid="front"/>
            })}
            {(may && retryable).then(|| view! {
                <CommandButton label=|t| t.ctl_retry call=retry.clone() confirm=|t| t.ctl_retry_confirm on_sent testid="retry"/>
            })}
            <CommandStatus command=latest/>
            // A retry or a run again made a new task: the way to it.
            {move || latest.get().and_then(|c| match c.outcome {
                Some(Outcome::Retried { task_id }) => Some(view! {
                    <A href=task_href(&task_id) attr:class="mono small" attr:data-testid="retry-link">{task_id.clone()}</A>
                }.into_any()),
                Some(Outcome::Published { task_id }) => Some(view! {
                    <span class="small">{move || t().pub_rerun_as} " "
                        <A href=task_href(&task_id) attr:class="mono" attr:data-testid="rerun-link">{task_id.clone()}</A>
                    </span>
                }.into_any()),
                _ => None,
            })}
            {may.then(|| view! { <Rerun task_id=rerun_id.clone() queue=queue.clone() params=params.clone() controls/> })}
        </div>
    }
}

/// The payloads taskdeck cut to size when it recorded the task (`taskdeck_cut` in the extra
/// fields) with their original sizes in bytes.
fn cut_fields(extra: &str) -> std::collections::BTreeMap<String, i64> {
    serde_json::from_str::<serde_json::Value>(extra)
        .ok()
        .and_then(|e| e.get(protocol::event::CUT_FIELD)?.as_object().cloned())
        .map(|cut| {
            cut.into_iter()
                .map(|(k, n)| (k, n.as_i64().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// Says that a payload was cut when recorded, and how large it was.
#[component]
fn CutNote(bytes: Option<i64>) -> impl IntoView {
    let t = use_strings();
    bytes.map(|n| {
        view! {
            <p class="cut-note" data-testid="task-cut">
                {move || t().task_cut} " " {format::count(n)} " B"
            </p>
        }
    })
}

/// A payload as collapsible JSON; one cut to size (stored as a JSON string of its first
/// bytes) as that text.
#[component]
fn Payload(text: String, cut: bool, test: &'static str) -> impl IntoView {
    let head = cut
        .then(|| serde_json::from_str::<String>(&text).ok())
        .flatten();
    match head {
        Some(head) => view! { <pre class="json json-raw" data-testid=test>{head}</pre> }.into_any(),
        None => view! { <JsonView text test/> }.into_any(),
    }
}

/// "Run again with changes": the publish form, prefilled with the task's arguments, for a
/// new task linked to this one.
#[component]
fn Rerun(
    task_id: String,
    queue: String,
    params: Option<String>,
    controls: LocalResource<Result<protocol::control::TaskControls, ServerFnError>>,
) -> impl IntoView {
    let t = use_strings();
    let open = RwSignal::new(false);
    let prefill: Option<serde_json::Map<String, serde_json::Value>> =
        params.and_then(|p| serde_json::from_str(&p).ok());
    view! {
        <button type="button" class="button" data-testid="rerun" on:click=move |_| open.update(|o| *o = !*o)>
            {move || t().pub_rerun}
        </button>
        {move || open.get().then(|| {
            let known = controls.get().and_then(Result::ok);
            let signature = known.as_ref().and_then(|c| c.signature.clone());
            match known.and_then(|c| c.publish_unsupported) {
                Some(why) => view! { <p class="muted" data-testid="publish-unavailable">{why}</p> }.into_any(),
                None => view! {
                    <div class="card rerun-card">
                        <PublishForm queue=queue.clone() signature prefill=prefill.clone().unwrap_or_default() rerun_of=task_id.clone()/>
                    </div>
                }.into_any(),
            }
        })}
    }
}
