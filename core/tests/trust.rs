//! Trusted publication (L3, S2): every attack on a bank's verifier that needs no private key of
//! the platform fails — forged, unsigned, wrongly signed, replayed, frozen, future-dated or
//! oversized files, files changed under the verifier — and each subscriber's files are its own.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::*;
use idcard::CardKey;
use idcard::engine::InPerson;
use idcard::index::*;
use idcard::station::StationKind;
use idcard::trust::*;
use idcard::workflow::Commands;
use idcard::workflow::loss::{CardRef, LossRequest};
use idcard::workflow::publish::{PublishOptions, attribute};

fn year(y: i32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap()
}

/// The platform's root key (offline) and the publishing key it certified.
struct Platform {
    root: SecretKey,
    publisher: Arc<Signer>,
}

impl Platform {
    fn new() -> Platform {
        let root = SecretKey::from_seed(Algorithm::Ed25519, [11; 32], "platform root");
        let key = SecretKey::from_seed(Algorithm::Ed25519, [12; 32], "publisher 2026");
        let cert =
            KeyCertificate::issue(&root, &key.public(), Roles::PUBLISH, year(2020), year(2100))
                .unwrap();
        Platform {
            root,
            publisher: Arc::new(key.signer(Some(cert))),
        }
    }

    fn trust(&self) -> TrustStore {
        TrustStore::new(vec![self.root.public()])
    }

    fn options(&self) -> VerifierOptions {
        VerifierOptions::trusting(self.trust())
    }
}

/// The world with Alice's card lost, a signed bank snapshot, and the bank's verifier on it.
struct Bank {
    w: World,
    platform: Platform,
    dir: tempfile::TempDir,
    snapshot: std::path::PathBuf,
}

fn bank() -> Bank {
    let dir = tempfile::tempdir().unwrap();
    let w = world(&dir.path().join("record"));
    // Publish as of now: the bank's verifier has the default maximum age.
    w.clock.set(Utc::now());
    let hr = w.actor(StationKind::HouseholdRegistrationStation).clone();
    let loss = LossRequest {
        card: CardRef::card(w.alice_card),
        stolen: false,
        present: InPerson::holder(w.alice).with_fingerprint("alice-fp"),
    };
    w.engine.report_loss(&hr, &loss).unwrap();
    let platform = Platform::new();
    let snapshot = dir.path().join("bank.idcs");
    let options = PublishOptions::signed(platform.publisher.clone());
    w.engine
        .publish_snapshot_with(&w.ministry, Profile::Bank, &snapshot, &options)
        .unwrap();
    Bank {
        w,
        platform,
        dir,
        snapshot,
    }
}

impl Bank {
    fn verifier(&self) -> Verifier {
        Verifier::open_with(&self.snapshot, self.platform.options()).unwrap()
    }

    fn info(&self) -> SnapshotInfo {
        Snapshot::read_info(&self.snapshot).unwrap()
    }

    /// A delta an attacker makes from the bank's own snapshot: it clears Alice's card.
    fn forged_delta(&self, to_seq: u64) -> Delta {
        let info = self.info();
        let mut d = DeltaBuilder::new(&info, info.journal_seq, to_seq);
        d.clear_card(self.w.alice_card);
        d.build()
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

fn trust_error(r: Result<impl std::fmt::Debug, IndexError>) -> TrustError {
    match r {
        Err(IndexError::Trust { source, .. }) => source,
        other => panic!("expected a trust error, got {other:?}"),
    }
}

/// The attack found on main: an 86-byte ClearCard delta with recomputed xxh3 checksums, made from
/// the bank's own snapshot, turned a lost card `valid`. Unsigned, it is refused; the card stays
/// lost; in a delta folder it is skipped and named.
#[test]
fn l3_s1_a_forged_unsigned_delta_is_refused_and_the_card_stays_lost() {
    let b = bank();
    let v = b.verifier();
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
    let path = b.path("forged.idcd");
    b.forged_delta(u64::MAX).write(&path, None).unwrap();
    assert_eq!(trust_error(v.apply_delta_file(&path)), TrustError::Unsigned);
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
    // The frozen-verifier attack (to_seq = u64::MAX) did not take: a legitimate snapshot still
    // swaps in.
    assert_eq!(v.info().journal_seq, b.info().journal_seq);
    let folder = b.path("deltas");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(&path, folder.join("0001.idcd")).unwrap();
    let report = v.apply_delta_dir(&folder).unwrap();
    assert_eq!(report.applied, 0);
    assert_eq!(report.skipped[0].name, "0001.idcd");
    assert!(
        report.skipped[0].reason.contains("not signed"),
        "{report:?}"
    );
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
}

/// A delta signed by a key the trust file does not pin — the attacker's own root, or a key the
/// attacker certified with it — is refused.
#[test]
fn l3_a_delta_signed_by_an_unknown_key_is_refused() {
    let b = bank();
    let v = b.verifier();
    let evil_root = SecretKey::from_seed(Algorithm::Ed25519, [66; 32], "evil root");
    let evil = SecretKey::from_seed(Algorithm::Ed25519, [67; 32], "evil publisher");
    let cert = KeyCertificate::issue(
        &evil_root,
        &evil.public(),
        Roles::PUBLISH,
        year(2020),
        year(2100),
    )
    .unwrap();
    let delta = b.forged_delta(b.info().journal_seq + 1);
    for signer in [evil_root.signer(None), evil.signer(Some(cert))] {
        let path = b.path("evil.idcd");
        delta.write(&path, Some(&signer)).unwrap();
        assert!(matches!(
            trust_error(v.apply_delta_file(&path)),
            TrustError::UnknownKey(_)
        ));
    }
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
}

/// A correctly signed delta with one byte changed (its records, its header, its signature) is
/// refused.
#[test]
fn l3_a_signed_delta_changed_in_any_byte_is_refused() {
    let b = bank();
    let delta = b.forged_delta(b.info().journal_seq + 1);
    let bytes = delta
        .encode_signed(Some(b.platform.publisher.as_ref()))
        .unwrap();
    let policy = SignaturePolicy::trusting(b.platform.trust());
    assert!(Delta::decode_file("good", &bytes, &policy).is_ok());
    for i in 0..bytes.len() {
        let mut m = bytes.clone();
        m[i] ^= 0x10;
        assert!(Delta::decode_file("m", &m, &policy).is_err(), "byte {i}");
    }
}

/// Keys past their certificate's window, keys certified for another role, and certificates
/// signed by someone else than a pinned root are refused.
#[test]
fn l3_expired_wrong_role_and_uncertified_keys_are_refused() {
    let b = bank();
    let v = b.verifier();
    let key = SecretKey::from_seed(Algorithm::Ed25519, [13; 32], "old publisher");
    let expired = KeyCertificate::issue(
        &b.platform.root,
        &key.public(),
        Roles::PUBLISH,
        year(2020),
        year(2021),
    )
    .unwrap();
    let heads_only = KeyCertificate::issue(
        &b.platform.root,
        &key.public(),
        Roles::JOURNAL_HEAD,
        year(2020),
        year(2100),
    )
    .unwrap();
    let delta = b.forged_delta(b.info().journal_seq + 1);
    let path = b.path("d.idcd");
    delta
        .write(
            &path,
            Some(&SecretKey::from_seed(Algorithm::Ed25519, [13; 32], "k").signer(Some(expired))),
        )
        .unwrap();
    assert!(matches!(
        trust_error(v.apply_delta_file(&path)),
        TrustError::KeyNotValid { .. }
    ));
    delta
        .write(
            &path,
            Some(&SecretKey::from_seed(Algorithm::Ed25519, [13; 32], "k").signer(Some(heads_only))),
        )
        .unwrap();
    assert!(matches!(
        trust_error(v.apply_delta_file(&path)),
        TrustError::WrongRole { .. }
    ));
    // A certificate whose root signature is replaced by the certified key's own.
    let own =
        KeyCertificate::issue(&key, &key.public(), Roles::PUBLISH, year(2020), year(2100)).unwrap();
    delta
        .write(
            &path,
            Some(&SecretKey::from_seed(Algorithm::Ed25519, [13; 32], "k").signer(Some(own))),
        )
        .unwrap();
    assert!(matches!(
        trust_error(v.apply_delta_file(&path)),
        TrustError::UnknownKey(_)
    ));
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
}

/// Unsigned snapshots are refused by default; opening one needs an explicit option, and the
/// verifier's info says so. A snapshot signed by an unknown key is refused.
#[test]
fn l3_unsigned_snapshots_need_an_explicit_option() {
    let b = bank();
    let unsigned = b.path("unsigned.idcs");
    b.w.engine
        .publish_snapshot(&b.w.ministry, Profile::Bank, &unsigned)
        .unwrap();
    assert_eq!(
        trust_error(Verifier::open_with(&unsigned, b.platform.options())),
        TrustError::Unsigned
    );
    assert!(matches!(
        Verifier::open_with(&unsigned, VerifierOptions::default()),
        Err(IndexError::TrustRequired { .. })
    ));
    let v = Verifier::open_with(&unsigned, VerifierOptions::unsigned()).unwrap();
    assert_eq!(v.info().snapshot.signature, Signature::Unsigned);
    let signed = b.verifier();
    assert!(matches!(
        &signed.info().snapshot.signature,
        Signature::Verified(by) if by.root_key_id == b.platform.root.public().id()
    ));
    let stranger = TrustStore::new(vec![
        SecretKey::from_seed(Algorithm::Ed25519, [5; 32], "x").public(),
    ]);
    assert!(matches!(
        trust_error(Verifier::open(&b.snapshot, stranger)),
        TrustError::UnknownKey(_)
    ));
}

/// Replays: a delta already applied, an older snapshot swapped in, an older snapshot opened
/// after a restart with a state file: all refused, answers never go back.
#[test]
fn l3_replayed_deltas_and_snapshots_are_refused() {
    let b = bank();
    let hr = b.w.actor(StationKind::HouseholdRegistrationStation).clone();
    let state = b.path("verifier.state");
    let options = VerifierOptions {
        state_file: Some(state.clone()),
        ..b.platform.options()
    };
    let v = Verifier::open_with(&b.snapshot, options.clone()).unwrap();
    // Bob's card lost, then a signed delta and a newer snapshot.
    let loss = LossRequest {
        card: CardRef::card(b.w.bob_card),
        stolen: false,
        present: InPerson::holder(b.w.bob),
    };
    b.w.engine.report_loss(&hr, &loss).unwrap();
    let signed = PublishOptions::signed(b.platform.publisher.clone());
    let d1 = b.path("d1.idcd");
    b.w.engine
        .publish_delta_with(&b.w.ministry, &b.snapshot, None, &d1, &signed)
        .unwrap();
    v.apply_delta_file(&d1).unwrap();
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Lost);
    assert!(matches!(
        v.apply_delta_file(&d1),
        Err(IndexError::DeltaOutOfOrder { .. })
    ));
    let newer = b.path("newer.idcs");
    b.w.engine
        .publish_snapshot_with(&b.w.ministry, Profile::Bank, &newer, &signed)
        .unwrap();
    v.swap_snapshot(&newer).unwrap();
    assert!(matches!(
        v.swap_snapshot(&b.snapshot),
        Err(IndexError::DeltaOutOfOrder { .. })
    ));
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Lost);
    drop(v);
    // After a restart the state file remembers: the old snapshot is refused.
    assert!(matches!(
        Verifier::open_with(&b.snapshot, options.clone()),
        Err(IndexError::Rollback { .. })
    ));
    assert!(Verifier::open_with(&newer, options).is_ok());
}

/// A signed timestamp bounds the chain: a delta going past its sequence is refused (the
/// frozen-verifier attack of `to_seq = u64::MAX`, even for a legitimately signed file).
#[test]
fn l3_a_delta_past_the_signed_timestamp_is_refused() {
    let b = bank();
    let v = b.verifier();
    let info = b.info();
    let ts = Timestamp::new(
        Profile::Bank,
        info.snapshot_id,
        info.journal_seq,
        Utc::now(),
    );
    let path = b.path("timestamp.idct");
    ts.write(&path, b.platform.publisher.as_ref()).unwrap();
    v.apply_timestamp_file(&path).unwrap();
    assert_eq!(v.info().timestamp_seq, Some(info.journal_seq));
    let d = b.path("far.idcd");
    b.forged_delta(u64::MAX)
        .write(&d, Some(b.platform.publisher.as_ref()))
        .unwrap();
    assert!(matches!(
        v.apply_delta_file(&d),
        Err(IndexError::BeyondTimestamp {
            to_seq: u64::MAX,
            ..
        })
    ));
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
    // An unsigned timestamp is refused like any unsigned file.
    std::fs::write(&path, &std::fs::read(&path).unwrap()[..48]).unwrap();
    assert!(v.apply_timestamp_file(&path).is_err());
}

/// Times in the future (beyond the clock skew) are refused: a snapshot `as of 2100`, a delta
/// created in 2100, a timestamp from 2100 — none can keep a verifier fresh forever.
#[test]
fn l3_future_dated_files_are_refused() {
    let b = bank();
    let signer = b.platform.publisher.clone();
    let mut sb = SnapshotBuilder::new(Profile::Bank);
    sb.as_of(year(2099)).signer(signer.clone());
    let future = b.path("future.idcs");
    sb.write(&future).unwrap();
    assert!(matches!(
        Verifier::open_with(&future, b.platform.options()),
        Err(IndexError::Future { .. })
    ));
    let v = b.verifier();
    let mut d = DeltaBuilder::new(&b.info(), b.info().journal_seq, b.info().journal_seq + 1);
    d.created_at(year(2100).timestamp());
    let path = b.path("future.idcd");
    d.build().write(&path, Some(signer.as_ref())).unwrap();
    assert!(matches!(
        v.apply_delta_file(&path),
        Err(IndexError::Future { .. })
    ));
    let ts = Timestamp::new(
        Profile::Bank,
        b.info().snapshot_id,
        b.info().journal_seq,
        year(2100),
    );
    let path = b.path("future.idct");
    ts.write(&path, signer.as_ref()).unwrap();
    assert!(matches!(
        v.apply_timestamp_file(&path),
        Err(IndexError::Future { .. })
    ));
    assert!(!v.info().stale);
}

/// With no signed time newer than the maximum age, unlisted cards answer `stale`, never
/// `valid`; a fresh signed timestamp for the chain the verifier has reached makes it fresh.
#[test]
fn l3_without_a_fresh_timestamp_the_verifier_answers_stale() {
    let b = bank();
    let signer = b.platform.publisher.clone();
    let mut sb = SnapshotBuilder::new(Profile::Bank);
    sb.as_of(Utc::now() - chrono::Duration::hours(30))
        .add_card(b.w.alice_card, CardEntry::new(CardStatus::Lost))
        .signer(signer.clone());
    let old = b.path("old.idcs");
    let info = sb.write(&old).unwrap();
    let v = Verifier::open_with(&old, b.platform.options()).unwrap();
    assert_eq!(v.info().max_age_seconds, Some(24 * 3600), "on by default");
    assert!(v.info().stale);
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Stale);
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
    // An old timestamp does not help; a fresh one does.
    let path = b.path("t.idct");
    Timestamp::new(
        Profile::Bank,
        info.snapshot_id,
        info.journal_seq,
        Utc::now() - chrono::Duration::hours(25),
    )
    .write(&path, signer.as_ref())
    .unwrap();
    v.apply_timestamp_file(&path).unwrap();
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Stale);
    Timestamp::new(
        Profile::Bank,
        info.snapshot_id,
        info.journal_seq,
        Utc::now(),
    )
    .write(&path, signer.as_ref())
    .unwrap();
    v.apply_timestamp_file(&path).unwrap();
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Valid);
    // A timestamp vouching for a sequence the verifier has not reached does not make it fresh.
    let v = Verifier::open_with(&old, b.platform.options()).unwrap();
    Timestamp::new(
        Profile::Bank,
        info.snapshot_id,
        info.journal_seq + 5,
        Utc::now(),
    )
    .write(&path, signer.as_ref())
    .unwrap();
    v.apply_timestamp_file(&path).unwrap();
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Stale);
}

/// Once opened, the snapshot lives in memory private to the verifier: truncating the file or
/// overwriting it from another process neither kills this one (no SIGBUS) nor changes an answer.
#[test]
fn l3_truncating_or_overwriting_an_open_snapshot_changes_nothing() {
    let b = bank();
    let v = b.verifier();
    let len = std::fs::metadata(&b.snapshot).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&b.snapshot)
        .unwrap();
    f.set_len(0).unwrap();
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Valid);
    f.set_len(len).unwrap();
    std::fs::write(&b.snapshot, vec![0u8; len as usize]).unwrap();
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
    let mut out = [CardStatus::Valid; 2];
    v.verify_batch(&[b.w.alice_card, b.w.bob_card], &mut out);
    assert_eq!(out, [CardStatus::Lost, CardStatus::Valid]);
    // And the damaged file is refused if opened again.
    assert!(Verifier::open_with(&b.snapshot, b.platform.options()).is_err());
}

/// Least data (S2): a bank file carries statuses only — no reason, no date — and no number in
/// the clear; a delta says nothing about a card that was never listed (a newly issued card).
#[test]
fn s2_bank_files_hold_statuses_only_and_deltas_skip_never_listed_cards() {
    let b = bank();
    let v = b.verifier();
    let in_record =
        b.w.engine
            .with_state(|s| s.cards.get(b.w.alice_card).unwrap().unwrap().entry());
    assert!(in_record.changed_on.is_some() && in_record.reason != CardReason::UNSPECIFIED);
    assert_eq!(
        v.card_entry(b.w.alice_card),
        Some(CardEntry::new(CardStatus::Lost))
    );
    let bytes = std::fs::read(&b.snapshot).unwrap();
    for n in [b.w.alice, b.w.bob, b.w.carl, b.w.dan] {
        let text = n.to_string();
        assert!(!bytes.windows(18).any(|w| w == text.as_bytes()), "{text}");
        assert!(!bytes.windows(8).any(|w| w == n.to_u64().to_le_bytes()));
    }
    // A new card registered after the snapshot: the next delta does not mention it.
    let new = idcard::model::CardRegistration {
        key: CardKey::new(number("11010519990101001"), date(2026, 1, 10)).unwrap(),
        period: idcard::ValidityPeriod::TenYears,
        fingerprints: false,
    };
    b.w.engine.register_cards(&b.w.ministry, vec![new]).unwrap();
    let d = b.path("d.idcd");
    let p =
        b.w.engine
            .publish_delta_with(
                &b.w.ministry,
                &b.snapshot,
                None,
                &d,
                &PublishOptions::signed(b.platform.publisher.clone()),
            )
            .unwrap();
    assert_eq!(p.cards, 0, "{p:?}");
    let delta = Delta::read(&d, &SignaturePolicy::trusting(b.platform.trust()), 1 << 20).unwrap();
    assert!(delta.ops.is_empty(), "{:?}", delta.ops);
}

/// Each subscriber gets files of its own: two subscribers' snapshots of the same record differ,
/// and each is attributed to its subscriber — by the record's publications, and by its seed
/// alone.
#[test]
fn s2_each_subscriber_gets_its_own_files_and_a_leak_names_its_leaker() {
    let b = bank();
    let e = &b.w.engine;
    for id in ["BANK-A", "BANK-B"] {
        e.register_subscriber(&b.w.ministry, id.parse().unwrap(), id, Profile::Bank)
            .unwrap();
    }
    assert_eq!(
        refused(e.register_subscriber(
            &b.w.ministry,
            "BANK-A".parse().unwrap(),
            "again",
            Profile::Bank
        )),
        "already_exists"
    );
    let publish = |id: &str| {
        let path = b.path(&format!("{id}.idcs"));
        let options = PublishOptions {
            signer: Some(b.platform.publisher.clone()),
            subscriber: Some(id.parse().unwrap()),
        };
        e.publish_snapshot_with(&b.w.ministry, Profile::Bank, &path, &options)
            .unwrap();
        path
    };
    let (a, bb) = (publish("BANK-A"), publish("BANK-B"));
    let (fa, fb) = (std::fs::read(&a).unwrap(), std::fs::read(&bb).unwrap());
    assert_ne!(fa, fb);
    // Both answer the same.
    for p in [&a, &bb] {
        let v = Verifier::open_with(p, b.platform.options()).unwrap();
        assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
    }
    for (path, id) in [(&a, "BANK-A"), (&bb, "BANK-B")] {
        let info = Snapshot::read_info(path).unwrap();
        let who = attribute(e, &info).unwrap().unwrap();
        assert_eq!((who.subscriber.unwrap().as_str(), who.by), (id, "journal"));
        // By the seed alone (a file this record's publications do not list).
        let mut unknown = info.clone();
        unknown.snapshot_id ^= 1;
        let who = attribute(e, &unknown).unwrap().unwrap();
        assert_eq!((who.subscriber.unwrap().as_str(), who.by), (id, "seed"));
    }
    // A subscriber's snapshot has its subscriber's profile.
    assert_eq!(
        refused(e.publish_snapshot_with(
            &b.w.ministry,
            Profile::Police,
            b.path("x.idcs"),
            &PublishOptions {
                signer: None,
                subscriber: Some("BANK-A".parse().unwrap())
            }
        )),
        "wrong_profile"
    );
}

/// Delta folders: symbolic links are not followed, files over the size cap are not read, and
/// the overlay on one snapshot is bounded (the verifier then says it needs a newer snapshot).
#[test]
fn l3_delta_folders_no_symlinks_a_size_cap_and_a_bounded_overlay() {
    let b = bank();
    let folder = b.path("folder");
    std::fs::create_dir(&folder).unwrap();
    let target = b.path("elsewhere.idcd");
    b.forged_delta(b.info().journal_seq + 1)
        .write(&target, Some(b.platform.publisher.as_ref()))
        .unwrap();
    std::os::unix::fs::symlink(&target, folder.join("link.idcd")).unwrap();
    let big = folder.join("big.idcd");
    std::fs::write(&big, vec![0u8; 4096]).unwrap();
    let options = VerifierOptions {
        max_delta_bytes: 1024,
        ..b.platform.options()
    };
    let v = Verifier::open_with(&b.snapshot, options).unwrap();
    let r = v.apply_delta_dir(&folder).unwrap();
    assert_eq!(r.applied, 0);
    let reasons: Vec<_> = r
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.reason.as_str()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(n, why)| *n == "link.idcd" && why.contains("symbolic link")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(n, why)| *n == "big.idcd" && why.contains("4096 bytes")),
        "{reasons:?}"
    );
    assert_eq!(v.verify(b.w.alice_card), CardStatus::Lost);
    // The overlay: at most 2 changes on this snapshot.
    let v = Verifier::open_with(
        &b.snapshot,
        VerifierOptions {
            max_overlay: 2,
            ..b.platform.options()
        },
    )
    .unwrap();
    let info = b.info();
    let mut d = DeltaBuilder::new(&info, info.journal_seq, info.journal_seq + 1);
    for k in [b.w.bob_card, b.w.dan_card, b.w.alice_card] {
        d.set_card(k, CardEntry::new(CardStatus::Stolen)).unwrap();
    }
    let path = b.path("three.idcd");
    d.build()
        .write(&path, Some(b.platform.publisher.as_ref()))
        .unwrap();
    assert!(matches!(
        v.apply_delta_file(&path),
        Err(IndexError::OverlayFull { limit: 2, .. })
    ));
    assert!(v.info().needs_snapshot);
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Valid);
}

/// The freshness a verifier reports, for the demo and the C library: deltas verified are
/// counted.
#[test]
fn l3_signed_chain_end_to_end_through_a_publish_folder() {
    let b = bank();
    let hr = b.w.actor(StationKind::HouseholdRegistrationStation).clone();
    let folder = b.path("publish");
    std::fs::create_dir(&folder).unwrap();
    let signed = PublishOptions::signed(b.platform.publisher.clone());
    let v = b.verifier();
    for (i, card) in [b.w.bob_card, b.w.dan_card].into_iter().enumerate() {
        let loss = LossRequest {
            card: CardRef::card(card),
            stolen: false,
            present: InPerson::holder(card.number()),
        };
        b.w.engine.report_loss(&hr, &loss).unwrap();
        b.w.engine
            .publish_delta_with(
                &b.w.ministry,
                &b.snapshot,
                None,
                folder.join(format!("{i}.idcd")),
                &signed,
            )
            .unwrap();
        idcard::workflow::publish::publish_timestamp(
            &b.w.engine,
            &b.w.ministry,
            &b.snapshot,
            &folder.join("timestamp.idct"),
            b.platform.publisher.as_ref(),
        )
        .unwrap();
    }
    let r = v.apply_delta_dir(&folder).unwrap();
    assert_eq!((r.applied, r.skipped.len()), (2, 0), "{r:?}");
    assert_eq!(v.info().deltas_verified, 2);
    assert_eq!(v.verify(b.w.bob_card), CardStatus::Lost);
    assert_eq!(v.verify(b.w.dan_card), CardStatus::Lost);
    assert_eq!(v.info().timestamp_seq, Some(v.info().journal_seq));
    let _ = Path::new("");
    let _ = Duration::ZERO;
}
