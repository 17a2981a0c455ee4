//! Keys: algorithms, key ids, secret and public keys, and their text files.
//!
//! Key files are short text files, one `field value` per line, so an operator can read what a
//! file is (docs/FORMAT.md §11):
//!
//! ```text
//! idcard-key 1
//! kind public
//! algorithm ed25519
//! id 3f2a9c0d11e7b5a4
//! name platform root 2026
//! key 8c1f…(64 hex digits)
//! ```

use std::fmt;
use std::path::Path;

use ed25519_dalek::Signer as _;

use super::TrustError;
use super::cert::KeyCertificate;

/// A signature algorithm (the byte every signed structure carries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Ed25519 (RFC 8032), strict verification; content hashes BLAKE3-256.
    Ed25519,
}

impl Algorithm {
    /// The byte in signed structures.
    pub fn code(self) -> u8 {
        match self {
            Algorithm::Ed25519 => 1,
        }
    }

    /// The algorithm of a byte.
    pub fn from_code(code: u8) -> Result<Algorithm, TrustError> {
        match code {
            1 => Ok(Algorithm::Ed25519),
            other => Err(TrustError::UnsupportedAlgorithm(other)),
        }
    }

    /// `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "ed25519" => Ok(Algorithm::Ed25519),
            other => Err(format!("unknown algorithm {other:?}: ed25519")),
        }
    }
}

/// A key's identifier: the first 8 bytes of BLAKE3 over the algorithm byte and the public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    fn of(algorithm: Algorithm, public: &[u8]) -> KeyId {
        let mut h = blake3::Hasher::new();
        h.update(&[algorithm.code()]);
        h.update(public);
        let mut id = [0u8; 8];
        id.copy_from_slice(&h.finalize().as_bytes()[..8]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for KeyId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes =
            hex(s.trim()).ok_or_else(|| format!("{s:?} is not a key id (16 hex digits)"))?;
        let id: [u8; 8] = bytes
            .try_into()
            .map_err(|_| format!("{s:?} is not a key id (16 hex digits)"))?;
        Ok(KeyId(id))
    }
}

/// A public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Algorithm,
    key: ed25519_dalek::VerifyingKey,
    name: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({} {} {:?})",
            self.algorithm.as_str(),
            self.id(),
            self.name
        )
    }
}

impl PublicKey {
    /// A public key from its algorithm and bytes.
    pub fn from_bytes(
        algorithm: Algorithm,
        bytes: &[u8],
        name: impl Into<String>,
    ) -> Result<PublicKey, TrustError> {
        let malformed = |m: &str| TrustError::Malformed {
            what: "public key",
            message: m.to_string(),
        };
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| malformed("an ed25519 public key is 32 bytes"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map_err(|_| malformed("not a point on the curve"))?;
        if key.is_weak() {
            return Err(malformed("a weak (small-order) key"));
        }
        Ok(PublicKey {
            algorithm,
            key,
            name: name.into(),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        KeyId::of(self.algorithm, self.key.as_bytes())
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.key.as_bytes()
    }

    /// The name given at generation.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verify `signature` over `message` (strict Ed25519: no malleable or small-order input).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), TrustError> {
        let sig = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|_| TrustError::BadSignature(self.id()))?;
        self.key
            .verify_strict(message, &sig)
            .map_err(|_| TrustError::BadSignature(self.id()))
    }

    /// The key file's text.
    pub fn to_file_text(&self) -> String {
        key_text(
            "public",
            self.algorithm,
            self.id(),
            &self.name,
            self.as_bytes(),
        )
    }

    /// Parse a public key file (a private key file is refused: its public half comes from
    /// [`SecretKey::public`]).
    pub fn from_file_text(text: &str, path: &str) -> Result<PublicKey, TrustError> {
        let f = parse_key_text(text, path)?;
        if f.kind != "public" {
            return Err(key_file_error(path, "not a public key file (kind private)"));
        }
        let key = PublicKey::from_bytes(f.algorithm, &f.key, f.name)
            .map_err(|e| key_file_error(path, &e.to_string()))?;
        if key.id() != f.id {
            return Err(key_file_error(path, "the id does not match the key"));
        }
        Ok(key)
    }

    /// Read a public key file.
    pub fn read(path: impl AsRef<Path>) -> Result<PublicKey, TrustError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| key_file_error(&path.display().to_string(), &e.to_string()))?;
        PublicKey::from_file_text(&text, &path.display().to_string())
    }
}

/// A secret (signing) key.
pub struct SecretKey {
    algorithm: Algorithm,
    key: ed25519_dalek::SigningKey,
    name: String,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey({} {} {:?}, ..)",
            self.algorithm.as_str(),
            self.public().id(),
            self.name
        )
    }
}

impl SecretKey {
    /// A new key from the operating system's randomness.
    pub fn generate(
        algorithm: Algorithm,
        name: impl Into<String>,
    ) -> Result<SecretKey, TrustError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| TrustError::KeyFile {
            path: "(generating a key)".into(),
            message: format!("no randomness: {e}"),
        })?;
        Ok(SecretKey::from_seed(algorithm, seed, name))
    }

    /// The key of a 32-byte seed (tests and golden files use fixed seeds).
    pub fn from_seed(algorithm: Algorithm, seed: [u8; 32], name: impl Into<String>) -> SecretKey {
        SecretKey {
            algorithm,
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
            name: name.into(),
        }
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            algorithm: self.algorithm,
            key: self.key.verifying_key(),
            name: self.name.clone(),
        }
    }

    /// Sign `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).to_bytes().to_vec()
    }

    /// A signer with this key and its certificate (`None` for a root key signing directly).
    pub fn signer(self, certificate: Option<KeyCertificate>) -> Signer {
        Signer {
            key: self,
            certificate,
        }
    }

    /// The key file's text (keep it secret: mode 0600).
    pub fn to_file_text(&self) -> String {
        key_text(
            "private",
            self.algorithm,
            self.public().id(),
            &self.name,
            &self.key.to_bytes(),
        )
    }

    /// Parse a private key file.
    pub fn from_file_text(text: &str, path: &str) -> Result<SecretKey, TrustError> {
        let f = parse_key_text(text, path)?;
        if f.kind != "private" {
            return Err(key_file_error(path, "not a private key file (kind public)"));
        }
        let seed: [u8; 32] = f
            .key
            .try_into()
            .map_err(|_| key_file_error(path, "an ed25519 private key is 32 bytes"))?;
        let key = SecretKey::from_seed(f.algorithm, seed, f.name);
        if key.public().id() != f.id {
            return Err(key_file_error(path, "the id does not match the key"));
        }
        Ok(key)
    }

    /// Read a private key file.
    pub fn read(path: impl AsRef<Path>) -> Result<SecretKey, TrustError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| key_file_error(&path.display().to_string(), &e.to_string()))?;
        SecretKey::from_file_text(&text, &path.display().to_string())
    }

    /// Write the private key file (mode 0600, not replacing an existing file) and the public
    /// key file beside it (`NAME.key` → `NAME.pub`).
    pub fn write_files(
        &self,
        private_path: impl AsRef<Path>,
    ) -> Result<std::path::PathBuf, TrustError> {
        let private_path = private_path.as_ref();
        let err =
            |p: &Path, e: std::io::Error| key_file_error(&p.display().to_string(), &e.to_string());
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(private_path).map_err(|e| err(private_path, e))?;
        std::io::Write::write_all(&mut f, self.to_file_text().as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| err(private_path, e))?;
        let public_path = private_path.with_extension("pub");
        std::fs::write(&public_path, self.public().to_file_text())
            .map_err(|e| err(&public_path, e))?;
        Ok(public_path)
    }
}

/// A key that signs published files: the secret key and the certificate the root gave it.
#[derive(Debug)]
pub struct Signer {
    key: SecretKey,
    certificate: Option<KeyCertificate>,
}

impl Signer {
    /// The signing key's public half.
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// The certificate carried in what it signs (`None`: a root signs directly).
    pub fn certificate(&self) -> Option<&KeyCertificate> {
        self.certificate.as_ref()
    }

    /// Sign `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message)
    }

    /// A signer from a private key file and, optionally, its certificate file.
    pub fn read(key: impl AsRef<Path>, certificate: Option<&Path>) -> Result<Signer, TrustError> {
        let key = SecretKey::read(key)?;
        let certificate = certificate.map(KeyCertificate::read).transpose()?;
        if let Some(c) = &certificate
            && c.key().id() != key.public().id()
        {
            return Err(TrustError::KeyFile {
                path: "(certificate)".into(),
                message: format!(
                    "the certificate is for key {}, not for {}",
                    c.key().id(),
                    key.public().id()
                ),
            });
        }
        Ok(key.signer(certificate))
    }
}

fn key_file_error(path: &str, message: &str) -> TrustError {
    TrustError::KeyFile {
        path: path.to_string(),
        message: message.to_string(),
    }
}

fn key_text(kind: &str, algorithm: Algorithm, id: KeyId, name: &str, key: &[u8]) -> String {
    let name = name.replace(['\n', '\r'], " ");
    let mut hexkey = String::with_capacity(key.len() * 2);
    for b in key {
        hexkey.push_str(&format!("{b:02x}"));
    }
    format!(
        "idcard-key 1\nkind {kind}\nalgorithm {}\nid {id}\nname {name}\nkey {hexkey}\n",
        algorithm.as_str()
    )
}

struct KeyText {
    kind: String,
    algorithm: Algorithm,
    id: KeyId,
    name: String,
    key: Vec<u8>,
}

fn parse_key_text(text: &str, path: &str) -> Result<KeyText, TrustError> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("idcard-key 1") {
        return Err(key_file_error(
            path,
            "not an idcard key file (first line `idcard-key 1`)",
        ));
    }
    let (mut kind, mut algorithm, mut id, mut name, mut key) =
        (None, None, None, String::new(), None);
    for (n, line) in lines.enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (field, value) = line.split_once(' ').unwrap_or((line, ""));
        let at = |m: String| key_file_error(path, &format!("line {}: {m}", n + 2));
        match field {
            "kind" if matches!(value, "public" | "private") => kind = Some(value.to_string()),
            "algorithm" => algorithm = Some(value.parse::<Algorithm>().map_err(at)?),
            "id" => id = Some(value.parse::<KeyId>().map_err(at)?),
            "name" => name = value.to_string(),
            "key" => key = Some(hex(value).ok_or_else(|| at("the key is not hex".into()))?),
            _ => return Err(at(format!("unknown field {field:?}"))),
        }
    }
    let missing = |f: &str| key_file_error(path, &format!("no `{f}` line"));
    Ok(KeyText {
        kind: kind.ok_or_else(|| missing("kind"))?,
        algorithm: algorithm.ok_or_else(|| missing("algorithm"))?,
        id: id.ok_or_else(|| missing("id"))?,
        name,
        key: key.ok_or_else(|| missing("key"))?,
    })
}

/// Bytes of a hex string.
pub(crate) fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl super::signed::Sign for SecretKey {
    fn public(&self) -> PublicKey {
        SecretKey::public(self)
    }
    fn certificate(&self) -> Option<&[u8]> {
        None
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        SecretKey::sign(self, message)
    }
}

impl super::signed::Sign for Signer {
    fn public(&self) -> PublicKey {
        Signer::public(self)
    }
    fn certificate(&self) -> Option<&[u8]> {
        self.certificate.as_ref().map(KeyCertificate::as_bytes)
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        Signer::sign(self, message)
    }
}
