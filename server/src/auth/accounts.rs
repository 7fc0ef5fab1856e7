//! The rules for users and API tokens, whoever asks — an admin's page, a script's token, the
//! command line: what a name may be, the password policy, that nobody can take away their own
//! admin role or remove themselves (so there is always an admin), and an audit entry for each
//! change. The HTTP handlers only translate.

use super::{password, tokens, Auth};
use crate::store::User;
use protocol::auth::{CreatedToken, NewToken, Role, Scope, UserChange};
use protocol::ServiceError;

/// Longest user name, in bytes.
pub const USER_NAME_MAX: usize = 64;
/// Longest token name, in bytes.
pub const TOKEN_NAME_MAX: usize = 100;

/// Who asks for a change: how the audit log names them, their address, and their user name
/// when a signed-in user (not a token or the command line) asks.
#[derive(Clone, Copy, Debug)]
pub struct Requester<'a> {
    pub actor: &'a str,
    pub ip: &'a str,
    pub user: Option<&'a str>,
}

/// A user name: 1–64 letters, digits, `.`, `_`, `-` or `@` (it appears in paths and the audit
/// log as it is).
pub fn check_user_name(name: &str) -> Result<(), ServiceError> {
    let fits = !name.is_empty()
        && name.len() <= USER_NAME_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if fits {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "a user name is 1–64 letters, digits, `.`, `_`, `-` or `@`",
        ))
    }
}

/// A token's name, trimmed: 1–100 bytes.
pub fn token_name(name: &str) -> Result<&str, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.len() > TOKEN_NAME_MAX {
        return Err(ServiceError::invalid("a token's name is 1–100 characters"));
    }
    Ok(name)
}

fn store_error(e: anyhow::Error) -> ServiceError {
    tracing::error!(error = %format!("{e:#}"), "store error");
    ServiceError::unavailable("the store does not answer; try again")
}

impl Auth {
    /// Creates a user (role and password required) or changes an existing one's role or
    /// password; the user as stored.
    pub async fn put_user(
        &self,
        who: Requester<'_>,
        name: &str,
        change: &UserChange,
    ) -> Result<User, ServiceError> {
        check_user_name(name)?;
        if let Some(p) = &change.password {
            password::policy(p).map_err(ServiceError::invalid)?;
        }
        if who.user == Some(name) && change.role.is_some_and(|r| r != Role::Admin) {
            return Err(ServiceError::invalid(
                "you cannot take away your own admin role; another admin can",
            ));
        }
        let existing = self.store.user(name).await.map_err(store_error)?;
        let now = crate::model::now_epoch();
        let user = match existing {
            Some(u) => User {
                password_hash: change
                    .password
                    .as_deref()
                    .map(password::hash)
                    .unwrap_or(u.password_hash),
                role: change.role.unwrap_or(u.role),
                updated_at: now,
                ..u
            },
            None => {
                let (Some(role), Some(p)) = (change.role, change.password.as_deref()) else {
                    return Err(ServiceError::invalid(
                        "a new user needs `role` and `password`",
                    ));
                };
                User {
                    name: name.to_owned(),
                    password_hash: password::hash(p),
                    role,
                    created_at: now,
                    updated_at: now,
                }
            }
        };
        self.store
            .put_user(&user, false)
            .await
            .map_err(store_error)?;
        let mut what = Vec::new();
        if let Some(r) = change.role {
            what.push(format!("role {r}"));
        }
        if change.password.is_some() {
            what.push("password".to_owned());
        }
        self.audit(who.actor, "user.put", name, "ok", &what.join(", "), who.ip)
            .await;
        Ok(user)
    }

    /// Removes a user; their sessions end with their next request.
    pub async fn remove_user(&self, who: Requester<'_>, name: &str) -> Result<(), ServiceError> {
        if who.user == Some(name) {
            return Err(ServiceError::invalid(
                "you cannot remove yourself; another admin can",
            ));
        }
        if !self.store.delete_user(name).await.map_err(store_error)? {
            return Err(ServiceError::not_found(format!("no user `{name}`")));
        }
        self.audit(who.actor, "user.delete", name, "ok", "", who.ip)
            .await;
        Ok(())
    }

    /// Creates a token; the answer holds its value, the only copy.
    pub async fn create_token(
        &self,
        who: Requester<'_>,
        new: &NewToken,
    ) -> Result<CreatedToken, ServiceError> {
        let name = token_name(&new.name)?;
        let scopes = Scope::canonical(new.scopes.clone()).map_err(ServiceError::invalid)?;
        let (token, value) = tokens::create(&self.store, name, scopes, who.actor)
            .await
            .map_err(store_error)?;
        let detail = format!("{name} ({})", Scope::join(&token.scopes));
        self.audit(who.actor, "token.create", &token.id, "ok", &detail, who.ip)
            .await;
        Ok(CreatedToken {
            token: token.info(),
            value,
        })
    }

    /// Revokes a token at once on this instance, within [`super::TOKENS_RELOAD`] on the others.
    pub async fn revoke_token(&self, who: Requester<'_>, id: &str) -> Result<(), ServiceError> {
        if !self.store.delete_token(id).await.map_err(store_error)? {
            return Err(ServiceError::not_found(format!("no token `{id}`")));
        }
        self.forget_token(id);
        self.audit(who.actor, "token.delete", id, "ok", "", who.ip)
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_one_rule() {
        assert!(check_user_name("ops.one@example-2_x").is_ok());
        for bad in ["", "a b", "a/b", "ü", &"x".repeat(65)] {
            assert!(check_user_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(token_name("  fleet  ").unwrap(), "fleet");
        assert!(token_name("   ").is_err());
        assert!(token_name(&"t".repeat(101)).is_err());
    }
}
