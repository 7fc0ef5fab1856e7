//! `taskdeck serve`: open the store and the bus, serve HTTP, stop cleanly on SIGTERM/SIGINT.

use crate::bus::Bus;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::ingest::redis_stream::StreamSource;
use crate::ingest::{BatchConfig, Ingest};
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
    crate::auth::ensure_admin(&store, settings.admin_password.as_deref())
        .await
        .context("cannot set up the admin account")?;
    let auth = Arc::new(crate::auth::Auth::new(
        store.clone(),
        settings.secure_cookies,
    ));
    let bus = Bus::open(settings.redis.as_deref(), settings.rpc_db)
        .context("cannot set up the Redis bus")?;
    let (ingest, batcher) =
        Ingest::start(store.clone(), BatchConfig::default(), Default::default());
    let shutdown = CancellationToken::new();
    tokio::spawn(auth.clone().run(shutdown.clone()));
    let stream_source = match &settings.redis {
        Some(url) => {
            let source = StreamSource::new(
                redis::Client::open(url.as_str())?,
                ingest.clone(),
                consumer_name(),
            )?;
            Some(tokio::spawn(source.run(shutdown.clone())))
        }
        None => None,
    };
    let demo = settings.demo.then(|| {
        tracing::info!(queues = ?crate::demo::QUEUES, "demo fleet running (turn it off with --no-demo)");
        let sink = std::sync::Arc::new(crate::ingest::memory::IngestSink(ingest.clone()));
        let (emitter, flushed) = taskdeck_worker::Emitter::start(sink);
        let broker = bus.broker();
        let memory = match &bus {
            Bus::Memory(m) => Some(m.clone()),
            Bus::Redis(..) => None,
        };
        let stop = shutdown.clone();
        let fleet = tokio::spawn(async move {
            crate::demo::run(broker, emitter.clone(), stop).await;
            if let Some(memory) = memory {
                let n = crate::demo::discard(&memory, &emitter).await;
                tracing::info!(tasks = n, "waiting demo tasks recorded as revoked (their in-process queues end with taskdeck)");
            }
        });
        (fleet, flushed)
    });
    let pruner = tokio::spawn(crate::store::retention::run(
        store.clone(),
        settings.retention,
        shutdown.clone(),
    ));
    let services = Arc::new(Services::new(
        store.clone(),
        bus,
        ingest,
        settings.worker_drop_after,
    ));

    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| {
            format!(
            "cannot listen on {}: is another taskdeck running? choose another address with --bind",
            settings.bind
        )
        })?;
    let addr = listener.local_addr()?;
    let site = crate::http::assets::Site::load(&settings.site_root);
    let leptos_options = LeptosOptions::builder()
        .output_name("taskdeck")
        .site_root(settings.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        // Absolute: leptos joins it to the binary's folder.
        .hash_files(site.hash_file.is_some())
        .hash_file(std::sync::Arc::<str>::from(
            site.hash_file.as_ref().map_or_else(
                || "hash.txt".to_owned(),
                |p| p.to_string_lossy().into_owned(),
            ),
        ))
        .build();
    let live = crate::live::Live::start(
        services.clone(),
        services.ingest.metrics.clone(),
        settings
            .redis
            .as_deref()
            .map(redis::Client::open)
            .transpose()?,
        consumer_name(),
        shutdown.clone(),
    );
    let app = http::router(AppState {
        leptos_options,
        services,
        live,
        auth,
        site,
        trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
    });

    tokio::spawn(wait_for_signal(shutdown.clone()));
    tracing::info!(addr = %addr, url = %format!("http://{addr}"), "taskdeck is ready: open http://{addr}");

    // Pages stream in several small writes: without TCP_NODELAY each one on a kept-alive
    // connection waited for the browser's delayed ACK (8 ms page loads became 48 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
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
    if let Some(source) = stream_source {
        let _ = source.await;
    }
    if let Some((fleet, flushed)) = demo {
        let _ = fleet.await;
        let _ = flushed.await;
    }
    let _ = pruner.await;
    // Every ingest handle is gone now: the batcher writes what is waiting and ends.
    match tokio::time::timeout(SHUTDOWN_GRACE, batcher).await {
        Ok(_) => tracing::info!("pending events written"),
        Err(_) => tracing::warn!(
            "the store did not take the last events in time; unacknowledged sources will resend"
        ),
    }
    store.close().await;
    tracing::info!("taskdeck stopped");
    Ok(())
}

/// This instance's name in the Redis consumer group: host and process, unique while it runs.
fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "taskdeck".into());
    format!("{host}-{}", std::process::id())
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    crate::store::set_scan_budget(settings.search_scan);
    let deadline = tokio::time::Instant::now() + STORE_START_DEADLINE;
    loop {
        match Store::open(&settings.store, settings.retention).await {
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
    let bundle = site_root.join("pkg").join(crate::http::assets::HASH_FILE);
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
