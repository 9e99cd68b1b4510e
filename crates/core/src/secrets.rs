//! API keys entered in the console are sealed before they reach the database
//! (XChaCha20-Poly1305 with a random nonce per key), with the key in `secrets.key`
//! (64 hex digits; e.g. `ARENA__SECRETS__KEY=$(openssl rand -hex 32)`). A database dump alone
//! does not reveal them. Without a configured key the console refuses to store an API key.

use crate::config::Secret;
use crate::error::{ArenaError, ArenaResult};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const NONCE: usize = 24;

#[derive(Clone)]
pub struct Sealer {
    cipher: Option<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("secrets.key must be 64 hex digits (32 bytes), e.g. from `openssl rand -hex 32`")]
pub struct BadKey;

impl Sealer {
    pub fn new(key: Option<&Secret>) -> Result<Self, BadKey> {
        let key = match key.map(|k| k.expose().trim()).filter(|k| !k.is_empty()) {
            None => return Ok(Self { cipher: None }),
            Some(k) => k,
        };
        let bytes = hex::decode(key).map_err(|_| BadKey)?;
        if bytes.len() != 32 {
            return Err(BadKey);
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| BadKey)?;
        Ok(Self {
            cipher: Some(cipher),
        })
    }

    pub fn can_seal(&self) -> bool {
        self.cipher.is_some()
    }

    pub fn seal(&self, plain: &str) -> ArenaResult<Vec<u8>> {
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            ArenaError::invalid(
                "no_secrets_key",
                "api_key: this server has no secrets.key, so it cannot store API keys \
                 encrypted; set secrets.key (64 hex digits) and restart",
            )
        })?;
        let mut nonce = [0u8; NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| ArenaError::Internal("sealing an API key failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The key, or `None` when it cannot be opened (no or another configured key): the
    /// endpoint is then called without one, and the console says so.
    pub fn open(&self, sealed: &[u8]) -> Option<String> {
        let cipher = self.cipher.as_ref()?;
        if sealed.len() <= NONCE {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE);
        let plain = cipher.decrypt(XNonce::from_slice(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_key() {
        let key = Secret::new("11".repeat(32));
        let sealer = Sealer::new(Some(&key)).unwrap();
        let sealed = sealer.seal("sk-very-secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"sk-ver"));
        assert_eq!(sealer.open(&sealed).as_deref(), Some("sk-very-secret"));
        let other = Sealer::new(Some(&Secret::new("22".repeat(32)))).unwrap();
        assert_eq!(other.open(&sealed), None);
        let none = Sealer::new(None).unwrap();
        assert!(none.seal("x").is_err());
        assert!(Sealer::new(Some(&Secret::new("abc"))).is_err());
    }
}
