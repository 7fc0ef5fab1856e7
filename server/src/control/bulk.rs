//! Commands for many tasks: the listed ones or every task a filter of the tasks page matches,
//! walked newest first in pages of [`PAGE`], each task's command recorded and audited like a
//! single one. Progress lives in the instance that runs the job and, with Redis, is shared
//! after every page so any instance answers `GET /api/v1/tasks/bulk/{id}`; what each command did
//! is in the store.

use super::{Control, Facts, Requester, ServiceError};
use protocol::control::{Action, Bulk, BulkRequest, BULK_MAX};
use protocol::event::TaskState;
use protocol::task::{Cursor, PageAt, TaskQuery};
use std::sync::Arc;

/// Tasks read per store round trip.
const PAGE: u32 = 200;
/// Reasons kept per job.
const MAX_ERRORS: usize = 10;
/// Finished jobs kept for their progress to be read.
const KEEP_DONE: usize = 100;

impl Control {
    /// Checks the request and starts the job; answers its first progress.
    pub fn start_bulk(
        self: &Arc<Self>,
        actor: String,
        ip: String,
        request: BulkRequest,
    ) -> Result<Bulk, ServiceError> {
        if !matches!(
            request.action,
            Action::Kill | Action::Revoke | Action::Retry | Action::Delete
        ) {
            return Err(ServiceError::invalid(
                "a bulk `action` is kill, revoke, retry or delete",
            ));
        }
        if request.queue.is_some() && request.filter.is_some() {
            return Err(ServiceError::invalid(
                "`queue` goes with `ids` (a filter names its queue itself)",
            ));
        }
        let target = match (request.ids, request.filter) {
            (Some(ids), None) => {
                if ids.is_empty() || ids.len() > BULK_MAX {
                    return Err(ServiceError::invalid(format!(
                        "`ids` lists 1–{BULK_MAX} task ids"
                    )));
                }
                Target::Ids(ids, request.queue)
            }
            (None, Some(filter)) => {
                let query: TaskQuery =
                    serde_urlencoded::from_str(filter.trim_start_matches('?'))
                        .map_err(|e| ServiceError::invalid(format!("`filter`: {e}")))?;
                if query.older.is_some() || query.newer.is_some() {
                    return Err(ServiceError::invalid(
                        "`filter` starts at the newest matching task: drop `older`/`newer`",
                    ));
                }
                let (filter, _, _) = query
                    .parse(crate::model::now_epoch())
                    .map_err(|e| ServiceError::invalid(format!("`filter`: {e}")))?;
                Target::Filter(Box::new(filter))
            }
            _ => {
                return Err(ServiceError::invalid(
                    "give either `ids` or `filter`, not both",
                ))
            }
        };
        let bulk = Bulk {
            id: uuid::Uuid::now_v7().to_string(),
            action: request.action,
            actor: actor.clone(),
            started_at: crate::model::now_epoch(),
            finished_at: None,
            matched: 0,
            sent: 0,
            skipped: 0,
            failed: 0,
            errors: Vec::new(),
            capped: false,
        };
        {
            let mut jobs = self.bulk.lock().unwrap();
            // Old finished jobs make room; running ones always stay.
            while jobs.iter().filter(|j| j.finished_at.is_some()).count() >= KEEP_DONE {
                let oldest = jobs.iter().position(|j| j.finished_at.is_some()).unwrap();
                jobs.remove(oldest);
            }
            jobs.push(bulk.clone());
        }
        let services = self.clone();
        let id = bulk.id.clone();
        tokio::spawn(async move { services.run_bulk(&id, &actor, &ip, target).await });
        Ok(bulk)
    }

    /// A bulk command's progress: this instance's own, or as the instance running it last
    /// shared it through Redis (at most a page of [`PAGE`] tasks behind).
    pub async fn bulk_progress_anywhere(&self, id: &str) -> Result<Option<Bulk>, ServiceError> {
        if let Some(b) = self.bulk_progress(id) {
            return Ok(Some(b));
        }
        self.bus
            .shared_bulk(id)
            .await
            .map_err(|e| ServiceError::unavailable(format!("the bus failed: {e}")))
    }

    /// Writes this instance's progress of a job where the other instances read it (the route
    /// that starts a job shares it first, before answering).
    pub async fn share_bulk(&self, id: &str) {
        if let Some(b) = self.bulk_progress(id) {
            if let Err(e) = self.bus.share_bulk(&b).await {
                tracing::warn!(bulk = id, error = %e, "bulk progress not shared");
            }
        }
    }

    pub fn bulk_progress(&self, id: &str) -> Option<Bulk> {
        self.bulk
            .lock()
            .unwrap()
            .iter()
            .find(|j| j.id == id)
            .cloned()
    }

    fn update_bulk(&self, id: &str, f: impl FnOnce(&mut Bulk)) {
        if let Some(job) = self.bulk.lock().unwrap().iter_mut().find(|j| j.id == id) {
            f(job);
        }
    }

    async fn run_bulk(&self, id: &str, actor: &str, ip: &str, target: Target) {
        let action = self
            .bulk_progress(id)
            .map(|b| b.action)
            .unwrap_or(Action::Retry);
        let who = Requester {
            actor,
            ip,
            user: None,
        };
        let mut facts = Facts::new();
        let mut at = PageAt::First;
        let mut seen = 0usize;
        let (ids, queue) = match &target {
            Target::Ids(ids, queue) => (ids.clone(), queue.as_deref()),
            Target::Filter(_) => (Vec::new(), None),
        };
        'pages: loop {
            // The next page of (task id, state).
            let page: Vec<(String, Option<TaskState>)> = match &target {
                Target::Ids(..) => {
                    let chunk: Vec<String> =
                        ids.iter().skip(seen).take(PAGE as usize).cloned().collect();
                    if chunk.is_empty() {
                        break;
                    }
                    let mut out = Vec::with_capacity(chunk.len());
                    for task_id in chunk {
                        match self.store.get_task(&task_id).await {
                            Ok(t) => out.push((task_id, t.map(|t| t.summary.state))),
                            Err(e) => {
                                self.bulk_failed(id, format!("{task_id}: {e:#}"));
                                out.push((task_id, None));
                            }
                        }
                    }
                    out
                }
                Target::Filter(filter) => {
                    let want = PAGE.min((BULK_MAX - seen) as u32);
                    match self.store.export_page(filter, &at, want).await {
                        Ok(page) => {
                            let rows = page
                                .tasks
                                .iter()
                                .map(|t| (t.task_id.clone(), Some(t.state)))
                                .collect();
                            match page.older.as_deref().map(Cursor::decode) {
                                Some(Some(c)) => at = PageAt::Older(c),
                                _ => at = PageAt::First,
                            }
                            if page.older.is_none() {
                                // Last page: process it, then stop.
                                self.bulk_page(id, &who, (action, None), rows, &mut facts)
                                    .await;
                                break 'pages;
                            }
                            rows
                        }
                        Err(e) => {
                            self.bulk_failed(id, format!("the store failed: {e:#}"));
                            break;
                        }
                    }
                }
            };
            seen += page.len();
            self.bulk_page(id, &who, (action, queue), page, &mut facts)
                .await;
            self.share_bulk(id).await;
            if seen >= BULK_MAX {
                if matches!(target, Target::Filter(_)) {
                    self.update_bulk(id, |b| b.capped = true);
                }
                break;
            }
        }
        self.update_bulk(id, |b| b.finished_at = Some(crate::model::now_epoch()));
        self.share_bulk(id).await;
        if let Some(b) = self.bulk_progress(id) {
            let detail = format!(
                "{} matched, {} sent, {} skipped, {} failed{}",
                b.matched,
                b.sent,
                b.skipped,
                b.failed,
                if b.capped { ", capped" } else { "" }
            );
            crate::auth::audit(
                &self.store,
                actor,
                &format!("bulk.{}", action.code()),
                id,
                "ok",
                &detail,
                ip,
            )
            .await;
        }
    }

    /// Sends `action` for each task of the page; `queue` is that of the listed tasks taskdeck
    /// has no record of (messages still waiting, for revoke and delete).
    async fn bulk_page(
        &self,
        id: &str,
        who: &Requester<'_>,
        (action, queue): (Action, Option<&str>),
        page: Vec<(String, Option<TaskState>)>,
        facts: &mut Facts,
    ) {
        for (task_id, state) in page {
            self.update_bulk(id, |b| b.matched += 1);
            if !super::rules::applies(action, state, queue.is_some()) {
                self.update_bulk(id, |b| b.skipped += 1);
                continue;
            }
            match self
                .command_in(who, action, queue, Some(&task_id), super::Args::None, facts)
                .await
            {
                Ok(_) => self.update_bulk(id, |b| b.sent += 1),
                // Its state changed since it was read.
                Err(ServiceError {
                    kind: protocol::ErrorKind::Conflict,
                    ..
                }) => self.update_bulk(id, |b| b.skipped += 1),
                Err(e) => self.bulk_failed(id, format!("{task_id}: {e}")),
            }
        }
    }

    fn bulk_failed(&self, id: &str, reason: String) {
        self.update_bulk(id, |b| {
            b.failed += 1;
            if b.errors.len() < MAX_ERRORS {
                b.errors.push(reason);
            }
        });
    }
}

enum Target {
    /// Listed tasks, and the queue of those without a record.
    Ids(Vec<String>, Option<String>),
    Filter(Box<protocol::task::TaskFilter>),
}
