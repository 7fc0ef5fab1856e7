//! `taskdeck serve`: open the store and the bus, serve HTTP, stop cleanly on SIGTERM/SIGINT.

use crate::bus::Bus;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::services::Services;
use crate::store::Store;
use anyhow::Context;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the store may keep refusing connections at start before taskdeck gives up.
const STORE_START_DEADLINE: Duration = Duration::from_secs(15);
/// In-flight requests get this long to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    tracing::info!(
        version = crate::services::VERSION,
        store = %settings.store,
        bus = if settings.redis.is_some() { "redis" } else { "memory" },
        "starting taskdeck"
    );
    check_site_assets(&settings.site_root);

    let store = open_store(&settings).await?;
    let bus = Bus::open(settings.redis.as_deref()).context("cannot set up the Redis bus")?;
    let services = Arc::new(Services::new(store.clone(), bus));

    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| {
            format!(
            "cannot listen on {}: is another taskdeck running? choose another address with --bind",
            settings.bind
        )
        })?;
    let addr = listener.local_addr()?;
    let leptos_options = LeptosOptions::builder()
        .output_name("taskdeck")
        .site_root(settings.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let app = http::router(AppState {
        leptos_options,
        services,
    });

    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    tracing::info!(addr = %addr, url = %format!("http://{addr}"), "taskdeck is ready: open http://{addr}");

    let server =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let server = tokio::spawn(async move { server.await });
    shutdown.cancelled().await;
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(joined) => joined
            .context("HTTP server task failed")?
            .context("HTTP server failed")?,
        Err(_) => tracing::warn!(
            grace_s = SHUTDOWN_GRACE.as_secs(),
            "requests still open after the grace period; closing them"
        ),
    }
    store.close().await;
    tracing::info!("taskdeck stopped");
    Ok(())
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let deadline = tokio::time::Instant::now() + STORE_START_DEADLINE;
    loop {
        match Store::open(&settings.store).await {
            Ok(store) => {
                tracing::info!(store = %settings.store, "store ready, schema up to date");
                return Ok(store);
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(store = %settings.store, error = %e, "store not ready, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                return Err(e.context(format!(
                    "cannot open the store {} (gave up after {} s)",
                    settings.store,
                    STORE_START_DEADLINE.as_secs()
                )))
            }
        }
    }
}

/// Without the built bundle the pages still render on the server but never become
/// interactive; say so at start instead of leaving a half-working UI to be discovered.
fn check_site_assets(site_root: &std::path::Path) {
    let bundle = site_root.join("pkg").join("taskdeck.js");
    if !bundle.is_file() {
        tracing::warn!(
            expected = %bundle.display(),
            "web UI bundle not found: pages will not be interactive; build it with `make build` or set --site-root"
        );
    }
}

async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("interrupt received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
    shutdown.cancel();
}
