//! Key certificates: a root key vouches for a publishing key, for some roles, within a validity
//! window (docs/FORMAT.md §11.2).

use std::path::Path;

use chrono::{DateTime, Utc};

use super::TrustError;
use super::keys::{Algorithm, KeyId, PublicKey, SecretKey};
use super::signed::{self, FileKind};

const MAGIC: [u8; 8] = *b"IDCCERT\0";
const VERSION: u32 = 1;

/// What a certified key may sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Roles(pub u8);

impl Roles {
    /// Snapshots, deltas and timestamps.
    pub const PUBLISH: Roles = Roles(1);
    /// The journal's signed heads.
    pub const JOURNAL_HEAD: Roles = Roles(2);

    /// Whether every role of `other` is granted.
    pub fn contains(self, other: Roles) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both roles.
    pub fn union(self, other: Roles) -> Roles {
        Roles(self.0 | other.0)
    }

    /// Role names, for people.
    pub fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.contains(Roles::PUBLISH) {
            v.push("publish");
        }
        if self.contains(Roles::JOURNAL_HEAD) {
            v.push("journal_head");
        }
        v
    }
}

impl std::str::FromStr for Roles {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut r = Roles(0);
        for part in s.split([',', '|']) {
            r = r.union(match part.trim() {
                "publish" => Roles::PUBLISH,
                "journal_head" => Roles::JOURNAL_HEAD,
                other => return Err(format!("unknown role {other:?}: publish, journal_head")),
            });
        }
        Ok(r)
    }
}

/// A root's certificate for a key (see the module documentation). Holds its own bytes, which
/// published files embed in their signature block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCertificate {
    key: PublicKey,
    roles: Roles,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    issuer: KeyId,
    bytes: Vec<u8>,
}

impl KeyCertificate {
    /// The root `root` certifies `key` for `roles` from `valid_from` until `valid_until`.
    pub fn issue(
        root: &SecretKey,
        key: &PublicKey,
        roles: Roles,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    ) -> Result<KeyCertificate, TrustError> {
        if valid_until <= valid_from {
            return Err(TrustError::Malformed {
                what: "certificate",
                message: "the validity window ends before it starts".into(),
            });
        }
        let name = key.name().as_bytes();
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.push(key.algorithm().code());
        b.push(roles.0);
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&valid_from.timestamp().to_le_bytes());
        b.extend_from_slice(&valid_until.timestamp().to_le_bytes());
        b.extend_from_slice(&(key.as_bytes().len() as u16).to_le_bytes());
        b.extend_from_slice(key.as_bytes());
        b.extend_from_slice(&(name.len().min(u16::MAX as usize) as u16).to_le_bytes());
        b.extend_from_slice(&name[..name.len().min(u16::MAX as usize)]);
        signed::append(&mut b, FileKind::Certificate, root)?;
        KeyCertificate::parse(&b)
    }

    /// Parse a certificate's bytes (structure only: [`super::TrustStore`] checks the root's
    /// signature).
    pub fn parse(bytes: &[u8]) -> Result<KeyCertificate, TrustError> {
        let bad = |m: &str| TrustError::Malformed {
            what: "certificate",
            message: m.to_string(),
        };
        let block = signed::Block::parse(bytes)?.ok_or_else(|| bad("it is not signed"))?;
        if block.certificate.is_some() {
            return Err(bad(
                "a certificate is signed by a root directly, not through another certificate",
            ));
        }
        let c = &bytes[..block.content_len];
        if c.len() < 34 || c[..8] != MAGIC {
            return Err(bad("not a key certificate"));
        }
        let version = u32::from_le_bytes(c[8..12].try_into().expect("4"));
        if version != VERSION {
            return Err(bad(&format!(
                "version {version} is not supported (this library reads 1)"
            )));
        }
        let algorithm = Algorithm::from_code(c[12])?;
        let roles = Roles(c[13]);
        if roles.0 & !Roles::PUBLISH.union(Roles::JOURNAL_HEAD).0 != 0 || roles.0 == 0 {
            return Err(bad(&format!("unknown roles {:#04x}", roles.0)));
        }
        if c[14..16] != [0, 0] {
            return Err(bad("reserved bytes 14..16 are not zero"));
        }
        let from = i64::from_le_bytes(c[16..24].try_into().expect("8"));
        let until = i64::from_le_bytes(c[24..32].try_into().expect("8"));
        if until <= from {
            return Err(bad("the validity window ends before it starts"));
        }
        let key_len = u16::from_le_bytes(c[32..34].try_into().expect("2")) as usize;
        let key_end = 34 + key_len;
        if c.len() < key_end + 2 {
            return Err(bad("cut short in the key"));
        }
        let name_len = u16::from_le_bytes(c[key_end..key_end + 2].try_into().expect("2")) as usize;
        if c.len() != key_end + 2 + name_len {
            return Err(bad("the name's length does not match the certificate's"));
        }
        let name =
            std::str::from_utf8(&c[key_end + 2..]).map_err(|_| bad("the name is not UTF-8"))?;
        let key = PublicKey::from_bytes(algorithm, &c[34..key_end], name)?;
        let time = |t| DateTime::from_timestamp(t, 0).ok_or_else(|| bad("a time out of range"));
        Ok(KeyCertificate {
            key,
            roles,
            valid_from: time(from)?,
            valid_until: time(until)?,
            issuer: block.signer,
            bytes: bytes.to_vec(),
        })
    }

    /// Read a certificate file.
    pub fn read(path: &Path) -> Result<KeyCertificate, TrustError> {
        let bytes = std::fs::read(path).map_err(|e| TrustError::KeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        KeyCertificate::parse(&bytes).map_err(|e| TrustError::KeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The certified key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Its roles.
    pub fn roles(&self) -> Roles {
        self.roles
    }

    /// Start of the validity window.
    pub fn valid_from(&self) -> DateTime<Utc> {
        self.valid_from
    }

    /// End of the validity window.
    pub fn valid_until(&self) -> DateTime<Utc> {
        self.valid_until
    }

    /// The root key that signed it.
    pub fn issuer(&self) -> KeyId {
        self.issuer
    }

    /// The certificate's bytes (its content and the root's signature block).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}
