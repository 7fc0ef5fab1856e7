//! API tokens for workers and scripts: `td_<id>_<secret>`. The id finds the token; only a
//! SHA-256 of the secret is stored (a 256-bit random secret needs no slow hash), compared in
//! constant time.

use crate::store::Store;
use crate::store::Token;
use protocol::auth::Scope;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "td_";

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a token; returns it as stored and the only copy of its full value.
pub async fn create(
    store: &Store,
    name: &str,
    scopes: Vec<Scope>,
    created_by: &str,
) -> anyhow::Result<(Token, String)> {
    let id = super::password::random_hex()[..12].to_owned();
    let secret = super::password::random_hex();
    let token = Token {
        id: id.clone(),
        name: name.to_owned(),
        secret_hash: digest(&secret),
        scopes,
        created_by: created_by.to_owned(),
        created_at: crate::model::now_epoch(),
        last_used_at: None,
    };
    store.put_token(&token).await?;
    Ok((token, format!("{PREFIX}{id}_{secret}")))
}

/// `td_<id>_<secret>` → (id, secret).
pub fn split(presented: &str) -> Option<(&str, &str)> {
    presented
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
}

/// Whether `secret` is the one `token` was created with.
pub fn matches(token: &Token, secret: &str) -> bool {
    digest(secret)
        .as_bytes()
        .ct_eq(token.secret_hash.as_bytes())
        .into()
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
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

impl CreateArgs {
    /// The settings `serve` would start with given this store and config file.
    pub fn settings(&self) -> Result<crate::config::Settings, crate::config::ConfigError> {
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
        crate::config::Settings::from_args(argv, &env)
    }
}

/// `taskdeck token create`: the token's full value.
pub async fn create_command(
    args: &CreateArgs,
    settings: &crate::config::Settings,
) -> anyhow::Result<String> {
    let new = protocol::auth::NewToken {
        name: args.name.clone(),
        scopes: Scope::parse_list(&args.scope).map_err(anyhow::Error::msg)?,
    };
    let store = Store::open(&settings.store, settings.retention).await?;
    super::ensure_admin(&store, settings.admin_password.as_deref()).await?;
    let cli = super::Requester {
        actor: "cli",
        ip: "",
        user: None,
    };
    let created = super::Auth::new(store.clone(), false)
        .create_token(cli, &new)
        .await;
    store.close().await;
    Ok(created?.value)
}
