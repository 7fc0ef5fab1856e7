//! Command buttons and what became of a command. Only operators and admins see them; the gate
//! on the server checks the role again on every request.

use crate::me::use_me;
use crate::prefs::{use_prefs, use_strings};
use leptos::prelude::*;
use protocol::auth::Role;
use protocol::control::{Command, CommandState};

/// Whether the signed-in user may send commands.
pub fn can_command() -> bool {
    use_me().is_some_and(|m| m.role >= Role::Operator)
}

/// A button that POSTs `path` (after `confirm`, when given) and reports the command sent, or
/// shows why it was not.
#[component]
pub fn CommandButton(
    label: fn(&crate::i18n::Strings) -> &'static str,
    path: String,
    #[prop(optional)] confirm: Option<fn(&crate::i18n::Strings) -> &'static str>,
    on_sent: Callback<Command>,
    testid: &'static str,
    #[prop(optional)] primary: bool,
    /// A JSON body, for commands that take one.
    #[prop(optional)]
    body: Option<String>,
) -> impl IntoView {
    let t = use_strings();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let click = move |_| {
        if busy.get_untracked() || !confirmed(confirm.map(|c| c(t()))) {
            return;
        }
        busy.set(true);
        error.set(None);
        let path = path.clone();
        let body = body.clone();
        leptos::task::spawn_local(async move {
            match crate::commands::send("POST", &path, body).await {
                Ok(command) => on_sent.run(command),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <button
            type="button"
            class=if primary { "button primary" } else { "button" }
            data-testid=testid
            disabled=move || busy.get()
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
