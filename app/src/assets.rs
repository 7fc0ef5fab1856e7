//! What the document shell links to, and the content security policy of the pages.

/// Where the stylesheet and the chart library are: the build names them by their content
/// (`/pkg/taskdeck.<hash>.css`), the server reads the names at start and provides them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetNames {
    pub css: String,
    pub echarts: String,
}

impl Default for AssetNames {
    fn default() -> Self {
        AssetNames {
            css: "/pkg/taskdeck.css".into(),
            echarts: "/vendor/echarts.min.js".into(),
        }
    }
}

/// The policy of a server-rendered page: scripts from taskdeck itself and the inline ones of
/// this answer's hydration (`nonce`), the wasm module, styles from taskdeck (plus `style`
/// attributes, which cannot run code), data from taskdeck only, no framing, no plugins.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sends the page policy with the nonce leptos put on this answer's inline scripts.
#[cfg(feature = "ssr")]
pub fn send_page_policy() {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = http::HeaderValue::from_str(&page_policy(&nonce)) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}
