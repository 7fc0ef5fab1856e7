//! What both store families share about lists of tasks: how a page is read, its cursors, and
//! the bound of a text search outside the index.

use protocol::task::{Cursor, PageAt, SearchStop, TaskPage, TaskSummary, TaskTotal};
use std::sync::atomic::{AtomicU32, Ordering};

pub use protocol::cut;

static SCAN_BUDGET: AtomicU32 = AtomicU32::new(protocol::task::DEFAULT_SCAN_BUDGET);

/// Tasks a text search outside the text index reads per page (`search_scan` setting).
pub fn scan_budget() -> u32 {
    SCAN_BUDGET.load(Ordering::Relaxed)
}

pub fn set_scan_budget(n: u32) {
    SCAN_BUDGET.store(n.max(1), Ordering::Relaxed);
}

/// Longest params text a list row carries.
pub const PARAMS_PREVIEW: usize = 512;

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The page of `tasks` (newest first, at most a page; `more` when another followed in the
/// reading direction): its cursors, and where a bounded search that found less than a page
/// stopped. `key` is a task's place in the store's order.
pub fn finish_page(
    tasks: Vec<TaskSummary>,
    at: &PageAt,
    more: bool,
    bound: Option<Cursor>,
    total: Option<TaskTotal>,
    key: impl Fn(&TaskSummary) -> Cursor,
) -> TaskPage {
    let cursor = |t: &TaskSummary| key(t).encode();
    // A bounded search that found less than a page stopped at its bound: the next page in the
    // same direction starts past it.
    let stopped = bound.filter(|_| !more);
    let stop_at = stopped.as_ref().map(|b| SearchStop {
        read: scan_budget(),
        at: b.sort_time,
    });
    let stop = stopped.map(|b| b.encode());
    // Older pages exist past the last row when the query hit its limit going older, or always
    // when we came from older pages; symmetrically for newer.
    let older = match at {
        PageAt::Newer(_) => tasks.last().map(cursor),
        _ if more => tasks.last().map(cursor),
        _ => stop.clone(),
    };
    let newer = match at {
        PageAt::First => None,
        PageAt::Older(_) => tasks.first().map(cursor),
        PageAt::Newer(_) if more => tasks.first().map(cursor),
        PageAt::Newer(_) => stop,
    };
    TaskPage {
        tasks,
        older,
        newer,
        total,
        stopped: stop_at,
    }
}

/// What a page of tasks is read for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// A page to look at: params cut to [`PARAMS_PREVIEW`], the first page counted.
    Page,
    /// A page of an export: whole params, never counted.
    Export,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn previews_cut_on_character_boundaries() {
        let s = "日".repeat(300);
        let c = cut(s, PARAMS_PREVIEW);
        assert!(c.len() <= PARAMS_PREVIEW + '…'.len_utf8());
        assert!(c.ends_with('…'));
    }
}
