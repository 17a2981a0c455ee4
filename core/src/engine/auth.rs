//! Authentication of officers (S1: no impersonated applications, no false loss reports; S2:
//! every action attributable, provably).
//!
//! Every command and every read of personal data is signed by the acting officer over
//!
//! ```text
//! "idcard-command-v1\0" ‖ officer ‖ "\0" ‖ station ‖ "\0" ‖ command ‖ "\0"
//!   ‖ at_ms (i64 LE) ‖ nonce (16 bytes) ‖ BLAKE3(postcard(command payload))
//! ```
//!
//! with the key the bureau registered for the officer ([`crate::station::OfficerKey`]). The
//! engine checks, in this order and before anything else: the officer is registered and has a
//! key, the signature is by that key and verifies ([`Authenticator`]; outside the state lock),
//! the officer is active and the key is still theirs, the time is within
//! [`MAX_SKEW_MS`] of the engine's clock, and the nonce was not seen in the last
//! [`NONCE_WINDOW_MS`] (a replay). A failure is recorded as `authentication_failed` under
//! [`Actor::unauthenticated`], never in the claimed officer's name; a success is journaled with
//! the signature (non-repudiation: anyone with the officer's public key can check it later).

use serde::Serialize;

use crate::model::CommandAuth;
use crate::station::{Actor, CommandKind, Officer, OfficerId, StationId};

pub use crate::model::{MAX_SKEW_MS, NONCE_WINDOW_MS};

/// Why an attempt is not authenticated: a stable code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthFailure {
    /// `no_signature`, `unknown_officer`, `no_key`, `wrong_key`, `bad_signature`,
    /// `officer_inactive`, `clock_skew`, `replayed`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl AuthFailure {
    /// A failure with a code and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> AuthFailure {
        AuthFailure {
            code,
            message: message.into(),
        }
    }
}

/// BLAKE3 of a command's payload (its postcard encoding): what the signature binds.
pub fn payload_hash<C: Serialize + ?Sized>(payload: &C) -> [u8; 32] {
    let bytes = postcard::to_allocvec(payload).expect("encoding to memory cannot fail");
    *blake3::hash(&bytes).as_bytes()
}

/// The message an officer signs for a command (see the module documentation).
pub fn message(
    officer: &OfficerId,
    station: &StationId,
    command: CommandKind,
    at_ms: i64,
    nonce: &[u8; 16],
    payload: &[u8; 32],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(b"idcard-command-v1\0");
    m.extend_from_slice(officer.as_str().as_bytes());
    m.push(0);
    m.extend_from_slice(station.as_str().as_bytes());
    m.push(0);
    m.extend_from_slice(format!("{command:?}").as_bytes());
    m.push(0);
    m.extend_from_slice(&at_ms.to_le_bytes());
    m.extend_from_slice(nonce);
    m.extend_from_slice(payload);
    m
}

/// Sign a command for `actor` with its signer (the officer's side: in process for the CLI, the
/// demo and tests; a remote client does the same with its own key and sends the result).
/// `None` when the actor has no signer.
pub fn sign(
    actor: &Actor,
    command: CommandKind,
    payload: [u8; 32],
    at_ms: i64,
) -> Option<CommandAuth> {
    let signer = actor.signer()?;
    let nonce = signer.nonce(at_ms, &payload);
    let m = message(
        &actor.officer,
        &actor.station,
        command,
        at_ms,
        &nonce,
        &payload,
    );
    Some(CommandAuth {
        key_id: signer.key_id(),
        at_ms,
        nonce,
        payload,
        signature: signer.sign(&m),
    })
}

/// Checks a command's signature for an officer: the default ([`RegisteredKeys`]) verifies it
/// with the key the bureau registered; a platform with its own PKI plugs in its own (the cxx
/// bridge).
pub trait Authenticator: Send + Sync {
    /// Whether `auth` is `officer`'s signature over `message`.
    fn verify(
        &self,
        officer: &Officer,
        message: &[u8],
        auth: &CommandAuth,
    ) -> Result<(), AuthFailure>;
}

/// The default authenticator: the officer's registered key, strict Ed25519.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisteredKeys;

impl Authenticator for RegisteredKeys {
    fn verify(
        &self,
        officer: &Officer,
        message: &[u8],
        auth: &CommandAuth,
    ) -> Result<(), AuthFailure> {
        let key = officer.key.as_ref().ok_or_else(|| {
            AuthFailure::new(
                "no_key",
                format!("officer {} has no registered key", officer.id),
            )
        })?;
        let public = key.public().map_err(|e| {
            AuthFailure::new(
                "no_key",
                format!("officer {}'s registered key: {e}", officer.id),
            )
        })?;
        if public.id().0 != auth.key_id {
            return Err(AuthFailure::new(
                "wrong_key",
                format!(
                    "signed by key {}, officer {}'s key is {}",
                    crate::trust::KeyId(auth.key_id),
                    officer.id,
                    public.id()
                ),
            ));
        }
        public
            .verify(message, &auth.signature)
            .map_err(|_| AuthFailure::new("bad_signature", "the signature does not verify"))
    }
}
