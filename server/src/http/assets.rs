//! The built web assets (`target/site`): served by a file service of their own, outside the
//! gate, that can only ever answer with a file under its folder or 404 — never a page.
//!
//! `scripts/build-site.sh` names the bundle's files by their content (`taskdeck.<hash>.js`,
//! `.wasm`, `.css`, `vendor/echarts.<hash>.min.js`) and lists the hashes in `pkg/hash.txt`;
//! such files never change, so browsers keep them a year without asking again. It also writes
//! brotli and gzip siblings (`.br`, `.gz`), sent to browsers that accept them.

use app::assets::AssetNames;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use http::header::CACHE_CONTROL;
use http::HeaderValue;
use std::path::{Path, PathBuf};
use tower_http::services::{ServeDir, ServeFile};

/// The hashes file the build writes (leptos reads it too, for the bundle's names).
pub const HASH_FILE: &str = "hash.txt";

/// Where the site's files are and what the build named them.
#[derive(Clone, Debug)]
pub struct Site {
    pub root: PathBuf,
    pub names: AssetNames,
    /// The hashes file, when the build fingerprinted the bundle.
    pub hash_file: Option<PathBuf>,
}

impl Site {
    /// Reads the names the build gave the files under `root`; without a hashes file (a site
    /// built by other means, or none at all) the plain names.
    pub fn load(root: &Path) -> Site {
        let hash_file = root.join("pkg").join(HASH_FILE);
        let hashes = std::fs::read_to_string(&hash_file).unwrap_or_default();
        let hash = |kind: &str| {
            hashes.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == kind).then(|| v.trim().to_owned())
            })
        };
        let named = |dir: &str, stem: &str, ext: &str, kind: &str| match hash(kind) {
            Some(h) => format!("/{dir}/{stem}.{h}.{ext}"),
            None => format!("/{dir}/{stem}.{ext}"),
        };
        let fingerprinted = hash("js").is_some() && hash("wasm").is_some();
        Site {
            root: root.to_owned(),
            names: AssetNames {
                css: named("pkg", "taskdeck", "css", "css"),
                echarts: named("vendor", "echarts", "min.js", "echarts"),
            },
            hash_file: fingerprinted
                .then(|| std::path::absolute(&hash_file).unwrap_or(hash_file.clone())),
        }
    }

    /// The routes of the assets: `/pkg/…`, `/vendor/…`, `/favicon.svg`.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let dir = |name: &str| {
            ServeDir::new(self.root.join(name))
                .precompressed_br()
                .precompressed_gzip()
                .append_index_html_on_directories(false)
        };
        Router::new()
            .nest_service("/pkg", dir("pkg"))
            .nest_service("/vendor", dir("vendor"))
            .route_service(
                "/favicon.svg",
                ServeFile::new(self.root.join("favicon.svg")),
            )
            .layer(axum::middleware::from_fn(cache_control))
    }
}

/// Whether a file name carries a content hash (`name.<16 hex digits>.ext`).
pub fn fingerprinted(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    file.split('.')
        .any(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Fingerprinted files are kept a year; the others are revalidated (`Last-Modified`, 304).
async fn cache_control(req: Request, next: Next) -> Response {
    let immutable = fingerprinted(req.uri().path());
    let mut response = next.run(req).await;
    if response.status().is_success() || response.status() == http::StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(
            CACHE_CONTROL,
            HeaderValue::from_static(if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_names_are_read_from_its_hashes_file() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Site::load(dir.path());
        assert_eq!(plain.names.css, "/pkg/taskdeck.css");
        assert_eq!(plain.hash_file, None);
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(
            dir.path().join("pkg/hash.txt"),
            "js: 0123456789abcdef\nwasm: 1123456789abcdef\ncss: 2123456789abcdef\n\
             echarts: 3123456789abcdef\n",
        )
        .unwrap();
        let site = Site::load(dir.path());
        assert_eq!(site.names.css, "/pkg/taskdeck.2123456789abcdef.css");
        assert_eq!(
            site.names.echarts,
            "/vendor/echarts.3123456789abcdef.min.js"
        );
        assert!(site.hash_file.unwrap().is_absolute());
        assert!(fingerprinted("/pkg/taskdeck.0123456789abcdef.wasm"));
        assert!(!fingerprinted("/favicon.svg") && !fingerprinted("/pkg/taskdeck.css"));
    }
}
