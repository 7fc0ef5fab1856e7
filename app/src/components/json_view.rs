//! JSON as a collapsible tree (native `<details>`, so it folds before the page is
//! interactive). The text is untrusted — task params and results — so every key and value
//! becomes a text node, never markup.

use leptos::prelude::*;
use serde_json::Value;

/// Larger documents are shown as text: a tree of thousands of nodes helps nobody.
const TREE_MAX_BYTES: usize = 64 * 1024;
/// Levels unfolded at first.
const OPEN_DEPTH: usize = 2;

#[component]
pub fn JsonView(text: String, test: &'static str) -> impl IntoView {
    let parsed = (text.len() <= TREE_MAX_BYTES)
        .then(|| serde_json::from_str::<Value>(&text).ok())
        .flatten()
        .filter(|v| v.is_object() || v.is_array());
    match parsed {
        Some(v) => {
            view! { <div class="json" data-testid=test>{node(None, &v, 0)}</div> }.into_any()
        }
        None => {
            view! { <pre class="json json-raw" data-testid=test>{pretty(&text)}</pre> }.into_any()
        }
    }
}

/// Indented JSON when it parses, else the text as it is.
fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

fn node(key: Option<String>, v: &Value, depth: usize) -> AnyView {
    let label = key.map(|k| view! { <span class="json-key">{k}</span> ": " });
    let branch = |label, summary: String, children: Vec<AnyView>| {
        view! {
            <details open=depth < OPEN_DEPTH>
                <summary>{label} <span class="json-meta">{summary}</span></summary>
                <ul>{children.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul>
            </details>
        }
        .into_any()
    };
    match v {
        Value::Object(map) if !map.is_empty() => branch(
            label,
            format!("{{{}}}", map.len()),
            map.iter()
                .map(|(k, v)| node(Some(k.clone()), v, depth + 1))
                .collect(),
        ),
        Value::Array(items) if !items.is_empty() => branch(
            label,
            format!("[{}]", items.len()),
            items
                .iter()
                .enumerate()
                .map(|(i, v)| node(Some(i.to_string()), v, depth + 1))
                .collect(),
        ),
        leaf => {
            let class = match leaf {
                Value::String(_) => "json-str",
                Value::Number(_) => "json-num",
                Value::Bool(_) => "json-bool",
                _ => "json-null",
            };
            view! { <span class="json-leaf">{label}<span class=class>{leaf.to_string()}</span></span> }
                .into_any()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_stays_text() {
        let html = view! { <JsonView text=r#"{"<b>k</b>": "<script>alert(1)</script>", "n": [1, true, null]}"#.into() test="x"/> }
            .to_html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("json-bool"), "{html}");
    }

    #[test]
    fn text_that_is_not_a_document_is_shown_as_it_is() {
        let html = view! { <JsonView text="not json <i>".into() test="x"/> }.to_html();
        assert!(
            html.contains("json-raw") && html.contains("not json &lt;i&gt;"),
            "{html}"
        );
        let html = view! { <JsonView text=r#""just a string""#.into() test="x"/> }.to_html();
        assert!(html.contains("json-raw"), "{html}");
    }
}
