//! The REST API's changes as types: each request knows its method, its path (names
//! percent-encoded), its JSON body and the type it is answered with. The pages send their
//! changes through these, the same routes scripts use, so no path or body is built by hand;
//! the server's tests check every one against its OpenAPI document.

use crate::auth::{CreatedToken, NewToken, UserChange, UserInfo};
use crate::control::{
    Action, Bulk, BulkRequest, ClearConfirm, Command, DeadLetters, Limits, MoveTo, PublishRequest,
    Published,
};
use crate::error::{ErrorKind, ServiceError};
use serde::de::DeserializeOwned;

/// Where every REST route lives.
pub const PREFIX: &str = "/api/v1";

/// An HTTP method the API's changes use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Reads.
    Get,
    /// Creates, or asks for something done.
    Post,
    /// Creates or replaces.
    Put,
    /// Removes.
    Delete,
}

impl Method {
    /// As HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One request to the REST API and what it is answered with.
pub trait Call {
    /// The answer's JSON (`()` for `204 No Content`).
    type Answer: DeserializeOwned;
    /// The HTTP method.
    const METHOD: Method;
    /// The path from the host on, with its query string.
    fn path(&self) -> String;
    /// The JSON body, for requests that carry one.
    fn body(&self) -> Option<String> {
        None
    }
}

/// `s` percent-encoded as one path segment or query value (unreserved characters kept), so a
/// name with `/`, `?`, `%` or spaces stays one segment.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn json(body: &impl serde::Serialize) -> Option<String> {
    // These types serialize to JSON without fail (no maps with non-string keys).
    Some(serde_json::to_string(body).unwrap_or_default())
}

fn with_queue(path: String, queue: &Option<String>) -> String {
    match queue {
        Some(q) => format!("{path}?queue={}", segment(q)),
        None => path,
    }
}

/// What can be asked of a whole queue without a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueAction {
    /// Start no new task.
    Pause,
    /// Start tasks again.
    Resume,
    /// Put back the messages stopped consumers still hold.
    Requeue,
}

/// `POST /queues/{queue}/pause|resume|requeue`.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueCommand {
    /// The queue's name.
    pub queue: String,
    /// What to do.
    pub action: QueueAction,
}

impl Call for QueueCommand {
    type Answer = Command;
    const METHOD: Method = Method::Post;
    fn path(&self) -> String {
        let verb = match self.action {
            QueueAction::Pause => "pause",
            QueueAction::Resume => "resume",
            QueueAction::Requeue => "requeue",
        };
        format!("{PREFIX}/queues/{}/{verb}", segment(&self.queue))
    }
}

/// `PUT /queues/{queue}/limits`.
#[derive(Clone, Debug, PartialEq)]
pub struct SetLimits {
    /// The queue's name.
    pub queue: String,
    /// The new limits (`None`: each consumer's own).
    pub limits: Limits,
}

impl Call for SetLimits {
    type Answer = Command;
    const METHOD: Method = Method::Put;
    fn path(&self) -> String {
        format!("{PREFIX}/queues/{}/limits", segment(&self.queue))
    }
    fn body(&self) -> Option<String> {
        json(&self.limits)
    }
}

/// `POST /queues/{queue}/clear`, with the name typed again.
#[derive(Clone, Debug, PartialEq)]
pub struct ClearQueue {
    /// The queue's name.
    pub queue: String,
    /// The name typed again by the person who asks.
    pub confirm: String,
}

impl Call for ClearQueue {
    type Answer = Command;
    const METHOD: Method = Method::Post;
    fn path(&self) -> String {
        format!("{PREFIX}/queues/{}/clear", segment(&self.queue))
    }
    fn body(&self) -> Option<String> {
        json(&ClearConfirm {
            confirm: self.confirm.clone(),
        })
    }
}

/// What can be asked of one task without a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskAction {
    /// Stop it while it runs.
    Kill,
    /// Skip it when a worker takes it.
    Revoke,
    /// Publish its params again as a new task.
    Retry,
    /// Take its waiting message out of the queue now.
    Delete,
}

impl TaskAction {
    /// The command it sends.
    pub fn action(self) -> Action {
        match self {
            TaskAction::Kill => Action::Kill,
            TaskAction::Revoke => Action::Revoke,
            TaskAction::Retry => Action::Retry,
            TaskAction::Delete => Action::Delete,
        }
    }
}

/// `POST /tasks/{task_id}/kill|revoke|retry|delete`; `queue` names the queue of a waiting
/// message taskdeck has no record of yet (revoke, delete).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskCommand {
    /// The task's id.
    pub task_id: String,
    /// What to do.
    pub action: TaskAction,
    /// Its queue, for a waiting message taskdeck has no record of.
    pub queue: Option<String>,
}

impl Call for TaskCommand {
    type Answer = Command;
    const METHOD: Method = Method::Post;
    fn path(&self) -> String {
        let path = format!(
            "{PREFIX}/tasks/{}/{}",
            segment(&self.task_id),
            self.action.action().code()
        );
        with_queue(path, &self.queue)
    }
}

/// `POST /tasks/{task_id}/priority`: to the front, or another priority.
#[derive(Clone, Debug, PartialEq)]
pub struct MoveTask {
    /// The task's id.
    pub task_id: String,
    /// Its queue, for a waiting message taskdeck has no record of.
    pub queue: Option<String>,
    /// Where it goes.
    pub to: MoveTo,
}

impl Call for MoveTask {
    type Answer = Command;
    const METHOD: Method = Method::Post;
    fn path(&self) -> String {
        with_queue(
            format!("{PREFIX}/tasks/{}/priority", segment(&self.task_id)),
            &self.queue,
        )
    }
    fn body(&self) -> Option<String> {
        json(&self.to)
    }
}

/// `POST /queues/{queue}/publish`.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishTask {
    /// The queue's name.
    pub queue: String,
    /// What to publish.
    pub request: PublishRequest,
}

impl Call for PublishTask {
    type Answer = Published;
    const METHOD: Method = Method::Post;
    fn path(&self) -> String {
        format!("{PREFIX}/queues/{}/publish", segment(&self.queue))
    }
    fn body(&self) -> Option<String> {
        json(&self.request)
    }
}

/// `POST /queues/{queue}/dead/redrive` and `…/dead/discard`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetterCommand {
    /// The queue whose dead letters (`<queue>_dlx`) these are.
    pub queue: String,
    /// Put back (`true`) or delete (`false`).
    pub redrive: bool,
    /// Which.
    pub which: DeadLetters,
}

impl Call for DeadLetterCommand {
    type Answer = Command;
    const METHOD: Method = Method::Post;
    fn path(&self) -> String {
        let verb = if self.redrive { "redrive" } else { "discard" };
        format!("{PREFIX}/queues/{}/dead/{verb}", segment(&self.queue))
    }
    fn body(&self) -> Option<String> {
        json(&self.which)
    }
}

/// `POST /tasks/bulk`.
#[derive(Clone, Debug, PartialEq)]
pub struct StartBulk(pub BulkRequest);

impl Call for StartBulk {
    type Answer = Bulk;
    const METHOD: Method = Method::Post;
    fn path(&self) -> String {
        format!("{PREFIX}/tasks/bulk")
    }
    fn body(&self) -> Option<String> {
        json(&self.0)
    }
}

/// `GET /tasks/bulk/{id}`.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkProgress {
    /// The bulk command's id.
    pub id: String,
}

impl Call for BulkProgress {
    type Answer = Bulk;
    const METHOD: Method = Method::Get;
    fn path(&self) -> String {
        format!("{PREFIX}/tasks/bulk/{}", segment(&self.id))
    }
}

/// `PUT /users/{name}`: creates the user or changes what is given.
#[derive(Clone, Debug, PartialEq)]
pub struct PutUser {
    /// The user's name.
    pub name: String,
    /// What to set.
    pub change: UserChange,
}

impl Call for PutUser {
    type Answer = UserInfo;
    const METHOD: Method = Method::Put;
    fn path(&self) -> String {
        format!("{PREFIX}/users/{}", segment(&self.name))
    }
    fn body(&self) -> Option<String> {
        json(&self.change)
    }
}

/// `DELETE /users/{name}`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeleteUser {
    /// The user's name.
    pub name: String,
}

impl Call for DeleteUser {
    type Answer = ();
    const METHOD: Method = Method::Delete;
    fn path(&self) -> String {
        format!("{PREFIX}/users/{}", segment(&self.name))
    }
}

/// `POST /tokens`.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateToken(pub NewToken);

impl Call for CreateToken {
    type Answer = CreatedToken;
    const METHOD: Method = Method::Post;
    fn path(&self) -> String {
        format!("{PREFIX}/tokens")
    }
    fn body(&self) -> Option<String> {
        json(&self.0)
    }
}

/// `DELETE /tokens/{id}`.
#[derive(Clone, Debug, PartialEq)]
pub struct RevokeToken {
    /// The token's id.
    pub id: String,
}

impl Call for RevokeToken {
    type Answer = ();
    const METHOD: Method = Method::Delete;
    fn path(&self) -> String {
        format!("{PREFIX}/tokens/{}", segment(&self.id))
    }
}

/// A call's answer: `Ok` for a 2xx (an empty body reads as JSON `null`), otherwise the API's
/// `{"error": {"code", "message"}}` as a [`ServiceError`] (or the bare status when the body
/// is not that shape, e.g. from a proxy).
pub fn answer<C: Call>(status: u16, body: &str) -> Result<C::Answer, ServiceError> {
    if (200..300).contains(&status) {
        let body = if body.trim().is_empty() { "null" } else { body };
        return serde_json::from_str(body)
            .map_err(|e| ServiceError::unavailable(format!("an unreadable answer: {e}")));
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        error: Detail,
    }
    #[derive(serde::Deserialize)]
    struct Detail {
        code: String,
        message: String,
    }
    let kind = ErrorKind::from_status(status);
    Err(match serde_json::from_str::<Shape>(body) {
        Ok(Shape { error }) => ServiceError {
            kind: ErrorKind::from_code(&error.code).unwrap_or(kind),
            message: error.message,
        },
        Err(_) => ServiceError {
            kind,
            message: format!("HTTP {status}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_one_segment() {
        assert_eq!(segment("orders_v2.fast"), "orders_v2.fast");
        assert_eq!(segment("a/b c:中?%"), "a%2Fb%20c%3A%E4%B8%AD%3F%25");
        let kill = TaskCommand {
            task_id: "q_result:5f/0e".into(),
            action: TaskAction::Revoke,
            queue: Some("a&b=c".into()),
        };
        assert_eq!(
            kill.path(),
            "/api/v1/tasks/q_result%3A5f%2F0e/revoke?queue=a%26b%3Dc"
        );
        let limits = SetLimits {
            queue: "q".into(),
            limits: Limits {
                qps: Some(2.5),
                concurrency: None,
            },
        };
        assert_eq!(
            (SetLimits::METHOD, limits.path(), limits.body().unwrap()),
            (
                Method::Put,
                "/api/v1/queues/q/limits".to_owned(),
                r#"{"qps":2.5,"concurrency":null}"#.to_owned()
            )
        );
    }

    #[test]
    fn answers_are_typed_and_errors_keep_their_kind() {
        assert_eq!(answer::<DeleteUser>(204, ""), Ok(()));
        let e = answer::<QueueCommand>(
            409,
            r#"{"error": {"code": "unsupported", "message": "no consumer can"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Unsupported, "no consumer can")
        );
        let e = answer::<QueueCommand>(502, "<html>bad gateway</html>").unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Unavailable, "HTTP 502")
        );
        assert_eq!(
            answer::<BulkProgress>(200, "{}").unwrap_err().kind,
            ErrorKind::Unavailable
        );
    }
}
