//! Stations, officers and who may do what — requirements S1 (strict checks, every action
//! attributable to an officer and a station), A2 (published acceptance points), L1, L3-L4, F1.
//!
//! The authorization matrix ([`allowed`]) is the one place that says which kind of station may
//! run which command; the engine refuses (and audits) anything else.

use std::fmt;
use std::str::FromStr;

use crate::division::DivisionCode;

/// Validate an identifier: 1..=40 characters of `A-Z a-z 0-9 - _ .`.
fn check_id(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 40 {
        return Err(format!("{what} {s:?} must be 1 to 40 characters"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{what} {s:?} has the character {c:?}; use A-Z, a-z, 0-9, '-', '_', '.'"
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A checked identifier.
            pub fn new(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                check_id($what, &s)?;
                Ok(Self(s))
            }

            /// The identifier text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// A station's identifier, e.g. `110105-HR-01`.
    StationId,
    "station id"
);
id_type!(
    /// An officer's identifier (badge number).
    OfficerId,
    "officer id"
);
id_type!(
    /// A subscriber's identifier: a bank, an airline … that receives its own snapshots and
    /// deltas (attributable if leaked).
    SubscriberId,
    "subscriber id"
);

/// Kinds of station and unit, from the source documents.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    /// Household registration police station (户籍派出所): loss reports, lost-and-found window (L1, F1).
    HouseholdRegistrationStation,
    /// Household registration hall (户政大厅): loss reports, lost-and-found window (L1, F1).
    RegistrationHall,
    /// Off-site acceptance point designated and published by a city/county bureau (A2).
    OffsiteAcceptancePoint,
    /// Airport police: temporary identity certificates (A8).
    AirportPolice,
    /// Railway station police: temporary identity certificates (A8).
    RailwayPolice,
    /// The police station responsible for a hotel: temporary identity certificates (A8).
    HotelPrecinctStation,
    /// A lost-and-found window (丢失招领窗口, F1).
    LostAndFoundWindow,
    /// County-level public security bureau: registries, blacklist, review and sign-off (A4, A6).
    CountyBureau,
    /// A unit that checks identity cards (bank, airline, railway, hotel, telecom): verification
    /// and hit reports only (L3, L4).
    CheckingUnit,
    /// The Ministry of Public Security (公安部): the national platform — publishing to
    /// subscribers (L3), the credit platform's pushes (A6), the national rollout and the fee
    /// schedule as set by the State Council's price and finance departments (A7, A12);
    /// registers provincial departments. Its jurisdiction is the nation.
    Ministry,
    /// A provincial public security department (公安厅, or a municipality's 公安局): registers
    /// the county bureaus of its province; its jurisdiction is the province.
    ProvincialDepartment,
}

impl StationKind {
    /// Every kind.
    pub const ALL: [StationKind; 11] = [
        StationKind::HouseholdRegistrationStation,
        StationKind::RegistrationHall,
        StationKind::OffsiteAcceptancePoint,
        StationKind::AirportPolice,
        StationKind::RailwayPolice,
        StationKind::HotelPrecinctStation,
        StationKind::LostAndFoundWindow,
        StationKind::CountyBureau,
        StationKind::CheckingUnit,
        StationKind::Ministry,
        StationKind::ProvincialDepartment,
    ];

    /// The name used in CSV, JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            StationKind::HouseholdRegistrationStation => "household_registration_station",
            StationKind::RegistrationHall => "registration_hall",
            StationKind::OffsiteAcceptancePoint => "offsite_acceptance_point",
            StationKind::AirportPolice => "airport_police",
            StationKind::RailwayPolice => "railway_police",
            StationKind::HotelPrecinctStation => "hotel_precinct_station",
            StationKind::LostAndFoundWindow => "lost_and_found_window",
            StationKind::CountyBureau => "county_bureau",
            StationKind::CheckingUnit => "checking_unit",
            StationKind::Ministry => "ministry",
            StationKind::ProvincialDepartment => "provincial_department",
        }
    }

    /// Whether a station of this kind may register a station of kind `new` (within its
    /// jurisdiction, [`Station::territory`]): the ministry registers provincial departments and
    /// anything below; a provincial department county bureaus and below; a county bureau the
    /// stations, halls, points, windows and checking units of its county (A2: acceptance points
    /// are designated by the city or county bureau). Nobody registers a ministry: the first
    /// station is registered at bootstrap.
    pub fn may_register(self, new: StationKind) -> bool {
        use StationKind as K;
        match self {
            K::Ministry => new != K::Ministry,
            K::ProvincialDepartment => !matches!(new, K::Ministry | K::ProvincialDepartment),
            K::CountyBureau => {
                !matches!(new, K::Ministry | K::ProvincialDepartment | K::CountyBureau)
            }
            _ => false,
        }
    }

    /// Whether officers of this kind of station are police (who receive hit reports).
    pub fn is_police(self) -> bool {
        self != StationKind::CheckingUnit
    }
}

impl fmt::Display for StationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<_> = StationKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown station kind {s:?}; one of {}", names.join(", "))
            })
    }
}

/// The area a station may act on for commands with a territorial jurisdiction
/// ([`jurisdiction`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "level", content = "division")]
pub enum Territory {
    /// The whole country (the ministry).
    Nation,
    /// A province (a provincial department): the province-level code.
    Province(DivisionCode),
    /// The station's own division: a county (a prefecture-level code covers the prefecture:
    /// a city without districts).
    Division(DivisionCode),
}

impl Territory {
    /// Whether `division` lies within it (the one definition: [`DivisionCode::contains`]).
    pub fn contains(self, division: DivisionCode) -> bool {
        match self {
            Territory::Nation => true,
            Territory::Province(p) | Territory::Division(p) => p.contains(division),
        }
    }
}

impl fmt::Display for Territory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Territory::Nation => f.write_str("the nation"),
            Territory::Province(p) => write!(f, "province {p}"),
            Territory::Division(d) => write!(f, "division {d}"),
        }
    }
}

/// Where a command may act (S1: no officer acts outside the jurisdiction of their station).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Jurisdiction {
    /// Anywhere in the country: loss reports (L1: 全国…就近), found cards (F1), hit reports (L4),
    /// temporary certificates (A8), off-site applications (A1, within the rollout), and the
    /// ministry's national commands.
    Nationwide,
    /// What the command acts on (a station, an officer, a person's household registration, an
    /// application's hukou place) must lie in the acting station's territory
    /// ([`Station::territory`]).
    Territorial,
}

/// The jurisdiction of each command: the one place this is decided (S1); docs/AUTHORIZATION.md
/// prints it beside [`allowed`].
pub fn jurisdiction(command: CommandKind) -> Jurisdiction {
    use CommandKind as C;
    match command {
        // Registries: the county keeps its stations, officers and household registrations
        // (户口登记条例 arts. 3, 8); cards are signed by the hukou county (Law art. 8).
        C::RegisterStation
        | C::RegisterOfficer
        | C::DeactivateOfficer
        | C::SetOfficerKey
        | C::RegisterPeople
        | C::RecordDeath
        | C::RegisterCards
        // A6: listed and delisted by the person's hukou bureau (our choice; the sources name no
        // keeper).
        | C::AddBlacklist
        | C::RemoveBlacklist
        // A4: reviewed and signed by the hukou county's bureau.
        | C::ReviewApplication
        // T2-T5: the hukou place's station and county bureau.
        | C::ApplyTemporaryCard
        | C::IssueTemporaryCard
        | C::ReturnTemporaryCard
        | C::RecordGuardians => Jurisdiction::Territorial,
        C::ReportLoss
        | C::CancelLoss
        | C::ReportHit
        | C::AcknowledgeHit
        | C::IntakeFoundCard
        | C::ReturnFoundCard
        | C::ApplyOffsite
        // A4 names no one: the reviewing bureau or the accepting side's (checked by the command).
        | C::ExtendDeadline
        | C::ProduceCard
        | C::IssueCard
        | C::IssueTemporaryCertificate
        | C::UseTemporaryCertificate
        | C::ImportCreditPush
        | C::SetPolicy
        | C::Publish
        | C::RegisterSubscriber
        // The national population information system is queried from anywhere (A8).
        | C::ReadPersonalData
        // Each overdue application goes to its own reviewing bureau (checked by the command).
        | C::EscalateOverdue
        | C::VerifyOnline
        | C::CheckTemporaryCertificate => Jurisdiction::Nationwide,
    }
}

/// A station or unit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Station {
    /// Identifier.
    pub id: StationId,
    /// Kind.
    pub kind: StationKind,
    /// Administrative division it serves.
    pub division: DivisionCode,
    /// Display name.
    pub name: String,
}

impl Station {
    /// The area it may act on ([`jurisdiction`]): the nation for the ministry, its province
    /// for a provincial department, its division otherwise.
    pub fn territory(&self) -> Territory {
        match self.kind {
            StationKind::Ministry => Territory::Nation,
            StationKind::ProvincialDepartment => Territory::Province(self.division.province()),
            _ => Territory::Division(self.division),
        }
    }
}

/// An officer's public key, as the bureau that registered the officer recorded it (the public
/// half of the digital certificate an officer signs in with). Commands are signed with the
/// private half ([`Actor::with_signer`]) and checked against this before anything else (S1).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OfficerKey {
    /// The algorithm ([`crate::trust::Algorithm`] code: 1 is Ed25519).
    pub algorithm: u8,
    /// The public key's bytes.
    pub bytes: Vec<u8>,
}

impl OfficerKey {
    /// From a public key.
    pub fn of(key: &crate::trust::PublicKey) -> OfficerKey {
        OfficerKey {
            algorithm: key.algorithm().code(),
            bytes: key.as_bytes().to_vec(),
        }
    }

    /// The public key (checked: a valid point of the algorithm's curve).
    pub fn public(&self) -> Result<crate::trust::PublicKey, crate::trust::TrustError> {
        crate::trust::PublicKey::from_bytes(
            crate::trust::Algorithm::from_code(self.algorithm)?,
            &self.bytes,
            "",
        )
    }

    /// Its key id (hex), as signed commands name it.
    pub fn id(&self) -> Option<crate::trust::KeyId> {
        self.public().ok().map(|k| k.id())
    }
}

impl fmt::Debug for OfficerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id() {
            Some(id) => write!(f, "OfficerKey({id})"),
            None => write!(f, "OfficerKey(invalid)"),
        }
    }
}

/// An officer of a station.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Officer {
    /// Identifier (badge).
    pub id: OfficerId,
    /// Name.
    pub name: String,
    /// The station the officer works at.
    pub station: StationId,
    /// Whether the officer may act.
    pub active: bool,
    /// The officer's public key; without one the officer cannot act (every command is signed).
    pub key: Option<OfficerKey>,
}

/// What signs an officer's commands: their private key (the certificate USB key), or a
/// platform's own PKI through this trait (the cxx bridge).
pub trait CommandSigner: Send + Sync {
    /// The id of the key that signs (must be the officer's registered key).
    fn key_id(&self) -> [u8; 8];
    /// Sign a command's message (see `idcard::engine::auth`).
    fn sign(&self, message: &[u8]) -> Vec<u8>;
    /// A one-time value for a command signed at `at_ms` over `payload` (default: random).
    fn nonce(&self, at_ms: i64, payload: &[u8; 32]) -> [u8; 16] {
        let mut nonce = [0u8; 16];
        if getrandom::fill(&mut nonce).is_err() {
            // No randomness: derived from the time, the payload and a process-wide counter.
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut h = blake3::Hasher::new();
            h.update(&at_ms.to_le_bytes());
            h.update(payload);
            h.update(&n.to_le_bytes());
            nonce.copy_from_slice(&h.finalize().as_bytes()[..16]);
        }
        nonce
    }
}

impl CommandSigner for crate::trust::SecretKey {
    fn key_id(&self) -> [u8; 8] {
        self.public().id().0
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        crate::trust::SecretKey::sign(self, message)
    }
}

/// Who runs a command: an officer at a station (S2: every action attributable to both), with
/// what signs for them (S1: the record acts in an officer's name only on that officer's
/// signature). The signer is not part of the journal's record of who acted.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    /// The officer.
    pub officer: OfficerId,
    /// The station.
    pub station: StationId,
    #[serde(skip)]
    signer: Option<std::sync::Arc<dyn CommandSigner>>,
}

impl PartialEq for Actor {
    fn eq(&self, other: &Actor) -> bool {
        self.officer == other.officer && self.station == other.station
    }
}

impl Eq for Actor {}

impl std::hash::Hash for Actor {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.officer.hash(state);
        self.station.hash(state);
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Actor")
            .field("officer", &self.officer)
            .field("station", &self.station)
            .field("signed", &self.signer.is_some())
            .finish()
    }
}

impl Actor {
    /// An actor from text identifiers, without a signer: the engine refuses its commands as
    /// unauthenticated until one is attached ([`Actor::with_signer`]).
    pub fn new(officer: &str, station: &str) -> Result<Actor, String> {
        Ok(Actor {
            officer: officer.parse()?,
            station: station.parse()?,
            signer: None,
        })
    }

    /// The same actor, signing with `signer`.
    pub fn with_signer(mut self, signer: std::sync::Arc<dyn CommandSigner>) -> Actor {
        self.signer = Some(signer);
        self
    }

    /// The same actor, signing with the officer's private key.
    pub fn with_key(self, key: crate::trust::SecretKey) -> Actor {
        self.with_signer(std::sync::Arc::new(key))
    }

    /// What signs for this actor, if anything.
    pub fn signer(&self) -> Option<&dyn CommandSigner> {
        self.signer.as_deref()
    }

    /// The actor that registers the first station and its first officer of an empty system
    /// (`SYSTEM` at `SYSTEM`).
    pub fn system() -> Actor {
        Actor {
            officer: OfficerId("SYSTEM".into()),
            station: StationId("SYSTEM".into()),
            signer: None,
        }
    }

    /// Who the journal names for an attempt that failed authentication: never the officer it
    /// claimed to be (`UNAUTHENTICATED` at `UNAUTHENTICATED`).
    pub fn unauthenticated() -> Actor {
        Actor {
            officer: OfficerId("UNAUTHENTICATED".into()),
            station: StationId("UNAUTHENTICATED".into()),
            signer: None,
        }
    }
}

/// Every command of the system of record (and of the off-site acceptance workflows).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// Register a station (S1).
    RegisterStation,
    /// Register an officer (S1).
    RegisterOfficer,
    /// Deactivate an officer.
    DeactivateOfficer,
    /// Load people into the embedded population directory.
    RegisterPeople,
    /// Record a death (the papers of the dead must not be used, A10).
    RecordDeath,
    /// Record cards issued elsewhere (import of the card register).
    RegisterCards,
    /// Report a card lost or stolen (L1, L2, A10).
    ReportLoss,
    /// Cancel a loss report (the card was recovered).
    CancelLoss,
    /// Report a card used by someone else (L4).
    ReportHit,
    /// Acknowledge a hit report at the police station it was routed to (L4).
    AcknowledgeHit,
    /// Take in a found card (F1, F2).
    IntakeFoundCard,
    /// Return a found card to its owner (F2).
    ReturnFoundCard,
    /// Add a person to the blacklist (A6).
    AddBlacklist,
    /// Remove a person from the blacklist (A6).
    RemoveBlacklist,
    /// Apply a push of the national credit platform (A6).
    ImportCreditPush,
    /// Apply for a card — first application, renewal, replacement — at home or off-site
    /// (A1-A5, A9-A11; the name is kept from when only off-site applications existed).
    ApplyOffsite,
    /// Review and sign off an application at the hukou-place county bureau (A4, A11).
    ReviewApplication,
    /// Produce and check the new card (A4).
    ProduceCard,
    /// Hand the new card to the applicant (A4).
    IssueCard,
    /// Extend an application's deadline (remote areas, A4).
    ExtendDeadline,
    /// Issue a temporary identity certificate (A8).
    IssueTemporaryCertificate,
    /// Apply for a temporary resident identity card (T1-T3).
    ApplyTemporaryCard,
    /// Issue a temporary resident identity card (T3-T4).
    IssueTemporaryCard,
    /// Take back a temporary resident identity card (T5).
    ReturnTemporaryCard,
    /// Change the rollout policy or the fee schedule (A7, A12).
    SetPolicy,
    /// Publish snapshots and deltas.
    Publish,
    /// Use a temporary identity certificate for its trip (A8).
    UseTemporaryCertificate,
    /// Register a subscriber to published snapshots and deltas (S2: its files are its own).
    RegisterSubscriber,
    /// Give an officer a new key (a new certificate; the old one no longer signs).
    SetOfficerKey,
    /// Read personal data (S2: every read is recorded with its subject and purpose).
    ReadPersonalData,
    /// Record guardians of minors in the embedded population directory (law art. 7, T2).
    RecordGuardians,
    /// Escalate the overdue applications a county bureau reviews (A4).
    EscalateOverdue,
    /// Verify cards online (L3): a unit without an offline copy asks the platform's live
    /// verifier. Authenticated, not recorded when it succeeds (the answers are the statuses a
    /// bank's own snapshot gives).
    VerifyOnline,
    /// Check a temporary identity certificate presented for a trip (A8): airlines, railways and
    /// hotels. Authenticated, not recorded when it succeeds.
    CheckTemporaryCertificate,
}

impl CommandKind {
    /// Every command.
    pub const ALL: [CommandKind; 34] = [
        CommandKind::RegisterStation,
        CommandKind::RegisterOfficer,
        CommandKind::DeactivateOfficer,
        CommandKind::RegisterPeople,
        CommandKind::RecordDeath,
        CommandKind::RegisterCards,
        CommandKind::ReportLoss,
        CommandKind::CancelLoss,
        CommandKind::ReportHit,
        CommandKind::AcknowledgeHit,
        CommandKind::IntakeFoundCard,
        CommandKind::ReturnFoundCard,
        CommandKind::AddBlacklist,
        CommandKind::RemoveBlacklist,
        CommandKind::ImportCreditPush,
        CommandKind::ApplyOffsite,
        CommandKind::ReviewApplication,
        CommandKind::ProduceCard,
        CommandKind::IssueCard,
        CommandKind::ExtendDeadline,
        CommandKind::IssueTemporaryCertificate,
        CommandKind::ApplyTemporaryCard,
        CommandKind::IssueTemporaryCard,
        CommandKind::ReturnTemporaryCard,
        CommandKind::SetPolicy,
        CommandKind::Publish,
        CommandKind::UseTemporaryCertificate,
        CommandKind::RegisterSubscriber,
        CommandKind::SetOfficerKey,
        CommandKind::ReadPersonalData,
        CommandKind::RecordGuardians,
        CommandKind::EscalateOverdue,
        CommandKind::VerifyOnline,
        CommandKind::CheckTemporaryCertificate,
    ];
}

/// The authorization matrix: may a station of `kind` run `command`? The one place this is
/// decided (S1); `docs/AUTHORIZATION.md` prints it.
pub fn allowed(command: CommandKind, kind: StationKind) -> bool {
    use CommandKind as C;
    use StationKind as K;
    match command {
        // Stations and officers: registered from above (StationKind::may_register).
        C::RegisterStation | C::RegisterOfficer | C::DeactivateOfficer | C::SetOfficerKey => {
            matches!(
                kind,
                K::CountyBureau | K::ProvincialDepartment | K::Ministry
            )
        }
        // Household registrations, deaths and the card register are kept by the county bureau
        // (bulk national imports by the ministry).
        C::RegisterPeople | C::RegisterCards | C::RecordGuardians => {
            matches!(kind, K::CountyBureau | K::Ministry)
        }
        C::RecordDeath => kind == K::CountyBureau,
        // A6: the hukou county bureau lists and delists; the ministry can too.
        C::AddBlacklist | C::RemoveBlacklist => matches!(kind, K::CountyBureau | K::Ministry),
        // The national platform's own work (L3, A6, A7, A12).
        C::ImportCreditPush | C::SetPolicy | C::Publish | C::RegisterSubscriber => {
            kind == K::Ministry
        }
        // L1: every household registration police station and registration hall nationwide.
        C::ReportLoss | C::CancelLoss => {
            matches!(kind, K::HouseholdRegistrationStation | K::RegistrationHall)
        }
        // L4: any unit that checks cards, and the police. L3: so may they verify online.
        C::ReportHit | C::VerifyOnline => true,
        C::AcknowledgeHit => {
            kind.is_police()
                && !matches!(
                    kind,
                    K::OffsiteAcceptancePoint | K::Ministry | K::ProvincialDepartment
                )
        }
        // F1: stations and halls run a lost-and-found window.
        C::IntakeFoundCard | C::ReturnFoundCard => {
            matches!(
                kind,
                K::LostAndFoundWindow | K::HouseholdRegistrationStation | K::RegistrationHall
            )
        }
        // A1-A4 and law art. 8-10: applications at home (household registration stations and
        // halls) and off-site (acceptance points); review at the hukou-place county bureau;
        // production and issue at the accepting station.
        C::ApplyOffsite | C::ProduceCard | C::IssueCard => matches!(
            kind,
            K::OffsiteAcceptancePoint | K::HouseholdRegistrationStation | K::RegistrationHall
        ),
        C::ReviewApplication | C::ExtendDeadline | C::EscalateOverdue => kind == K::CountyBureau,
        // A8: airport, railway station and hotel precinct police.
        C::IssueTemporaryCertificate => matches!(
            kind,
            K::AirportPolice | K::RailwayPolice | K::HotelPrecinctStation
        ),
        // The airline, railway or hotel that boards or checks in the traveller, or the police.
        C::UseTemporaryCertificate | C::CheckTemporaryCertificate => matches!(
            kind,
            K::AirportPolice | K::RailwayPolice | K::HotelPrecinctStation | K::CheckingUnit
        ),
        // T2-T5: the police station of the place of permanent residence; T3: issued by the
        // county bureau.
        C::ApplyTemporaryCard | C::ReturnTemporaryCard => kind == K::HouseholdRegistrationStation,
        C::IssueTemporaryCard => kind == K::CountyBureau,
        // S2: personal data is read by the police, never by a checking unit (a bank gets
        // statuses from its snapshot).
        C::ReadPersonalData => kind.is_police(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1_ids_are_checked() {
        assert!(StationId::new("110105-HR-01").is_ok());
        assert!(StationId::new("").is_err());
        assert!(StationId::new("a b").is_err());
        assert!(OfficerId::new("x".repeat(41)).is_err());
        assert!("bank_counter".parse::<StationKind>().is_err());
        for k in StationKind::ALL {
            assert_eq!(k.as_str().parse::<StationKind>().unwrap(), k);
        }
    }

    #[test]
    fn l1_loss_reports_at_stations_and_halls_only() {
        for k in StationKind::ALL {
            let want = matches!(
                k,
                StationKind::HouseholdRegistrationStation | StationKind::RegistrationHall
            );
            assert_eq!(allowed(CommandKind::ReportLoss, k), want, "{k}");
        }
        assert!(allowed(CommandKind::ReportHit, StationKind::CheckingUnit));
        assert!(!allowed(
            CommandKind::AcknowledgeHit,
            StationKind::CheckingUnit
        ));
    }
}
