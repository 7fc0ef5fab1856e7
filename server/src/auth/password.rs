//! Password hashes (argon2id, PHC strings with their own salt and parameters) and generated
//! passwords.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password with default parameters")
        .to_string()
}

/// What a password must be: at least [`super::MIN_PASSWORD`] characters, not only blanks,
/// at most [`MAX_PASSWORD`] bytes. The message says which rule it broke.
pub fn policy(password: &str) -> Result<(), String> {
    if password.chars().count() < super::MIN_PASSWORD {
        return Err(format!(
            "a password has at least {} characters",
            super::MIN_PASSWORD
        ));
    }
    if password.trim().is_empty() {
        return Err("a password cannot be only spaces".into());
    }
    if password.len() > MAX_PASSWORD {
        return Err(format!("a password has at most {MAX_PASSWORD} bytes"));
    }
    Ok(())
}

/// Longest password taskdeck takes, in bytes.
pub const MAX_PASSWORD: usize = 1024;

/// A malformed stored hash verifies nothing.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// 20 characters from an alphabet without look-alikes (≈ 115 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// 32 random bytes as hex: session CSRF tokens and API token secrets.
pub fn random_hex() -> String {
    let bytes: [u8; 32] = rand::rngs::OsRng.gen();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horse ", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(hash("correct horse"), h, "each hash has its own salt");
        let p = generate();
        assert_eq!(p.chars().count(), 20);
        assert_ne!(generate(), p);
        assert_eq!(random_hex().len(), 64);
    }

    #[test]
    fn passwords_follow_the_policy() {
        assert!(policy("correct horse").is_ok());
        assert!(policy("short").unwrap_err().contains("at least"));
        assert!(policy("          ").unwrap_err().contains("only spaces"));
        assert!(policy("\t\t\t\t\n\n\n\n")
            .unwrap_err()
            .contains("only spaces"));
        assert!(policy(&"x".repeat(2000)).unwrap_err().contains("at most"));
    }
}
