//! UI strings in every supported language.
//!
//! One struct per language, so a string missing in one language is a compile error rather
//! than an English word in a Chinese page.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    En,
    Zh,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Zh];

    /// Value of the `lang` attribute and of the preference cookie.
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Zh => "zh-CN",
        }
    }

    pub fn from_code(code: &str) -> Option<Locale> {
        let code = code.trim().to_ascii_lowercase();
        if code == "en" || code.starts_with("en-") {
            Some(Locale::En)
        } else if code == "zh" || code.starts_with("zh-") {
            Some(Locale::Zh)
        } else {
            None
        }
    }

    /// The language's own name, as shown in the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Zh => "简体中文",
        }
    }

    /// Picks the best supported language from an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Locale {
        let mut best: Option<(f32, Locale)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let Some(locale) = pieces.next().and_then(Locale::from_code) else {
                continue;
            };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, locale));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }

    /// A duration the way people of this language write it: `3d 4h`, `2h 5m`, `4m 10s`.
    pub fn duration(self, secs: u64) -> String {
        let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
        let units = match self {
            Locale::En => ["d ", "h ", "m ", "s"],
            Locale::Zh => ["天", "小时", "分", "秒"],
        };
        let parts = if d > 0 {
            [(d, 0), (h, 1)]
        } else if h > 0 {
            [(h, 1), (m, 2)]
        } else if m > 0 {
            [(m, 2), (s, 3)]
        } else {
            return format!("{s}{}", units[3]);
        };
        parts
            .iter()
            .enumerate()
            .filter(|(i, (n, _))| *i == 0 || *n > 0)
            .map(|(_, (n, u))| format!("{n}{}", units[*u]))
            .collect::<String>()
            .trim_end()
            .to_owned()
    }

    /// `12s ago` / `12秒前`.
    pub fn ago(self, secs: u64) -> String {
        match self {
            Locale::En => format!("{} {}", self.duration(secs), EN.ago),
            Locale::Zh => format!("{}{}", self.duration(secs), ZH.ago),
        }
    }

    /// Where a backlog figure comes from, when it is not counted in the broker now:
    /// "reported by the workers 40 s ago", or why it is not known.
    pub fn backlog_note(self, backlog: &protocol::overview::Backlog, now: f64) -> Option<String> {
        use protocol::overview::Backlog;
        match backlog {
            Backlog::Counted => None,
            Backlog::Reported { at } => {
                let ago = self.ago((now - at).max(0.0) as u64);
                Some(match self {
                    Locale::En => format!("reported by the workers {ago}"),
                    Locale::Zh => format!("由工作进程于{ago}上报"),
                })
            }
            Backlog::Unknown { why } => Some(why.clone()),
        }
    }

    /// `1,234 tasks` / `more than 10,000 tasks` / `1,234 个任务`.
    pub fn task_count(self, n: protocol::task::TaskTotal) -> String {
        let count = crate::format::count(n.count as i64);
        match (self, n.more) {
            (Locale::Zh, true) => format!("超过 {count} 个任务"),
            (Locale::Zh, false) => format!("{count} 个任务"),
            (Locale::En, true) => format!("more than {count} tasks"),
            (Locale::En, false) if n.count == 1 => "1 task".to_owned(),
            (Locale::En, false) => format!("{count} tasks"),
        }
    }

    /// `3 new` / `3 个新任务`: tasks that arrived while a list was held.
    pub fn new_tasks(self, n: usize) -> String {
        match self {
            Locale::Zh => format!("{n} 个新任务"),
            Locale::En => format!("{n} new"),
        }
    }

    /// `1,234 failures in 5 groups`.
    pub fn failure_summary(self, failures: i64, groups: usize) -> String {
        let n = crate::format::count(failures);
        match self {
            Locale::Zh => format!("{groups} 组共 {n} 次失败"),
            Locale::En => format!(
                "{n} {} in {groups} {}",
                if failures == 1 { "failure" } else { "failures" },
                if groups == 1 { "group" } else { "groups" }
            ),
        }
    }

    /// Where a text search outside the index stopped, and what to do about it.
    pub fn search_stopped(self, read: u32, at: &str) -> String {
        let read = crate::format::count(i64::from(read));
        match self {
            Locale::En => format!(
                "Text search read the newest {read} tasks of these filters, back to {at}, and stopped there. \
                 “Older” searches on. Failed, killed, revoked and expired tasks are searched through an index: \
                 choose those states, or a shorter time range, to search everything at once."
            ),
            Locale::Zh => format!(
                "文字搜索已读取符合条件的最新 {read} 个任务（直到 {at}）并在此停止。\
                 点击“较旧”继续搜索。失败、已终止、已撤销和已过期的任务通过索引搜索：\
                 选择这些状态或缩短时间范围即可一次搜索全部。"
            ),
        }
    }

    /// The name of a task state in this language.
    /// Where a command stands, in a sentence.
    pub fn command_status(self, c: &protocol::control::Command) -> String {
        use protocol::control::{Action, CommandState as S, Outcome};
        let zh = self == Locale::Zh;
        let done = match (c.action, zh) {
            (Action::Pause, false) => "Paused",
            (Action::Resume, false) => "Resumed",
            (Action::Kill, false) => "Killed",
            (Action::Revoke, false) => "Revoked: it will not run",
            (Action::Pause, true) => "已暂停",
            (Action::Resume, true) => "已恢复",
            (Action::Kill, true) => "已终止",
            (Action::Revoke, true) => "已撤销：不会运行",
            (Action::Limits, false) => "New limits applied",
            (Action::Limits, true) => "新限制已生效",
            (Action::Retry, false) => "Published again as a new task",
            (Action::Retry, true) => "已作为新任务重新发布",
            (Action::Clear, false) => "Cleared",
            (Action::Clear, true) => "已清空",
            (Action::Requeue, false) => "Requeued",
            (Action::Requeue, true) => "已重新入队",
            (Action::Priority, false) => "Moved",
            (Action::Priority, true) => "已移动",
            (Action::Delete, false) => "Deleted from the queue: it will not run",
            (Action::Delete, true) => "已从队列删除：不会运行",
            (Action::Publish, false) => "Published",
            (Action::Publish, true) => "已发布",
            (Action::Redrive, false) => "Put back on the queue",
            (Action::Redrive, true) => "已放回队列",
            (Action::Discard, false) => "Dead letters deleted",
            (Action::Discard, true) => "已删除死信",
        };
        let sent = match (c.action, zh) {
            (Action::Pause, false) => "Pause sent",
            (Action::Resume, false) => "Resume sent",
            (Action::Kill, false) => "Kill sent: waiting for the worker",
            (Action::Revoke, false) => "Revoke sent: the task is skipped when a worker takes it",
            (Action::Pause, true) => "已发送暂停",
            (Action::Resume, true) => "已发送恢复",
            (Action::Kill, true) => "已发送终止，等待工作进程",
            (Action::Revoke, true) => "已发送撤销：工作进程取到时会跳过",
            (Action::Limits, false) => "New limits sent",
            (Action::Limits, true) => "已发送新限制",
            (Action::Retry, false) => "Retry sent",
            (Action::Retry, true) => "已发送重试",
            (Action::Clear, false) => "Clear sent",
            (Action::Clear, true) => "已发送清空",
            (Action::Requeue, false) => "Requeue sent",
            (Action::Requeue, true) => "已发送重新入队",
            (Action::Priority, false) => "Move sent",
            (Action::Priority, true) => "已发送移动",
            (Action::Delete, false) => "Delete sent",
            (Action::Delete, true) => "已发送删除",
            (Action::Publish, false) => "Publish sent",
            (Action::Publish, true) => "已发送发布",
            (Action::Redrive, false) => "Re-drive sent",
            (Action::Redrive, true) => "已发送放回",
            (Action::Discard, false) => "Delete sent",
            (Action::Discard, true) => "已发送删除",
        };
        let mut text = match c.state {
            S::Applied => done.to_owned(),
            S::Sent => sent.to_owned(),
            S::Failed | S::Unsupported if c.sent_at.is_none() => {
                return format!("{} {}", self.strings().ctl_failed, c.detail);
            }
            // Sent, but the target ended otherwise (the detail says how).
            S::Failed | S::Unsupported => return self.no_effect(c),
        };
        match (&c.outcome, zh) {
            (Some(Outcome::Limits { qps, concurrency }), _) => {
                let own = if zh { "自有" } else { "own" };
                let qps = qps.map_or(own.to_owned(), |q| q.to_string());
                let conc = concurrency.map_or(own.to_owned(), |n| n.to_string());
                text.push_str(&if zh {
                    format!("（qps {qps}，并发 {conc}）")
                } else {
                    format!(" (qps {qps}, concurrency {conc})")
                });
            }
            (Some(Outcome::Moved { front: true, .. }), false) => {
                return format!("{text} to the front of the queue")
            }
            (Some(Outcome::Moved { front: true, .. }), true) => return format!("{text}到队首"),
            (Some(Outcome::Moved { priority, .. }), false) => {
                return format!("{text}: priority {}", priority.unwrap_or_default())
            }
            (Some(Outcome::Moved { priority, .. }), true) => {
                return format!("{text}：优先级 {}", priority.unwrap_or_default())
            }
            (Some(Outcome::Requeued { put_back }), false) => {
                return format!("{text}: {put_back} messages held by stopped consumers put back")
            }
            (Some(Outcome::Requeued { put_back }), true) => {
                return format!("{text}：放回了 {put_back} 条被已停止的消费者占用的消息")
            }
            (Some(Outcome::Cleared { removed }), false) => {
                return format!("{text}: {removed} waiting messages removed")
            }
            (Some(Outcome::Cleared { removed }), true) => {
                return format!("{text}：移除了 {removed} 条等待中的消息")
            }
            (Some(Outcome::Redriven { moved }), false) => {
                return format!("{text}: {moved} dead letters")
            }
            (Some(Outcome::Redriven { moved }), true) => return format!("{text}：{moved} 条死信"),
            (Some(Outcome::Discarded { removed }), false) => return format!("{text}: {removed}"),
            (Some(Outcome::Discarded { removed }), true) => return format!("{text}：{removed} 条"),
            // The new task is linked next to it.
            (Some(Outcome::Retried { .. } | Outcome::Published { .. } | Outcome::Deleted), _) => {
                return text
            }
            // Recorded by an older taskdeck, in its words.
            (None, _) if !c.detail.is_empty() => return format!("{text}: {}", c.detail),
            (None, _) => {}
        }
        if c.action.is_desired_state() {
            if c.confirmable > 0 {
                text.push_str(&if zh {
                    format!(" — {} / {} 个消费者已确认", c.applied, c.confirmable)
                } else {
                    format!(" — applied by {} of {} consumers", c.applied, c.confirmable)
                });
            }
            if c.funboost > 0 && c.action == Action::Limits {
                text.push_str(&if zh {
                    format!("；{} 个 funboost 消费者只在启动时读取 qps 与并发数", c.funboost)
                } else {
                    format!("; {} funboost consumer(s) keep theirs: funboost reads qps and concurrency only at start", c.funboost)
                });
            }
            if c.funboost > 0 && c.action != Action::Limits {
                text.push_str(&if zh {
                    format!("；{} 个 funboost 消费者在 10 秒心跳内读取暂停标志，可能还会再开始一个任务", c.funboost)
                } else {
                    format!("; {} funboost consumer(s) read the flag within their 10 s heartbeat, and one more task may start", c.funboost)
                });
            }
            if c.confirmable + c.funboost == 0 || (c.action == Action::Limits && c.confirmable == 0)
            {
                text.push_str(if zh {
                    "：暂无在线消费者，启动后生效"
                } else {
                    ": no live consumer, it applies when one starts"
                });
            }
        }
        text
    }

    fn no_effect(self, c: &protocol::control::Command) -> String {
        match (self, c.ended_as) {
            (Locale::En, Some(s)) => format!("No effect: the task ended {} first", self.state(s)),
            (Locale::Zh, Some(s)) => format!("未生效：任务已先以「{}」结束", self.state(s)),
            (Locale::En, None) => format!("No effect: {}", c.detail),
            (Locale::Zh, None) => format!("未生效：{}", c.detail),
        }
    }

    /// A bulk action's name in the menu.
    pub fn bulk_action(self, a: protocol::control::Action) -> &'static str {
        use protocol::control::Action;
        match (self, a) {
            (Locale::En, Action::Kill) => "Kill running",
            (Locale::En, Action::Revoke) => "Revoke waiting",
            (Locale::En, Action::Delete) => "Delete waiting",
            (Locale::En, _) => "Retry failed",
            (Locale::Zh, Action::Kill) => "终止运行中的",
            (Locale::Zh, Action::Revoke) => "撤销等待中的",
            (Locale::Zh, Action::Delete) => "删除等待中的",
            (Locale::Zh, _) => "重试失败的",
        }
    }

    pub fn bulk_confirm(
        self,
        a: protocol::control::Action,
        total: Option<protocol::task::TaskTotal>,
    ) -> String {
        let n = total.map_or("?".to_owned(), |t| {
            if t.more {
                format!("{}+", t.count)
            } else {
                t.count.to_string()
            }
        });
        match self {
            Locale::En => format!("{} among the {n} tasks this filter matches (at most 10,000, newest first)? Tasks in other states are skipped.", self.bulk_action(a)),
            Locale::Zh => format!("对此筛选匹配的 {n} 个任务执行「{}」（最多 10,000 个，从最新开始）？其他状态的任务会被跳过。", self.bulk_action(a)),
        }
    }

    pub fn bulk_confirm_selected(self, a: protocol::control::Action, n: usize) -> String {
        match self {
            Locale::En => format!(
                "{} among the {n} selected tasks? Tasks in other states are skipped.",
                self.bulk_action(a)
            ),
            Locale::Zh => format!(
                "对所选的 {n} 个任务执行「{}」？其他状态的任务会被跳过。",
                self.bulk_action(a)
            ),
        }
    }

    pub fn bulk_progress(self, b: &protocol::control::Bulk) -> String {
        let done = b.finished_at.is_some();
        match self {
            Locale::En => format!(
                "{}: {} read, {} sent, {} skipped, {} failed{}{}",
                self.bulk_action(b.action),
                b.matched,
                b.sent,
                b.skipped,
                b.failed,
                if b.capped { " (stopped at 10,000)" } else { "" },
                if done { " — done" } else { "…" }
            ),
            Locale::Zh => format!(
                "{}：已读取 {}，已发送 {}，跳过 {}，失败 {}{}{}",
                self.bulk_action(b.action),
                b.matched,
                b.sent,
                b.skipped,
                b.failed,
                if b.capped { "（上限 10,000）" } else { "" },
                if done { " — 完成" } else { "…" }
            ),
        }
    }

    /// Sign-in refused for a while after too many failures.
    pub fn login_limited(self, wait_s: u64) -> String {
        let minutes = wait_s.div_ceil(60).max(1);
        match self {
            Locale::En => format!("Too many failed sign-ins. Try again in {minutes} min."),
            Locale::Zh => format!("登录失败次数过多，请在 {minutes} 分钟后重试。"),
        }
    }

    /// A role's name.
    pub fn role(self, role: protocol::auth::Role) -> &'static str {
        use protocol::auth::Role;
        match (self, role) {
            (Locale::En, Role::Viewer) => "viewer",
            (Locale::En, Role::Operator) => "operator",
            (Locale::En, Role::Admin) => "admin",
            (Locale::Zh, Role::Viewer) => "只读",
            (Locale::Zh, Role::Operator) => "操作员",
            (Locale::Zh, Role::Admin) => "管理员",
        }
    }

    pub fn state(self, state: protocol::event::TaskState) -> &'static str {
        use protocol::event::TaskState::*;
        let s = self.strings();
        match state {
            Pending => s.state_pending,
            Running => s.state_running,
            Success => s.state_success,
            Failed => s.state_failed,
            Killed => s.state_killed,
            Revoked => s.state_revoked,
            Expired => s.state_expired,
        }
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Locale::En => &EN,
            Locale::Zh => &ZH,
        }
    }
}

pub struct Strings {
    pub product_tagline: &'static str,
    pub nav_overview: &'static str,
    pub nav_queues: &'static str,
    pub nav_tasks: &'static str,
    pub nav_workers: &'static str,
    pub nav_failures: &'static str,
    pub failures_title: &'static str,
    pub failures_lead: &'static str,
    pub failures_empty_title: &'static str,
    pub failures_empty_body: &'static str,
    pub col_count: &'static str,
    pub col_trend: &'static str,
    pub col_first_seen: &'static str,
    pub col_latest: &'static str,
    pub col_sample: &'static str,
    pub failures_all_queues: &'static str,
    pub failures_filter: &'static str,
    pub theme_to_dark: &'static str,
    pub theme_to_light: &'static str,
    pub language: &'static str,
    pub overview_title: &'static str,
    pub overview_lead: &'static str,
    pub system_title: &'static str,
    pub store: &'static str,
    pub bus: &'static str,
    pub version: &'static str,
    pub uptime: &'static str,
    pub status_ok: &'static str,
    pub status_down: &'static str,
    pub status_loading: &'static str,
    pub status_unreachable: &'static str,
    pub refresh: &'static str,
    pub bus_memory: &'static str,
    pub bus_redis: &'static str,
    pub queues_title: &'static str,
    pub queues_lead: &'static str,
    pub queues_empty_title: &'static str,
    pub queues_empty_body: &'static str,
    pub tasks_title: &'static str,
    pub tasks_lead: &'static str,
    pub tasks_empty_title: &'static str,
    pub tasks_empty_body: &'static str,
    pub workers_title: &'static str,
    pub workers_lead: &'static str,
    pub workers_empty_title: &'static str,
    pub workers_empty_body: &'static str,
    pub workers_by_queue: &'static str,
    pub workers_show_all: &'static str,
    pub workers_by_host: &'static str,
    pub workers_alive: &'static str,
    pub workers_stale: &'static str,
    pub workers_paused: &'static str,
    pub workers_stale_hint: &'static str,
    pub workers_refresh_hint: &'static str,
    pub col_kind: &'static str,
    pub col_process: &'static str,
    pub col_heartbeat: &'static str,
    pub col_up_since: &'static str,
    pub col_done: &'static str,
    pub col_since_start: &'static str,
    pub col_window: &'static str,
    pub col_avg_time: &'static str,
    pub col_concurrency: &'static str,
    pub col_capabilities: &'static str,
    pub ago: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub back_to_overview: &'static str,
    pub api_docs: &'static str,
    pub ctl_pause: &'static str,
    pub ctl_resume: &'static str,
    pub ctl_kill: &'static str,
    pub ctl_revoke: &'static str,
    pub ctl_kill_confirm: &'static str,
    pub ctl_revoke_confirm: &'static str,
    pub ctl_failed: &'static str,
    pub ctl_retry: &'static str,
    pub ctl_front: &'static str,
    pub bulk_label: &'static str,
    pub bulk_all_matching: &'static str,
    pub bulk_selected: &'static str,
    pub tasks_select: &'static str,
    pub tasks_select_page: &'static str,
    pub ctl_clear: &'static str,
    pub ctl_requeue: &'static str,
    pub ctl_requeue_hint: &'static str,
    pub ctl_clear_prompt: &'static str,
    pub ctl_clear_mismatch: &'static str,
    pub ctl_retry_confirm: &'static str,
    pub ctl_limits: &'static str,
    pub ctl_apply: &'static str,
    pub ctl_own: &'static str,
    pub ctl_concurrency: &'static str,
    pub ctl_delete: &'static str,
    pub ctl_delete_confirm: &'static str,
    pub wait_title: &'static str,
    pub wait_lead: &'static str,
    pub wait_none: &'static str,
    pub wait_unrecorded: &'static str,
    pub wait_position: &'static str,
    pub wait_priority: &'static str,
    pub wait_published: &'static str,
    pub wait_size: &'static str,
    pub wait_select: &'static str,
    pub wait_select_page: &'static str,
    pub wait_delete_selected: &'static str,
    pub wait_revoke_selected: &'static str,
    pub wait_prev: &'static str,
    pub wait_selected: &'static str,
    pub wait_next: &'static str,
    pub nav_admin: &'static str,
    pub adm_users: &'static str,
    pub adm_tokens: &'static str,
    pub adm_audit: &'static str,
    pub adm_lead: &'static str,
    pub adm_only: &'static str,
    pub adm_name: &'static str,
    pub adm_role: &'static str,
    pub adm_created: &'static str,
    pub adm_changed: &'static str,
    pub adm_scopes: &'static str,
    pub adm_created_by: &'static str,
    pub adm_last_used: &'static str,
    pub adm_never: &'static str,
    pub adm_when: &'static str,
    pub adm_actor: &'static str,
    pub adm_action: &'static str,
    pub adm_target: &'static str,
    pub adm_outcome: &'static str,
    pub adm_detail: &'static str,
    pub adm_ip: &'static str,
    pub adm_password: &'static str,
    pub adm_new_password: &'static str,
    pub adm_set_password: &'static str,
    pub adm_add_user: &'static str,
    pub adm_remove: &'static str,
    pub adm_remove_confirm: &'static str,
    pub adm_create_token: &'static str,
    pub adm_token_once: &'static str,
    pub adm_revoke: &'static str,
    pub adm_revoke_confirm: &'static str,
    pub adm_search: &'static str,
    pub adm_older: &'static str,
    pub adm_empty: &'static str,
    pub adm_saved: &'static str,
    pub adm_you: &'static str,
    pub login_title: &'static str,
    pub login_lead: &'static str,
    pub login_name: &'static str,
    pub login_password: &'static str,
    pub login_submit: &'static str,
    pub login_failed: &'static str,
    pub login_expired_form: &'static str,
    pub login_signed_out: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub col_queue: &'static str,
    pub col_running: &'static str,
    pub col_succeeded: &'static str,
    pub col_failed: &'static str,
    pub col_last_minute: &'static str,
    pub col_last_hour: &'static str,
    pub col_last_seen: &'static str,
    pub col_state: &'static str,
    pub col_task: &'static str,
    pub col_function: &'static str,
    pub col_params: &'static str,
    pub col_exception: &'static str,
    pub col_started: &'static str,
    pub col_run_time: &'static str,
    pub col_host: &'static str,
    pub tasks_newest: &'static str,
    pub queues_count: &'static str,
    pub see_queues: &'static str,
    pub load_failed: &'static str,
    pub ov_queues: &'static str,
    pub ov_throughput: &'static str,
    pub ov_finished_hour: &'static str,
    pub ov_failure_rate: &'static str,
    pub ov_waiting: &'static str,
    pub q_broker_note: &'static str,
    pub dead_title: &'static str,
    pub dead_lead: &'static str,
    pub dead_redrive_picked: &'static str,
    pub dead_redrive_all: &'static str,
    pub dead_discard_picked: &'static str,
    pub dead_discard_all: &'static str,
    pub dead_redrive_all_confirm: &'static str,
    pub dead_discard_all_confirm: &'static str,
    pub dead_discard_confirm: &'static str,
    pub pub_title: &'static str,
    pub pub_lead: &'static str,
    pub pub_rerun: &'static str,
    pub pub_origin: &'static str,
    pub pub_rerun_as: &'static str,
    pub pub_required: &'static str,
    pub pub_not_json: &'static str,
    pub pub_object: &'static str,
    pub pub_placeholder: &'static str,
    pub pub_params: &'static str,
    pub pub_countdown: &'static str,
    pub pub_rpc: &'static str,
    pub pub_waiting: &'static str,
    pub pub_submit: &'static str,
    pub pub_published: &'static str,
    pub pub_timed_out: &'static str,
    pub ov_in_flight: &'static str,
    pub ov_consumers: &'static str,
    pub ov_paused: &'static str,
    pub ov_oldest: &'static str,
    pub ov_drain: &'static str,
    pub ov_stalled: &'static str,
    pub ov_trend: &'static str,
    pub ov_all_projects: &'static str,
    pub ov_project: &'static str,
    pub ov_live: &'static str,
    pub ov_paused_hint: &'static str,
    pub ov_broker_down: &'static str,
    pub ov_no_consumer: &'static str,
    pub ov_per_second: &'static str,
    pub ov_done: &'static str,
    pub ov_failed_share: &'static str,
    pub state_pending: &'static str,
    pub state_running: &'static str,
    pub state_success: &'static str,
    pub state_failed: &'static str,
    pub state_killed: &'static str,
    pub state_revoked: &'static str,
    pub state_expired: &'static str,
    pub q_lead: &'static str,
    pub q_unknown_title: &'static str,
    pub q_unknown_body: &'static str,
    pub q_range: &'static str,
    pub q_range_second: &'static str,
    pub q_range_minute: &'static str,
    pub q_range_hour: &'static str,
    pub q_range_day: &'static str,
    pub q_custom: &'static str,
    pub q_from: &'static str,
    pub q_to: &'static str,
    pub q_per: &'static str,
    pub q_grain_second: &'static str,
    pub q_grain_minute: &'static str,
    pub q_grain_hour: &'static str,
    pub q_grain_day: &'static str,
    pub q_show: &'static str,
    pub q_fixed_note: &'static str,
    pub q_back_live: &'static str,
    pub q_bad_range: &'static str,
    pub q_chart_done: &'static str,
    pub q_chart_run: &'static str,
    pub q_chart_wait: &'static str,
    pub q_success: &'static str,
    pub q_failed: &'static str,
    pub q_other: &'static str,
    pub q_consumers: &'static str,
    pub q_no_consumers: &'static str,
    pub q_params: &'static str,
    pub q_params_none: &'static str,
    pub q_broker: &'static str,
    pub q_drain_hint: &'static str,
    pub q_no_data: &'static str,
    pub q_times_in: &'static str,
    pub tasks_search_placeholder: &'static str,
    pub tasks_search: &'static str,
    pub tasks_clear: &'static str,
    pub tasks_time: &'static str,
    pub tasks_any_time: &'static str,
    pub tasks_last_15m: &'static str,
    pub tasks_last_1h: &'static str,
    pub tasks_last_6h: &'static str,
    pub tasks_last_24h: &'static str,
    pub tasks_last_7d: &'static str,
    pub tasks_exception_type: &'static str,
    pub tasks_task_id: &'static str,
    pub tasks_no_match_title: &'static str,
    pub tasks_no_match_body: &'static str,
    pub tasks_bad_filter: &'static str,
    pub tasks_newer: &'static str,
    pub tasks_older: &'static str,
    pub tasks_newest_page: &'static str,
    pub tasks_live: &'static str,
    pub tasks_resume: &'static str,
    pub tasks_pause_hint: &'static str,
    pub tasks_resume_hint: &'static str,
    pub tasks_export_csv: &'static str,
    pub tasks_export_hint: &'static str,
    pub tasks_same_exception: &'static str,
    pub col_wait: &'static str,
    pub task_missing_title: &'static str,
    pub task_missing_body: &'static str,
    pub task_timeline: &'static str,
    pub task_published: &'static str,
    pub task_started: &'static str,
    pub task_finished: &'static str,
    pub task_waited: &'static str,
    pub task_ran: &'static str,
    pub task_times_span: &'static str,
    pub task_retry_after: &'static str,
    pub task_outcome: &'static str,
    pub task_requeued: &'static str,
    pub task_earlier_exception: &'static str,
    pub task_exception: &'static str,
    pub task_traceback: &'static str,
    pub task_params: &'static str,
    pub task_no_params: &'static str,
    pub task_result: &'static str,
    pub task_no_result: &'static str,
    pub task_extra: &'static str,
    /// Before the reason the live figures stopped (the server could not compute them).
    pub live_unavailable: &'static str,
    pub live_disconnected: &'static str,
    /// Before the list of fields taskdeck cut to size.
    pub task_cut: &'static str,
    pub task_where: &'static str,
    pub task_thread: &'static str,
    pub task_script: &'static str,
    pub task_consumer: &'static str,
    pub task_attempts: &'static str,
    pub task_updated: &'static str,
    pub task_same_params: &'static str,
    pub task_queue_tasks: &'static str,
    pub task_queue_charts: &'static str,
    pub task_host_workers: &'static str,
}

static EN: Strings = Strings {
    product_tagline: "Live dashboard and control plane for function workers",
    nav_overview: "Overview",
    nav_queues: "Queues",
    nav_tasks: "Tasks",
    nav_workers: "Workers",
    nav_failures: "Failures",
    failures_title: "Failures",
    failures_lead: "Tasks that finished without success, grouped by queue and exception, most frequent first. Open a group to see its tasks.",
    failures_empty_title: "No failures in this range",
    failures_empty_body: "No task finished as failed, killed, revoked or expired. Try a longer range.",
    col_count: "Count",
    col_trend: "Trend",
    col_first_seen: "First",
    col_latest: "Latest",
    col_sample: "Latest message",
    failures_all_queues: "All queues",
    failures_filter: "Show",
    theme_to_dark: "Switch to dark theme",
    theme_to_light: "Switch to light theme",
    language: "Language",
    overview_title: "Overview",
    overview_lead: "Every queue, every worker and every task of your fleet, live.",
    system_title: "This taskdeck instance",
    store: "Task store",
    bus: "Control bus",
    version: "Version",
    uptime: "Uptime",
    status_ok: "reachable",
    status_down: "down",
    status_loading: "Checking…",
    status_unreachable: "The server did not answer. Is taskdeck still running?",
    refresh: "Check again",
    bus_memory: "in-process",
    bus_redis: "Redis",
    queues_title: "Queues",
    queues_lead: "Throughput, backlog, failures and consumers per queue.",
    queues_empty_title: "No queues yet",
    queues_empty_body: "Queues appear here as soon as a worker registers one or the first task event for it arrives.",
    tasks_title: "Tasks",
    tasks_lead: "Search every task by queue, state, time, exception, host or text.",
    tasks_empty_title: "No tasks recorded yet",
    tasks_empty_body: "Each task a worker runs is recorded here with its parameters, result, exception and timings.",
    workers_title: "Workers",
    workers_lead: "Live consumers by queue and by host, from their heartbeats.",
    workers_empty_title: "No workers alive",
    workers_empty_body: "Workers show up here within one heartbeat of starting (funboost workers beat every 10 seconds).",
    workers_show_all: "Show every host",
    workers_by_queue: "By queue",
    workers_by_host: "By host",
    workers_alive: "alive",
    workers_stale: "stale",
    workers_paused: "paused",
    workers_stale_hint: "No heartbeat for over 15 s: the process is probably gone. Shown until it has been silent for",
    workers_refresh_hint: "Updated live; paused while this tab is hidden.",
    col_kind: "Kind",
    col_process: "Process",
    col_heartbeat: "Heartbeat",
    col_up_since: "Up for",
    col_done: "Done",
    col_since_start: "since start",
    col_window: "Last 10 s",
    col_avg_time: "Avg time",
    col_concurrency: "Running / limit",
    col_capabilities: "Can",
    ago: "ago",
    not_found_title: "Page not found",
    not_found_body: "There is nothing at this address.",
    back_to_overview: "Back to the overview",
    api_docs: "REST API (OpenAPI)",
    ctl_pause: "Pause",
    ctl_resume: "Resume",
    ctl_kill: "Kill",
    ctl_revoke: "Revoke",
    ctl_kill_confirm: "Kill this task? Its worker stops it now and it is recorded as killed.",
    ctl_revoke_confirm: "Revoke this task? It will not run; it is recorded as revoked.",
    ctl_failed: "Not sent:",
    ctl_retry: "Retry",
    ctl_front: "Move to front",
    bulk_label: "Command for every matching task",
    bulk_all_matching: "Apply to all matching",
    bulk_selected: "Apply to selected",
    tasks_select: "Select this task",
    tasks_select_page: "Select every task on this page",
    ctl_clear: "Clear…",
    ctl_requeue: "Requeue stranded",
    ctl_requeue_hint: "Put back the messages held by consumers that stopped heartbeating",
    ctl_clear_mismatch: "That is not the queue's name: nothing was cleared.",
    ctl_clear_prompt: "This removes every message waiting in the queue (tasks being run are left alone). Type the queue's name to confirm:",
    ctl_retry_confirm: "Publish this task's params again as a new task? This record stays as it is.",
    ctl_limits: "Limits",
    ctl_apply: "Apply",
    ctl_own: "own",
    ctl_concurrency: "Concurrency",
    ctl_delete: "Delete",
    ctl_delete_confirm: "Delete this message from the queue? It will not run; it is recorded as revoked.",
    wait_title: "Waiting messages",
    wait_lead: "In the order consumers take them. funboost records a task only when it starts: here are the ones nobody has taken yet.",
    wait_none: "No message is waiting.",
    wait_unrecorded: "no record yet",
    wait_position: "Next",
    wait_priority: "Priority",
    wait_published: "Published",
    wait_size: "Size",
    wait_select: "Select this message",
    wait_select_page: "Select every message on this page",
    wait_delete_selected: "Delete selected",
    wait_revoke_selected: "Revoke selected",
    wait_prev: "Previous",
    wait_selected: "selected",
    wait_next: "Next",
    nav_admin: "Admin",
    adm_users: "Users",
    adm_tokens: "API tokens",
    adm_audit: "Audit log",
    adm_lead: "Who may sign in, what scripts and workers may do, and everything that happened.",
    adm_only: "Only admins may see this page.",
    adm_name: "Name",
    adm_role: "Role",
    adm_created: "Created",
    adm_changed: "Changed",
    adm_scopes: "Scopes",
    adm_created_by: "Created by",
    adm_last_used: "Last used",
    adm_never: "never",
    adm_when: "Time",
    adm_actor: "Who",
    adm_action: "Action",
    adm_target: "Target",
    adm_outcome: "Outcome",
    adm_detail: "Detail",
    adm_ip: "Address",
    adm_password: "Password",
    adm_new_password: "New password (at least 8 characters)",
    adm_set_password: "Set password",
    adm_add_user: "Add user",
    adm_remove: "Remove",
    adm_remove_confirm: "Remove this user? Their sessions end at once.",
    adm_create_token: "Create token",
    adm_token_once: "Copy it now: it is shown only once.",
    adm_revoke: "Revoke",
    adm_revoke_confirm: "Revoke this token? Whatever uses it is refused from now on.",
    adm_search: "Search the log",
    adm_older: "Older",
    adm_empty: "Nothing recorded.",
    adm_saved: "Saved.",
    adm_you: "you",
    login_title: "Sign in to taskdeck",
    login_lead: "Your session lasts until you sign out or leave it unused for 12 hours.",
    login_name: "User name",
    login_password: "Password",
    login_submit: "Sign in",
    login_failed: "Wrong user name or password.",
    login_expired_form: "This form had expired; it has been renewed. Please sign in again.",
    login_signed_out: "You have signed out.",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    col_queue: "Queue",
    col_running: "Running",
    col_succeeded: "Succeeded",
    col_failed: "Failed",
    col_last_minute: "last min",
    col_last_hour: "last hour",
    col_last_seen: "Last event",
    col_task: "Task",
    col_state: "State",
    col_function: "Function",
    col_params: "Params",
    col_exception: "Exception",
    col_started: "Started",
    col_run_time: "Run time",
    col_host: "Host",
    tasks_newest: "Newest first, by start time (publish time before a task starts).",
    queues_count: "queues recorded",
    see_queues: "See queues",
    load_failed: "Could not load:",
    ov_queues: "Queues",
    ov_throughput: "Throughput",
    ov_finished_hour: "Done, last hour",
    ov_failure_rate: "Failure rate",
    ov_waiting: "Waiting",
    q_broker_note: "Part of this queue could not be read:",
    dead_title: "Dead letters",
    dead_lead: "Messages that failed every retry, set aside by funboost in the queue's dead-letter queue.",
    dead_redrive_picked: "Put back selected",
    dead_redrive_all: "Put back all",
    dead_discard_picked: "Delete selected",
    dead_discard_all: "Delete all",
    dead_redrive_all_confirm: "Put every dead letter back on the queue?",
    dead_discard_all_confirm: "Delete every dead letter? They cannot be recovered.",
    dead_discard_confirm: "Delete the selected dead letters? They cannot be recovered.",
    pub_title: "Publish a task",
    pub_lead: "A message in funboost's format, checked against the function's arguments.",
    pub_rerun: "Run again with changes",
    pub_origin: "Published from",
    pub_rerun_as: "Run again as",
    pub_required: "required",
    pub_not_json: "not a JSON value — text needs quotes, e.g. \"abc\"",
    pub_object: "the arguments are a JSON object, e.g. {\"x\": 1}",
    pub_placeholder: "a JSON value: 42, \"text\", [1, 2]",
    pub_params: "Arguments (JSON object)",
    pub_countdown: "Start in (s)",
    pub_rpc: "Wait for the result",
    pub_waiting: "Waiting for the result…",
    pub_submit: "Publish",
    pub_published: "Published as",
    pub_timed_out: "No result yet: the task may still run — follow it on its page.",
    ov_in_flight: "In flight",
    ov_consumers: "Consumers",
    ov_paused: "Paused",
    ov_oldest: "Oldest waiting",
    ov_drain: "Drains in",
    ov_stalled: "stalled",
    ov_trend: "Last 30 min",
    ov_all_projects: "All projects",
    ov_project: "Project",
    ov_live: "Live",
    ov_paused_hint: "Live updates pause while this tab is hidden.",
    ov_broker_down: "The broker did not answer: backlog, consumers and pause state are missing.",
    ov_no_consumer: "no consumer",
    ov_per_second: "/s",
    ov_done: "Done",
    ov_failed_share: "failed",
    state_pending: "pending",
    state_running: "running",
    state_success: "success",
    state_failed: "failed",
    state_killed: "killed",
    state_revoked: "revoked",
    state_expired: "expired",
    q_lead: "Throughput, latency and backlog of this queue, live.",
    q_unknown_title: "Nothing known about this queue yet",
    q_unknown_body: "It appears once a worker consumes it, a message is published to it, or an event names it. Check the spelling of the name in the address.",
    q_range: "Range",
    q_range_second: "60 s · per second",
    q_range_minute: "60 min · per minute",
    q_range_hour: "24 h · per hour",
    q_range_day: "30 days · per day",
    q_custom: "Custom",
    q_from: "From",
    q_to: "To",
    q_per: "Per",
    q_grain_second: "second",
    q_grain_minute: "minute",
    q_grain_hour: "hour",
    q_grain_day: "day",
    q_show: "Show",
    q_fixed_note: "A fixed range does not update live.",
    q_back_live: "Back to live",
    q_bad_range: "Choose a start before the end.",
    q_chart_done: "Finished tasks",
    q_chart_run: "Run time",
    q_chart_wait: "Wait time (start − publish)",
    q_success: "success",
    q_failed: "failed",
    q_other: "killed, revoked or expired",
    q_consumers: "Consumers",
    q_no_consumers: "No consumer of this queue is alive. Start a worker for it: taskdeck workers appear at once, funboost workers within one 10 s heartbeat.",
    q_params: "Parameters",
    q_params_none: "No parameters registered. funboost workers register theirs when they start (funboost_queue__consumer_parmas).",
    q_broker: "Broker",
    q_drain_hint: "Waiting messages ÷ throughput of the last 10 s",
    q_no_data: "No task finished in this range.",
    q_times_in: "Times in",
    task_missing_title: "No such task",
    task_missing_body: "taskdeck has no record with this id. Records are kept for the retention period (7 days by default); the id may also be mistyped.",
    task_timeline: "Timeline",
    task_published: "Published",
    task_started: "Started",
    task_finished: "Finished",
    task_waited: "waited",
    task_ran: "ran",
    task_times_span: "Ran several times: started is when the first attempt began, and the run time spans every attempt and the pauses between them.",
    task_retry_after: "Retry after",
    task_outcome: "Outcome",
    task_requeued: "Requeued",
    task_earlier_exception: "Exception of an earlier attempt",
    task_exception: "Exception",
    task_traceback: "Traceback",
    task_params: "Parameters",
    task_no_params: "No parameters recorded.",
    task_result: "Result",
    task_no_result: "No result recorded.",
    task_extra: "Other fields of the last event",
    live_unavailable: "Live updates stopped; the figures below may be out of date:",
    live_disconnected: "Connection to taskdeck lost; the figures below may be out of date. Reconnecting…",
    task_cut: "Cut to size when recorded; the first part is shown. Original size:",
    task_where: "Where it ran",
    task_thread: "Thread",
    task_script: "Script",
    task_consumer: "Consumer",
    task_attempts: "Attempts",
    task_updated: "Record updated",
    task_same_params: "Tasks with the same parameters",
    task_queue_tasks: "Tasks of this queue",
    task_queue_charts: "Queue charts",
    task_host_workers: "Workers on this host",
    tasks_search_placeholder: "Text in parameters, result or exception message",
    tasks_search: "Search",
    tasks_clear: "Clear",
    tasks_time: "Time",
    tasks_any_time: "Any time",
    tasks_last_15m: "Last 15 minutes",
    tasks_last_1h: "Last hour",
    tasks_last_6h: "Last 6 hours",
    tasks_last_24h: "Last 24 hours",
    tasks_last_7d: "Last 7 days",
    tasks_exception_type: "Exception type",
    tasks_task_id: "Task id or prefix",
    tasks_no_match_title: "No task matches these filters",
    tasks_no_match_body: "Widen the time range or remove a filter.",
    tasks_bad_filter: "These filters cannot be used:",
    tasks_newer: "← Newer",
    tasks_older: "Older →",
    tasks_newest_page: "Newest",
    tasks_live: "Live",
    tasks_resume: "Paused · resume",
    tasks_pause_hint: "New tasks appear here as they run. Click to hold the list still while you read it.",
    tasks_resume_hint: "The list is held. Click to show the newest tasks again.",
    tasks_export_csv: "Export CSV",
    tasks_export_hint: "Every task these filters match, newest first, up to 100,000, with whole params",
    tasks_same_exception: "Tasks of this queue with this exception",
    col_wait: "Wait",
};

static ZH: Strings = Strings {
    product_tagline: "函数消费者的实时看板与控制台",
    nav_overview: "总览",
    nav_queues: "队列",
    nav_tasks: "任务",
    nav_workers: "消费者",
    nav_failures: "失败",
    failures_title: "失败分组",
    failures_lead: "未成功结束的任务，按队列和异常分组，最常见的在前。点开一组即可查看其中的任务。",
    failures_empty_title: "此时间范围内没有失败",
    failures_empty_body: "没有任务以失败、已终止、已撤销或已过期结束。可以试试更长的时间范围。",
    col_count: "次数",
    col_trend: "趋势",
    col_first_seen: "首次",
    col_latest: "最近",
    col_sample: "最近一条信息",
    failures_all_queues: "全部队列",
    failures_filter: "显示",
    theme_to_dark: "切换到深色主题",
    theme_to_light: "切换到浅色主题",
    language: "语言",
    overview_title: "总览",
    overview_lead: "实时查看所有队列、消费者和任务。",
    system_title: "本 taskdeck 实例",
    store: "任务存储",
    bus: "控制总线",
    version: "版本",
    uptime: "运行时长",
    status_ok: "可达",
    status_down: "不可用",
    status_loading: "检查中…",
    status_unreachable: "服务器没有响应，taskdeck 是否仍在运行？",
    refresh: "重新检查",
    bus_memory: "进程内",
    bus_redis: "Redis",
    queues_title: "队列",
    queues_lead: "每个队列的吞吐量、积压、失败数和消费者。",
    queues_empty_title: "还没有队列",
    queues_empty_body: "消费者注册队列或收到该队列的第一个任务事件后，队列就会出现在这里。",
    tasks_title: "任务",
    tasks_lead: "按队列、状态、时间、异常、主机或文本搜索所有任务。",
    tasks_empty_title: "还没有任务记录",
    tasks_empty_body: "消费者执行的每个任务都会连同参数、结果、异常和耗时记录在这里。",
    workers_title: "消费者",
    workers_lead: "根据心跳按队列和主机查看在线消费者。",
    workers_empty_title: "没有在线的消费者",
    workers_empty_body:
        "消费者启动后一个心跳周期内就会出现在这里（funboost 消费者每 10 秒发送一次心跳）。",
    workers_show_all: "显示所有主机",
    workers_by_queue: "按队列",
    workers_by_host: "按主机",
    workers_alive: "在线",
    workers_stale: "失联",
    workers_paused: "已暂停",
    workers_stale_hint: "超过 15 秒没有心跳，进程可能已退出。静默超过以下时长后不再显示：",
    workers_refresh_hint: "实时更新；标签页隐藏时暂停。",
    col_kind: "类型",
    col_process: "进程",
    col_heartbeat: "心跳",
    col_up_since: "已运行",
    col_done: "已完成",
    col_since_start: "自启动",
    col_window: "最近 10 秒",
    col_avg_time: "平均耗时",
    col_concurrency: "运行 / 并发",
    col_capabilities: "支持",
    ago: "前",
    not_found_title: "页面不存在",
    not_found_body: "这个地址没有内容。",
    back_to_overview: "返回总览",
    api_docs: "REST API（OpenAPI）",
    ctl_pause: "暂停",
    ctl_resume: "恢复",
    ctl_kill: "终止",
    ctl_revoke: "撤销",
    ctl_kill_confirm: "终止此任务？工作进程会立即停止它，并记录为已终止。",
    ctl_revoke_confirm: "撤销此任务？它不会运行，并记录为已撤销。",
    ctl_failed: "未发送：",
    ctl_retry: "重试",
    ctl_front: "移到队首",
    bulk_label: "对所有匹配任务执行的命令",
    bulk_all_matching: "应用于全部匹配任务",
    bulk_selected: "应用于所选",
    tasks_select: "选择此任务",
    tasks_select_page: "选择本页全部任务",
    ctl_clear: "清空…",
    ctl_requeue: "重新入队滞留消息",
    ctl_requeue_hint: "放回已停止心跳的消费者仍占用的消息",
    ctl_clear_mismatch: "与队列名不符：未清空任何内容。",
    ctl_clear_prompt: "这会删除队列中所有等待中的消息（正在运行的任务不受影响）。输入队列名以确认：",
    ctl_retry_confirm: "以相同参数作为新任务重新发布？本记录保持不变。",
    ctl_limits: "限制",
    ctl_apply: "应用",
    ctl_own: "自身设置",
    ctl_concurrency: "并发数",
    ctl_delete: "删除",
    ctl_delete_confirm: "从队列删除此消息？它不会运行，并记录为已撤销。",
    wait_title: "等待中的消息",
    wait_lead: "按消费者取用的顺序排列。funboost 只在任务开始时记录它：这里是尚未被取走的消息。",
    wait_none: "没有等待中的消息。",
    wait_unrecorded: "尚无记录",
    wait_position: "顺序",
    wait_priority: "优先级",
    wait_published: "发布于",
    wait_size: "大小",
    wait_select: "选择此消息",
    wait_select_page: "选择本页全部消息",
    wait_delete_selected: "删除所选",
    wait_revoke_selected: "撤销所选",
    wait_prev: "上一页",
    wait_selected: "已选",
    wait_next: "下一页",
    nav_admin: "管理",
    adm_users: "用户",
    adm_tokens: "API 令牌",
    adm_audit: "审计日志",
    adm_lead: "谁可以登录、脚本与工作进程可以做什么，以及发生过的一切。",
    adm_only: "只有管理员可以查看此页。",
    adm_name: "名称",
    adm_role: "角色",
    adm_created: "创建时间",
    adm_changed: "修改时间",
    adm_scopes: "权限范围",
    adm_created_by: "创建者",
    adm_last_used: "最近使用",
    adm_never: "从未",
    adm_when: "时间",
    adm_actor: "操作者",
    adm_action: "操作",
    adm_target: "对象",
    adm_outcome: "结果",
    adm_detail: "详情",
    adm_ip: "地址",
    adm_password: "密码",
    adm_new_password: "新密码（至少 8 个字符）",
    adm_set_password: "设置密码",
    adm_add_user: "添加用户",
    adm_remove: "删除",
    adm_remove_confirm: "删除此用户？其会话将立即结束。",
    adm_create_token: "创建令牌",
    adm_token_once: "请立即复制：只显示这一次。",
    adm_revoke: "吊销",
    adm_revoke_confirm: "吊销此令牌？使用它的程序将立即被拒绝。",
    adm_search: "搜索日志",
    adm_older: "更早",
    adm_empty: "暂无记录。",
    adm_saved: "已保存。",
    adm_you: "你",
    login_title: "登录 taskdeck",
    login_lead: "会话在您退出或 12 小时未使用后结束。",
    login_name: "用户名",
    login_password: "密码",
    login_submit: "登录",
    login_failed: "用户名或密码错误。",
    login_expired_form: "表单已过期并已刷新，请重新登录。",
    login_signed_out: "您已退出登录。",
    sign_out: "退出",
    signed_in_as: "当前用户",
    col_queue: "队列",
    col_running: "运行中",
    col_succeeded: "成功",
    col_failed: "失败",
    col_last_minute: "近 1 分钟",
    col_last_hour: "近 1 小时",
    col_last_seen: "最近事件",
    col_task: "任务",
    col_state: "状态",
    col_function: "函数",
    col_params: "参数",
    col_exception: "异常",
    col_started: "开始时间",
    col_run_time: "耗时",
    col_host: "主机",
    tasks_newest: "按开始时间从新到旧排列（未开始的任务按发布时间）。",
    queues_count: "个队列有记录",
    see_queues: "查看队列",
    load_failed: "加载失败：",
    ov_queues: "队列",
    ov_throughput: "吞吐量",
    ov_finished_hour: "最近 1 小时完成",
    ov_failure_rate: "失败率",
    ov_waiting: "待处理",
    q_broker_note: "此队列有部分内容无法读取：",
    dead_title: "死信",
    dead_lead: "所有重试都失败后被 funboost 放入死信队列的消息。",
    dead_redrive_picked: "放回所选",
    dead_redrive_all: "全部放回",
    dead_discard_picked: "删除所选",
    dead_discard_all: "全部删除",
    dead_redrive_all_confirm: "将全部死信放回队列？",
    dead_discard_all_confirm: "删除全部死信？删除后无法恢复。",
    dead_discard_confirm: "删除所选死信？删除后无法恢复。",
    pub_title: "发布任务",
    pub_lead: "以 funboost 格式发送一条消息，按函数参数校验。",
    pub_rerun: "修改后重新运行",
    pub_origin: "来自任务",
    pub_rerun_as: "已重新运行为",
    pub_required: "必填",
    pub_not_json: "不是 JSON 值——文本需要加引号，如 \"abc\"",
    pub_object: "参数应为 JSON 对象，如 {\"x\": 1}",
    pub_placeholder: "JSON 值：42、\"text\"、[1, 2]",
    pub_params: "参数（JSON 对象）",
    pub_countdown: "延迟（秒）",
    pub_rpc: "等待结果",
    pub_waiting: "正在等待结果…",
    pub_submit: "发布",
    pub_published: "已发布为",
    pub_timed_out: "暂无结果：任务可能仍在运行，请在其页面查看。",
    ov_in_flight: "处理中",
    ov_consumers: "消费者",
    ov_paused: "已暂停",
    ov_oldest: "最早等待",
    ov_drain: "预估消费时间",
    ov_stalled: "停滞",
    ov_trend: "最近 30 分钟",
    ov_all_projects: "全部项目",
    ov_project: "项目",
    ov_live: "实时",
    ov_paused_hint: "标签页隐藏时暂停实时更新。",
    ov_broker_down: "broker 无响应：缺少积压、消费者和暂停状态。",
    ov_no_consumer: "无消费者",
    ov_per_second: "/秒",
    ov_done: "完成",
    ov_failed_share: "失败",
    state_pending: "等待中",
    state_running: "运行中",
    state_success: "成功",
    state_failed: "失败",
    state_killed: "已终止",
    state_revoked: "已撤销",
    state_expired: "已过期",
    q_lead: "该队列的吞吐量、耗时与积压，实时更新。",
    q_unknown_title: "暂无该队列的信息",
    q_unknown_body: "当有消费者消费它、有消息发布到它或有事件提到它时，它就会出现。请检查地址中的队列名是否拼写正确。",
    q_range: "时间范围",
    q_range_second: "60 秒 · 按秒",
    q_range_minute: "60 分钟 · 按分钟",
    q_range_hour: "24 小时 · 按小时",
    q_range_day: "30 天 · 按天",
    q_custom: "自定义",
    q_from: "开始",
    q_to: "结束",
    q_per: "粒度",
    q_grain_second: "秒",
    q_grain_minute: "分钟",
    q_grain_hour: "小时",
    q_grain_day: "天",
    q_show: "查看",
    q_fixed_note: "固定的时间范围不会实时更新。",
    q_back_live: "返回实时",
    q_bad_range: "开始时间须早于结束时间。",
    q_chart_done: "完成的任务",
    q_chart_run: "运行耗时",
    q_chart_wait: "等待耗时（开始 − 发布）",
    q_success: "成功",
    q_failed: "失败",
    q_other: "终止、撤销或过期",
    q_consumers: "消费者",
    q_no_consumers: "该队列没有在线的消费者。启动一个消费者：taskdeck 消费者立即出现，funboost 消费者在一次 10 秒心跳内出现。",
    q_params: "参数",
    q_params_none: "没有登记的参数。funboost 消费者启动时会登记参数（funboost_queue__consumer_parmas）。",
    q_broker: "中间件",
    q_drain_hint: "待处理消息数 ÷ 最近 10 秒吞吐量",
    q_no_data: "该时间范围内没有完成的任务。",
    q_times_in: "时区",
    task_missing_title: "没有这个任务",
    task_missing_body: "taskdeck 没有这个 ID 的记录。记录只保留一段时间（默认 7 天），也可能是 ID 有误。",
    task_timeline: "时间线",
    task_published: "发布",
    task_started: "开始",
    task_finished: "结束",
    task_waited: "等待",
    task_ran: "运行",
    task_times_span: "该任务运行了多次：开始时间为第一次尝试的开始时间，运行时间涵盖所有尝试及其间的等待。",
    task_retry_after: "重试前等待",
    task_outcome: "结果",
    task_requeued: "已重新入队",
    task_earlier_exception: "之前某次尝试的异常",
    task_exception: "异常",
    task_traceback: "调用栈",
    task_params: "参数",
    task_no_params: "没有记录参数。",
    task_result: "结果",
    task_no_result: "没有记录结果。",
    task_extra: "最后一个事件的其他字段",
    live_unavailable: "实时更新已停止，下方数据可能已过时：",
    live_disconnected: "与 taskdeck 的连接已断开，下方数据可能已过时。正在重新连接…",
    task_cut: "记录时已截断，仅显示开头部分。原始大小：",
    task_where: "运行位置",
    task_thread: "线程",
    task_script: "脚本",
    task_consumer: "消费者",
    task_attempts: "尝试次数",
    task_updated: "记录更新于",
    task_same_params: "参数相同的任务",
    task_queue_tasks: "该队列的任务",
    task_queue_charts: "队列图表",
    task_host_workers: "该主机上的消费者",
    tasks_search_placeholder: "参数、结果或异常信息中的文字",
    tasks_search: "搜索",
    tasks_clear: "清除",
    tasks_time: "时间",
    tasks_any_time: "不限时间",
    tasks_last_15m: "最近 15 分钟",
    tasks_last_1h: "最近 1 小时",
    tasks_last_6h: "最近 6 小时",
    tasks_last_24h: "最近 24 小时",
    tasks_last_7d: "最近 7 天",
    tasks_exception_type: "异常类型",
    tasks_task_id: "任务 ID 或前缀",
    tasks_no_match_title: "没有符合这些条件的任务",
    tasks_no_match_body: "请扩大时间范围或去掉一些条件。",
    tasks_bad_filter: "这些条件无法使用：",
    tasks_newer: "← 较新",
    tasks_older: "较旧 →",
    tasks_newest_page: "最新",
    tasks_live: "实时",
    tasks_resume: "已暂停 · 继续",
    tasks_pause_hint: "新任务运行时会出现在这里。点击可暂停列表，方便阅读。",
    tasks_resume_hint: "列表已暂停。点击再次显示最新任务。",
    tasks_export_csv: "导出 CSV",
    tasks_export_hint: "导出符合这些条件的所有任务（从新到旧，最多 100,000 个，参数完整）",
    tasks_same_exception: "该队列中有此异常的任务",
    col_wait: "等待",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_highest_quality_supported_language() {
        assert_eq!(
            Locale::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Locale::Zh
        );
        assert_eq!(
            Locale::from_accept_language("fr-FR, en;q=0.5, zh;q=0.4"),
            Locale::En
        );
        assert_eq!(Locale::from_accept_language("de-DE"), Locale::En);
        assert_eq!(Locale::from_accept_language(""), Locale::En);
    }

    #[test]
    fn task_counts_say_when_counting_stopped() {
        use protocol::task::TaskTotal;
        let total = |count, more| TaskTotal { count, more };
        assert_eq!(Locale::En.task_count(total(1, false)), "1 task");
        assert!(Locale::En
            .search_stopped(50_000, "2026-11-23 10:00:00")
            .contains("newest 50,000 tasks of these filters, back to 2026-11-23 10:00:00"));
        assert_eq!(Locale::En.task_count(total(1234, false)), "1,234 tasks");
        assert_eq!(
            Locale::En.task_count(total(10_000, true)),
            "more than 10,000 tasks"
        );
        assert_eq!(
            Locale::Zh.task_count(total(10_000, true)),
            "超过 10,000 个任务"
        );
    }

    #[test]
    fn durations_use_the_two_largest_units() {
        assert_eq!(Locale::En.duration(7), "7s");
        assert_eq!(Locale::En.duration(250), "4m 10s");
        assert_eq!(Locale::En.duration(7_500), "2h 5m");
        assert_eq!(Locale::En.duration(300), "5m");
        assert_eq!(Locale::En.duration(86_400), "1d");
        assert_eq!(Locale::En.duration(3 * 86_400 + 4 * 3_600 + 9), "3d 4h");
        assert_eq!(Locale::Zh.duration(7_500), "2小时5分");
    }

    #[test]
    fn codes_round_trip() {
        for l in Locale::ALL {
            assert_eq!(Locale::from_code(l.code()), Some(l));
        }
        assert_eq!(Locale::from_code("xx"), None);
    }

    #[test]
    fn command_states_read_as_sentences_in_both_languages() {
        use protocol::control::{Action, Command, CommandState, Outcome};
        let c = |action, state, applied, confirmable, funboost, outcome: Option<Outcome>| Command {
            id: "c".into(),
            action,
            queue: "q".into(),
            task_id: None,
            actor: "user:a".into(),
            requested_at: 1.0,
            sent_at: Some(1.0),
            version: Some(1),
            state,
            applied,
            confirmable,
            funboost,
            done_at: None,
            outcome,
            detail: String::new(),
            ended_as: None,
        };
        let en = Locale::En;
        assert_eq!(
            en.command_status(&c(Action::Pause, CommandState::Applied, 2, 2, 0, None)),
            "Paused — applied by 2 of 2 consumers"
        );
        assert_eq!(
            en.command_status(&c(Action::Pause, CommandState::Sent, 0, 0, 1, None)),
            "Pause sent; 1 funboost consumer(s) read the flag within their 10 s heartbeat, and one more task may start"
        );
        assert_eq!(
            en.command_status(&c(Action::Resume, CommandState::Sent, 0, 0, 0, None)),
            "Resume sent: no live consumer, it applies when one starts"
        );
        assert_eq!(
            en.command_status(&c(Action::Limits, CommandState::Applied, 1, 1, 1, Some(Outcome::Limits { qps: Some(5.0), concurrency: None }))),
            "New limits applied (qps 5, concurrency own) — applied by 1 of 1 consumers; 1 funboost consumer(s) keep theirs: funboost reads qps and concurrency only at start"
        );
        assert_eq!(
            en.command_status(&c(
                Action::Clear,
                CommandState::Applied,
                0,
                0,
                0,
                Some(Outcome::Cleared { removed: 4 })
            )),
            "Cleared: 4 waiting messages removed"
        );
        assert_eq!(
            Locale::Zh.command_status(&c(
                Action::Priority,
                CommandState::Applied,
                0,
                0,
                0,
                Some(Outcome::Moved {
                    front: false,
                    priority: Some(3.0)
                })
            )),
            "已移动：优先级 3"
        );
        let mut legacy = c(Action::Requeue, CommandState::Applied, 0, 0, 0, None);
        legacy.detail = "2 stranded messages put back".into();
        assert_eq!(
            en.command_status(&legacy),
            "Requeued: 2 stranded messages put back"
        );
        let mut late = c(Action::Kill, CommandState::Failed, 0, 0, 0, None);
        late.detail = "the task ended success before the command took effect".into();
        late.ended_as = Some(protocol::event::TaskState::Success);
        assert_eq!(
            Locale::Zh.command_status(&late),
            format!(
                "未生效：任务已先以「{}」结束",
                Locale::Zh.state(protocol::event::TaskState::Success)
            )
        );
        let mut unsent = c(Action::Pause, CommandState::Failed, 0, 0, 0, None);
        unsent.sent_at = None;
        unsent.detail = "redis: connection refused".into();
        assert_eq!(
            en.command_status(&unsent),
            "Not sent: redis: connection refused"
        );
    }
}
