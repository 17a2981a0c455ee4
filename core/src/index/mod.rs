//! The verification index — requirement L3 ("is this card reported lost?"), with the person
//! blacklist of A6 for police profiles.
//!
//! - A [`Snapshot`] is an immutable, signed file (format in `docs/FORMAT.md`) holding the
//!   card table (card key → status, reason, date of the change; a card with no entry is valid)
//!   and, for the police profile, the blacklist (number → reason bitset, source, date). Entries
//!   hold keyed fingerprints of the compact keys, never identity numbers (S2).
//! - A [`Delta`] is the list of changes after a snapshot, applied in order.
//! - A [`Verifier`] answers queries from a snapshot plus applied deltas; readers never lock and
//!   never block, while another thread applies deltas or swaps in a new snapshot. It fails
//!   closed: every file must be signed by a key the trust file pins (unless unsigned files are
//!   explicitly allowed), times must not be in the future, sequences never go back, and data
//!   older than the maximum age answers `stale`, not `valid`.
//! - A [`Timestamp`] is the publisher's signed "as of T, the newest sequence is S".
//! - A [`SnapshotBuilder`] writes snapshots deterministically and atomically.
//!
//! ```
//! use idcard::index::{CardEntry, CardStatus, Profile, SnapshotBuilder, Verifier};
//! use idcard::trust::{Algorithm, SecretKey, TrustStore};
//! use idcard::{CardKey, IdNumber};
//! use chrono::NaiveDate;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("bank.idcs");
//! let n: IdNumber = "11010519491231002X".parse()?;
//! let lost = CardKey::new(n, NaiveDate::from_ymd_opt(2005, 6, 1).unwrap())?;
//! let replacement = CardKey::new(n, NaiveDate::from_ymd_opt(2015, 6, 1).unwrap())?;
//!
//! // The platform signs (here with its root key directly; see `trust` for publishing keys).
//! let root = SecretKey::generate(Algorithm::Ed25519, "platform root")?;
//! let trust = TrustStore::new(vec![root.public()]);
//! let mut b = SnapshotBuilder::new(Profile::Bank);
//! b.add_card(lost, CardEntry::new(CardStatus::Lost));
//! b.signer(std::sync::Arc::new(root.signer(None)));
//! b.write(&path)?;
//!
//! // The bank pins the platform's root key.
//! let v = Verifier::open(&path, trust)?;
//! assert_eq!(v.verify(lost), CardStatus::Lost);
//! assert_eq!(v.verify(replacement), CardStatus::Valid); // N4: the new card is unaffected
//! assert!(v.info().snapshot.signature.is_verified());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod build;
mod copy;
mod delta;
mod filter;
mod format;
mod hash;
mod import;
mod overlay;
mod snapshot;
mod spill;
mod timestamp;
mod verifier;

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

pub use build::{BuildProgress, FilterMode, MAX_SEEDS, SnapshotBuilder, next_seed};

/// Helpers for the fuzz targets in `fuzz/` (compiled only with `--cfg fuzzing`, which
/// `cargo fuzz` sets): make mutated bytes pass the checksums so the deeper checks are fuzzed.
#[cfg(fuzzing)]
pub mod fuzzing {
    /// Recompute a snapshot's checksums and id in place.
    pub fn reseal_snapshot(bytes: &mut [u8]) {
        super::format::reseal(bytes)
    }

    /// Recompute a delta's header and record checksums in place.
    pub fn reseal_delta(bytes: &mut [u8]) {
        super::delta::reseal(bytes)
    }

    type Keys = (
        std::sync::Arc<crate::trust::Signer>,
        crate::trust::TrustStore,
    );

    fn keys() -> &'static Keys {
        use crate::trust::{Algorithm, KeyCertificate, Roles, SecretKey, TrustStore};
        static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| {
            let root = SecretKey::from_seed(Algorithm::Ed25519, [1; 32], "fuzz root");
            let publisher = SecretKey::from_seed(Algorithm::Ed25519, [2; 32], "fuzz publisher");
            let at = |y| {
                chrono::NaiveDate::from_ymd_opt(y, 1, 1)
                    .expect("date")
                    .and_hms_opt(0, 0, 0)
                    .expect("time")
                    .and_utc()
            };
            let cert = KeyCertificate::issue(
                &root,
                &publisher.public(),
                Roles::PUBLISH,
                at(2020),
                at(2100),
            )
            .expect("certificate");
            (
                std::sync::Arc::new(publisher.signer(Some(cert))),
                TrustStore::new(vec![root.public()]),
            )
        })
    }

    /// The fuzz targets' trust store (a fixed test root).
    pub fn trust() -> crate::trust::TrustStore {
        keys().1.clone()
    }

    /// The fuzz targets' publishing key (certified by [`trust`]'s root).
    pub fn signer() -> std::sync::Arc<crate::trust::Signer> {
        keys().0.clone()
    }

    /// Append a signature block by [`signer`] over all of `bytes`, as a `kind` file, so that
    /// mutated content behind a valid signature is reached.
    pub fn sign(bytes: &mut Vec<u8>, kind: crate::trust::FileKind) {
        crate::trust::signed::append(bytes, kind, keys().0.as_ref()).expect("sign")
    }
}
/// Open a published file and read it whole, reading no more than `max` bytes (the size is
/// taken from the open file, so a file swapped or grown after a check cannot make it read
/// more). With `expect` (device and inode from listing a folder), the file opened must be the
/// one listed: a name replaced by a symbolic link in between is refused.
pub(crate) fn read_bounded(
    path: &std::path::Path,
    kind: &'static str,
    max: u64,
    expect: Option<(u64, u64)>,
) -> Result<Vec<u8>, IndexError> {
    read_bounded_checked(path, kind, max, expect, 0, &|_, _| Ok(()))
}

/// A check of a file's first bytes, given the file's length.
pub(crate) type HeadCheck<'a> = dyn Fn(&[u8], usize) -> Result<(), IndexError> + 'a;

/// [`read_bounded`], with `check_head` run on the first `head` bytes (and the file's length)
/// before the rest is read: a file of another kind is refused without reading its body.
pub(crate) fn read_bounded_checked(
    path: &std::path::Path,
    kind: &'static str,
    max: u64,
    expect: Option<(u64, u64)>,
    head: usize,
    check_head: &HeadCheck<'_>,
) -> Result<Vec<u8>, IndexError> {
    use std::os::unix::fs::{FileExt, MetadataExt};
    let io = |e| IndexError::io(path, e);
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if let Some(want) = expect
        && (meta.dev(), meta.ino()) != want
    {
        return Err(IndexError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other("the file changed since the folder was listed (a link?)"),
        });
    }
    if !meta.is_file() {
        return Err(IndexError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other("not a regular file"),
        });
    }
    if meta.len() > max {
        return Err(IndexError::TooLarge {
            path: path.display().to_string(),
            kind,
            size: meta.len(),
            limit: max,
        });
    }
    let len = meta.len() as usize;
    let mut first = vec![0u8; len.min(head)];
    file.read_exact_at(&mut first, 0).map_err(io)?;
    check_head(&first, len)?;
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, 0).map_err(io)?;
    Ok(bytes)
}

pub use delta::{Delta, DeltaBuilder, DeltaOp};
pub use format::{FORMAT_VERSION, SectionInfo, SnapshotInfo};
pub(crate) use import::line_of as import_line_of;
pub use import::{BlacklistCsv, CardsCsv, ImportError};
pub use snapshot::{OpenOptions, Snapshot};
pub use timestamp::Timestamp;
pub use verifier::{
    DEFAULT_FUTURE_SKEW, DEFAULT_MAX_AGE, DEFAULT_MAX_OVERLAY, DeltaDirReport, SkippedFile,
    Verifier, VerifierInfo, VerifierOptions,
};

/// Whether a published file is signed, as checked when it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Signature {
    /// No signature block: opened only because unsigned files were explicitly allowed.
    #[default]
    Unsigned,
    /// Signed, but opened without a trust file (unsigned files allowed): the signature was not
    /// checked.
    Unchecked,
    /// Signed, and the signature checked against the trust file.
    Verified(crate::trust::SignedBy),
}

impl Signature {
    /// Whether the signature was checked against a trust file.
    pub fn is_verified(&self) -> bool {
        matches!(self, Signature::Verified(_))
    }
}

/// What a reader of published files requires (fail closed): a trust file, and unsigned files
/// refused unless explicitly allowed.
#[derive(Clone, Debug, Default)]
pub struct SignaturePolicy {
    /// The pinned root keys. `None`: signatures cannot be checked, so only
    /// [`SignaturePolicy::allow_unsigned`] opens anything.
    pub trust: Option<std::sync::Arc<crate::trust::TrustStore>>,
    /// Open files without a (checked) signature: an analyst's own snapshot, a test. A verifier
    /// opened this way says so ([`Signature`]).
    pub allow_unsigned: bool,
}

impl SignaturePolicy {
    /// Require signatures by these roots.
    pub fn trusting(trust: crate::trust::TrustStore) -> SignaturePolicy {
        SignaturePolicy {
            trust: Some(std::sync::Arc::new(trust)),
            allow_unsigned: false,
        }
    }

    /// Accept unsigned files (and signed ones without checking them).
    pub fn unsigned() -> SignaturePolicy {
        SignaturePolicy {
            trust: None,
            allow_unsigned: true,
        }
    }

    /// Decide about a file's signature block (`None`: the file has none): the signer checked when
    /// there is a trust file, and what the content's hash must be.
    pub(crate) fn check(
        &self,
        kind: crate::trust::FileKind,
        block: Option<&crate::trust::signed::Block>,
        path: &str,
    ) -> Result<(Signature, Option<[u8; 32]>), IndexError> {
        let trust_err = |source| IndexError::Trust {
            path: path.to_string(),
            source,
        };
        match (block, &self.trust) {
            (Some(b), Some(t)) => {
                let by = t
                    .check_block(kind, b, chrono::Utc::now())
                    .map_err(trust_err)?;
                Ok((Signature::Verified(by), Some(b.hash)))
            }
            (Some(_), None) if self.allow_unsigned => Ok((Signature::Unchecked, None)),
            (None, _) if self.allow_unsigned => Ok((Signature::Unsigned, None)),
            (_, None) => Err(IndexError::TrustRequired {
                path: path.to_string(),
            }),
            (None, Some(_)) => Err(trust_err(crate::trust::TrustError::Unsigned)),
        }
    }
}

use crate::card::VALID_FROM_EPOCH;

/// The answer to "what is the status of this card?" (L3). Values are the C constants
/// `IDC_CARD_*`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum CardStatus {
    /// Not listed: the card is not reported lost, stolen, superseded or invalidated.
    #[default]
    Valid = 0,
    /// Reported lost (L1).
    Lost = 1,
    /// Reported stolen (L1).
    Stolen = 2,
    /// Replaced by a newer card on renewal (A4).
    Superseded = 3,
    /// Invalidated (cancelled, fraudulently obtained, holder deceased …).
    Invalidated = 4,
    /// Not listed, but the snapshot is older than the configured maximum age.
    Stale = 5,
    /// The number or the validity date is not valid (N1), or the number is not a citizen's (a
    /// foreign permanent resident's or a residence permit's: no resident identity card).
    InvalidNumber = 6,
    /// Not listed, but past its validity end on the day of the check (N5: the period follows
    /// from the age at the validity start; long-term cards never expire; first-generation cards
    /// are invalid from 2013-01-01).
    Expired = 7,
}

impl CardStatus {
    /// All statuses, by value.
    pub const ALL: [CardStatus; 8] = [
        CardStatus::Valid,
        CardStatus::Lost,
        CardStatus::Stolen,
        CardStatus::Superseded,
        CardStatus::Invalidated,
        CardStatus::Stale,
        CardStatus::InvalidNumber,
        CardStatus::Expired,
    ];

    /// The name used in CSV and JSON (`valid`, `lost`, `stolen`, `superseded`, `invalidated`,
    /// `stale`, `invalid_number`, `expired`).
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Valid => "valid",
            CardStatus::Lost => "lost",
            CardStatus::Stolen => "stolen",
            CardStatus::Superseded => "superseded",
            CardStatus::Invalidated => "invalidated",
            CardStatus::Stale => "stale",
            CardStatus::InvalidNumber => "invalid_number",
            CardStatus::Expired => "expired",
        }
    }

    /// The status with this numeric value.
    pub fn from_u8(v: u8) -> Option<CardStatus> {
        CardStatus::ALL.get(v as usize).copied()
    }

    /// Whether a snapshot can list a card with this status (lost, stolen, superseded,
    /// invalidated).
    pub fn is_listable(self) -> bool {
        matches!(
            self,
            CardStatus::Lost
                | CardStatus::Stolen
                | CardStatus::Superseded
                | CardStatus::Invalidated
        )
    }

    /// Whether a card with this status must be refused at a counter (anything but valid).
    pub fn is_refused(self) -> bool {
        self != CardStatus::Valid
    }
}

impl fmt::Display for CardStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CardStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CardStatus::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown card status {s:?}; expected one of lost, stolen, superseded, invalidated"
                )
            })
    }
}

/// Why a card has its status: a small code (0..=31) carried in the index.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct CardReason(u8);

impl CardReason {
    /// No reason given.
    pub const UNSPECIFIED: CardReason = CardReason(0);
    /// Loss reported by the holder at the household registration place (L1).
    pub const REPORTED_AT_HUKOU_PLACE: CardReason = CardReason(1);
    /// Loss reported away from the household registration place (L1).
    pub const REPORTED_AWAY: CardReason = CardReason(2);
    /// Superseded by a renewal (换领, A4).
    pub const RENEWED: CardReason = CardReason(3);
    /// Superseded by a replacement (补领, A3).
    pub const REPLACED: CardReason = CardReason(4);
    /// A found card destroyed because its owner already had a replacement (F2).
    pub const FOUND_AND_DESTROYED: CardReason = CardReason(5);
    /// Invalidated: the holder died.
    pub const HOLDER_DECEASED: CardReason = CardReason(6);
    /// Invalidated: the card was fraudulently obtained (A6, S1).
    pub const FRAUDULENTLY_OBTAINED: CardReason = CardReason(7);
    /// Invalidated: the registration was cancelled (e.g. duplicate registration).
    pub const REGISTRATION_CANCELLED: CardReason = CardReason(8);
    /// Reported stolen.
    pub const STOLEN: CardReason = CardReason(9);

    const NAMES: [(&'static str, CardReason); 10] = [
        ("unspecified", CardReason::UNSPECIFIED),
        (
            "reported_at_hukou_place",
            CardReason::REPORTED_AT_HUKOU_PLACE,
        ),
        ("reported_away", CardReason::REPORTED_AWAY),
        ("renewed", CardReason::RENEWED),
        ("replaced", CardReason::REPLACED),
        ("found_and_destroyed", CardReason::FOUND_AND_DESTROYED),
        ("holder_deceased", CardReason::HOLDER_DECEASED),
        ("fraudulently_obtained", CardReason::FRAUDULENTLY_OBTAINED),
        ("registration_cancelled", CardReason::REGISTRATION_CANCELLED),
        ("stolen", CardReason::STOLEN),
    ];

    /// A reason from its code; `None` above 31 (the index has five bits for it).
    pub const fn new(code: u8) -> Option<CardReason> {
        if code < 32 {
            Some(CardReason(code))
        } else {
            None
        }
    }

    /// The numeric code.
    pub const fn code(self) -> u8 {
        self.0
    }

    /// The name of a defined code, else `None`.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(_, r)| *r == self)
            .map(|(n, _)| *n)
    }
}

impl FromStr for CardReason {
    type Err = String;
    /// A name (`renewed`) or a number `0..=31`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some((_, r)) = Self::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
            return Ok(*r);
        }
        s.parse::<u8>()
            .ok()
            .and_then(CardReason::new)
            .ok_or_else(|| format!("unknown card reason {s:?}: a name or a number 0..=31"))
    }
}

impl fmt::Display for CardReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A listed card's entry in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CardEntry {
    /// Lost, stolen, superseded or invalidated.
    pub status: CardStatus,
    /// Why.
    pub reason: CardReason,
    /// When the status changed; `None` when unknown.
    pub changed_on: Option<NaiveDate>,
}

impl CardEntry {
    /// An entry with a status, no reason and no date.
    pub fn new(status: CardStatus) -> CardEntry {
        CardEntry {
            status,
            reason: CardReason::UNSPECIFIED,
            changed_on: None,
        }
    }
}

/// Blacklist reasons (A6) as a bit set: what was done, to which document, and bad credit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct BlacklistReasons(u32);

impl BlacklistReasons {
    /// 伪造: forged.
    pub const FORGED: BlacklistReasons = BlacklistReasons(1 << 0);
    /// 变造: altered.
    pub const ALTERED: BlacklistReasons = BlacklistReasons(1 << 1);
    /// 买卖: bought or sold.
    pub const TRADED: BlacklistReasons = BlacklistReasons(1 << 2);
    /// 冒领: collected by impersonation.
    pub const COLLECTED_BY_IMPERSONATION: BlacklistReasons = BlacklistReasons(1 << 3);
    /// 骗领: fraudulently obtained.
    pub const OBTAINED_BY_FRAUD: BlacklistReasons = BlacklistReasons(1 << 4);
    /// 冒用: used another person's document.
    pub const USED_BY_IMPERSONATION: BlacklistReasons = BlacklistReasons(1 << 5);
    /// 买卖、使用伪造的国家机关证件: bought, sold or used forged state certificates.
    pub const FORGED_STATE_CERTIFICATE: BlacklistReasons = BlacklistReasons(1 << 6);
    /// Document: household register booklet (居民户口簿).
    pub const HOUSEHOLD_BOOKLET: BlacklistReasons = BlacklistReasons(1 << 8);
    /// Document: resident identity card.
    pub const IDENTITY_CARD: BlacklistReasons = BlacklistReasons(1 << 9);
    /// Document: passport.
    pub const PASSPORT: BlacklistReasons = BlacklistReasons(1 << 10);
    /// Document: driving licence.
    pub const DRIVING_LICENCE: BlacklistReasons = BlacklistReasons(1 << 11);
    /// Bad credit record pushed by the national credit information sharing platform.
    pub const BAD_CREDIT: BlacklistReasons = BlacklistReasons(1 << 16);

    /// Every defined flag with its name.
    pub const NAMED: [(&'static str, BlacklistReasons); 12] = [
        ("forged", Self::FORGED),
        ("altered", Self::ALTERED),
        ("traded", Self::TRADED),
        (
            "collected_by_impersonation",
            Self::COLLECTED_BY_IMPERSONATION,
        ),
        ("obtained_by_fraud", Self::OBTAINED_BY_FRAUD),
        ("used_by_impersonation", Self::USED_BY_IMPERSONATION),
        ("forged_state_certificate", Self::FORGED_STATE_CERTIFICATE),
        ("household_booklet", Self::HOUSEHOLD_BOOKLET),
        ("identity_card", Self::IDENTITY_CARD),
        ("passport", Self::PASSPORT),
        ("driving_licence", Self::DRIVING_LICENCE),
        ("bad_credit", Self::BAD_CREDIT),
    ];

    /// All defined bits.
    pub const DEFINED: u32 = 0x0001_0f7f;

    /// From raw bits; `None` when an undefined bit is set.
    pub const fn from_bits(bits: u32) -> Option<BlacklistReasons> {
        if bits & !Self::DEFINED == 0 {
            Some(BlacklistReasons(bits))
        } else {
            None
        }
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// No reason.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: BlacklistReasons) -> bool {
        self.0 & other.0 == other.0
    }

    /// Names of the set flags.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMED
            .into_iter()
            .filter(move |(_, f)| self.contains(*f))
            .map(|(n, _)| n)
    }
}

impl std::ops::BitOr for BlacklistReasons {
    type Output = BlacklistReasons;
    fn bitor(self, rhs: BlacklistReasons) -> BlacklistReasons {
        BlacklistReasons(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for BlacklistReasons {
    fn bitor_assign(&mut self, rhs: BlacklistReasons) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for BlacklistReasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlacklistReasons({self})")
    }
}

impl fmt::Display for BlacklistReasons {
    /// Names joined by `|`, e.g. `forged|identity_card`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.names().collect();
        f.write_str(&names.join("|"))
    }
}

impl FromStr for BlacklistReasons {
    type Err = String;
    /// Names joined by `|`, `+` or blanks (`forged|identity_card`), or a number (decimal or
    /// `0x` hex) of defined bits.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let num = if let Some(hex) = s.strip_prefix("0x") {
            u32::from_str_radix(hex, 16).ok()
        } else {
            s.parse::<u32>().ok()
        };
        if let Some(bits) = num {
            return BlacklistReasons::from_bits(bits)
                .filter(|r| !r.is_empty())
                .ok_or_else(|| format!("blacklist reason bits {bits:#x} are empty or undefined"));
        }
        let mut r = BlacklistReasons::default();
        for part in s.split(['|', '+', ' ']).filter(|p| !p.is_empty()) {
            let (_, flag) = Self::NAMED
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(part))
                .ok_or_else(|| format!("unknown blacklist reason {part:?}"))?;
            r |= *flag;
        }
        if r.is_empty() {
            return Err("empty blacklist reason".into());
        }
        Ok(r)
    }
}

/// Who put a person on the blacklist (A6).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum BlacklistSource {
    /// Unknown.
    #[default]
    Unknown = 0,
    /// A public security organ (forgery and fraud cases).
    PublicSecurity = 1,
    /// The national credit information sharing platform.
    CreditPlatform = 2,
}

impl BlacklistSource {
    /// From the stored byte.
    pub fn from_u8(v: u8) -> Option<BlacklistSource> {
        match v {
            0 => Some(BlacklistSource::Unknown),
            1 => Some(BlacklistSource::PublicSecurity),
            2 => Some(BlacklistSource::CreditPlatform),
            _ => None,
        }
    }

    /// Name used in CSV and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BlacklistSource::Unknown => "unknown",
            BlacklistSource::PublicSecurity => "public_security",
            BlacklistSource::CreditPlatform => "credit_platform",
        }
    }
}

impl FromStr for BlacklistSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            BlacklistSource::Unknown,
            BlacklistSource::PublicSecurity,
            BlacklistSource::CreditPlatform,
        ]
        .into_iter()
        .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| format!("unknown blacklist source {s:?}"))
    }
}

/// A person's blacklist entry (A6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BlacklistEntry {
    /// What they did.
    pub reasons: BlacklistReasons,
    /// Who reported it.
    pub source: BlacklistSource,
    /// When they were listed; `None` when unknown.
    pub listed_on: Option<NaiveDate>,
}

impl BlacklistEntry {
    /// An entry with reasons, unknown source and date.
    pub fn new(reasons: BlacklistReasons) -> BlacklistEntry {
        BlacklistEntry {
            reasons,
            source: BlacklistSource::Unknown,
            listed_on: None,
        }
    }
}

/// Who a snapshot is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Profile {
    /// Cards only: a bank gets no blacklist (S2, least data).
    Bank = 1,
    /// Cards and the blacklist.
    Police = 2,
}

impl Profile {
    /// What a published entry of this profile holds (S2, least data): a bank learns a card's
    /// status only — not why, not since when; the police profile keeps the reason and the date.
    ///
    /// ```
    /// use idcard::index::{CardEntry, CardReason, CardStatus, Profile};
    /// let e = CardEntry { status: CardStatus::Lost, reason: CardReason::REPORTED_AWAY,
    ///     changed_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5) };
    /// assert_eq!(Profile::Bank.least_data(e), CardEntry::new(CardStatus::Lost));
    /// assert_eq!(Profile::Police.least_data(e), e);
    /// ```
    pub fn least_data(self, entry: CardEntry) -> CardEntry {
        match self {
            Profile::Bank => CardEntry::new(entry.status),
            Profile::Police => entry,
        }
    }

    /// `bank` or `police`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Bank => "bank",
            Profile::Police => "police",
        }
    }

    /// From the stored byte.
    pub fn from_u8(v: u8) -> Option<Profile> {
        match v {
            1 => Some(Profile::Bank),
            2 => Some(Profile::Police),
            _ => None,
        }
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bank" => Ok(Profile::Bank),
            "police" => Ok(Profile::Police),
            _ => Err(format!("unknown profile {s:?}; expected bank or police")),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors of the index: opening, building, deltas. Each names the file and, for corruption, the
/// section and byte offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// An I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Not a file of the expected kind.
    #[error("{path}: not an idcard {kind} file (magic {found:02x?})")]
    BadMagic {
        /// The file.
        path: String,
        /// `snapshot` or `delta`.
        kind: &'static str,
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// A format version this library does not read.
    #[error(
        "{path}: {kind} format version {found} is not supported (this library reads version {supported})"
    )]
    UnsupportedVersion {
        /// The file.
        path: String,
        /// `snapshot` or `delta`.
        kind: &'static str,
        /// The version in the file.
        found: u32,
        /// The version this library reads.
        supported: u32,
    },
    /// The file is damaged: truncated, a checksum mismatch, a field out of range.
    #[error("{path}: corrupt {kind} at byte {offset}: {what}")]
    Corrupt {
        /// The file.
        path: String,
        /// `snapshot header`, `card table`, `blacklist`, `delta header`, `delta record` …
        kind: &'static str,
        /// Byte offset of the damaged part.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A delta that does not follow what the verifier has applied.
    #[error(
        "{path}: delta out of order: it applies to snapshot {found_snapshot:016x} from sequence {found_from}, the verifier is at snapshot {expected_snapshot:016x} sequence {expected_from}"
    )]
    DeltaOutOfOrder {
        /// The delta file.
        path: String,
        /// Snapshot id the verifier has.
        expected_snapshot: u64,
        /// Sequence the verifier is at.
        expected_from: u64,
        /// Snapshot id the delta names.
        found_snapshot: u64,
        /// Sequence the delta starts from.
        found_from: u64,
    },
    /// A blacklist query on a snapshot without a blacklist (bank profile).
    #[error("the snapshot has the {profile} profile, which carries no blacklist")]
    NoBlacklist {
        /// The snapshot's profile.
        profile: Profile,
    },
    /// Invalid builder input.
    #[error("{0}")]
    InvalidInput(String),
    /// The file's signature is missing, wrong, by an untrusted or expired key (fail closed).
    #[error("{path}: {source}")]
    Trust {
        /// The file.
        path: String,
        /// Why it is not trusted.
        source: crate::trust::TrustError,
    },
    /// No trust file was given and unsigned files are not allowed.
    #[error(
        "{path}: no trust file to check signatures against (give the platform's trust file, or explicitly allow unsigned files)"
    )]
    TrustRequired {
        /// The file.
        path: String,
    },
    /// A time in the file is further in the future than clocks can disagree.
    #[error("{path}: created at {at}, in the future (now {now}); refused")]
    Future {
        /// The file.
        path: String,
        /// The time it states.
        at: chrono::DateTime<chrono::Utc>,
        /// Now.
        now: chrono::DateTime<chrono::Utc>,
    },
    /// A file would take the verifier back: an older snapshot or sequence than it has reached
    /// (or recorded in its state file).
    #[error("{path}: {what}; refused (answers never go back)")]
    Rollback {
        /// The file.
        path: String,
        /// What would go back.
        what: String,
    },
    /// A delta goes past the newest sequence a signed timestamp vouches for.
    #[error(
        "{path}: the delta reaches sequence {to_seq}, past the newest signed timestamp's {timestamp_seq}"
    )]
    BeyondTimestamp {
        /// The delta.
        path: String,
        /// Its end.
        to_seq: u64,
        /// The newest timestamp's sequence.
        timestamp_seq: u64,
    },
    /// A file larger than the verifier reads.
    #[error("{path}: {size} bytes, more than the {limit} allowed for a {kind}")]
    TooLarge {
        /// The file.
        path: String,
        /// `delta`, `timestamp`.
        kind: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The deltas applied on one snapshot reached the verifier's limit: it needs a newer
    /// snapshot.
    #[error(
        "{path}: {entries} changes applied on the snapshot already, the limit is {limit}: open a newer snapshot"
    )]
    OverlayFull {
        /// The delta.
        path: String,
        /// Entries changed so far.
        entries: usize,
        /// The limit.
        limit: usize,
    },
}

impl IndexError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> IndexError {
        IndexError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Days since 1970-01-01 as stored in the index (0 = unknown).
pub(crate) fn date_to_days(d: Option<NaiveDate>) -> u16 {
    d.map(|d| (d - VALID_FROM_EPOCH).num_days().clamp(0, u16::MAX as i64) as u16)
        .unwrap_or(0)
}

pub(crate) fn days_to_date(days: u16) -> Option<NaiveDate> {
    (days != 0).then(|| VALID_FROM_EPOCH + chrono::Days::new(days as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l3_a_published_file_swapped_after_listing_is_refused() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.idcd");
        let b = dir.path().join("b.idcd");
        std::fs::write(&a, b"aaaa").unwrap();
        std::fs::write(&b, vec![0u8; 100]).unwrap();
        let meta = std::fs::symlink_metadata(&a).unwrap();
        let listed = (meta.dev(), meta.ino());
        assert_eq!(
            read_bounded(&a, "delta", 10, Some(listed)).unwrap(),
            b"aaaa"
        );
        // After listing, the name now points elsewhere: refused, nothing read.
        std::fs::remove_file(&a).unwrap();
        std::os::unix::fs::symlink(&b, &a).unwrap();
        let e = read_bounded(&a, "delta", 1000, Some(listed)).unwrap_err();
        assert!(
            e.to_string()
                .contains("changed since the folder was listed"),
            "{e}"
        );
        // The size comes from the file opened, not from an earlier look.
        let e = read_bounded(&b, "delta", 10, None).unwrap_err();
        assert!(matches!(e, IndexError::TooLarge { size: 100, .. }), "{e}");
    }

    #[test]
    fn l3_status_names_roundtrip() {
        for s in CardStatus::ALL {
            assert_eq!(s.as_str().parse::<CardStatus>().unwrap(), s);
            assert_eq!(CardStatus::from_u8(s as u8), Some(s));
        }
        assert!("gone".parse::<CardStatus>().is_err());
        assert_eq!(CardStatus::from_u8(7), Some(CardStatus::Expired));
        assert_eq!(CardStatus::from_u8(8), None);
    }

    #[test]
    fn a6_blacklist_reasons_parse_and_print() {
        let r: BlacklistReasons = "forged|identity_card".parse().unwrap();
        assert_eq!(
            r,
            BlacklistReasons::FORGED | BlacklistReasons::IDENTITY_CARD
        );
        assert_eq!(r.to_string(), "forged|identity_card");
        assert_eq!(
            "bad_credit".parse::<BlacklistReasons>().unwrap(),
            BlacklistReasons::BAD_CREDIT
        );
        assert_eq!(
            "0x10000".parse::<BlacklistReasons>().unwrap(),
            BlacklistReasons::BAD_CREDIT
        );
        assert!("0x80".parse::<BlacklistReasons>().is_err());
        assert!("0".parse::<BlacklistReasons>().is_err());
        assert!("smuggled".parse::<BlacklistReasons>().is_err());
        let all = BlacklistReasons::NAMED
            .iter()
            .fold(0, |a, (_, f)| a | f.bits());
        assert_eq!(all, BlacklistReasons::DEFINED);
    }

    #[test]
    fn card_reason_names_and_numbers() {
        assert_eq!(
            "renewed".parse::<CardReason>().unwrap(),
            CardReason::RENEWED
        );
        assert_eq!("17".parse::<CardReason>().unwrap().code(), 17);
        assert!("32".parse::<CardReason>().is_err());
        assert_eq!(CardReason::REPLACED.to_string(), "replaced");
    }
}
