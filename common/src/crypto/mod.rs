//! Encryption at rest of tenant `sharedSecret`s: AES-256-GCM under rotatable key ids.
//!
//! A stored secret reads `kid:base64url(nonce || ciphertext)`. The key id prefix picks the key, so
//! a new key can become active while rows encrypted under older ids still decrypt; the store
//! re-encrypts them later. The caller passes associated data (the tenant's client key), so a
//! ciphertext copied into another tenant's row does not decrypt.
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::{Rng, RngCore};

mod key_file;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// Why a secret could not be encrypted, decrypted, or a key loaded. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The stored value names a key id the keyring does not hold.
    #[error("no key with id {0:?} in the keyring")]
    UnknownKeyId(String),
    /// The stored value is not `kid:base64url(nonce || ciphertext)`.
    #[error("stored secret is malformed (expected kid:base64url data)")]
    Malformed,
    /// Wrong key, wrong associated data, or tampered ciphertext.
    #[error("stored secret failed to decrypt (wrong key, wrong tenant, or tampered)")]
    DecryptionFailed,
    /// A key specification (`kid=base64key,...`) is invalid.
    #[error("invalid key spec: {0}")]
    BadKeySpec(String),
    /// A key file could not be read, created or parsed.
    #[error("key file {}: {reason}", path.display())]
    KeyFile {
        /// The file concerned.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// AES-256-GCM keys by key id, one of which is active (used to encrypt).
#[derive(Clone)]
pub struct Keyring {
    keys: BTreeMap<String, Key>,
    active: String,
}

/// One key: its cipher, and its bytes so that a rotated keyring can be written back.
#[derive(Clone)]
struct Key {
    cipher: Aes256Gcm,
    bytes: [u8; KEY_LEN],
}

impl Key {
    fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            cipher: Aes256Gcm::new(&bytes.into()),
            bytes,
        }
    }
}

impl Keyring {
    /// Parses `"kid1=BASE64KEY,kid2=BASE64KEY"`; the first entry is the active key.
    ///
    /// Each key is standard base64 of exactly 32 bytes; ids are 1 to 32 characters of
    /// `[A-Za-z0-9_-]`. Errors name the key id, never the key.
    pub fn from_spec(spec: &str) -> Result<Self, CryptoError> {
        let entries = spec.split(',').map(str::trim).filter(|e| !e.is_empty());
        Self::from_entries(entries.enumerate().map(|(i, e)| (i + 1, e)), "entry")
    }

    /// Reads a key file: `kid=BASE64KEY` lines, `#` comments allowed, the first key active.
    ///
    /// On unix, refuses a file that group or others can access.
    pub fn load_key_file(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        key_file::load(path.as_ref())
    }

    /// Generates a new random key and writes it to a new file with mode 0600, creating parent
    /// directories. Never overwrites an existing file.
    pub fn create_key_file(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        key_file::create(path.as_ref())
    }

    /// Loads the key file at `path`, creating it with a new key first if it does not exist.
    pub fn load_or_create_key_file(path: impl AsRef<Path>) -> Result<Self, CryptoError> {
        key_file::load_or_create(path.as_ref())
    }

    /// The id of the key new ciphertexts are encrypted with.
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Every key id, the active one first, then the others in id order.
    pub fn key_ids(&self) -> Vec<&str> {
        let others = self.keys.keys().filter(|kid| **kid != self.active);
        std::iter::once(self.active.as_str())
            .chain(others.map(String::as_str))
            .collect()
    }

    /// A freshly generated key as a key spec entry, `kid=BASE64KEY`, to put first in
    /// `security.encryption_keys` when rotating inline keys.
    pub fn new_key_spec() -> String {
        format!("{}={}", new_key_id(), STANDARD.encode(new_key()))
    }

    /// This keyring plus a freshly generated key, which becomes the active one; the old keys
    /// stay, so existing ciphertexts still decrypt (the first step of a rotation).
    pub fn with_new_active_key(&self) -> Self {
        let mut keys = self.keys.clone();
        let mut kid = new_key_id();
        while keys.contains_key(&kid) {
            kid = new_key_id();
        }
        keys.insert(kid.clone(), Key::new(new_key()));
        Self { keys, active: kid }
    }

    /// This keyring with only its active key (the last step of a rotation, once nothing is
    /// encrypted under the others).
    pub fn retire_all_but_active(&self) -> Self {
        let key = self.keys[&self.active].clone();
        Self {
            keys: BTreeMap::from([(self.active.clone(), key)]),
            active: self.active.clone(),
        }
    }

    /// Writes the keyring to a key file (the active key first), replacing `path` atomically:
    /// a temporary file with mode 0600 beside it is synced, then renamed over it. A crash
    /// leaves either the old file or the new one, never a partial file.
    pub fn write_key_file(&self, path: impl AsRef<Path>) -> Result<(), CryptoError> {
        let lines = self.key_ids().into_iter().map(|kid| {
            let bytes = &self.keys[kid].bytes;
            (kid, STANDARD.encode(bytes))
        });
        key_file::replace(path.as_ref(), lines)
    }

    /// Encrypts `plaintext` under the active key, bound to `aad`, with a fresh random nonce.
    pub fn encrypt(&self, plaintext: &str, aad: &[u8]) -> String {
        let cipher = &self.keys[&self.active].cipher;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad,
        };
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encrypts any input shorter than 64 GiB");
        let mut data = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&ciphertext);
        format!("{}:{}", self.active, URL_SAFE_NO_PAD.encode(data))
    }

    /// Decrypts a value produced by [`Keyring::encrypt`] with the same `aad`, using the key its
    /// prefix names.
    pub fn decrypt(&self, stored: &str, aad: &[u8]) -> Result<String, CryptoError> {
        let kid = key_id_of(stored)?;
        let (_, data) = stored.split_at(kid.len() + 1);
        let cipher = &self
            .keys
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKeyId(kid.to_owned()))?
            .cipher;
        let data = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| CryptoError::Malformed)?;
        if data.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, msg) = data.split_at(NONCE_LEN);
        let plaintext = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg, aad })
            .map_err(|_| CryptoError::DecryptionFailed)?;
        String::from_utf8(plaintext).map_err(|_| CryptoError::DecryptionFailed)
    }

    /// Whether `stored` is already encrypted under the active key (nothing to re-encrypt).
    pub fn is_active_ciphertext(&self, stored: &str) -> bool {
        key_id_of(stored).is_ok_and(|kid| kid == self.active)
    }

    /// Builds a keyring from numbered `kid=base64` entries; `what` names the numbering in errors.
    fn from_entries<'a>(
        entries: impl Iterator<Item = (usize, &'a str)>,
        what: &str,
    ) -> Result<Self, CryptoError> {
        let mut keys = BTreeMap::new();
        let mut active = None;
        for (n, entry) in entries {
            let (kid, key) = parse_entry(entry).map_err(|e| match e {
                CryptoError::BadKeySpec(reason) => {
                    CryptoError::BadKeySpec(format!("{what} {n}: {reason}"))
                }
                other => other,
            })?;
            if keys.contains_key(&kid) {
                return Err(CryptoError::BadKeySpec(format!("duplicate key id {kid:?}")));
            }
            active.get_or_insert_with(|| kid.clone());
            keys.insert(kid, Key::new(key));
        }
        let active = active.ok_or_else(|| CryptoError::BadKeySpec("no keys given".into()))?;
        Ok(Self { keys, active })
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

/// Whether `kid` is 1 to 32 characters of `[A-Za-z0-9_-]`.
fn is_valid_key_id(kid: &str) -> bool {
    (1..=32).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The key id prefix of a stored value; anything else (including plaintext) is `Malformed`, so
/// an error never echoes part of a secret.
fn key_id_of(stored: &str) -> Result<&str, CryptoError> {
    match stored.split_once(':') {
        Some((kid, _)) if is_valid_key_id(kid) => Ok(kid),
        _ => Err(CryptoError::Malformed),
    }
}

/// Parses one `kid=BASE64KEY` entry. The id appears in errors only once it is known to be a
/// valid id, since a malformed entry may be a bare key.
fn parse_entry(entry: &str) -> Result<(String, [u8; KEY_LEN]), CryptoError> {
    let bad = |reason: String| CryptoError::BadKeySpec(reason);
    let (kid, key) = entry
        .split_once('=')
        .ok_or_else(|| bad("expected kid=BASE64KEY".into()))?;
    let (kid, key) = (kid.trim(), key.trim());
    if !is_valid_key_id(kid) {
        return Err(bad(
            "invalid key id (expected 1 to 32 characters of A-Z a-z 0-9 _ -)".into(),
        ));
    }
    let bytes = STANDARD
        .decode(key)
        .map_err(|_| bad(format!("key {kid:?} is not valid base64")))?;
    let key: [u8; KEY_LEN] = bytes.try_into().map_err(|b: Vec<u8>| {
        bad(format!(
            "key {kid:?} must be {KEY_LEN} bytes, got {}",
            b.len()
        ))
    })?;
    Ok((kid.to_owned(), key))
}

/// A fresh key id: `k`, today's date, and a random suffix (`k20261126_3f9a2c`).
fn new_key_id() -> String {
    let suffix: u32 = rand::thread_rng().gen_range(0..0x100_0000);
    format!("k{}_{suffix:06x}", chrono::Utc::now().format("%Y%m%d"))
}

/// A fresh random 32-byte key.
fn new_key() -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_b64(byte: u8) -> String {
        STANDARD.encode([byte; KEY_LEN])
    }

    fn keyring(spec: &[(&str, u8)]) -> Keyring {
        let spec: Vec<String> = spec
            .iter()
            .map(|(kid, byte)| format!("{kid}={}", key_b64(*byte)))
            .collect();
        Keyring::from_spec(&spec.join(",")).unwrap()
    }

    #[test]
    fn a_secret_round_trips_under_its_key_id() {
        let ring = keyring(&[("k1", 1)]);
        let stored = ring.encrypt("s3cret", b"client-a");
        assert!(stored.starts_with("k1:"));
        assert!(!stored.contains("s3cret"));
        assert_eq!(ring.decrypt(&stored, b"client-a").unwrap(), "s3cret");
    }

    #[test]
    fn the_same_secret_encrypts_differently_each_time() {
        let ring = keyring(&[("k1", 1)]);
        assert_ne!(ring.encrypt("s", b"a"), ring.encrypt("s", b"a"));
    }

    #[test]
    fn a_ciphertext_bound_to_another_tenant_fails_to_decrypt() {
        let ring = keyring(&[("k1", 1)]);
        let stored = ring.encrypt("s3cret", b"client-a");
        let err = ring.decrypt(&stored, b"client-b").unwrap_err();
        assert!(matches!(err, CryptoError::DecryptionFailed));
    }

    #[test]
    fn an_unknown_key_id_is_reported_by_name() {
        let stored = keyring(&[("old", 1)]).encrypt("s", b"a");
        let err = keyring(&[("new", 2)]).decrypt(&stored, b"a").unwrap_err();
        assert!(matches!(err, CryptoError::UnknownKeyId(ref kid) if kid == "old"));
    }

    #[test]
    fn old_ciphertexts_still_decrypt_after_a_new_key_becomes_active() {
        let before = keyring(&[("k1", 1)]);
        let stored = before.encrypt("s3cret", b"a");
        let after = keyring(&[("k2", 2), ("k1", 1)]);
        assert_eq!(after.active_key_id(), "k2");
        assert!(!after.is_active_ciphertext(&stored));
        assert_eq!(after.decrypt(&stored, b"a").unwrap(), "s3cret");
        let fresh = after.encrypt("s3cret", b"a");
        assert!(fresh.starts_with("k2:") && after.is_active_ciphertext(&fresh));
    }

    #[test]
    fn a_tampered_ciphertext_fails_to_decrypt() {
        let ring = keyring(&[("k1", 1)]);
        let stored = ring.encrypt("s3cret", b"a");
        let (kid, data) = stored.split_once(':').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(data).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{kid}:{}", URL_SAFE_NO_PAD.encode(bytes));
        let err = ring.decrypt(&tampered, b"a").unwrap_err();
        assert!(matches!(err, CryptoError::DecryptionFailed));
    }

    #[test]
    fn values_that_are_not_ciphertexts_are_malformed_without_echoing_them() {
        let ring = keyring(&[("k1", 1)]);
        for stored in [
            "plaintext",
            "k1:not base64!",
            "k1:AAAA",
            "secret with: colon",
        ] {
            let err = ring.decrypt(stored, b"a").unwrap_err();
            assert!(matches!(err, CryptoError::Malformed), "{stored}: {err}");
        }
    }

    #[test]
    fn debug_output_names_key_ids_but_never_keys() {
        let ring = keyring(&[("k1", 7)]);
        let debug = format!("{ring:?}");
        assert!(debug.contains("k1"));
        assert!(!debug.contains(&key_b64(7)));
        assert!(!debug.contains("7, 7"));
    }

    #[test]
    fn bad_specs_are_rejected_naming_the_key_id_but_not_the_key() {
        let short = STANDARD.encode([9u8; 16]);
        let cases = [
            (String::new(), "no keys"),
            (format!("k1={short}"), "\"k1\" must be 32 bytes, got 16"),
            ("k1=%%%".to_string(), "\"k1\" is not valid base64"),
            (key_b64(3), "invalid key id"),
            ("no-equals-sign".to_string(), "expected kid=BASE64KEY"),
            (
                format!("k1={},k1={}", key_b64(1), key_b64(2)),
                "duplicate key id",
            ),
            (format!("bad id={}", key_b64(1)), "invalid key id"),
        ];
        for (spec, expected) in cases {
            let err = Keyring::from_spec(&spec).unwrap_err().to_string();
            assert!(err.contains(expected), "{spec:?}: {err}");
            assert!(!err.contains(&short) && !err.contains(&key_b64(3)), "{err}");
        }
    }

    #[test]
    fn a_spec_with_spaces_and_several_keys_makes_the_first_active() {
        let spec = format!(" a={} , b={} ", key_b64(1), key_b64(2));
        assert_eq!(Keyring::from_spec(&spec).unwrap().active_key_id(), "a");
    }

    #[test]
    fn a_new_active_key_encrypts_while_the_old_keys_still_decrypt() {
        let old = keyring(&[("k1", 1), ("k0", 9)]);
        let stored = old.encrypt("s3cret", b"a");
        let rotated = old.with_new_active_key();
        let new_kid = rotated.active_key_id().to_owned();
        assert!(new_kid != "k1" && new_kid != "k0" && is_valid_key_id(&new_kid));
        assert_eq!(rotated.key_ids(), vec![new_kid.as_str(), "k0", "k1"]);
        assert_eq!(rotated.decrypt(&stored, b"a").unwrap(), "s3cret");
        assert!(rotated
            .encrypt("s", b"a")
            .starts_with(&format!("{new_kid}:")));
    }

    #[test]
    fn a_new_key_spec_entry_parses_and_goes_first_in_a_spec() {
        let entry = Keyring::new_key_spec();
        let ring = Keyring::from_spec(&format!("{entry},old={}", key_b64(1))).unwrap();
        assert_eq!(Some(ring.active_key_id()), entry.split('=').next());
        assert_ne!(Keyring::new_key_spec(), entry);
    }

    #[test]
    fn retiring_keeps_only_the_active_key() {
        let ring = keyring(&[("new", 2), ("old", 1)]);
        let under_old = keyring(&[("old", 1)]).encrypt("s", b"a");
        let under_new = ring.encrypt("s", b"a");
        let retired = ring.retire_all_but_active();
        assert_eq!(retired.key_ids(), vec!["new"]);
        assert_eq!(retired.decrypt(&under_new, b"a").unwrap(), "s");
        assert!(matches!(
            retired.decrypt(&under_old, b"a"),
            Err(CryptoError::UnknownKeyId(kid)) if kid == "old"
        ));
    }

    #[test]
    fn new_key_ids_are_valid_and_dated() {
        let kid = new_key_id();
        assert!(is_valid_key_id(&kid), "{kid}");
        assert!(kid.starts_with(&format!("k{}", chrono::Utc::now().format("%Y%m%d"))));
    }
}
