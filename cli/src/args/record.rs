//! `idcard init`, `station`, `officer`, `population`, `card`: the registries (S1, A2, N4-N6).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use idcard::station::StationKind;

use super::{Data, Reader, Who};

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub data: Data,
    /// Identifier of the first station (the deployment's top: the ministry for the national
    /// platform).
    #[arg(long, visible_alias = "station-id")]
    pub bureau_id: String,
    /// Its kind: ministry (its jurisdiction is the nation), provincial_department (its
    /// province) or county_bureau (its county).
    #[arg(long, default_value = "county_bureau")]
    pub kind: idcard::station::StationKind,
    /// Its division code.
    #[arg(long)]
    pub division: u32,
    /// Its name.
    #[arg(long)]
    pub name: String,
    /// Identifier of its first officer.
    #[arg(long)]
    pub officer_id: String,
    /// The officer's name.
    #[arg(long)]
    pub officer_name: String,
    /// The officer's public key file (`idcard key generate`): every command is signed.
    #[arg(long, value_name = "FILE.pub")]
    pub officer_key: PathBuf,
}

#[derive(Subcommand)]
pub enum StationCommand {
    /// Register a station (county bureau officers).
    Add {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// New station's identifier.
        #[arg(long)]
        id: String,
        /// Kind: household_registration_station, registration_hall, offsite_acceptance_point,
        /// airport_police, railway_police, hotel_precinct_station, lost_and_found_window,
        /// county_bureau, checking_unit.
        #[arg(long)]
        kind: StationKind,
        /// Division code it serves.
        #[arg(long)]
        division: u32,
        /// Name.
        #[arg(long)]
        name: String,
    },
    /// List stations (optionally of one kind, e.g. the published acceptance points, A2).
    List {
        #[command(flatten)]
        data: Data,
        /// Only this kind.
        #[arg(long)]
        kind: Option<StationKind>,
        /// Only in this division (or below it: 110000 lists all of Beijing).
        #[arg(long)]
        division: Option<u32>,
    },
}

#[derive(Subcommand)]
pub enum OfficerCommand {
    /// Register an officer at a station.
    Add {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// New officer's identifier.
        #[arg(long)]
        id: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// The station they work at.
        #[arg(long, value_name = "STATION")]
        at: String,
        /// The officer's public key file (`idcard key generate` writes it beside the private
        /// one): their commands are signed with the private half.
        #[arg(long, value_name = "FILE.pub")]
        public_key: PathBuf,
    },
    /// Give one officer a key in a record made before officers had keys (only while no officer
    /// has one; recorded as done by SYSTEM). Every other key is set by a signed `rekey`.
    Enroll {
        #[command(flatten)]
        data: Data,
        /// The officer.
        #[arg(long)]
        id: String,
        /// Their public key file.
        #[arg(long, value_name = "FILE.pub")]
        public_key: PathBuf,
    },
    /// Give an officer a new key (a new certificate): the old one no longer signs.
    Rekey {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The officer.
        #[arg(long)]
        id: String,
        /// The new public key file.
        #[arg(long, value_name = "FILE.pub")]
        public_key: PathBuf,
    },
    /// Deactivate an officer.
    Deactivate {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The officer.
        #[arg(long)]
        id: String,
    },
    /// List officers.
    List {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
    },
}

#[derive(Subcommand)]
pub enum PopulationCommand {
    /// Load PEOPLE.csv into the embedded population directory.
    Import {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// number,name,hukou_division[,category][,fingerprint][,contact][,deceased][,fee_exempt]
        #[arg(long, value_name = "PEOPLE.csv")]
        file: PathBuf,
    },
    /// Load GUARDIANS.csv (`child,guardian`): the guardians through whom under-16s apply
    /// (law art. 7, T2).
    Guardians {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// child,guardian (a header row, then one pair per line).
        #[arg(long, value_name = "GUARDIANS.csv")]
        file: PathBuf,
    },
    /// Record a death (A10).
    Death {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The person.
        #[arg(long)]
        number: String,
    },
}

#[derive(Subcommand)]
pub enum CardCommand {
    /// Load ISSUED.csv into the card register.
    Import {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// number,valid_from[,applied_on][,fingerprints]
        #[arg(long, value_name = "ISSUED.csv")]
        file: PathBuf,
    },
    /// A person's cards and their statuses.
    Show {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
        /// The holder.
        #[arg(long)]
        number: String,
    },
}
