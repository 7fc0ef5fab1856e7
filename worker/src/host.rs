//! Who this process is, in funboost's terms: host name, IP, pid, and the consumer
//! identification that names its in-flight set and heartbeats.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Epoch seconds.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// funboost's time strings: `%Y-%m-%d %H:%M:%S`, local time, no offset.
pub fn local_time(epoch: f64) -> String {
    chrono::DateTime::from_timestamp(epoch as i64, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// This host's name (as funboost reports it).
pub fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
}

/// The address other hosts would see, found the way funboost (nb_log) does: the source
/// address of a UDP socket "connected" to a public address. Nothing is sent.
pub fn host_ip() -> &'static str {
    static IP: OnceLock<String> = OnceLock::new();
    IP.get_or_init(|| {
        std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| {
                s.connect("192.0.2.1:80")?;
                s.local_addr()
            })
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| "127.0.0.1".into())
    })
}

/// `<host>_<ip>_<local start time with - for :>_<pid>_<n>`, as funboost names its consumers.
pub fn consumer_identification(started: f64, n: u64) -> String {
    format!(
        "{}_{}_{}_{}_{}",
        host_name(),
        host_ip(),
        local_time(started).replace(':', "-"),
        std::process::id(),
        n
    )
}

/// This program's path, as funboost's `script_name_long` / heartbeat `code_filename`.
pub fn script_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    })
}

/// This program's file name, as funboost's `script_name`.
pub fn script_name() -> &'static str {
    script_path().rsplit('/').next().unwrap_or_default()
}
