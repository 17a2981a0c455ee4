//! Policy as data an operator can change (A7, A12): the rollout of off-site acceptance and the fee
//! schedule. Changed by the `SetPolicy` command (recorded in the journal like everything else).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::division::DivisionCode;

/// What an applicant asks for (换领, 补领).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationKind {
    /// Renewal of a card that expires or has expired (换领).
    Renewal,
    /// Renewal of a damaged card (换领).
    DamagedRenewal,
    /// Replacement of a lost or stolen card (补领).
    Replacement,
    /// A first card (申领): at the household registration place only (A9; law art. 7-10).
    FirstApplication,
    /// Renewal because registered particulars changed, e.g. the name (换领, law art. 11): at the
    /// household registration place only.
    ParticularsChanged,
}

impl ApplicationKind {
    /// Name used in the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationKind::Renewal => "renewal",
            ApplicationKind::DamagedRenewal => "damaged_renewal",
            ApplicationKind::Replacement => "replacement",
            ApplicationKind::FirstApplication => "first_application",
            ApplicationKind::ParticularsChanged => "particulars_changed",
        }
    }

    /// Every kind.
    pub const ALL: [ApplicationKind; 5] = [
        ApplicationKind::Renewal,
        ApplicationKind::DamagedRenewal,
        ApplicationKind::Replacement,
        ApplicationKind::FirstApplication,
        ApplicationKind::ParticularsChanged,
    ];

    /// Whether the current card is handed in (a renewal of any kind) rather than lost
    /// (replacement) or absent (first application).
    pub fn is_renewal(self) -> bool {
        matches!(
            self,
            ApplicationKind::Renewal
                | ApplicationKind::DamagedRenewal
                | ApplicationKind::ParticularsChanged
        )
    }

    /// Whether an off-site acceptance point may take it (A1: renewal and replacement; A9: never a
    /// first application; a change of particulars is made where the household is registered).
    pub fn offsite_possible(self) -> bool {
        matches!(
            self,
            ApplicationKind::Renewal
                | ApplicationKind::DamagedRenewal
                | ApplicationKind::Replacement
        )
    }
}

impl std::str::FromStr for ApplicationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "renewal" => Ok(ApplicationKind::Renewal),
            "damaged_renewal" => Ok(ApplicationKind::DamagedRenewal),
            "replacement" => Ok(ApplicationKind::Replacement),
            "first_application" | "first" => Ok(ApplicationKind::FirstApplication),
            "particulars_changed" => Ok(ApplicationKind::ParticularsChanged),
            _ => Err(format!(
                "unknown application kind {s:?}: first_application, renewal, damaged_renewal, particulars_changed or replacement"
            )),
        }
    }
}

/// Why the fee of an application is below the schedule (A7; law art. 21).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeRelief {
    /// The full fee of the schedule.
    #[default]
    None,
    /// A first application since 2018-04-01: free nationwide.
    FirstApplicationFree,
    /// Waived: on minimum living allowance or in rural hardship, first application or renewal
    /// (law art. 21).
    Waived,
    /// Halved: other hardship shown by a certificate of the township or street office, first
    /// application or renewal (law art. 21: "may be reduced").
    Reduced,
}

/// Card fees in fen (1 yuan = 100 fen), never floats (A7; NDRC Price [2003] No. 2322).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    /// Renewal of a card that expires (换领): 20 yuan.
    pub renewal_fen: u32,
    /// Replacement of a lost or stolen card (补领), or renewal of a damaged one: 40 yuan.
    pub replacement_fen: u32,
    /// A temporary resident identity card: 10 yuan.
    pub temporary_card_fen: u32,
}

/// The national standard (NDRC and MoF Price [2003] No. 2322): no schedule may charge more
/// (A7: nothing extra may be charged).
pub const NATIONAL_STANDARD: FeeSchedule = FeeSchedule {
    renewal_fen: 2000,
    replacement_fen: 4000,
    temporary_card_fen: 1000,
};

/// First applications are free nationwide from this day (State Council executive meeting of
/// 2018-04-04; MPS notice of 2018-04-05).
pub const FIRST_APPLICATION_FREE_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2018, 4, 1) {
    Some(d) => d,
    None => panic!(),
};

impl FeeSchedule {
    /// The fee of an application of `kind` on `date`, in fen, and why it is below the schedule
    /// (A7; Resident Identity Card Law art. 21). The one place fees are computed.
    ///
    /// - application or renewal (申领, 换领): 20 yuan; a damaged card's renewal or a lost card's
    ///   replacement (损坏换领, 丢失补领): 40 yuan;
    /// - a first application is free from 2018-04-01;
    /// - on minimum living allowance or in rural hardship (`low_income`, on record): a first
    ///   application or a renewal is free; other hardship shown by a certificate
    ///   (`hardship_certificate`): halved; a replacement is never reduced.
    ///
    /// ```
    /// use idcard::policy::FeeSchedule;
    /// use idcard::policy::{ApplicationKind as K, FeeRelief};
    /// let f = FeeSchedule::default();
    /// let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    /// assert_eq!(f.fee(K::Renewal, day, false, false), (2000, FeeRelief::None));
    /// assert_eq!(f.fee(K::Renewal, day, true, false), (0, FeeRelief::Waived));
    /// assert_eq!(f.fee(K::Renewal, day, false, true), (1000, FeeRelief::Reduced));
    /// assert_eq!(f.fee(K::Replacement, day, true, true), (4000, FeeRelief::None));
    /// assert_eq!(f.fee(K::FirstApplication, day, false, false), (0, FeeRelief::FirstApplicationFree));
    /// ```
    pub fn fee(
        &self,
        kind: ApplicationKind,
        date: NaiveDate,
        low_income: bool,
        hardship_certificate: bool,
    ) -> (u32, FeeRelief) {
        use self::{ApplicationKind as K, FeeRelief as R};
        let full = match kind {
            K::Renewal | K::ParticularsChanged | K::FirstApplication => self.renewal_fen,
            K::DamagedRenewal | K::Replacement => self.replacement_fen,
        };
        if kind == K::Replacement {
            return (full, R::None);
        }
        if kind == K::FirstApplication && date >= FIRST_APPLICATION_FREE_FROM {
            return (0, R::FirstApplicationFree);
        }
        if low_income {
            (0, R::Waived)
        } else if hardship_certificate {
            (full / 2, R::Reduced)
        } else {
            (full, R::None)
        }
    }
}

impl Default for FeeSchedule {
    fn default() -> Self {
        FeeSchedule {
            renewal_fen: 2000,
            replacement_fen: 4000,
            temporary_card_fen: 1000,
        }
    }
}

/// The rollout of off-site acceptance (A12), as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// One-to-one pilot pairs of provinces (two-digit province numbers) and the date they start.
    pub pilot_pairs: Vec<(u8, u8)>,
    /// When the pilot pairs start.
    pub pilots_from: NaiveDate,
    /// Large and medium cities and qualified counties whose acceptance points take applicants
    /// from any province (division codes: a prefecture `XXXX00` covers its counties, a province
    /// `XX0000` covers all of it).
    pub cities: Vec<DivisionCode>,
    /// When the cities start.
    pub cities_from: NaiveDate,
    /// Provinces that also accept applicants registered elsewhere in the same province, and from
    /// when.
    pub intra_province: Vec<(u8, NaiveDate)>,
    /// When acceptance is nationwide (every acceptance point, every other province).
    pub nationwide_from: Option<NaiveDate>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

impl Default for Rollout {
    /// The schedule of the source document: pilot pairs Tianjin-Henan, Jiangsu-Anhui,
    /// Zhejiang-Jiangxi, Chongqing-Sichuan, Hubei-Hunan from 2015-07-01; large and medium
    /// cities from 2016-07-01 (here: the municipalities and the provincial capitals, a list
    /// operators replace with the one their ministry publishes); nationwide from 2017-07-01.
    fn default() -> Self {
        let cities = [
            110000, 120000, 310000, 500000, // municipalities
            130100, 140100, 150100, 210100, 220100, 230100, 320100, 330100, 340100, 350100, 360100,
            370100, 410100, 420100, 430100, 440100, 450100, 460100, 510100, 520100, 530100, 540100,
            610100, 620100, 630100, 640100, 650100, // provincial capitals
            210200, 330200, 350200, 370200, 440300, // sub-provincial cities
        ];
        Rollout {
            pilot_pairs: vec![(12, 41), (32, 34), (33, 36), (50, 51), (42, 43)],
            pilots_from: date(2015, 7, 1),
            cities: cities
                .iter()
                .map(|&c| DivisionCode::new(c).expect("six digits"))
                .collect(),
            cities_from: date(2016, 7, 1),
            intra_province: Vec::new(),
            nationwide_from: Some(date(2017, 7, 1)),
        }
    }
}

/// Why a point may not accept an applicant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAccepted {
    /// Stable code.
    pub code: &'static str,
    /// Explanation.
    pub message: String,
}

impl Rollout {
    /// May an acceptance point in division `point` accept an applicant registered in `hukou` on
    /// `date` (A1, A12)?
    ///
    /// ```
    /// use idcard::policy::Rollout;
    /// use idcard::DivisionCode;
    /// let d = |c| DivisionCode::new(c).unwrap();
    /// let day = |y, m, dd| chrono::NaiveDate::from_ymd_opt(y, m, dd).unwrap();
    /// let r = Rollout::default();
    /// // Henan applicant at a Tianjin point: a pilot pair from 2015-07-01.
    /// assert!(r.may_accept(d(410105), d(120101), day(2015, 7, 1)).is_ok());
    /// assert!(r.may_accept(d(410105), d(120101), day(2015, 6, 30)).is_err());
    /// // Henan applicant in Guangzhou: a city from 2016-07-01.
    /// assert!(r.may_accept(d(410105), d(440106), day(2016, 6, 30)).is_err());
    /// assert!(r.may_accept(d(410105), d(440106), day(2016, 7, 1)).is_ok());
    /// ```
    pub fn may_accept(
        &self,
        hukou: DivisionCode,
        point: DivisionCode,
        date: NaiveDate,
    ) -> Result<(), NotAccepted> {
        let (hp, pp) = (hukou.province_number(), point.province_number());
        if hukou == point {
            return Err(NotAccepted {
                code: "not_offsite",
                message: "the applicant is at their household registration place: apply there, not off-site".into(),
            });
        }
        if hp == pp {
            return match self.intra_province.iter().find(|(p, _)| *p == hp) {
                Some((_, from)) if date >= *from => Ok(()),
                Some((_, from)) => Err(NotAccepted {
                    code: "outside_rollout",
                    message: format!(
                        "intra-province acceptance in province {hp:02} starts on {from}"
                    ),
                }),
                None => Err(NotAccepted {
                    code: "same_province",
                    message: format!(
                        "household registration and acceptance point are both in province {hp:02}, which does not accept intra-province applications (A1)"
                    ),
                }),
            };
        }
        if self.nationwide_from.is_some_and(|from| date >= from) {
            return Ok(());
        }
        let pair = self
            .pilot_pairs
            .iter()
            .any(|&(a, b)| (a, b) == (hp, pp) || (b, a) == (hp, pp));
        if pair && date >= self.pilots_from {
            return Ok(());
        }
        if date >= self.cities_from && self.cities.iter().any(|c| c.contains(point)) {
            return Ok(());
        }
        Err(NotAccepted {
            code: "outside_rollout",
            message: format!(
                "on {date} off-site acceptance of province {hp:02} applicants at this point (province {pp:02}) is not yet open (A12)"
            ),
        })
    }
}

/// The policy in force: rollout, fees, processing time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// A12.
    pub rollout: Rollout,
    /// A7.
    pub fees: FeeSchedule,
    /// Days from the registration form to issue (A4: at most 60; "may be shortened").
    pub processing_days: u32,
    /// Most days a remote area may add (A4: at most 30).
    pub max_extension_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            rollout: Rollout::default(),
            fees: FeeSchedule::default(),
            processing_days: 60,
            max_extension_days: 30,
        }
    }
}

impl Policy {
    /// Check a policy before it is set: the legal maxima hold (A4: 60 days, 30 more).
    pub fn check(&self) -> Result<(), String> {
        if self.processing_days == 0 || self.processing_days > 60 {
            return Err(format!(
                "processing days {} must be 1..=60 (A4)",
                self.processing_days
            ));
        }
        if self.max_extension_days > 30 {
            return Err(format!(
                "extension of {} days exceeds the 30 allowed (A4)",
                self.max_extension_days
            ));
        }
        let (f, n) = (&self.fees, &NATIONAL_STANDARD);
        for (what, fee, max) in [
            ("renewal", f.renewal_fen, n.renewal_fen),
            ("replacement", f.replacement_fen, n.replacement_fen),
            ("temporary card", f.temporary_card_fen, n.temporary_card_fen),
        ] {
            if fee > max {
                return Err(format!(
                    "the {what} fee of {fee} fen is above the national standard of {max} fen: nothing extra may be charged (A7)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: u32) -> DivisionCode {
        DivisionCode::new(c).unwrap()
    }

    #[test]
    fn a12_three_phases_and_pilot_pairs() {
        let r = Rollout::default();
        let pairs = [
            (120101, 410105),
            (320102, 340102),
            (330102, 360102),
            (500101, 510104),
            (420102, 430102),
        ];
        for (a, b) in pairs {
            for (h, p) in [(a, b), (b, a)] {
                assert!(
                    r.may_accept(d(h), d(p), date(2015, 6, 30)).is_err(),
                    "{h}->{p} before the pilots"
                );
                assert!(
                    r.may_accept(d(h), d(p), date(2015, 7, 1)).is_ok(),
                    "{h}->{p} pilot"
                );
            }
        }
        // Not a pair: Tianjin applicant in Anhui (no city there in the list) waits for 2017.
        assert_eq!(
            r.may_accept(d(120101), d(341102), date(2016, 12, 1))
                .unwrap_err()
                .code,
            "outside_rollout"
        );
        // A city from 2016-07-01 (Hefei 340100 covers 340102).
        assert!(r.may_accept(d(120101), d(340102), date(2016, 7, 1)).is_ok());
        assert!(
            r.may_accept(d(120101), d(340102), date(2016, 6, 30))
                .is_err()
        );
        // Nationwide from 2017-07-01.
        assert!(r.may_accept(d(120101), d(341102), date(2017, 7, 1)).is_ok());
        // Same province: only where intra-province acceptance is enabled.
        assert_eq!(
            r.may_accept(d(440106), d(440304), date(2020, 1, 1))
                .unwrap_err()
                .code,
            "same_province"
        );
        let mut r2 = r.clone();
        r2.intra_province.push((44, date(2016, 7, 1)));
        assert!(
            r2.may_accept(d(440106), d(440304), date(2020, 1, 1))
                .is_ok()
        );
        assert_eq!(
            r.may_accept(d(440106), d(440106), date(2020, 1, 1))
                .unwrap_err()
                .code,
            "not_offsite"
        );
    }

    #[test]
    fn a7_fees_in_fen_and_a4_policy_limits() {
        let f = FeeSchedule::default();
        assert_eq!(
            (f.renewal_fen, f.replacement_fen, f.temporary_card_fen),
            (2000, 4000, 1000)
        );
        let mut p = Policy::default();
        assert!(p.check().is_ok());
        p.processing_days = 61;
        assert!(p.check().is_err());
        p.processing_days = 30;
        p.max_extension_days = 31;
        assert!(p.check().is_err());
    }

    #[test]
    fn a7_no_policy_charges_above_the_national_standard() {
        let mut p = Policy::default();
        p.fees.renewal_fen = 99_900;
        assert!(p.check().unwrap_err().contains("national standard"));
        let mut p = Policy::default();
        p.fees.temporary_card_fen = 1001;
        assert!(p.check().is_err());
        // Lower fees are allowed (a local reduction).
        let mut p = Policy::default();
        p.fees.replacement_fen = 2000;
        assert!(p.check().is_ok());
    }

    #[test]
    fn a7_law_art_21_waivers_and_the_free_first_application() {
        use super::{ApplicationKind as K, FeeRelief as R};
        let f = FeeSchedule::default();
        let before = date(2018, 3, 31);
        assert_eq!(
            f.fee(K::FirstApplication, before, false, false),
            (2000, R::None)
        );
        assert_eq!(
            f.fee(K::FirstApplication, before, true, false),
            (0, R::Waived)
        );
        assert_eq!(
            f.fee(K::FirstApplication, before, false, true),
            (1000, R::Reduced)
        );
        assert_eq!(
            f.fee(K::FirstApplication, date(2018, 4, 1), false, false),
            (0, R::FirstApplicationFree)
        );
        assert_eq!(
            f.fee(K::DamagedRenewal, before, false, false),
            (4000, R::None)
        );
        assert_eq!(
            f.fee(K::DamagedRenewal, before, true, false),
            (0, R::Waived)
        );
        assert_eq!(f.fee(K::Replacement, before, true, true), (4000, R::None));
    }
}
