//! Publishing a task from the browser: one field per argument of the function's signature
//! (each a JSON value, checked as it is typed), or one JSON object when the signature is not
//! known; a priority where the queue has priorities, a countdown, and "wait for the result"
//! (RPC), whose answer is shown as it arrives. The same form runs a task again with changes.

use crate::components::links::task_href;
use crate::prefs::use_strings;
use leptos::prelude::*;
use leptos_router::components::A;
use protocol::control::{PublishRequest, Published};
use protocol::queue::Signature;
use protocol::rest::PublishTask;
use serde_json::{Map, Value};

/// One argument's field: its name, whether it is required, and what was typed.
#[derive(Clone)]
struct Field {
    name: String,
    required: bool,
    text: RwSignal<String>,
}

/// What a field's text says: nothing (left empty), a value, or why it is not one.
fn read(text: &str) -> Result<Option<Value>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(t).map(Some).map_err(|e| e.to_string())
}

/// The arguments the fields give, or the first problem (`None`: no problem worth a word yet).
fn arguments(fields: &[Field], t: &crate::i18n::Strings) -> Result<Map<String, Value>, String> {
    let mut params = Map::new();
    for f in fields {
        match read(&f.text.get_untracked()) {
            Ok(Some(v)) => {
                params.insert(f.name.clone(), v);
            }
            Ok(None) if f.required => return Err(format!("{}: {}", f.name, t.pub_required)),
            Ok(None) => {}
            Err(e) => return Err(format!("{}: {} ({e})", f.name, t.pub_not_json)),
        }
    }
    Ok(params)
}

#[component]
pub fn PublishForm(
    queue: String,
    /// The function's arguments; `None`: one JSON object.
    signature: Option<Signature>,
    /// Values to start from (a task run again).
    #[prop(optional)]
    prefill: Option<Map<String, Value>>,
    /// The task this one runs again.
    #[prop(optional)]
    rerun_of: Option<String>,
    /// Whether the queue keeps priorities.
    #[prop(optional)]
    priorities: bool,
) -> impl IntoView {
    let t = use_strings();
    let prefill = prefill.unwrap_or_default();
    let shown = |v: Option<&Value>| v.map(|v| v.to_string()).unwrap_or_default();
    let fields: Vec<Field> = match &signature {
        Some(sig) => sig
            .required
            .iter()
            .map(|n| (n, true))
            .chain(sig.optional.iter().map(|n| (n, false)))
            .map(|(name, required)| Field {
                name: name.clone(),
                required,
                text: RwSignal::new(shown(prefill.get(name))),
            })
            .collect(),
        None => Vec::new(),
    };
    let whole = RwSignal::new(if prefill.is_empty() {
        "{}".to_owned()
    } else {
        Value::Object(prefill.clone()).to_string()
    });
    let priority = RwSignal::new(String::new());
    let countdown = RwSignal::new(String::new());
    let rpc = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let answer = RwSignal::new(None::<Published>);
    let with_signature = signature.is_some();
    let all = fields.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = t();
        let params = if with_signature {
            arguments(&all, t)
        } else {
            match read(&whole.get_untracked()) {
                Ok(Some(Value::Object(m))) => Ok(m),
                Ok(None) => Ok(Map::new()),
                Ok(Some(_)) => Err(t.pub_object.to_owned()),
                Err(e) => Err(format!("{} ({e})", t.pub_not_json)),
            }
        };
        let params = match params {
            Ok(p) => p,
            Err(e) => return error.set(Some(e)),
        };
        let number = |s: String| s.trim().replace(',', ".").parse::<f64>().ok();
        let call = PublishTask {
            queue: queue.clone(),
            request: PublishRequest {
                params,
                priority: number(priority.get_untracked()),
                countdown_s: number(countdown.get_untracked()),
                rpc: rpc.get_untracked(),
                rerun_of: rerun_of.clone(),
                ..Default::default()
            },
        };
        error.set(None);
        answer.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            match crate::client::send(&call).await {
                Ok(p) => answer.set(Some(p)),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let rows = fields
        .into_iter()
        .map(|f| {
            let text = f.text;
            let problem = move || match read(&text.get()) {
                Err(_) => Some(t().pub_not_json),
                Ok(None) if f.required => Some(t().pub_required),
                _ => None,
            };
            view! {
                <label class="pub-field" data-arg=f.name.clone()>
                    <span class="mono">{f.name.clone()} {f.required.then_some(" *")}</span>
                    <input class="mono" prop:value=move || text.get() on:input=move |e| text.set(event_target_value(&e))
                        placeholder=move || t().pub_placeholder aria-invalid=move || problem().is_some().to_string()/>
                    <span class="pub-problem" role="alert">{problem}</span>
                </label>
            }
        })
        .collect_view();
    view! {
        <form class="publish-form" data-testid="publish-form" on:submit=submit>
            {with_signature.then(|| view! { <div class="pub-fields">{rows}</div> })}
            {(!with_signature).then(|| view! {
                <label class="pub-field">
                    <span>{move || t().pub_params}</span>
                    <textarea class="mono" rows="4" data-testid="publish-json" prop:value=move || whole.get()
                        on:input=move |e| whole.set(event_target_value(&e))></textarea>
                </label>
            })}
            <div class="pub-options">
                {priorities.then(|| view! {
                    <label>{move || t().wait_priority}
                        <input type="number" step="any" prop:value=move || priority.get() on:input=move |e| priority.set(event_target_value(&e)) data-testid="publish-priority"/>
                    </label>
                })}
                <label>{move || t().pub_countdown}
                    <input type="number" min="0" step="any" prop:value=move || countdown.get() on:input=move |e| countdown.set(event_target_value(&e)) data-testid="publish-countdown"/>
                </label>
                <label class="check">
                    <input type="checkbox" prop:checked=move || rpc.get() on:change=move |e| rpc.set(event_target_checked(&e)) data-testid="publish-rpc"/>
                    {move || t().pub_rpc}
                </label>
                <button type="submit" class="button primary" disabled=move || busy.get() data-testid="publish-submit">
                    {move || if busy.get() && rpc.get() { t().pub_waiting } else { t().pub_submit }}
                </button>
            </div>
            {move || error.get().map(|e| view! { <p class="command-error error" role="alert" data-testid="publish-error">{e}</p> })}
            {move || answer.get().map(|p| view! { <PublishAnswer p/> })}
        </form>
    }
}

/// The new task, and its result when the form waited for one.
#[component]
fn PublishAnswer(p: Published) -> impl IntoView {
    let t = use_strings();
    let href = task_href(&p.task_id);
    let result = p.result.clone();
    view! {
        <div class="pub-answer" data-testid="publish-answer">
            <p>
                {move || t().pub_published} " "
                <A href=href attr:class="mono" attr:data-testid="published-task">{p.task_id.clone()}</A>
            </p>
            {p.timed_out.then(|| view! { <p class="muted" data-testid="publish-timeout">{move || t().pub_timed_out}</p> })}
            {result.map(|r| {
                let state = r.state;
                view! {
                    <p data-testid="publish-result">
                        <span class=format!("state state-{}", state.as_str())>{state.as_str()}</span> " "
                        {r.result.map(|v| view! { <code class="mono">{v}</code> })}
                        {r.exception_type.map(|e| view! { <span class="error">{e} ": " {r.exception_msg.unwrap_or_default()}</span> })}
                    </p>
                }
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn a_field_is_a_json_value_or_nothing() {
        assert_eq!(read("  "), Ok(None));
        assert_eq!(read("42").unwrap(), Some(serde_json::json!(42)));
        assert_eq!(
            read(r#"{"a": [1]}"#).unwrap(),
            Some(serde_json::json!({"a": [1]}))
        );
        assert!(read("hello").is_err(), "text needs quotes");
    }
}
