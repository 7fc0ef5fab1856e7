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
