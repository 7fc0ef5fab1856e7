//! Settings: command-line flags, then `TASKDECK_*` environment variables, then the optional
//! TOML file, then defaults. Every value is validated at start and a bad one names the setting,
//! where it came from and the form it must take.

use clap::Args;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

pub const DEFAULT_BIND: &str = "127.0.0.1:3000";
pub const DEFAULT_STORE: &str = "sqlite:./data/taskdeck.db";
pub const DEFAULT_SITE_ROOT: &str = "target/site";

/// Flags of `taskdeck serve`. Each one falls back to the environment variable named in its help.
#[derive(Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys: bind, store, redis, log, log_format, retention,
    /// site_root, demo, worker_drop_after, search_scan, secure_cookies, trusted_proxies)
    /// [env: TASKDECK_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free one [env: TASKDECK_BIND] [default: 127.0.0.1:3000]
    #[arg(long, value_name = "HOST:PORT")]
    pub bind: Option<String>,
    /// Task store: sqlite:PATH, postgres://… or mongodb://… [env: TASKDECK_STORE]
    /// [default: sqlite:./data/taskdeck.db]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Redis for the control bus and ingest stream (redis://… or redis+unix://…); without it the
    /// bus is in-process [env: TASKDECK_REDIS]
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Log level or filter, e.g. info or info,server=debug [env: TASKDECK_LOG] [default: info]
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format: human or json [env: TASKDECK_LOG_FORMAT] [default: human]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Directory with the built web assets (pkg/, favicon) [env: TASKDECK_SITE_ROOT, then
    /// LEPTOS_SITE_ROOT] [default: target/site]
    #[arg(long, value_name = "DIR")]
    pub site_root: Option<PathBuf>,
    /// How long task records and dead letters are kept, e.g. 7d, 36h [env: TASKDECK_RETENTION]
    /// [default: 7d]. Chart counters are kept longer: seconds 2 h, minutes 3 d, hours 90 d,
    /// days 5 years
    #[arg(long, value_name = "DURATION")]
    pub retention: Option<String>,
    /// Run the demo fleet: in-process workers on four queues producing real tasks
    /// [env: TASKDECK_DEMO=true|false] [default: on without --redis, off with it]
    #[arg(long, conflicts_with = "no_demo")]
    pub demo: bool,
    /// Do not run the demo fleet
    #[arg(long)]
    pub no_demo: bool,
    /// How long a consumer that stopped heartbeating stays on the workers page, marked stale,
    /// e.g. 5m [env: TASKDECK_WORKER_DROP_AFTER] [default: 5m; at least 15s, funboost's alive
    /// window]
    #[arg(long, value_name = "DURATION")]
    pub worker_drop_after: Option<String>,
    /// Tasks a text search reads per page where the text index does not serve it (successful,
    /// running and pending tasks; every search on MongoDB) before it stops and says so
    /// [env: TASKDECK_SEARCH_SCAN] [default: 50000; at least 100]
    #[arg(long, value_name = "TASKS")]
    pub search_scan: Option<String>,
    /// Mark the session cookie Secure (sent over HTTPS only): set it when users reach taskdeck
    /// through TLS, e.g. behind a reverse proxy [env: TASKDECK_SECURE_COOKIES=true|false]
    /// [default: false]. The admin password is never a flag: see TASKDECK_ADMIN_PASSWORD
    #[arg(long)]
    pub secure_cookies: bool,
    /// Reverse proxies whose Forwarded / X-Forwarded-For headers name the client, as
    /// addresses or networks, e.g. 10.0.0.0/8,127.0.0.1 [env: TASKDECK_TRUSTED_PROXIES]
    /// [default: none: the peer is the client]
    #[arg(long, value_name = "CIDR,…")]
    pub trusted_proxies: Option<String>,
}

/// The optional TOML file; unknown keys are errors, not silently ignored typos.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    store: Option<String>,
    redis: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    site_root: Option<PathBuf>,
    retention: Option<String>,
    demo: Option<bool>,
    worker_drop_after: Option<String>,
    search_scan: Option<u32>,
    secure_cookies: Option<bool>,
    trusted_proxies: Option<String>,
}

/// Environment variables taskdeck reads; any other `TASKDECK_*` variable is a mistake.
const ENV_VARS: [&str; 14] = [
    "TASKDECK_ADMIN_PASSWORD",
    "TASKDECK_TRUSTED_PROXIES",
    "TASKDECK_SECURE_COOKIES",
    "TASKDECK_RETENTION",
    "TASKDECK_SEARCH_SCAN",
    "TASKDECK_WORKER_DROP_AFTER",
    "TASKDECK_DEMO",
    "TASKDECK_CONFIG",
    "TASKDECK_BIND",
    "TASKDECK_STORE",
    "TASKDECK_REDIS",
    "TASKDECK_LOG",
    "TASKDECK_LOG_FORMAT",
    "TASKDECK_SITE_ROOT",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(String),
    Postgres(String),
    Mongodb(String),
}

impl StoreUrl {
    fn parse(v: &str) -> Result<StoreUrl, String> {
        let expected = "expected sqlite:PATH, postgres://USER@HOST/DB or mongodb://HOST[:PORT]";
        if let Some(path) = v.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            let file = path.split('?').next().unwrap_or_default();
            if file.is_empty() || file == ":memory:" {
                return Err(format!("{expected}; the SQLite store needs a file path"));
            }
            sqlx::sqlite::SqliteConnectOptions::from_str(v)
                .map_err(|e| format!("{e}; {expected}"))?;
            Ok(StoreUrl::Sqlite(v.to_owned()))
        } else if v.starts_with("postgres://") || v.starts_with("postgresql://") {
            sqlx::postgres::PgConnectOptions::from_str(v)
                .map_err(|e| format!("{e}; {expected}"))?;
            Ok(StoreUrl::Postgres(v.to_owned()))
        } else if let Some(rest) = v
            .strip_prefix("mongodb://")
            .or_else(|| v.strip_prefix("mongodb+srv://"))
        {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(format!("missing host; {expected}"));
            }
            Ok(StoreUrl::Mongodb(v.to_owned()))
        } else {
            Err(expected.to_owned())
        }
    }

    pub fn kind(&self) -> protocol::StoreKind {
        match self {
            StoreUrl::Sqlite(_) => protocol::StoreKind::Sqlite,
            StoreUrl::Postgres(_) => protocol::StoreKind::Postgres,
            StoreUrl::Mongodb(_) => protocol::StoreKind::Mongodb,
        }
    }
}

/// Credentials never reach logs or health reports.
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match self {
            StoreUrl::Sqlite(u) | StoreUrl::Postgres(u) | StoreUrl::Mongodb(u) => u,
        };
        f.write_str(&redact(url))
    }
}

/// Hides the password of `scheme://user:password@host…`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub bind: SocketAddr,
    pub store: StoreUrl,
    pub redis: Option<String>,
    pub log: String,
    pub log_format: LogFormat,
    pub site_root: PathBuf,
    pub retention: std::time::Duration,
    /// Run the in-process demo fleet.
    pub demo: bool,
    /// Consumers silent for longer leave the workers view.
    pub worker_drop_after: std::time::Duration,
    /// Tasks a text search outside the text index reads per page.
    pub search_scan: u32,
    /// The session cookie is sent over HTTPS only.
    pub secure_cookies: bool,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: crate::http::client::TrustedProxies,
    /// `TASKDECK_ADMIN_PASSWORD`: the admin password taskdeck sets at start.
    pub admin_password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting `{name}` (from {origin}): {value:?}: {expected}")]
    Invalid {
        name: &'static str,
        origin: String,
        value: String,
        expected: String,
    },
    #[error("cannot read the config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("unknown setting {var} in the environment; taskdeck reads {known}")]
    UnknownEnv { var: String, known: String },
}

/// A setting's value and where it came from, for error messages.
struct Found<T> {
    value: T,
    source: String,
}

impl Settings {
    /// Resolves the settings from flags, an environment and the file `--config` names.
    /// The environment is passed in so tests need not touch the process's own.
    pub fn resolve(
        args: &ServeArgs,
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        if let Some(var) = env
            .keys()
            .find(|k| k.starts_with("TASKDECK_") && !ENV_VARS.contains(&k.as_str()))
        {
            return Err(ConfigError::UnknownEnv {
                var: var.clone(),
                known: ENV_VARS.join(", "),
            });
        }
        let config_path = args
            .config
            .clone()
            .or_else(|| env.get("TASKDECK_CONFIG").map(PathBuf::from));
        let (file, file_label) = match &config_path {
            Some(path) => (read_file(path)?, format!("config file {}", path.display())),
            None => (FileSettings::default(), String::new()),
        };

        let pick =
            |name: &'static str, flag: Option<&String>, var: &str, file_value: Option<&String>| {
                if let Some(v) = flag {
                    return Some(Found {
                        value: v.clone(),
                        source: format!("--{}", name.replace('_', "-")),
                    });
                }
                if let Some(v) = env.get(var) {
                    return Some(Found {
                        value: v.clone(),
                        source: var.to_owned(),
                    });
                }
                file_value.map(|v| Found {
                    value: v.clone(),
                    source: file_label.clone(),
                })
            };
        let invalid =
            |name: &'static str, found: Found<String>, expected: String| ConfigError::Invalid {
                name,
                origin: found.source,
                value: found.value,
                expected,
            };

        let bind = match pick(
            "bind",
            args.bind.as_ref(),
            "TASKDECK_BIND",
            file.bind.as_ref(),
        ) {
            Some(found) => found.value.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "bind",
                    found,
                    "expected HOST:PORT with an IP address, e.g. 127.0.0.1:3000 or 0.0.0.0:8080"
                        .into(),
                )
            })?,
            None => DEFAULT_BIND.parse().expect("default bind address parses"),
        };

        let store = match pick(
            "store",
            args.store.as_ref(),
            "TASKDECK_STORE",
            file.store.as_ref(),
        ) {
            Some(found) => StoreUrl::parse(&found.value).map_err(|e| invalid("store", found, e))?,
            None => StoreUrl::parse(DEFAULT_STORE).expect("default store parses"),
        };

        let redis = match pick(
            "redis",
            args.redis.as_ref(),
            "TASKDECK_REDIS",
            file.redis.as_ref(),
        ) {
            Some(found) if found.value.is_empty() => None,
            Some(found) => {
                let ok_scheme = ["redis://", "redis+unix://", "unix://"]
                    .iter()
                    .any(|s| found.value.starts_with(s));
                if !ok_scheme || redis::Client::open(found.value.as_str()).is_err() {
                    return Err(invalid(
                        "redis",
                        found,
                        "expected redis://[USER:PASSWORD@]HOST[:PORT][/DB] or redis+unix:///PATH[?db=N] \
                         (TLS is not supported: reach Redis over a private network or a tunnel)"
                            .into(),
                    ));
                }
                Some(found.value)
            }
            None => None,
        };

        let log = match pick("log", args.log.as_ref(), "TASKDECK_LOG", file.log.as_ref()) {
            Some(found) => {
                if tracing_subscriber::EnvFilter::try_new(&found.value).is_err()
                    || found.value.trim().is_empty()
                {
                    return Err(invalid(
                        "log",
                        found,
                        "expected a level (error, warn, info, debug, trace) or a filter such as info,server=debug".into(),
                    ));
                }
                found.value
            }
            None => "info".to_owned(),
        };

        let log_format = match pick(
            "log_format",
            args.log_format.as_ref(),
            "TASKDECK_LOG_FORMAT",
            file.log_format.as_ref(),
        ) {
            Some(found) => match found.value.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                _ => {
                    return Err(invalid(
                        "log_format",
                        found,
                        "expected human or json".into(),
                    ))
                }
            },
            None => LogFormat::Human,
        };

        let site_root = args
            .site_root
            .clone()
            .or_else(|| env.get("TASKDECK_SITE_ROOT").map(PathBuf::from))
            .or(file.site_root)
            .or_else(|| env.get("LEPTOS_SITE_ROOT").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SITE_ROOT));

        let retention = match pick(
            "retention",
            args.retention.as_ref(),
            "TASKDECK_RETENTION",
            file.retention.as_ref(),
        ) {
            Some(found) => parse_duration(&found.value)
                .filter(|d| d.as_secs() >= 3_600)
                .ok_or_else(|| {
                    invalid(
                        "retention",
                        found,
                        "expected a duration of at least 1h, e.g. 7d, 36h or 90d".into(),
                    )
                })?,
            None => std::time::Duration::from_secs(7 * 86_400),
        };

        let worker_drop_after = match pick(
            "worker_drop_after",
            args.worker_drop_after.as_ref(),
            "TASKDECK_WORKER_DROP_AFTER",
            file.worker_drop_after.as_ref(),
        ) {
            Some(found) => parse_duration(&found.value)
                .filter(|d| d.as_secs_f64() >= protocol::heartbeat::ALIVE_FOR)
                .ok_or_else(|| {
                    invalid(
                        "worker_drop_after",
                        found,
                        "expected a duration of at least 15s, e.g. 90s, 5m or 1h".into(),
                    )
                })?,
            None => std::time::Duration::from_secs(300),
        };

        let search_scan = match pick(
            "search_scan",
            args.search_scan.as_ref(),
            "TASKDECK_SEARCH_SCAN",
            file.search_scan.map(|n| n.to_string()).as_ref(),
        ) {
            Some(found) => found
                .value
                .replace('_', "")
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 100)
                .ok_or_else(|| {
                    invalid(
                        "search_scan",
                        found,
                        "expected a number of tasks of at least 100, e.g. 50000".into(),
                    )
                })?,
            None => protocol::task::DEFAULT_SCAN_BUDGET,
        };

        let secure_cookies = match pick(
            "secure_cookies",
            args.secure_cookies.then(|| "true".to_owned()).as_ref(),
            "TASKDECK_SECURE_COOKIES",
            file.secure_cookies.map(|d| d.to_string()).as_ref(),
        ) {
            Some(found) => parse_bool(&found.value)
                .ok_or_else(|| invalid("secure_cookies", found, "expected true or false".into()))?,
            None => false,
        };

        let trusted_proxies = match pick(
            "trusted_proxies",
            args.trusted_proxies.as_ref(),
            "TASKDECK_TRUSTED_PROXIES",
            file.trusted_proxies.as_ref(),
        ) {
            Some(found) => {
                crate::http::client::TrustedProxies::parse(&found.value).map_err(|e| {
                    invalid(
                        "trusted_proxies",
                        found,
                        format!("{e}; expected addresses or networks, e.g. 10.0.0.0/8,127.0.0.1"),
                    )
                })?
            }
            None => Default::default(),
        };

        let admin_password = match env.get("TASKDECK_ADMIN_PASSWORD") {
            Some(p) => {
                if let Err(rule) = crate::auth::password::policy(p) {
                    return Err(ConfigError::Invalid {
                        name: "admin_password",
                        origin: "TASKDECK_ADMIN_PASSWORD".into(),
                        value: "(hidden)".into(),
                        expected: rule,
                    });
                }
                Some(p.clone())
            }
            None => None,
        };

        let flag = match (args.demo, args.no_demo) {
            (true, _) => Some("true".to_owned()),
            (_, true) => Some("false".to_owned()),
            _ => None,
        };
        let demo = match pick(
            "demo",
            flag.as_ref(),
            "TASKDECK_DEMO",
            file.demo.map(|d| d.to_string()).as_ref(),
        ) {
            Some(found) => parse_bool(&found.value)
                .ok_or_else(|| invalid("demo", found, "expected true or false".into()))?,
            // The embedded mode (no Redis) shows a working system on the first run.
            None => redis.is_none(),
        };

        Ok(Settings {
            bind,
            store,
            redis,
            log,
            log_format,
            site_root,
            retention,
            demo,
            worker_drop_after,
            search_scan,
            secure_cookies,
            trusted_proxies,
            admin_password,
        })
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "1" | "on" | "yes" => Some(true),
        "false" | "0" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// `90d`, `36h`, `45m`, `30s`.
fn parse_duration(v: &str) -> Option<std::time::Duration> {
    let v = v.trim();
    let unit = v.chars().last()?;
    let n: u64 = v[..v.len() - unit.len_utf8()].trim().parse().ok()?;
    let secs = match unit {
        'd' => n.checked_mul(86_400)?,
        'h' => n.checked_mul(3_600)?,
        'm' => n.checked_mul(60)?,
        's' => n,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

fn read_file(path: &PathBuf) -> Result<FileSettings, ConfigError> {
    let err = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string().trim_end().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn the_demo_runs_in_the_embedded_mode_unless_told_otherwise() {
        let embedded = Settings::resolve(&ServeArgs::default(), &env(&[])).unwrap();
        assert!(embedded.demo);
        let with_redis = ServeArgs {
            redis: Some("redis://127.0.0.1:6379".into()),
            ..Default::default()
        };
        assert!(!Settings::resolve(&with_redis, &env(&[])).unwrap().demo);
        let forced = ServeArgs {
            demo: true,
            ..with_redis
        };
        assert!(Settings::resolve(&forced, &env(&[])).unwrap().demo);
        let off = ServeArgs {
            no_demo: true,
            ..Default::default()
        };
        assert!(
            !Settings::resolve(&off, &env(&[("TASKDECK_DEMO", "true")]))
                .unwrap()
                .demo
        );
        assert!(
            !Settings::resolve(&ServeArgs::default(), &env(&[("TASKDECK_DEMO", "off")]))
                .unwrap()
                .demo
        );
        let err = Settings::resolve(&ServeArgs::default(), &env(&[("TASKDECK_DEMO", "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`demo`") && err.contains("TASKDECK_DEMO"),
            "{err}"
        );
        let f = file("demo = false\n");
        let from_file = ServeArgs {
            config: Some(f.path().to_path_buf()),
            ..Default::default()
        };
        assert!(!Settings::resolve(&from_file, &env(&[])).unwrap().demo);
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let s = Settings::resolve(&ServeArgs::default(), &env(&[])).unwrap();
        assert_eq!(s.bind.to_string(), DEFAULT_BIND);
        assert_eq!(s.store, StoreUrl::Sqlite(DEFAULT_STORE.into()));
        assert_eq!(s.redis, None);
        assert_eq!(s.log_format, LogFormat::Human);
        assert_eq!(s.site_root, PathBuf::from("target/site"));
        assert_eq!(s.retention.as_secs(), 7 * 86_400);
        let args = ServeArgs {
            retention: Some("36h".into()),
            ..Default::default()
        };
        assert_eq!(
            Settings::resolve(&args, &env(&[]))
                .unwrap()
                .retention
                .as_secs(),
            36 * 3_600
        );
        assert_eq!(s.search_scan, 50_000);
        let e = env(&[("TASKDECK_SEARCH_SCAN", "250_000")]);
        assert_eq!(
            Settings::resolve(&ServeArgs::default(), &e)
                .unwrap()
                .search_scan,
            250_000
        );
    }

    #[test]
    fn flags_beat_environment_which_beats_the_file() {
        let f = file(
            "bind = \"127.0.0.1:1111\"\nstore = \"postgres://u@h/db\"\nlog_format = \"json\"\n",
        );
        let args = ServeArgs {
            config: Some(f.path().into()),
            bind: Some("127.0.0.1:3333".into()),
            ..Default::default()
        };
        let e = env(&[
            ("TASKDECK_BIND", "127.0.0.1:2222"),
            ("TASKDECK_STORE", "mongodb://m:27017"),
        ]);
        let s = Settings::resolve(&args, &e).unwrap();
        assert_eq!(s.bind.port(), 3333);
        assert_eq!(s.store.kind(), protocol::StoreKind::Mongodb);
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn config_file_can_come_from_the_environment() {
        let f = file("redis = \"redis://127.0.0.1:6380/2\"\n");
        let e = env(&[("TASKDECK_CONFIG", f.path().to_str().unwrap())]);
        let s = Settings::resolve(&ServeArgs::default(), &e).unwrap();
        assert_eq!(s.redis.as_deref(), Some("redis://127.0.0.1:6380/2"));
    }

    #[test]
    fn malformed_values_name_the_setting_its_source_and_the_form() {
        let args = ServeArgs {
            bind: Some("localhost".into()),
            ..Default::default()
        };
        let msg = Settings::resolve(&args, &env(&[])).unwrap_err().to_string();
        assert!(
            msg.contains("`bind`") && msg.contains("--bind") && msg.contains("HOST:PORT"),
            "{msg}"
        );

        let msg = Settings::resolve(
            &ServeArgs::default(),
            &env(&[("TASKDECK_STORE", "mysql://x")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("`store`")
                && msg.contains("TASKDECK_STORE")
                && msg.contains("sqlite:PATH"),
            "{msg}"
        );

        for (var, value, name) in [
            ("TASKDECK_REDIS", "http://x", "`redis`"),
            (
                "TASKDECK_REDIS",
                "rediss://h:6380/0",
                "TLS is not supported",
            ),
            ("TASKDECK_LOG", "info,=[", "`log`"),
            ("TASKDECK_LOG_FORMAT", "xml", "`log_format`"),
            ("TASKDECK_STORE", "sqlite::memory:", "`store`"),
            ("TASKDECK_STORE", "mongodb:///", "`store`"),
            ("TASKDECK_RETENTION", "7 weeks", "`retention`"),
            ("TASKDECK_RETENTION", "10m", "`retention`"),
            ("TASKDECK_SEARCH_SCAN", "lots", "`search_scan`"),
            ("TASKDECK_SEARCH_SCAN", "10", "`search_scan`"),
        ] {
            let msg = Settings::resolve(&ServeArgs::default(), &env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(
                msg.contains(name) && msg.contains(var),
                "{var}={value}: {msg}"
            );
        }
    }

    #[test]
    fn unknown_settings_are_rejected_by_name() {
        let msg = Settings::resolve(&ServeArgs::default(), &env(&[("TASKDECK_BINDD", "x")]))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("TASKDECK_BINDD") && msg.contains("TASKDECK_BIND"),
            "{msg}"
        );

        let f = file("bnd = \"127.0.0.1:1\"\n");
        let args = ServeArgs {
            config: Some(f.path().into()),
            ..Default::default()
        };
        let msg = Settings::resolve(&args, &env(&[])).unwrap_err().to_string();
        assert!(msg.contains("bnd") && msg.contains("bind"), "{msg}");

        let args = ServeArgs {
            config: Some("/nonexistent/taskdeck.toml".into()),
            ..Default::default()
        };
        let msg = Settings::resolve(&args, &env(&[])).unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/taskdeck.toml"), "{msg}");
    }

    #[test]
    fn other_programs_variables_are_left_alone() {
        let e = env(&[("PATH", "/bin"), ("LEPTOS_SITE_ROOT", "/srv/site")]);
        let s = Settings::resolve(&ServeArgs::default(), &e).unwrap();
        assert_eq!(s.site_root, PathBuf::from("/srv/site"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("redis://:pw@h/0"), "redis://:***@h/0");
        assert_eq!(
            redact("mongodb://h:27017/?a=b@c"),
            "mongodb://h:27017/?a=b@c"
        );
        assert_eq!(redact("sqlite:./data/x.db"), "sqlite:./data/x.db");
    }
}
