//! The service layer: what the REST API and the UI's server functions both call.

use crate::bus::Bus;
use crate::store::Store;
use app::backend::Backend;
use async_trait::async_trait;
use protocol::{Check, Health, HealthChecks, HealthStatus, VersionInfo};
use std::future::Future;
use std::time::Instant;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Version of the REST API and event format this build speaks.
pub const API_VERSION: &str = "v1";

pub struct Services {
    pub store: Store,
    pub bus: Bus,
    started: Instant,
}

impl Services {
    pub fn new(store: Store, bus: Bus) -> Services {
        Services {
            store,
            bus,
            started: Instant::now(),
        }
    }
}

async fn check(probe: impl Future<Output = Result<(), String>>) -> Check {
    let start = Instant::now();
    let result = probe.await;
    let latency_ms = (start.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    match result {
        Ok(()) => Check {
            status: HealthStatus::Ok,
            latency_ms,
            error: None,
        },
        Err(e) => Check {
            status: HealthStatus::Down,
            latency_ms,
            error: Some(e),
        },
    }
}

#[async_trait]
impl Backend for Services {
    async fn health(&self) -> Health {
        let (store, bus) = tokio::join!(check(self.store.ping()), check(self.bus.ping()));
        Health::new(
            self.store.kind(),
            self.bus.kind(),
            VERSION.to_owned(),
            self.started.elapsed().as_secs(),
            HealthChecks { store, bus },
        )
    }

    fn version(&self) -> VersionInfo {
        VersionInfo {
            name: "taskdeck".into(),
            version: VERSION.into(),
            api: API_VERSION.into(),
        }
    }
}
