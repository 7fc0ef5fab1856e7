//! Where the store is: the URL given to `--store`, checked before anything connects.

use std::fmt;
use std::str::FromStr;

/// The store a URL names, with the URL as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(String),
    Postgres(String),
    Mongodb(String),
}

impl StoreUrl {
    pub fn parse(v: &str) -> Result<StoreUrl, String> {
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
fn redact(url: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::redact;

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
