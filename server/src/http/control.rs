//! Commands: pause and resume a queue, kill or revoke a task, and what became of them. The gate
//! lets only operators, admins and tokens with the `control` scope send them.

use super::error::{JsonBody, Query};
use super::AppState;
use crate::auth::guard::Caller;
use crate::control::Args;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use protocol::control::{
    Action, Bulk, BulkRequest, ClearConfirm, Command, DeadLetters, Limits, MoveTo, PublishRequest,
    Published, WaitingPage,
};
use protocol::ServiceError;
use serde::Deserialize;

async fn send(
    state: &AppState,
    who: &Caller,
    action: Action,
    queue: Option<&str>,
    task_id: Option<&str>,
    args: Args<'_>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    let command = state
        .services
        .control
        .command(&who.requester(), action, queue, task_id, args)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(command)))
}

/// Pauses a queue: no task of it starts any more; running ones finish. Sets funboost's pause
/// flag (its workers read it within their 10 s heartbeat, and one more task may start) and
/// taskdeck's desired state (its workers apply it at once and confirm in their heartbeat).
#[utoipa::path(post, path = "/queues/{queue}/pause", tag = "control", params(("queue" = String, Path)),
    responses(
        (status = 202, description = "Sent; `state`, `applied` of `confirmable` say how far it got", body = Command),
        (status = 404, body = super::error::ErrorBody),
    ))]
pub async fn pause(
    State(state): State<AppState>,
    who: Caller,
    Path(queue): Path<String>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(&state, &who, Action::Pause, Some(&queue), None, Args::None).await
}

/// Resumes a paused queue.
#[utoipa::path(post, path = "/queues/{queue}/resume", tag = "control", params(("queue" = String, Path)),
    responses((status = 202, body = Command), (status = 404, body = super::error::ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    who: Caller,
    Path(queue): Path<String>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(&state, &who, Action::Resume, Some(&queue), None, Args::None).await
}

/// Kills a running task (funboost's `funboost_kill_task_hash:<queue>`): it is recorded as
/// killed when its worker stops it — within 5 s for funboost's threading workers with remote
/// kill on, at once for taskdeck's.
#[utoipa::path(post, path = "/tasks/{task_id}/kill", tag = "control", params(("task_id" = String, Path)),
    responses(
        (status = 202, body = Command),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not running (`conflict`), or no consumer can kill (`unsupported`)", body = super::error::ErrorBody),
    ))]
pub async fn kill(
    State(state): State<AppState>,
    who: Caller,
    Path(task_id): Path<String>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(&state, &who, Action::Kill, None, Some(&task_id), Args::None).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevokeQuery {
    /// The task's queue, needed when taskdeck has no record of the task yet (a message still
    /// waiting in the broker: funboost records a task only when it starts).
    queue: Option<String>,
}

/// Revokes a waiting task: whichever worker takes it skips it and records it as revoked.
#[utoipa::path(post, path = "/tasks/{task_id}/revoke", tag = "control", params(("task_id" = String, Path), RevokeQuery),
    responses(
        (status = 202, body = Command),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not waiting (`conflict`), or no consumer can revoke (`unsupported`)", body = super::error::ErrorBody),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    who: Caller,
    Path(task_id): Path<String>,
    Query(q): Query<RevokeQuery>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(
        &state,
        &who,
        Action::Revoke,
        q.queue.as_deref(),
        Some(&task_id),
        Args::None,
    )
    .await
}

/// Deletes a waiting message from the queue at once (`LREM`/`ZREM` of its exact text, found
/// among the first 100,000 of each of the queue's keys) and records the task as revoked. Unlike
/// a revoke it needs no worker to take the message, so it also works on a queue nobody
/// consumes.
#[utoipa::path(post, path = "/tasks/{task_id}/delete", tag = "control", params(("task_id" = String, Path), RevokeQuery),
    responses(
        (status = 202, description = "Deleted; the task is recorded as revoked", body = Command),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not waiting (started, or not found among the waiting messages)", body = super::error::ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    who: Caller,
    Path(task_id): Path<String>,
    Query(q): Query<RevokeQuery>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(
        &state,
        &who,
        Action::Delete,
        q.queue.as_deref(),
        Some(&task_id),
        Args::None,
    )
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitingQuery {
    /// Messages to skip from the next one to be taken; default 0.
    offset: Option<u64>,
    /// 1–200, default 50.
    limit: Option<u32>,
}

/// The messages waiting in a queue's broker keys, in the order its consumers take them
/// (highest priority first), with each task's recorded state when taskdeck has one.
#[utoipa::path(get, path = "/queues/{queue}/waiting", tag = "control", params(("queue" = String, Path), WaitingQuery),
    responses(
        (status = 200, body = WaitingPage),
        (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
    ))]
pub async fn waiting(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Query(q): Query<WaitingQuery>,
) -> Result<Json<WaitingPage>, ServiceError> {
    Ok(Json(
        state
            .services
            .control
            .waiting_messages(&queue, q.offset.unwrap_or(0), q.limit.unwrap_or(50))
            .await?,
    ))
}

/// Sets the QPS and concurrency of the queue's taskdeck consumers at runtime (they apply it at
/// once and confirm in their heartbeat); `null` gives each its own setting back. funboost reads
/// both only at start: a queue with only funboost consumers answers `409 unsupported`.
#[utoipa::path(put, path = "/queues/{queue}/limits", tag = "control", params(("queue" = String, Path)), request_body = Limits,
    responses(
        (status = 202, body = Command),
        (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "No live consumer can change its limits (`unsupported`)", body = super::error::ErrorBody),
    ))]
pub async fn limits(
    State(state): State<AppState>,
    who: Caller,
    Path(queue): Path<String>,
    JsonBody(limits): JsonBody<Limits>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(
        &state,
        &who,
        Action::Limits,
        Some(&queue),
        None,
        Args::Limits(&limits),
    )
    .await
}

/// Publishes a failed (killed, revoked, expired) task's params again as a new task, with a new
/// id; the old record stays. The command's `outcome` names the new task
/// (`{"kind": "retried", "task_id": …}`).
#[utoipa::path(post, path = "/tasks/{task_id}/retry", tag = "control", params(("task_id" = String, Path)),
    responses(
        (status = 202, body = Command),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not finished without success, or no params recorded", body = super::error::ErrorBody),
    ))]
pub async fn retry(
    State(state): State<AppState>,
    who: Caller,
    Path(task_id): Path<String>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(
        &state,
        &who,
        Action::Retry,
        None,
        Some(&task_id),
        Args::None,
    )
    .await
}

/// Kills, revokes, retries or deletes many tasks: the listed `ids` (up to 10,000; `queue`
/// names the queue of those still waiting without a record), or every task the `filter` (the
/// tasks page's query string) matches, newest first, the first 10,000. Runs in
/// the background on this instance in pages of 200; each task's command is recorded and
/// audited; tasks in a state the action does not apply to are skipped.
#[utoipa::path(post, path = "/tasks/bulk", tag = "control", request_body = BulkRequest,
    responses(
        (status = 202, description = "Started; follow it at `/api/v1/tasks/bulk/{id}`", body = Bulk),
        (status = 400, body = super::error::ErrorBody),
    ))]
pub async fn bulk(
    State(state): State<AppState>,
    who: Caller,
    JsonBody(request): JsonBody<BulkRequest>,
) -> Result<(StatusCode, Json<Bulk>), ServiceError> {
    let job = state
        .services
        .control
        .start_bulk(who.actor.clone(), who.ip.clone(), request)?;
    // Readable from every instance before the answer leaves.
    state.services.control.share_bulk(&job.id).await;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// A bulk command's progress: on the instance that runs it, and with Redis on any other
/// (shared after every page of 200 tasks).
#[utoipa::path(get, path = "/tasks/bulk/{id}", tag = "control", params(("id" = String, Path)),
    responses((status = 200, body = Bulk), (status = 404, body = super::error::ErrorBody)))]
pub async fn bulk_progress(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Bulk>, ServiceError> {
    state
        .services
        .control
        .bulk_progress_anywhere(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ServiceError::not_found(format!("no bulk command `{id}`")))
}

/// Puts back, now, the messages that consumers which stopped heartbeating (15 s, funboost's
/// rule: 25 s before their heartbeat is purged) still hold in their in-flight sets — what
/// funboost's workers do by themselves only every 60 s, and never when no worker of the queue
/// runs. The command's `outcome` says how many (`{"kind": "requeued", "put_back": n}`).
#[utoipa::path(post, path = "/queues/{queue}/requeue", tag = "control", params(("queue" = String, Path)),
    responses((status = 202, body = Command), (status = 404, body = super::error::ErrorBody)))]
pub async fn requeue(
    State(state): State<AppState>,
    who: Caller,
    Path(queue): Path<String>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(
        &state,
        &who,
        Action::Requeue,
        Some(&queue),
        None,
        Args::None,
    )
    .await
}

/// Moves a waiting task to the front of its queue (`{"front": true}`) or gives it another
/// priority (`{"priority": 3}`: funboost's REDIS_PRIORITY level, capped at the queue's
/// `x-max-priority`, or its REDIS_ZSET_PRIORITY score). The message is found among the first
/// 100,000 waiting of each of the queue's lists and moved in one step.
#[utoipa::path(post, path = "/tasks/{task_id}/priority", tag = "control", params(("task_id" = String, Path), RevokeQuery), request_body = MoveTo,
    responses(
        (status = 202, body = Command),
        (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not waiting (or not found among the waiting messages), or a queue without priorities", body = super::error::ErrorBody),
    ))]
pub async fn priority(
    State(state): State<AppState>,
    who: Caller,
    Path(task_id): Path<String>,
    Query(q): Query<RevokeQuery>,
    JsonBody(to): JsonBody<MoveTo>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    send(
        &state,
        &who,
        Action::Priority,
        q.queue.as_deref(),
        Some(&task_id),
        Args::Move(&to),
    )
    .await
}

/// Removes every message waiting in the queue — not those its consumers are running (funboost's
/// own clear deletes those too). Needs the queue's name typed again as `confirm`.
#[utoipa::path(post, path = "/queues/{queue}/clear", tag = "control", params(("queue" = String, Path)), request_body = ClearConfirm,
    responses(
        (status = 202, description = "Cleared; `outcome` says how many messages went (`{\"kind\": \"cleared\", \"removed\": n}`)", body = Command),
        (status = 400, description = "`confirm` is not the queue's name", body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
    ))]
pub async fn clear(
    State(state): State<AppState>,
    who: Caller,
    Path(queue): Path<String>,
    JsonBody(body): JsonBody<ClearConfirm>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    if body.confirm != queue {
        return Err(ServiceError::invalid(
            "to clear a queue, send its name again as `confirm`",
        ));
    }
    send(&state, &who, Action::Clear, Some(&queue), None, Args::None).await
}

/// Publishes one task to the queue in funboost's message format (task id, publish time,
/// `extra`), where its broker kind keeps messages: the arguments are checked against the
/// signature its consumers registered; `priority` goes where funboost's priority publishers
/// put it; `countdown_s`/`eta` delay it; with `rpc` the answer waits (up to `timeout_s`) for the
/// result — funboost's RPC answer or taskdeck's record, whichever comes first; `rerun_of`
/// links it both ways to the task it runs again. Recorded and audited as a `publish` command.
#[utoipa::path(post, path = "/queues/{queue}/publish", tag = "control", params(("queue" = String, Path)), request_body = PublishRequest,
    responses(
        (status = 202, body = Published),
        (status = 400, description = "Arguments the function does not take, or is missing; a priority on a queue without priorities", body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "taskdeck cannot publish to this broker kind (`unsupported`)", body = super::error::ErrorBody),
    ))]
pub async fn publish(
    State(state): State<AppState>,
    who: Caller,
    Path(queue): Path<String>,
    JsonBody(request): JsonBody<PublishRequest>,
) -> Result<(StatusCode, Json<Published>), ServiceError> {
    let published = state
        .services
        .control
        .publish(&who.requester(), &queue, &request)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(published)))
}

/// The messages funboost dead-lettered from the queue (its `<queue>_dlx`, kept with the
/// queue's broker kind: `is_push_to_dlx_queue_when_retry_max_times`), as the waiting messages
/// are shown.
#[utoipa::path(get, path = "/queues/{queue}/dead", tag = "control", params(("queue" = String, Path), WaitingQuery),
    responses(
        (status = 200, body = WaitingPage),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Not readable for this broker kind (`unsupported`)", body = super::error::ErrorBody),
    ))]
pub async fn dead_letters(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    Query(q): Query<WaitingQuery>,
) -> Result<Json<WaitingPage>, ServiceError> {
    Ok(Json(
        state
            .services
            .control
            .dead_letters(&queue, q.offset.unwrap_or(0), q.limit.unwrap_or(50))
            .await?,
    ))
}

/// Puts dead letters back on the queue (`ids`, or every one), each taken out of `<queue>_dlx`
/// and published again; recorded and audited as a `redrive` command.
#[utoipa::path(post, path = "/queues/{queue}/dead/redrive", tag = "control", params(("queue" = String, Path)), request_body = DeadLetters,
    responses((status = 202, body = Command), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn redrive(
    State(state): State<AppState>,
    who: Caller,
    Path(queue): Path<String>,
    JsonBody(which): JsonBody<DeadLetters>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    let command = state
        .services
        .control
        .dead_letter_command(&who.requester(), &queue, true, which.ids.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(command)))
}

/// Deletes dead letters (`ids`, or every one); a `discard` command.
#[utoipa::path(post, path = "/queues/{queue}/dead/discard", tag = "control", params(("queue" = String, Path)), request_body = DeadLetters,
    responses((status = 202, body = Command), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn discard(
    State(state): State<AppState>,
    who: Caller,
    Path(queue): Path<String>,
    JsonBody(which): JsonBody<DeadLetters>,
) -> Result<(StatusCode, Json<Command>), ServiceError> {
    let command = state
        .services
        .control
        .dead_letter_command(&who.requester(), &queue, false, which.ids.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(command)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommandsQuery {
    queue: Option<String>,
    task_id: Option<String>,
    /// 1–500, default 50.
    limit: Option<u32>,
}

/// Commands, newest first, each with what is known of its effect now.
#[utoipa::path(get, path = "/commands", tag = "control", params(CommandsQuery),
    responses((status = 200, body = Vec<Command>), (status = 400, body = super::error::ErrorBody)))]
pub async fn commands(
    State(state): State<AppState>,
    Query(q): Query<CommandsQuery>,
) -> Result<Json<Vec<Command>>, ServiceError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ServiceError::invalid("`limit` is 1–500"));
    }
    Ok(Json(
        state
            .services
            .control
            .command_list(q.queue.as_deref(), q.task_id.as_deref(), limit)
            .await?,
    ))
}
