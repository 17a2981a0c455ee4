//! Trust in what the platform publishes (TUF's root/targets split, kept small).
//!
//! - A **root key**, kept offline, is what verifiers pin: its public half is the *trust file*
//!   ([`TrustStore`]).
//! - The root signs **key certificates** ([`KeyCertificate`]): a publishing key with its roles and
//!   a validity window. Rotating a publishing key is a new certificate; no verifier changes.
//! - Every published file (snapshot, delta, timestamp, journal head) ends with a **signature
//!   block** ([`signed`]) naming its algorithm, the signer's key id, the hash of the content,
//!   the signer's certificate and the signature. A verifier checks the block first (the
//!   certificate against its pinned roots, the signature over the kind of file, the length and
//!   the hash), then hashes the content, and only then parses it.
//!
//! Every signed structure names its algorithm ([`Algorithm`]), so a second suite (SM2/SM3) can be
//! added without a format change. The one suite today is Ed25519 (`ed25519-dalek` 2, strict
//! verification) with BLAKE3 content hashes.
//!
//! ```
//! use idcard::trust::{Algorithm, FileKind, KeyCertificate, Roles, SecretKey, TrustStore, signed};
//! let root = SecretKey::generate(Algorithm::Ed25519, "root")?;
//! let publisher = SecretKey::generate(Algorithm::Ed25519, "publisher")?;
//! let now = chrono::Utc::now();
//! let cert = KeyCertificate::issue(&root, &publisher.public(), Roles::PUBLISH,
//!     now - chrono::Duration::days(1), now + chrono::Duration::days(365))?;
//! let signer = publisher.signer(Some(cert));
//!
//! let mut file = b"the content of a delta".to_vec();
//! signed::append(&mut file, FileKind::Delta, &signer)?;
//!
//! let trust = TrustStore::new(vec![root.public()]);
//! let ok = trust.verify(FileKind::Delta, &file, now)?;
//! assert_eq!(&file[..ok.content_len], b"the content of a delta");
//! // The same bytes are no timestamp, and a flipped byte is refused.
//! assert!(trust.verify(FileKind::Timestamp, &file, now).is_err());
//! file[3] ^= 1;
//! assert!(trust.verify(FileKind::Delta, &file, now).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cert;
mod keys;
pub mod signed;
mod store;

pub use cert::{KeyCertificate, Roles};
pub use keys::{Algorithm, KeyId, PublicKey, SecretKey, Signer};
pub use signed::FileKind;
pub use store::{SignedBy, TrustStore, Verified};

/// Why a signature, key or certificate is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The file has no signature block.
    #[error("the file is not signed")]
    Unsigned,
    /// The signature block or a certificate is malformed.
    #[error("malformed {what}: {message}")]
    Malformed {
        /// `signature block`, `certificate`, `key file` …
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An algorithm this library does not implement.
    #[error("signature algorithm {0} is not supported (this library implements ed25519)")]
    UnsupportedAlgorithm(u8),
    /// The signer's key is neither a pinned root nor certified by one.
    #[error("key {0} is not trusted: not in the trust file and not certified by a key in it")]
    UnknownKey(KeyId),
    /// The signature does not verify.
    #[error("the signature by key {0} does not verify")]
    BadSignature(KeyId),
    /// The content does not hash to what the signature covers.
    #[error("the content does not match the signed hash")]
    HashMismatch,
    /// The signed kind of file differs from the one expected.
    #[error("the file is signed as a {found}, not a {expected}")]
    WrongKind {
        /// Expected kind.
        expected: &'static str,
        /// Signed kind.
        found: String,
    },
    /// The signer's certificate is outside its validity window.
    #[error("key {key} is not valid at {at}: its certificate is valid from {from} until {until}")]
    KeyNotValid {
        /// The key.
        key: KeyId,
        /// The time checked.
        at: chrono::DateTime<chrono::Utc>,
        /// Start of the window.
        from: chrono::DateTime<chrono::Utc>,
        /// End of the window.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The signer's certificate does not grant the role this file needs.
    #[error("key {key} may not sign a {kind}")]
    WrongRole {
        /// The key.
        key: KeyId,
        /// The kind of file.
        kind: &'static str,
    },
    /// A key file cannot be read or written.
    #[error("{path}: {message}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}
