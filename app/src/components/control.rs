//! Command buttons and what became of a command. Only operators and admins see them; the gate
//! on the server checks the role again on every request.

use crate::me::use_me;
use crate::prefs::{use_prefs, use_strings};
use leptos::prelude::*;
use protocol::auth::Role;
use protocol::control::{BulkRequest, Command, CommandState};
use protocol::rest::{BulkProgress, Call, StartBulk};

/// Whether the signed-in user may send commands.
pub fn can_command() -> bool {
    use_me().is_some_and(|m| m.role >= Role::Operator)
}

/// A button that sends `call` (after `confirm`, when given) and reports the command sent, or
/// shows why it was not.
#[component]
pub fn CommandButton<C>(
    label: fn(&crate::i18n::Strings) -> &'static str,
    call: C,
    #[prop(optional)] confirm: Option<fn(&crate::i18n::Strings) -> &'static str>,
    on_sent: Callback<Command>,
    testid: &'static str,
    #[prop(optional)] primary: bool,
    /// Why the command cannot be sent here (the button is then disabled and says so).
    #[prop(optional, into)]
    unavailable: Signal<Option<String>>,
) -> impl IntoView
where
    C: Call<Answer = Command> + Clone + Send + Sync + 'static,
{
    let t = use_strings();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let click = move |_| {
        if busy.get_untracked() || !confirmed(confirm.map(|c| c(t()))) {
            return;
        }
        busy.set(true);
        error.set(None);
        let call = call.clone();
        leptos::task::spawn_local(async move {
            match crate::client::send(&call).await {
                Ok(command) => on_sent.run(command),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <button
            type="button"
            class=if primary { "button primary" } else { "button" }
            data-testid=testid
            disabled=move || busy.get() || unavailable.get().is_some()
            title=move || unavailable.get()
            on:click=click
        >
            {move || label(t())}
        </button>
        {move || error.get().map(|e| view! { <span class="command-error error" role="alert">{t().ctl_failed} " " {e}</span> })}
    }
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
pub fn confirmed(question: Option<&str>) -> bool {
    match question {
        Some(q) => web_sys::window().is_some_and(|w| w.confirm_with_message(q).unwrap_or(false)),
        None => true,
    }
}

#[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
pub fn confirmed(_question: Option<&str>) -> bool {
    false
}

/// One line: where the command stands ("Paused — applied by 2 of 2 consumers").
#[component]
pub fn CommandStatus(command: Signal<Option<Command>>) -> impl IntoView {
    let prefs = use_prefs();
    move || {
        command.get().map(|c| {
            let class = match c.state {
                CommandState::Applied => "command-status applied",
                CommandState::Sent => "command-status sent",
                CommandState::Failed | CommandState::Unsupported => "command-status failed",
            };
            let locale = prefs.locale.get();
            view! { <p class=class data-testid="command-status" data-state=format!("{:?}", c.state).to_lowercase()>{locale.command_status(&c)}</p> }
        })
    }
}

/// The newer of two commands (what the page last heard, and what this browser just sent).
pub fn newest(a: Option<Command>, b: Option<Command>) -> Option<Command> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.requested_at > a.requested_at {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    }
}

/// Starts a bulk command and follows its progress in `job` until it is done; `error` says why
/// it could not start or be followed.
pub async fn run_bulk(
    request: BulkRequest,
    job: RwSignal<Option<protocol::control::Bulk>>,
    error: RwSignal<Option<String>>,
) {
    let started = match crate::client::send(&StartBulk(request)).await {
        Ok(started) => started,
        Err(e) => return error.set(Some(e.message)),
    };
    let progress = BulkProgress {
        id: started.id.clone(),
    };
    job.set(Some(started));
    loop {
        sleep_ms(500).await;
        match crate::client::send(&progress).await {
            Ok(now) => {
                let done = now.finished_at.is_some();
                job.set(Some(now));
                if done {
                    return;
                }
            }
            Err(e) => return error.set(Some(e.message)),
        }
    }
}

/// Waits `ms` in the browser (nothing on the server, which never runs a bulk job's loop).
async fn sleep_ms(ms: u32) {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ =
                    w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    let _ = ms;
}
