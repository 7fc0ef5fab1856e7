//! Health and version reports served by `/healthz` and `/api/v1/version`.

use serde::{Deserialize, Serialize};

/// Which task store a taskdeck instance writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// SQLite, the embedded store.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MongoDB, in funboost's layout.
    Mongodb,
}

impl StoreKind {
    /// The kind's name in health reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
            StoreKind::Mongodb => "mongodb",
        }
    }
}

/// How commands and live events travel between taskdeck instances and workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// In-process channel: one taskdeck process, embedded workers.
    Memory,
    /// Redis: workers' queues and flags, and the other instances.
    Redis,
}

impl BusKind {
    /// The kind's name in health reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            BusKind::Memory => "memory",
            BusKind::Redis => "redis",
        }
    }
}

/// Whether a dependency, or the whole instance, is usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// It answered.
    Ok,
    /// It did not answer in time, or refused.
    Down,
}

/// The reachability of one dependency, measured by a round trip when the report was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    /// Whether it answered.
    pub status: HealthStatus,
    /// Round-trip time of the probe in milliseconds.
    pub latency_ms: f64,
    /// Why the dependency is down, or `None` when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    /// Whether the dependency answered.
    pub fn is_ok(&self) -> bool {
        self.status == HealthStatus::Ok
    }
}

/// Body of `GET /healthz`: `status` is `ok` only when every dependency answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` when every dependency answered.
    pub status: HealthStatus,
    /// The store this instance writes to.
    pub store: StoreKind,
    /// The bus this instance uses.
    pub bus: BusKind,
    /// taskdeck's version.
    pub version: String,
    /// Seconds since this process started serving.
    pub uptime_s: u64,
    /// Each dependency's probe.
    pub checks: HealthChecks,
}

/// The probe of each dependency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthChecks {
    /// The task store.
    pub store: Check,
    /// The bus (Redis, or the in-process broker).
    pub bus: Check,
}

impl Health {
    /// The report; its status is `ok` only when both checks are.
    pub fn new(
        store: StoreKind,
        bus: BusKind,
        version: String,
        uptime_s: u64,
        checks: HealthChecks,
    ) -> Self {
        let status = if checks.store.is_ok() && checks.bus.is_ok() {
            HealthStatus::Ok
        } else {
            HealthStatus::Down
        };
        Health {
            status,
            store,
            bus,
            version,
            uptime_s,
            checks,
        }
    }
}

/// Body of `GET /api/v1/version`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    /// `taskdeck`.
    pub name: String,
    /// This build's version.
    pub version: String,
    /// Highest event-format version this build accepts.
    pub api: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ok: bool) -> Check {
        Check {
            status: if ok {
                HealthStatus::Ok
            } else {
                HealthStatus::Down
            },
            latency_ms: 0.1,
            error: (!ok).then(|| "connection refused".into()),
        }
    }

    #[test]
    fn overall_status_is_down_when_any_dependency_is_down() {
        let h = |s, b| {
            Health::new(
                StoreKind::Sqlite,
                BusKind::Redis,
                "0".into(),
                0,
                HealthChecks {
                    store: check(s),
                    bus: check(b),
                },
            )
            .status
        };
        assert_eq!(h(true, true), HealthStatus::Ok);
        assert_eq!(h(false, true), HealthStatus::Down);
        assert_eq!(h(true, false), HealthStatus::Down);
    }

    #[test]
    fn serialises_with_lowercase_kinds_and_omits_absent_errors() {
        let health = Health::new(
            StoreKind::Sqlite,
            BusKind::Memory,
            "0.1.0".into(),
            3,
            HealthChecks {
                store: check(true),
                bus: check(true),
            },
        );
        let v = serde_json::to_value(&health).unwrap();
        assert_eq!(v["status"], "ok");
        assert_eq!(v["store"], "sqlite");
        assert_eq!(v["bus"], "memory");
        assert!(v["checks"]["store"].get("error").is_none());
    }
}
