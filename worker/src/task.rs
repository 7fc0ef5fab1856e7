//! What a handler sees (its context) and returns (a value or a [`TaskError`]).

use crate::message::Message;
use std::fmt;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The running task, given to the handler with its arguments.
#[derive(Clone)]
pub struct TaskContext {
    /// The task's id (`extra.task_id`).
    pub task_id: String,
    /// The queue it came from.
    pub queue: String,
    /// 1 for the first run, 2 for the first retry, …
    pub attempt: u32,
    /// The message as pulled.
    pub message: Arc<Message>,
    pub(crate) cancel: CancellationToken,
}

impl TaskContext {
    /// Resolves when the task is being killed or the worker stops for good. The handler's
    /// future is dropped at that point anyway; long synchronous stretches can poll
    /// [`TaskContext::is_cancelled`] to stop sooner.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Whether the task is being killed or the worker stops for good.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// A failed run: an exception type and message as funboost records them, and whether a
/// retry can help.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskError {
    /// The exception type funboost records, e.g. `ValueError`.
    pub kind: String,
    /// What went wrong.
    pub message: String,
    /// A traceback, when there is one.
    pub traceback: Option<String>,
    /// Whether a retry can help (false fails the task at once).
    pub retryable: bool,
}

impl TaskError {
    /// A failure a retry may fix.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> TaskError {
        TaskError {
            kind: kind.into(),
            message: message.into(),
            traceback: None,
            retryable: true,
        }
    }

    /// A failure no retry can fix: the task fails at once.
    pub fn fatal(kind: impl Into<String>, message: impl Into<String>) -> TaskError {
        TaskError {
            retryable: false,
            ..TaskError::new(kind, message)
        }
    }

    /// The same failure with a traceback.
    pub fn with_traceback(mut self, traceback: impl Into<String>) -> TaskError {
        self.traceback = Some(traceback.into());
        self
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// Any error converts, named after its type (`std::io::Error` → `Error` from `std::io`, shown
/// as `io::Error`), with its chain of sources as the traceback.
impl<E: std::error::Error> From<E> for TaskError {
    fn from(e: E) -> TaskError {
        let full = std::any::type_name::<E>();
        let short: Vec<&str> = full
            .split('<')
            .next()
            .unwrap_or(full)
            .rsplit("::")
            .take(2)
            .collect();
        let kind = short.into_iter().rev().collect::<Vec<_>>().join("::");
        let mut chain = Vec::new();
        let mut source = e.source();
        while let Some(s) = source {
            chain.push(format!("caused by: {s}"));
            source = s.source();
        }
        TaskError {
            kind,
            message: e.to_string(),
            traceback: (!chain.is_empty()).then(|| chain.join("\n")),
            retryable: true,
        }
    }
}
