//! A synthetic nation, deterministic from a seed: people with valid identity numbers in real
//! divisions (weighted by the provinces' census populations), household registration, enrolled
//! fingerprints and contacts, and the chain of cards each has held under the age rule (N5).
//!
//! Nothing here is a rule of the system: the numbers, card keys and validity periods come from
//! the `idcard` crate ([`IdNumber::from_parts`], [`ValidityPeriod::for_age`]).

use std::collections::HashSet;

use chrono::{Datelike, Days, NaiveDate};
use idcard::model::CardRegistration;
use idcard::population::{Person, PersonCategory, TemplateDigest};
use idcard::{CardKey, DivisionCode, DivisionTable, IdNumber, ValidityPeriod};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The 31 provinces of the mainland: number, short name, resident population in units of 10,000
/// (Seventh National Population Census, 2020, communiqué No. 3). The synthetic population is
/// spread over them in these proportions.
pub const PROVINCES: [(u8, &str, u32); 31] = [
    (11, "北京", 2189),
    (12, "天津", 1387),
    (13, "河北", 7461),
    (14, "山西", 3492),
    (15, "内蒙古", 2405),
    (21, "辽宁", 4259),
    (22, "吉林", 2407),
    (23, "黑龙江", 3185),
    (31, "上海", 2487),
    (32, "江苏", 8475),
    (33, "浙江", 6457),
    (34, "安徽", 6103),
    (35, "福建", 4154),
    (36, "江西", 4519),
    (37, "山东", 10153),
    (41, "河南", 9937),
    (42, "湖北", 5775),
    (43, "湖南", 6644),
    (44, "广东", 12601),
    (45, "广西", 5013),
    (46, "海南", 1008),
    (50, "重庆", 3205),
    (51, "四川", 8367),
    (52, "贵州", 3856),
    (53, "云南", 4721),
    (54, "西藏", 365),
    (61, "陕西", 3953),
    (62, "甘肃", 2502),
    (63, "青海", 592),
    (64, "宁夏", 720),
    (65, "新疆", 2585),
];

/// Age structure (2020 census: 0-14 17.95 %, 15-59 63.35 %, 60 and over 18.70 %), as bands of
/// full years and their weights in basis points.
const AGE_BANDS: [(u32, u32, u32); 3] = [(0, 14, 1795), (15, 59, 6335), (60, 95, 1870)];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "邓", "冯", "曹",
];
const GIVEN_F: &[&str] = &[
    "秀英", "桂英", "丽", "敏", "静", "婷", "芳", "娟", "霞", "燕", "玲", "欣怡", "雨涵", "梓涵",
];
const GIVEN_M: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "浩然", "子轩", "宇轩", "建国",
];

/// One synthetic person and their cards.
#[derive(Clone, Debug)]
pub struct Citizen {
    /// The entry in the population directory.
    pub person: Person,
    /// Every card held, oldest first; the last is the current one.
    pub cards: Vec<CardRegistration>,
    /// The date the current card's application was made (for `ISSUED.csv`).
    pub applied_on: Option<NaiveDate>,
}

impl Citizen {
    /// The current card.
    pub fn card(&self) -> Option<&CardRegistration> {
        self.cards.last()
    }
}

/// The fingerprint sample a person gives at a counter (the demo's "scanner": the enrolled
/// template is the digest of the same bytes).
pub fn fingerprint_sample(number: IdNumber) -> Vec<u8> {
    format!("fp-{number}").into_bytes()
}

/// Division codes of the demo's world.
pub struct Geography {
    /// Per province (same order as [`PROVINCES`]): county-level codes in force on the start date.
    pub counties: Vec<Vec<DivisionCode>>,
    /// Per province: every county-level code the table ever knew (birth places of the old).
    pub counties_ever: Vec<Vec<DivisionCode>>,
    /// Per province: the county of the provincial capital where its offices are.
    pub capital: Vec<DivisionCode>,
    weights: WeightedIndex<u32>,
}

impl Geography {
    /// The geography from the built-in division table as of `today`.
    pub fn new(today: NaiveDate) -> Geography {
        let table = DivisionTable::builtin();
        let mut counties = vec![Vec::new(); PROVINCES.len()];
        let mut counties_ever = vec![Vec::new(); PROVINCES.len()];
        for code in table.codes() {
            let c = code.get();
            let Some(p) = PROVINCES
                .iter()
                .position(|(n, _, _)| *n as u32 == c / 10_000)
            else {
                continue;
            };
            let name = table.name_in(code, today.year()).unwrap_or("");
            if c % 100 == 0 || name == "市辖区" || name == "县" {
                continue;
            }
            counties_ever[p].push(code);
            if table.in_force(code, today.year()) {
                counties[p].push(code);
            }
        }
        let capital = PROVINCES
            .iter()
            .enumerate()
            .map(|(i, (n, _, _))| {
                let prefecture = *n as u32 * 100 + 1;
                counties[i]
                    .iter()
                    .copied()
                    .find(|c| c.get() / 100 == prefecture)
                    .unwrap_or(counties[i][0])
            })
            .collect();
        Geography {
            counties,
            counties_ever,
            capital,
            weights: WeightedIndex::new(PROVINCES.iter().map(|p| p.2)).expect("positive weights"),
        }
    }

    /// A province index drawn by population.
    pub fn province(&self, rng: &mut impl Rng) -> usize {
        self.weights.sample(rng)
    }
}

/// Generates the population: the same seed gives the same people.
pub struct Generator {
    rng: ChaCha8Rng,
    geo: Geography,
    today: NaiveDate,
    seen: HashSet<u64>,
    ages: WeightedIndex<u32>,
}

impl Generator {
    /// A generator for a world on `today`.
    pub fn new(seed: u64, today: NaiveDate) -> Generator {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            geo: Geography::new(today),
            today,
            seen: HashSet::new(),
            ages: WeightedIndex::new(AGE_BANDS.iter().map(|b| b.2)).expect("positive weights"),
        }
    }

    /// The geography used.
    pub fn geography(&self) -> &Geography {
        &self.geo
    }

    /// The next person.
    pub fn citizen(&mut self) -> Citizen {
        let p = self.geo.province(&mut self.rng);
        let hukou = pick(&mut self.rng, &self.geo.counties[p]);
        let (lo, hi, _) = AGE_BANDS[self.ages.sample(&mut self.rng)];
        let age = self.rng.random_range(lo..=hi);
        let birth = self
            .today
            .checked_sub_days(Days::new(
                age as u64 * 365 + self.rng.random_range(0..365) + age as u64 / 4,
            ))
            .expect("in range");
        // Where the number was issued: mostly the household registration place; for people
        // who moved, or whose county did not exist yet, a county of the province in force in
        // the birth year (N3).
        let table = DivisionTable::builtin();
        let mut birth_place = hukou;
        if self.rng.random_bool(0.15) || !table.in_force(hukou, birth.year()) {
            // The province's counties, else those of the province it was split from (Chongqing
            // from Sichuan in 1997, Hainan from Guangdong in 1988).
            let mut candidates = vec![p];
            match PROVINCES[p].0 {
                50 => candidates.push(province_index(51)),
                46 => candidates.push(province_index(44)),
                _ => {}
            }
            'search: for q in candidates {
                for _ in 0..16 {
                    let c = pick(&mut self.rng, &self.geo.counties_ever[q]);
                    if table.in_force(c, birth.year()) {
                        birth_place = c;
                        break 'search;
                    }
                }
            }
        }
        let number = loop {
            let seq = self.rng.random_range(0..1000u16);
            let n = IdNumber::from_parts(birth_place, birth, seq).expect("in range");
            if self.seen.insert(n.to_u64()) {
                break n;
            }
        };
        let female = number.sequence() % 2 == 0;
        let name = format!(
            "{}{}",
            pick(&mut self.rng, SURNAMES),
            pick(&mut self.rng, if female { GIVEN_F } else { GIVEN_M })
        );
        let (cards, applied_on) = self.cards(number, age);
        // Enrolled in the population system: everyone whose card carries fingerprints (N6),
        // and most others (taken at an earlier application, a residence permit ...).
        let fingerprints =
            cards.last().is_some_and(|c| c.fingerprints) || self.rng.random_bool(0.6);
        let category = match self.rng.random_range(0..1000) {
            0..5 => PersonCategory::Serviceman,
            5..6 => PersonCategory::ArmedPolice,
            _ => PersonCategory::Civilian,
        };
        // Mobile numbers: 11 digits, 13x-19x.
        let contact = self.rng.random_bool(0.6).then(|| {
            format!(
                "1{}{:08}",
                self.rng.random_range(30..100),
                self.rng.next_u32() % 100_000_000
            )
        });
        Citizen {
            person: Person {
                number,
                name,
                hukou_division: hukou,
                category,
                fingerprint: fingerprints.then(|| TemplateDigest::of(&fingerprint_sample(number))),
                contact,
                deceased: false,
                fee_exempt: self.rng.random_bool(0.02),
            },
            cards,
            applied_on,
        }
    }

    /// The cards a person of `age` has held: second-generation cards (from 2004), renewed on
    /// expiry under the age rule (N5), fingerprints registered from 2013 (N6); some never
    /// applied (children, a few adults) and some let the last one expire.
    fn cards(&mut self, number: IdNumber, age: u32) -> (Vec<CardRegistration>, Option<NaiveDate>) {
        let rng = &mut self.rng;
        let birth = number.birth_date();
        let has = if age >= 16 {
            rng.random_bool(0.98)
        } else {
            rng.random_bool(0.2)
        };
        if !has {
            return (Vec::new(), None);
        }
        let second_gen = NaiveDate::from_ymd_opt(2004, 1, 1).expect("date");
        let fp_from = NaiveDate::from_ymd_opt(2013, 1, 1).expect("date");
        let first_age = if age >= 16 {
            16
        } else {
            rng.random_range(0..=age)
        };
        let at_first = birth
            .checked_add_months(chrono::Months::new(12 * first_age))
            .expect("date")
            + Days::new(rng.random_range(30..180));
        let mut from = if at_first < second_gen {
            second_gen + Days::new(rng.random_range(0..9 * 365))
        } else {
            at_first
        };
        if from > self.today {
            // Turns 16 in the next months: no card yet.
            return (Vec::new(), None);
        }
        let enrolls = rng.random_bool(0.95);
        let mut out = Vec::new();
        let mut last_applied;
        loop {
            let applied = (from - Days::new(rng.random_range(7..30))).max(birth);
            last_applied = applied;
            let period = ValidityPeriod::on_application(number, applied).expect("after birth");
            let key = CardKey::new(number, from).expect("after birth");
            out.push(CardRegistration {
                key,
                period,
                fingerprints: enrolls && applied >= fp_from,
            });
            let Some(until) = period.valid_until(from) else {
                break;
            };
            // Renewed up to three months before expiry (A4 does not say; practice does).
            let next = until - Days::new(rng.random_range(0..90));
            if next > self.today || !rng.random_bool(0.93) {
                break;
            }
            from = next;
        }
        (out, Some(last_applied))
    }
}

/// The index in [`PROVINCES`] of a two-digit province number.
fn province_index(number: u8) -> usize {
    PROVINCES
        .iter()
        .position(|(n, _, _)| *n == number)
        .expect("a mainland province")
}

/// A uniformly chosen element.
pub fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}
