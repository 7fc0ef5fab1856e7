//! Links to a queue's and a task's page, their names percent-encoded.

use leptos::prelude::*;
use leptos_router::components::A;

/// The path of a queue's page, its name percent-encoded as one path segment.
pub fn queue_href(queue: &str) -> String {
    format!("/queues/{}", encode(queue))
}

/// `s` percent-encoded for a path segment or a query value: unreserved characters kept.
pub use protocol::rest::segment as encode;

/// The path of a task's page.
pub fn task_href(task_id: &str) -> String {
    format!("/tasks/{}", encode(task_id))
}

/// A queue's name, linking to its page.
#[component]
pub fn QueueLink(queue: String) -> impl IntoView {
    view! { <A href=queue_href(&queue) attr:class="queue-link">{queue}</A> }
}

/// A task's id, linking to its page.
#[component]
pub fn TaskLink(task_id: String) -> impl IntoView {
    view! { <A href=task_href(&task_id) attr:class="task-link mono">{task_id}</A> }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_one_encoded_segment() {
        assert_eq!(
            super::queue_href("orders_v2.fast"),
            "/queues/orders_v2.fast"
        );
        assert_eq!(
            super::queue_href("a/b c:中"),
            "/queues/a%2Fb%20c%3A%E4%B8%AD"
        );
        assert_eq!(
            super::task_href("q_result:5f/0e"),
            "/tasks/q_result%3A5f%2F0e"
        );
    }
}
