//! Settings of `taskdeck serve`, declared once ([`ServeArgs`]): each one's flag, environment
//! variable, TOML key (its name), default and help. clap reads flags and environment
//! variables; the optional TOML file (`--config`) comes between them and the defaults. Every
//! value is validated at start, and a bad one names the setting, where it came from and the
//! form it must take.

use crate::store::StoreUrl;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_BIND: &str = "127.0.0.1:3000";
pub const DEFAULT_STORE: &str = "sqlite:./data/taskdeck.db";
pub const DEFAULT_SITE_ROOT: &str = "target/site";

/// Every setting of `taskdeck serve`. The admin password is never a flag (it would show in
/// process lists): see `TASKDECK_ADMIN_PASSWORD`.
#[derive(Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// TOML file with any of the settings below, by their long names with `_` for `-`
    #[arg(
        long,
        env = "TASKDECK_CONFIG",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free one
    #[arg(long, env = "TASKDECK_BIND", hide_env_values = true, value_name = "HOST:PORT", default_value = DEFAULT_BIND)]
    pub bind: Option<String>,
    /// Task store: sqlite:PATH, postgres://… or mongodb://…
    #[arg(long, env = "TASKDECK_STORE", hide_env_values = true, value_name = "URL", default_value = DEFAULT_STORE)]
    pub store: Option<String>,
    /// Redis for the control bus and ingest stream (redis://… or redis+unix://…); without it
    /// the bus is in-process
    #[arg(
        long,
        env = "TASKDECK_REDIS",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub redis: Option<String>,
    /// Log level or filter, e.g. info or info,server=debug
    #[arg(
        long,
        hide_env_values = true,
        env = "TASKDECK_LOG",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log: Option<String>,
    /// Log format: human or json
    #[arg(
        long,
        hide_env_values = true,
        env = "TASKDECK_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "human"
    )]
    pub log_format: Option<String>,
    /// Directory with the built web assets (pkg/, vendor/, favicon); also LEPTOS_SITE_ROOT
    #[arg(long, env = "TASKDECK_SITE_ROOT", hide_env_values = true, value_name = "DIR", default_value = DEFAULT_SITE_ROOT)]
    pub site_root: Option<String>,
    /// How long task records and dead letters are kept, e.g. 7d, 36h. Chart counters are kept
    /// longer: seconds 2 h, minutes 3 d, hours 90 d, days 5 years
    #[arg(
        long,
        hide_env_values = true,
        env = "TASKDECK_RETENTION",
        value_name = "DURATION",
        default_value = "7d"
    )]
    pub retention: Option<String>,
    /// Run the demo fleet: in-process workers on four queues producing real tasks [default: on
    /// without --redis, off with it]
    #[arg(long, env = "TASKDECK_DEMO", hide_env_values = true, value_name = "true|false", num_args = 0..=1,
          default_missing_value = "true")]
    pub demo: Option<String>,
    /// Do not run the demo fleet (--demo=false)
    #[arg(long)]
    pub no_demo: bool,
    /// How long a consumer that stopped heartbeating stays on the workers page, marked stale
    /// (at least 15s, funboost's alive window)
    #[arg(
        long,
        hide_env_values = true,
        env = "TASKDECK_WORKER_DROP_AFTER",
        value_name = "DURATION",
        default_value = "5m"
    )]
    pub worker_drop_after: Option<String>,
    /// Tasks a text search reads per page where the text index does not serve it (successful,
    /// running and pending tasks; every search on MongoDB) before it stops and says so (at
    /// least 100)
    #[arg(
        long,
        hide_env_values = true,
        env = "TASKDECK_SEARCH_SCAN",
        value_name = "TASKS",
        default_value = "50000"
    )]
    pub search_scan: Option<String>,
    /// Mark the session cookie Secure (sent over HTTPS only) and send HSTS: set it when users
    /// reach taskdeck through TLS, e.g. behind a reverse proxy
    #[arg(long, env = "TASKDECK_SECURE_COOKIES", hide_env_values = true, value_name = "true|false", num_args = 0..=1,
          default_missing_value = "true", default_value = "false")]
    pub secure_cookies: Option<String>,
    /// Reverse proxies whose Forwarded / X-Forwarded-For headers name the client, as addresses
    /// or networks, e.g. 10.0.0.0/8,127.0.0.1 [default: none: the peer is the client]
    #[arg(
        long,
        env = "TASKDECK_TRUSTED_PROXIES",
        hide_env_values = true,
        value_name = "CIDR,…"
    )]
    pub trusted_proxies: Option<String>,
    /// The Redis database funboost's workers write RPC results to (their
    /// REDIS_DB_FILTER_AND_RPC_RESULT), on the server of --redis
    #[arg(
        long,
        env = "TASKDECK_RPC_DB",
        hide_env_values = true,
        value_name = "N",
        default_value = "8"
    )]
    pub rpc_db: Option<String>,
}

/// Environment variables taskdeck reads besides those of [`ServeArgs`].
const OTHER_VARS: [&str; 1] = ["TASKDECK_ADMIN_PASSWORD"];

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
    pub trusted_proxies: crate::auth::client::TrustedProxies,
    /// The Redis database of funboost's RPC results.
    pub rpc_db: u8,
    /// `TASKDECK_ADMIN_PASSWORD`: the admin password taskdeck sets at start.
    pub admin_password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting `{name}` (from {origin}): {value:?}: {expected}")]
    Invalid {
        name: String,
        origin: String,
        value: String,
        expected: String,
    },
    #[error("cannot read the config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("unknown setting {var} in the environment; taskdeck reads {known}")]
    UnknownEnv { var: String, known: String },
    #[error("{0}")]
    Usage(String),
}

/// A setting's value and where it came from, for error messages.
struct Found {
    value: String,
    origin: String,
}

/// The layers of one start: flags and environment (as clap read them), the TOML file, the
/// defaults of the declaration.
struct Layers<'a> {
    matches: &'a ArgMatches,
    command: clap::Command,
    file: toml::Table,
    file_label: String,
}

impl Layers<'_> {
    /// The value of setting `id` from the highest layer that has one.
    fn get(&self, id: &str) -> Option<Found> {
        let arg = self.command.get_arguments().find(|a| a.get_id() == id)?;
        let raw = || {
            self.matches
                .get_raw(id)
                .and_then(|mut v| v.next())
                .map(|v| v.to_string_lossy().into_owned())
        };
        let found = |value: String, origin: String| Some(Found { value, origin });
        match self.matches.value_source(id) {
            Some(ValueSource::CommandLine) => {
                found(raw()?, format!("--{}", arg.get_long().unwrap_or(id)))
            }
            Some(ValueSource::EnvVariable) => found(
                raw()?,
                arg.get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            _ => match self.file.get(id) {
                Some(v) => found(toml_text(v), self.file_label.clone()),
                None => found(raw()?, "the default".into()),
            },
        }
    }

    /// The value of `id` parsed by `parse`, or the error naming it, its origin and `expected`.
    fn parse<T>(
        &self,
        id: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(found) = self.get(id) else {
            return Ok(None);
        };
        parse(&found.value)
            .map(Some)
            .map_err(|why| ConfigError::Invalid {
                name: id.to_owned(),
                origin: found.origin,
                value: found.value,
                expected: if why.is_empty() {
                    expected.to_owned()
                } else {
                    format!("{why}; {expected}")
                },
            })
    }
}

/// A TOML value as the text a flag would carry.
fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Settings {
    /// Resolves the settings of `taskdeck serve` from its command line (`argv`, the program
    /// name first) and an environment (passed in, so tests need not touch the process's own).
    pub fn from_args<I, T>(argv: I, env: &BTreeMap<String, String>) -> Result<Settings, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let matches = command
            .try_get_matches_from(argv)
            .map_err(|e| ConfigError::Usage(e.to_string()))?;
        Settings::from_matches(&matches, env)
    }

    /// Resolves the settings from what clap read for `serve` (flags and environment).
    pub fn from_matches(
        matches: &ArgMatches,
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let mut known: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        known.extend(OTHER_VARS.map(str::to_owned));
        if let Some(var) = env
            .keys()
            .find(|k| k.starts_with("TASKDECK_") && !known.contains(k))
        {
            return Err(ConfigError::UnknownEnv {
                var: var.clone(),
                known: known.join(", "),
            });
        }
        let mut layers = Layers {
            matches,
            command,
            file: toml::Table::new(),
            file_label: String::new(),
        };
        if let Some(found) = layers.get("config") {
            let path = PathBuf::from(&found.value);
            layers.file = read_file(&path, &layers.command)?;
            layers.file_label = format!("config file {}", path.display());
        }
        let l = &layers;

        let bind = l
            .parse(
                "bind",
                "expected HOST:PORT with an IP address, e.g. 127.0.0.1:3000 or 0.0.0.0:8080",
                |v| v.parse::<SocketAddr>().map_err(|_| String::new()),
            )?
            .expect("bind has a default");
        let store = l
            .parse("store", "", StoreUrl::parse)?
            .expect("store has a default");
        let redis = l
            .parse(
                "redis",
                "expected redis://[USER:PASSWORD@]HOST[:PORT][/DB] or redis+unix:///PATH[?db=N] \
                 (TLS is not supported: reach Redis over a private network or a tunnel)",
                |v| {
                    let ok_scheme = ["redis://", "redis+unix://", "unix://"]
                        .iter()
                        .any(|s| v.starts_with(s));
                    if v.is_empty() || (ok_scheme && redis::Client::open(v).is_ok()) {
                        Ok(Some(v.to_owned()).filter(|v| !v.is_empty()))
                    } else {
                        Err(String::new())
                    }
                },
            )?
            .flatten();
        let log = l
            .parse(
                "log",
                "expected a level (error, warn, info, debug, trace) or a filter such as info,server=debug",
                |v| {
                    if v.trim().is_empty() || tracing_subscriber::EnvFilter::try_new(v).is_err() {
                        Err(String::new())
                    } else {
                        Ok(v.to_owned())
                    }
                },
            )?
            .expect("log has a default");
        let log_format = l
            .parse("log_format", "expected human or json", |v| match v {
                "human" => Ok(LogFormat::Human),
                "json" => Ok(LogFormat::Json),
                _ => Err(String::new()),
            })?
            .expect("log_format has a default");
        let site_root = match l.get("site_root") {
            Some(found) if found.origin != "the default" => PathBuf::from(found.value),
            other => env
                .get("LEPTOS_SITE_ROOT")
                .map(PathBuf::from)
                .or(other.map(|f| PathBuf::from(f.value)))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SITE_ROOT)),
        };
        let retention = l
            .parse(
                "retention",
                "expected a duration of at least 1h, e.g. 7d, 36h or 90d",
                |v| {
                    parse_duration(v)
                        .filter(|d| d.as_secs() >= 3_600)
                        .ok_or_default()
                },
            )?
            .expect("retention has a default");
        let worker_drop_after = l
            .parse(
                "worker_drop_after",
                "expected a duration of at least 15s, e.g. 90s, 5m or 1h",
                |v| {
                    parse_duration(v)
                        .filter(|d| d.as_secs_f64() >= protocol::heartbeat::ALIVE_FOR)
                        .ok_or_default()
                },
            )?
            .expect("worker_drop_after has a default");
        let search_scan = l
            .parse(
                "search_scan",
                "expected a number of tasks of at least 100, e.g. 50000",
                |v| {
                    v.replace('_', "")
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n >= 100)
                        .ok_or_default()
                },
            )?
            .expect("search_scan has a default");
        let secure_cookies = l
            .parse("secure_cookies", "expected true or false", |v| {
                parse_bool(v).ok_or_default()
            })?
            .expect("secure_cookies has a default");
        let trusted_proxies = l
            .parse(
                "trusted_proxies",
                "expected addresses or networks, e.g. 10.0.0.0/8,127.0.0.1",
                crate::auth::client::TrustedProxies::parse,
            )?
            .unwrap_or_default();
        let rpc_db = l
            .parse("rpc_db", "expected a Redis database number, 0–255", |v| {
                v.parse::<u8>().ok().ok_or_default()
            })?
            .expect("rpc_db has a default");
        let demo_flag = matches.value_source("demo") == Some(ValueSource::CommandLine);
        let demo = if matches.get_flag("no_demo") {
            if demo_flag {
                return Err(ConfigError::Usage(
                    "give --demo or --no-demo, not both".into(),
                ));
            }
            // A flag beats TASKDECK_DEMO.
            false
        } else {
            // The embedded mode (no Redis) shows a working system on the first run.
            l.parse("demo", "expected true or false", |v| {
                parse_bool(v).ok_or_default()
            })?
            .unwrap_or(redis.is_none())
        };
        let admin_password = match env.get("TASKDECK_ADMIN_PASSWORD") {
            Some(p) => {
                if let Err(rule) = crate::auth::password::policy(p) {
                    return Err(ConfigError::Invalid {
                        name: "admin_password".into(),
                        origin: "TASKDECK_ADMIN_PASSWORD".into(),
                        value: "(hidden)".into(),
                        expected: rule,
                    });
                }
                Some(p.clone())
            }
            None => None,
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
            rpc_db,
            admin_password,
        })
    }
}

/// `Option` to `Result` with an empty reason (the setting's own form is said instead).
trait OkOrDefault<T> {
    fn ok_or_default(self) -> Result<T, String>;
}

impl<T> OkOrDefault<T> for Option<T> {
    fn ok_or_default(self) -> Result<T, String> {
        self.ok_or_else(String::new)
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

/// The TOML file: its keys are the settings' names (unknown ones are errors, not silently
/// ignored typos).
fn read_file(path: &PathBuf, command: &clap::Command) -> Result<toml::Table, ConfigError> {
    let err = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
    let keys: Vec<String> = command
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !["config", "no_demo"].contains(&a.get_id().as_str()))
        .map(|a| a.get_id().to_string())
        .collect();
    if let Some(unknown) = table.keys().find(|k| !keys.contains(k)) {
        return Err(err(format!(
            "unknown key `{unknown}`; the keys are {}",
            keys.join(", ")
        )));
    }
    Ok(table)
}

/// `taskdeck token create`: what it takes, and the store it writes to.
#[derive(clap::Args, Debug)]
pub struct TokenCreateArgs {
    /// What the token may do: any of ingest, read, control, comma-separated
    #[arg(long, value_name = "SCOPES")]
    pub scope: String,
    /// A name that says who uses it, e.g. the worker fleet's
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The store (as for `serve`; also TASKDECK_STORE)
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// TOML settings file (as for `serve`; also TASKDECK_CONFIG)
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
}

impl TokenCreateArgs {
    /// The settings `serve` would start with given this store and config file.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let env: std::collections::BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let mut argv: Vec<std::ffi::OsString> = vec!["serve".into()];
        if let Some(store) = &self.store {
            argv.extend(["--store".into(), store.into()]);
        }
        if let Some(config) = &self.config {
            argv.extend(["--config".into(), config.into()]);
        }
        Settings::from_args(argv, &env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Settings from a command line, with an environment of `pairs` only (clap reads the
    /// process's own: tests give the variables as flags' values through `env` instead).
    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let argv = std::iter::once("serve").chain(args.iter().copied());
        Settings::from_args(argv, &env)
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn the_demo_runs_in_the_embedded_mode_unless_told_otherwise() {
        assert!(resolve(&[], &[]).unwrap().demo);
        assert!(
            !resolve(&["--redis", "redis://127.0.0.1:6379"], &[])
                .unwrap()
                .demo
        );
        assert!(
            resolve(&["--redis", "redis://127.0.0.1:6379", "--demo"], &[])
                .unwrap()
                .demo
        );
        assert!(!resolve(&["--no-demo"], &[]).unwrap().demo);
        assert!(!resolve(&["--demo=false"], &[]).unwrap().demo);
        let err = resolve(&["--demo=maybe"], &[]).unwrap_err().to_string();
        assert!(err.contains("`demo`") && err.contains("--demo"), "{err}");
        let f = file("demo = false\n");
        assert!(
            !resolve(&["--config", f.path().to_str().unwrap()], &[])
                .unwrap()
                .demo
        );
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let s = resolve(&[], &[]).unwrap();
        assert_eq!(s.bind.to_string(), DEFAULT_BIND);
        assert_eq!(s.store, StoreUrl::Sqlite(DEFAULT_STORE.into()));
        assert_eq!(s.redis, None);
        assert_eq!(s.log_format, LogFormat::Human);
        assert_eq!(s.site_root, PathBuf::from("target/site"));
        assert_eq!(s.retention.as_secs(), 7 * 86_400);
        assert_eq!(s.search_scan, 50_000);
        assert!(!s.secure_cookies);
        assert_eq!(
            resolve(&["--retention", "36h"], &[])
                .unwrap()
                .retention
                .as_secs(),
            36 * 3_600
        );
        assert_eq!(
            resolve(&["--search-scan", "250_000"], &[])
                .unwrap()
                .search_scan,
            250_000
        );
        assert!(resolve(&["--secure-cookies"], &[]).unwrap().secure_cookies);
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        let f = file(
            "bind = \"127.0.0.1:1111\"\nstore = \"postgres://u@h/db\"\nlog_format = \"json\"\n\
             search_scan = 700\nsecure_cookies = true\n",
        );
        let path = f.path().to_str().unwrap();
        let s = resolve(&["--config", path, "--bind", "127.0.0.1:3333"], &[]).unwrap();
        assert_eq!(s.bind.port(), 3333);
        assert_eq!(s.store.kind(), protocol::StoreKind::Postgres);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.search_scan, 700, "a TOML integer");
        assert!(s.secure_cookies, "a TOML boolean");
    }

    #[test]
    fn malformed_values_name_the_setting_its_source_and_the_form() {
        for (args, name, origin, form) in [
            (
                &["--bind", "localhost"][..],
                "`bind`",
                "--bind",
                "HOST:PORT",
            ),
            (
                &["--store", "mysql://x"],
                "`store`",
                "--store",
                "sqlite:PATH",
            ),
            (&["--redis", "http://x"], "`redis`", "--redis", "redis://"),
            (
                &["--redis", "rediss://h:6380/0"],
                "`redis`",
                "--redis",
                "TLS is not supported",
            ),
            (&["--log", "info,=["], "`log`", "--log", "filter"),
            (
                &["--log-format", "xml"],
                "`log_format`",
                "--log-format",
                "human or json",
            ),
            (
                &["--store", "sqlite::memory:"],
                "`store`",
                "--store",
                "file path",
            ),
            (
                &["--store", "mongodb:///"],
                "`store`",
                "--store",
                "missing host",
            ),
            (
                &["--retention", "7 weeks"],
                "`retention`",
                "--retention",
                "at least 1h",
            ),
            (
                &["--retention", "10m"],
                "`retention`",
                "--retention",
                "at least 1h",
            ),
            (
                &["--search-scan", "lots"],
                "`search_scan`",
                "--search-scan",
                "at least 100",
            ),
            (
                &["--search-scan", "10"],
                "`search_scan`",
                "--search-scan",
                "at least 100",
            ),
            (
                &["--trusted-proxies", "x"],
                "`trusted_proxies`",
                "--trusted-proxies",
                "networks",
            ),
        ] {
            let msg = resolve(args, &[]).unwrap_err().to_string();
            assert!(
                msg.contains(name) && msg.contains(origin) && msg.contains(form),
                "{args:?}: {msg}"
            );
        }
        let f = file("retention = \"1s\"\n");
        let msg = resolve(&["--config", f.path().to_str().unwrap()], &[])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("`retention`") && msg.contains("config file"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_settings_are_rejected_by_name() {
        let msg = resolve(&[], &[("TASKDECK_BINDD", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("TASKDECK_BINDD") && msg.contains("TASKDECK_BIND"),
            "{msg}"
        );
        let f = file("bnd = \"127.0.0.1:1\"\n");
        let msg = resolve(&["--config", f.path().to_str().unwrap()], &[])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("bnd") && msg.contains("bind"), "{msg}");
        let msg = resolve(&["--config", "/nonexistent/taskdeck.toml"], &[])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("/nonexistent/taskdeck.toml"), "{msg}");
    }

    #[test]
    fn other_programs_variables_are_left_alone() {
        let s = resolve(&[], &[("PATH", "/bin"), ("LEPTOS_SITE_ROOT", "/srv/site")]).unwrap();
        assert_eq!(s.site_root, PathBuf::from("/srv/site"));
        let s = resolve(&["--site-root", "/a"], &[("LEPTOS_SITE_ROOT", "/srv/site")]).unwrap();
        assert_eq!(s.site_root, PathBuf::from("/a"));
    }
}
