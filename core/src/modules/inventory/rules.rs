//! What stock of hazardous chemicals may do, as pure functions: unit conversion, CAS check
//! digits, storage incompatibility (GB 15603-2022, rules kept as editable data), dedicated
//! stores and capacity, lots that may not be issued (held, rejected, expired), negative
//! stock, the customer's credit, licences of buyers of 剧毒 / 易制爆 / 易制毒 chemicals, and
//! which lots a delivery takes first (FEFO, FIFO). Every refusal names the rule.
//!
//! Numbers and rules: ../shared/DOMAIN.md (Hazardous-chemical stock).

use time::Date;

use super::model::{
    LicenceKind, Lot, LotQuality, Material, MoveKind, Partner, Separation, StorageRule,
    storage_groups,
};
use crate::error::{Error, Result};
use crate::i18n::Msg;
use crate::plant_time::parse_day;

/// Quantities closer than this are equal (floating-point sums of base units).
pub const EPS: f64 = 1e-9;

/// Units every material converts between without being told (mass and volume).
const SI: &[(&str, &str, f64)] = &[
    ("mass", "g", 0.001),
    ("mass", "kg", 1.0),
    ("mass", "t", 1000.0),
    ("volume", "mL", 0.001),
    ("volume", "ml", 0.001),
    ("volume", "L", 1.0),
    ("volume", "l", 1.0),
    ("volume", "m3", 1000.0),
    ("volume", "m³", 1000.0),
];

fn si(unit: &str) -> Option<(&'static str, f64)> {
    SI.iter()
        .find(|(_, u, _)| *u == unit)
        .map(|(d, _, f)| (*d, *f))
}

/// `qty` of `unit` in the material's base unit: the base unit itself, a unit the material
/// lists, or a mass / volume unit when the base unit is one of the same dimension.
pub fn to_base(m: &Material, qty: f64, unit: &str) -> Result<f64> {
    if !qty.is_finite() || qty <= 0.0 {
        return Err(Error::invalid("qty", "inventory.err.qty"));
    }
    let unit = unit.trim();
    if unit.is_empty() || unit == m.base_unit {
        return Ok(qty);
    }
    if let Some(c) = m.units.iter().find(|c| c.unit == unit) {
        return Ok(qty * c.factor);
    }
    if let (Some((d1, f1)), Some((d2, f2))) = (si(unit), si(&m.base_unit))
        && d1 == d2
    {
        return Ok(qty * f1 / f2);
    }
    Err(Error::invalid_msg(
        "unit",
        Msg::new("inventory.err.unit")
            .arg("unit", unit)
            .arg("base", &m.base_unit),
    ))
}

/// The mass in kg of `qty` base units, when the base unit is a mass (or the material lists
/// `kg`); None when it cannot be known (litres without a density).
pub fn mass_kg(m: &Material, qty: f64) -> Option<f64> {
    if let Some(("mass", f)) = si(&m.base_unit) {
        return Some(qty * f);
    }
    m.units
        .iter()
        .find(|c| c.unit == "kg")
        .map(|c| qty / c.factor)
}

/// Whether a CAS registry number is well formed and its check digit right
/// (`7732-18-5`: (8×1 + 1×2 + 2×3 + 3×4 + 7×5 + 7×6) mod 10 = 5).
pub fn cas_ok(cas: &str) -> bool {
    let parts: Vec<&str> = cas.split('-').collect();
    if parts.len() != 3
        || !(2..=7).contains(&parts[0].len())
        || parts[1].len() != 2
        || parts[2].len() != 1
        || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let digits: Vec<u32> = format!("{}{}", parts[0], parts[1])
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| (i as u32 + 1) * d)
        .sum();
    sum % 10 == u32::from(parts[2].as_bytes()[0] - b'0')
}

/// The storage groups the default rules know (a material names one; plants may add more
/// through their own rules).
pub const GROUPS: &[&str] = &[
    "explosive",
    "flammable_gas",
    "toxic_gas",
    "inert_gas",
    "flammable_liquid",
    "flammable_solid",
    "pyrophoric",
    "water_reactive",
    "oxidizer",
    "organic_peroxide",
    "toxic",
    "acid",
    "base",
];

/// Default incompatibility rules after GB 15603-2022 (常用危险化学品储存禁忌): explosives
/// and organic peroxides alone; oxidizers away from everything that burns; water-reactive
/// and pyrophoric substances away from acids, bases and flammables; acids and bases apart;
/// toxics away from acids. Plants edit them in the settings.
pub fn default_rules() -> Vec<StorageRule> {
    use Separation::{Location, Store};
    let r = |a: &str, b: &str, separation, note: &str| StorageRule {
        a: a.into(),
        b: b.into(),
        separation,
        note: note.into(),
    };
    let mut v = Vec::new();
    for other in GROUPS.iter().filter(|g| **g != "explosive") {
        v.push(r(
            "explosive",
            other,
            Store,
            "爆炸物应专库储存 / explosives in a store of their own",
        ));
    }
    for other in GROUPS
        .iter()
        .filter(|g| !matches!(**g, "explosive" | "organic_peroxide"))
    {
        v.push(r(
            "organic_peroxide",
            other,
            Store,
            "有机过氧化物应专库储存 / organic peroxides in a store of their own",
        ));
    }
    for fuel in [
        "flammable_gas",
        "flammable_liquid",
        "flammable_solid",
        "pyrophoric",
    ] {
        v.push(r(
            "oxidizer",
            fuel,
            Store,
            "氧化剂与易燃物隔离储存 / oxidizers feed a fire of flammables",
        ));
    }
    for other in ["acid", "base", "flammable_liquid", "oxidizer"] {
        v.push(r(
            "water_reactive",
            other,
            Store,
            "遇水放出易燃气体的物质与酸、碱、易燃液体隔离 / water-reactives away from water-bearing goods",
        ));
    }
    for other in ["flammable_liquid", "flammable_gas", "acid"] {
        v.push(r(
            "pyrophoric",
            other,
            Store,
            "自燃物品与易燃物、酸类隔离 / pyrophorics away from flammables and acids",
        ));
    }
    v.push(r(
        "acid",
        "base",
        Location,
        "酸碱隔开储存 / acids and bases react",
    ));
    v.push(r(
        "acid",
        "oxidizer",
        Location,
        "酸与氧化剂隔开储存 / acids and oxidizers apart",
    ));
    v.push(r(
        "toxic",
        "acid",
        Location,
        "毒害品与酸类隔开 / acids release toxic gases from toxics",
    ));
    v.push(r(
        "flammable_gas",
        "toxic_gas",
        Location,
        "易燃气体与毒性气体分开 / flammable and toxic gases apart",
    ));
    v
}

/// The rule that keeps groups `a` and `b` apart, either way round.
pub fn rule_between<'r>(rules: &'r [StorageRule], a: &str, b: &str) -> Option<&'r StorageRule> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    rules
        .iter()
        .find(|r| (r.a == a && r.b == b) || (r.a == b && r.b == a))
}

/// Whether `incoming` may be put away where `at_location` groups already are (with stock)
/// and `in_store` groups are elsewhere in the same store. Refused with the rule named.
pub fn check_put_away(
    rules: &[StorageRule],
    incoming: &Material,
    at_location: &[(&str, &str)],
    in_store: &[(&str, &str)],
) -> Result<()> {
    let refuse = |rule: &StorageRule, g: &str, other: &str| {
        Err(Error::invalid_msg(
            "to",
            Msg::new(match rule.separation {
                Separation::Store => "inventory.err.incompatible_store",
                Separation::Location => "inventory.err.incompatible_location",
            })
            .arg("a", g)
            .arg("b", rule_groups(rule, g))
            .arg("other", other)
            .arg("note", &rule.note),
        ))
    };
    // every group of the incoming material against every group of each neighbour
    for g in storage_groups(&incoming.storage_group) {
        for (groups, name) in at_location {
            for h in storage_groups(groups) {
                if let Some(rule) = rule_between(rules, g, h) {
                    return refuse(rule, g, name);
                }
            }
        }
        for (groups, name) in in_store {
            for h in storage_groups(groups) {
                if let Some(rule) = rule_between(rules, g, h)
                    && rule.separation == Separation::Store
                {
                    return refuse(rule, g, name);
                }
            }
        }
    }
    Ok(())
}

fn rule_groups(rule: &StorageRule, g: &str) -> String {
    if rule.a == g {
        rule.b.clone()
    } else {
        rule.a.clone()
    }
}

/// A dedicated store for hazardous chemicals, with two custodians for 剧毒 items.
pub fn check_store(m: &Material, hazmat_store: bool, custodians: usize) -> Result<()> {
    if m.needs_hazmat_store() && !hazmat_store {
        return Err(Error::invalid("to", "inventory.err.needs_hazmat_store"));
    }
    if m.highly_toxic && custodians < 2 {
        return Err(Error::invalid("to", "inventory.err.two_custodians"));
    }
    Ok(())
}

/// Whether `add_kg` more fits a location holding `held_kg` (capacity 0: no limit). A mass
/// that cannot be known (litres without a kg factor) is refused where a capacity is set:
/// the stricter reading.
pub fn check_capacity(capacity_kg: f64, held_kg: Option<f64>, add_kg: Option<f64>) -> Result<()> {
    if capacity_kg <= 0.0 {
        return Ok(());
    }
    let (Some(held_kg), Some(add_kg)) = (held_kg, add_kg) else {
        return Err(Error::invalid("to", "inventory.err.mass_unknown"));
    };
    if held_kg + add_kg > capacity_kg + EPS {
        return Err(Error::invalid_msg(
            "to",
            Msg::new("inventory.err.capacity")
                .arg("capacity", capacity_kg)
                .arg("held", round3(held_kg)),
        ));
    }
    Ok(())
}

/// A lot's last day, if any; an unreadable day counts as already past (the stricter reading).
pub fn expiry(lot: &Lot) -> Option<Option<Date>> {
    lot.expires.as_deref().map(parse_day)
}

pub fn expired(lot: &Lot, today: Date) -> bool {
    match expiry(lot) {
        None => false,
        Some(None) => true,
        Some(Some(d)) => today > d,
    }
}

/// Days until the lot expires (negative: expired); None: it does not.
pub fn days_left(lot: &Lot, today: Date) -> Option<i64> {
    match expiry(lot)? {
        None => Some(-1),
        Some(d) => Some((d - today).whole_days()),
    }
}

/// Whether the lot may leave stock by movement `kind`: issues and deliveries take only
/// released lots in date; rejected lots may only be scrapped, transferred or returned.
pub fn check_lot(kind: MoveKind, lot: &Lot, today: Date) -> Result<()> {
    if kind.consumes() {
        match lot.quality {
            LotQuality::Held => return Err(Error::invalid("lot", "inventory.err.lot_held")),
            LotQuality::Rejected => {
                return Err(Error::invalid("lot", "inventory.err.lot_rejected"));
            }
            LotQuality::Released => {}
        }
        if expired(lot, today) {
            return Err(Error::invalid_msg(
                "lot",
                Msg::new("inventory.err.lot_expired")
                    .arg("day", lot.expires.as_deref().unwrap_or("")),
            ));
        }
    }
    Ok(())
}

/// Whether `qty` may leave a balance of `have` (negative stock only when allowed).
pub fn check_available(have: f64, qty: f64, allow_negative: bool) -> Result<()> {
    if !allow_negative && qty > have + EPS {
        return Err(Error::invalid_msg(
            "qty",
            Msg::new("inventory.err.negative")
                .arg("have", round3(have))
                .arg("want", round3(qty)),
        ));
    }
    Ok(())
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The licences a buyer of `m` must show, valid on the day of sale: each inner list is one
/// requirement that any of its licences meets. 《危险化学品安全管理条例》第38条: 剧毒 and 易制爆
/// goods are bought on a safety production, safety use or trading licence; other buyers need
/// the public-security 剧毒 purchase licence, or for 易制爆 goods the lawful-use statement
/// on record. 《易制毒化学品管理条例》: a purchase licence (class 1) or record (classes 2–3).
/// Other hazardous chemicals need no buyer's licence (the seller's licence is ours).
pub fn licences_needed(m: &Material) -> Vec<Vec<LicenceKind>> {
    use LicenceKind::*;
    let mut v = Vec::new();
    if m.highly_toxic {
        v.push(vec![ToxicPurchase, HazProduction, HazUse, HazTrade]);
    }
    if m.explosive_precursor {
        v.push(vec![ExplosivePurchase, HazProduction, HazUse, HazTrade]);
    }
    if m.precursor_class > 0 {
        v.push(vec![PrecursorPurchase]);
    }
    v
}

/// Whether `p` holds a licence of `kind` with a number, valid on `today` (through its last
/// day).
pub fn has_licence(p: &Partner, kind: LicenceKind, today: Date) -> bool {
    p.licences.iter().any(|l| {
        l.kind == kind
            && !l.number.trim().is_empty()
            && parse_day(&l.expires).is_some_and(|d| d >= today)
    })
}

/// Refuses a sale of `m` to `p` when a requirement is not met by a valid licence; the
/// message names the licence asked first and, if one of those is on file, the day it
/// expired.
pub fn check_buyer(m: &Material, p: &Partner, today: Date) -> Result<()> {
    for any_of in licences_needed(m) {
        if any_of.iter().any(|k| has_licence(p, *k, today)) {
            continue;
        }
        let last = p
            .licences
            .iter()
            .filter(|l| any_of.contains(&l.kind))
            .max_by(|a, b| a.expires.cmp(&b.expires))
            .map(|l| (l.expires.clone(), l.kind));
        let (key, kind, day) = match last {
            Some((day, kind)) => ("inventory.err.licence_expired", kind, day),
            None => ("inventory.err.licence_missing", any_of[0], String::new()),
        };
        return Err(Error::invalid_msg(
            "customer",
            Msg::new(key).arg("licence", kind.id()).arg("day", day),
        ));
    }
    Ok(())
}

/// Hazardous chemicals kept at a customer's site on consignment stay ours but sit in their
/// store: the customer needs a valid licence that covers storing them (production, safe-use
/// or trading with storage).
pub fn check_consignee(m: &Material, p: &Partner, today: Date) -> Result<()> {
    if !m.needs_hazmat_store() {
        return Ok(());
    }
    let kinds = [
        LicenceKind::HazProduction,
        LicenceKind::HazUse,
        LicenceKind::HazTrade,
    ];
    if kinds.iter().any(|k| has_licence(p, *k, today)) {
        return Ok(());
    }
    Err(Error::invalid_msg(
        "customer",
        Msg::new("inventory.err.consignment_licence").arg("material", &m.name),
    ))
}

/// The credit a sales order would use: open orders not yet delivered plus deliveries not
/// yet paid, plus this order. Over the limit: approval or refusal, as the customer's policy
/// says (approved orders pass).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Credit {
    pub limit: f64,
    pub open_orders: f64,
    pub unpaid: f64,
    pub this_order: f64,
}

impl Credit {
    pub fn used(&self) -> f64 {
        self.open_orders + self.unpaid + self.this_order
    }
    pub fn over(&self) -> bool {
        self.used() > self.limit + 0.005
    }
}

/// A lot with stock at a location, as a delivery or an issue can take it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pickable {
    pub lot: u64,
    pub location: u64,
    pub qty: f64,
    pub received_ms: i64,
    pub expires: Option<Date>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// First expired, first out; lots without expiry last, then by receipt.
    Fefo,
    /// First in, first out by receipt.
    Fifo,
}

/// Which lots (and how much of each) cover `qty`, in the order the strategy takes them.
/// Short: the proposal covers what there is, and the shortfall is the rest.
pub fn propose(mut stock: Vec<Pickable>, qty: f64, s: Strategy) -> (Vec<(u64, u64, f64)>, f64) {
    stock.retain(|p| p.qty > EPS);
    stock.sort_by(|a, b| {
        let by_receipt = a.received_ms.cmp(&b.received_ms).then(a.lot.cmp(&b.lot));
        match s {
            Strategy::Fifo => by_receipt,
            Strategy::Fefo => match (a.expires, b.expires) {
                (Some(x), Some(y)) => x.cmp(&y).then(by_receipt),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => by_receipt,
            },
        }
    });
    let mut left = qty;
    let mut out = Vec::new();
    for p in stock {
        if left <= EPS {
            break;
        }
        let take = p.qty.min(left);
        out.push((p.lot, p.location, take));
        left -= take;
    }
    (out, left.max(0.0))
}

/// Whether a 居民身份证号码 (GB 11643-1999) is well formed with the right check character.
pub fn id_number_ok(id: &str) -> bool {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let birth = std::str::from_utf8(&b[6..14]).ok().and_then(|d| {
        let (y, m, day) = (
            d[..4].parse().ok()?,
            d[4..6].parse::<u8>().ok()?,
            d[6..].parse().ok()?,
        );
        Date::from_calendar_date(y, time::Month::try_from(m).ok()?, day).ok()
    });
    birth.is_some_and(|d| d.year() >= 1900)
        && b[17].to_ascii_uppercase() == CHECK[(sum % 11) as usize]
}

/// How much to order when stock projected over the lead time falls to the reorder point:
/// up to the maximum stock (or twice the reorder point when no maximum is set). `daily_use`
/// is the planned consumption per day; None: no order needed.
pub fn reorder_qty(
    on_hand: f64,
    on_order: f64,
    reorder_point: f64,
    max_stock: f64,
    daily_use: f64,
    lead_days: f64,
) -> Option<f64> {
    if reorder_point <= 0.0 {
        return None;
    }
    let projected = on_hand + on_order - daily_use.max(0.0) * lead_days.max(0.0);
    if projected > reorder_point + EPS {
        return None;
    }
    let target = if max_stock > 0.0 {
        max_stock
    } else {
        2.0 * reorder_point
    };
    let q = target - projected;
    (q > EPS).then_some(round3(q))
}

/// How far `price` is from the average of the last (at most three) prices, in percent,
/// when that is more than `threshold_pct`; None without history or within the threshold.
pub fn price_deviation(price: f64, last: &[f64], threshold_pct: f64) -> Option<f64> {
    let last: Vec<f64> = last.iter().rev().take(3).copied().collect();
    if last.is_empty() {
        return None;
    }
    let avg = last.iter().sum::<f64>() / last.len() as f64;
    if avg <= 0.0 {
        return None;
    }
    let pct = (price - avg) / avg * 100.0;
    (pct.abs() > threshold_pct).then_some((pct * 10.0).round() / 10.0)
}

/// A seller of hazardous chemicals must hold a trading or production licence valid today.
pub fn check_seller(m: &Material, p: &Partner, today: Date) -> Result<()> {
    let licensed = [LicenceKind::HazTrade, LicenceKind::HazProduction]
        .into_iter()
        .any(|k| has_licence(p, k, today));
    if m.needs_hazmat_store() && !licensed {
        return Err(Error::invalid_msg(
            "supplier",
            Msg::new("inventory.err.seller_licence").arg("name", &p.name),
        ));
    }
    Ok(())
}

/// ABC classes by value (consumption or stock): the items making the first 80 % of the
/// total are A, the next 15 % B, the rest C. Items in input order, classes returned in the
/// same order; zero values are C.
pub fn abc(values: &[f64]) -> Vec<char> {
    let total: f64 = values.iter().filter(|v| **v > 0.0).sum();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*b].total_cmp(&values[*a]));
    let mut out = vec!['C'; values.len()];
    let mut before = 0.0;
    for i in order {
        let v = values[i];
        if v <= 0.0 || total <= 0.0 {
            continue;
        }
        // the class of the share reached before this item: the item that crosses 80 % is A
        let share = before / total;
        out[i] = if share < 0.80 {
            'A'
        } else if share < 0.95 {
            'B'
        } else {
            'C'
        };
        before += v;
    }
    out
}

/// Ageing buckets of stock by days since receipt: 0–30, 31–90, 91–180, over 180.
pub const AGE_BUCKETS: [&str; 4] = ["0-30", "31-90", "91-180", "180+"];

pub fn age_bucket(days: i64) -> usize {
    match days {
        ..=30 => 0,
        31..=90 => 1,
        91..=180 => 2,
        _ => 3,
    }
}

/// Stock turnover over a period: value consumed divided by the average stock value; None
/// without stock.
pub fn turnover(consumed: f64, avg_stock: f64) -> Option<f64> {
    (avg_stock > EPS).then(|| (consumed / avg_stock * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::inventory::fixtures::*;
    use time::macros::date;

    #[test]
    fn units_convert_by_the_material_or_by_dimension_else_refuse() {
        let m = toluene();
        assert_eq!(to_base(&m, 2.0, "桶").unwrap(), 340.0);
        assert_eq!(to_base(&m, 1.5, "t").unwrap(), 1500.0);
        assert_eq!(to_base(&m, 500.0, "g").unwrap(), 0.5);
        assert_eq!(to_base(&m, 7.0, "kg").unwrap(), 7.0);
        assert_eq!(to_base(&m, 7.0, "").unwrap(), 7.0);
        let e = to_base(&m, 1.0, "L").unwrap_err();
        assert!(matches!(e, Error::Invalid { field: "unit", .. }));
        assert!(to_base(&m, 0.0, "kg").is_err());
        assert!(to_base(&m, -1.0, "kg").is_err());
        assert!(to_base(&m, f64::NAN, "kg").is_err());
        // units are case-sensitive: ML is not mL, T is not t
        assert!(to_base(&m, 1.0, "T").is_err());
    }

    #[test]
    fn mass_is_known_for_mass_units_only() {
        assert_eq!(mass_kg(&toluene(), 10.0), Some(10.0));
        let mut m = toluene();
        m.base_unit = "t".into();
        assert_eq!(mass_kg(&m, 2.0), Some(2000.0));
        m.base_unit = "L".into();
        m.units.clear();
        assert_eq!(mass_kg(&m, 2.0), None);
    }

    #[test]
    fn cas_check_digit() {
        assert!(cas_ok("7732-18-5")); // water
        assert!(cas_ok("108-88-3")); // toluene
        assert!(cas_ok("141-78-6")); // ethyl acetate
        assert!(!cas_ok("108-88-4"));
        assert!(!cas_ok("10888-3"));
        assert!(!cas_ok("1-88-3"));
        assert!(!cas_ok("abc-de-f"));
    }

    #[test]
    fn oxidizer_next_to_flammable_is_refused_with_the_rule() {
        let rules = default_rules();
        let mut ox = toluene();
        ox.storage_group = "oxidizer".into();
        let e = check_put_away(&rules, &ox, &[], &[("flammable_liquid", "甲苯")]).unwrap_err();
        let msg = e.msg().render(crate::i18n::Lang::En);
        assert!(
            msg.contains("甲苯") && msg.contains("flammable_liquid"),
            "{msg}"
        );
        // the same pair at the same location too
        assert!(check_put_away(&rules, &ox, &[("flammable_liquid", "甲苯")], &[]).is_err());
        // acids and bases: another location of the same store is fine, the same one is not
        let mut acid = toluene();
        acid.storage_group = "acid".into();
        assert!(check_put_away(&rules, &acid, &[], &[("base", "NaOH")]).is_ok());
        assert!(check_put_away(&rules, &acid, &[("base", "NaOH")], &[]).is_err());
        // compatible goods and general goods pass
        assert!(check_put_away(&rules, &toluene(), &[("flammable_liquid", "x")], &[]).is_ok());
        let mut plain = toluene();
        plain.storage_group.clear();
        assert!(check_put_away(&rules, &plain, &[("oxidizer", "x")], &[]).is_ok());
        // nitric acid is an oxidizer and an acid: both groups' rules apply, either way round
        let mut nitric = toluene();
        nitric.storage_group = "oxidizer,acid".into();
        let e = check_put_away(&rules, &nitric, &[("base", "NaOH")], &[]).unwrap_err();
        assert!(e.msg().render(crate::i18n::Lang::En).contains("acid"));
        assert!(check_put_away(&rules, &nitric, &[], &[("flammable_liquid", "甲苯")]).is_err());
        assert!(check_put_away(&rules, &toluene(), &[], &[("oxidizer,acid", "硝酸")]).is_err());
    }

    #[test]
    fn hazardous_goods_need_a_dedicated_store_and_toxics_two_custodians() {
        let m = toluene();
        assert!(check_store(&m, false, 0).is_err());
        assert!(check_store(&m, true, 0).is_ok());
        let mut t = toluene();
        t.highly_toxic = true;
        assert!(check_store(&t, true, 1).is_err());
        assert!(check_store(&t, true, 2).is_ok());
        let mut plain = toluene();
        plain.hazmat = false;
        plain.precursor_class = 0;
        assert!(check_store(&plain, false, 0).is_ok());
    }

    #[test]
    fn capacity() {
        assert!(check_capacity(0.0, Some(1e9), Some(1.0)).is_ok());
        assert!(check_capacity(0.0, None, None).is_ok());
        assert!(check_capacity(1000.0, Some(800.0), Some(200.0)).is_ok());
        assert!(check_capacity(1000.0, Some(800.0), Some(200.1)).is_err());
        // unknown mass where a capacity is set: refused
        assert!(check_capacity(1000.0, Some(0.0), None).is_err());
        assert!(check_capacity(1000.0, None, Some(1.0)).is_err());
    }

    #[test]
    fn held_rejected_and_expired_lots_are_not_issued_or_shipped() {
        let today = date!(2026 - 12 - 03);
        let mut l = lot(1, "2026-12-03");
        assert!(check_lot(MoveKind::Issue, &l, today).is_ok());
        l.expires = Some("2026-12-02".into());
        assert!(check_lot(MoveKind::Issue, &l, today).is_err());
        assert!(check_lot(MoveKind::Delivery, &l, today).is_err());
        assert!(check_lot(MoveKind::Scrap, &l, today).is_ok());
        l.expires = Some("garbage".into());
        assert!(expired(&l, today), "an unreadable day is past");
        l.expires = None;
        l.quality = LotQuality::Held;
        assert!(check_lot(MoveKind::Issue, &l, today).is_err());
        assert!(check_lot(MoveKind::Transfer, &l, today).is_ok());
        l.quality = LotQuality::Rejected;
        assert!(check_lot(MoveKind::Delivery, &l, today).is_err());
        assert!(check_lot(MoveKind::Scrap, &l, today).is_ok());
    }

    #[test]
    fn negative_stock_refused_unless_allowed() {
        assert!(check_available(10.0, 10.0, false).is_ok());
        assert!(check_available(10.0, 10.000_000_000_1, false).is_ok());
        assert!(check_available(10.0, 10.01, false).is_err());
        assert!(check_available(0.0, 10.0, true).is_ok());
    }

    #[test]
    fn buyers_need_valid_licences_for_what_they_buy() {
        let today = date!(2026 - 12 - 03);
        let mut toxic = toluene();
        toxic.highly_toxic = true;
        toxic.precursor_class = 0;
        // nothing on file: refused, naming the purchase licence
        let mut p = customer();
        let e = check_buyer(&toxic, &p, today).unwrap_err();
        assert!(
            e.msg()
                .render(crate::i18n::Lang::En)
                .contains("toxic_purchase")
        );
        // an expired purchase licence: refused with its day
        p.licences = vec![licence(LicenceKind::ToxicPurchase, "2026-12-02")];
        let e = check_buyer(&toxic, &p, today).unwrap_err();
        assert!(e.msg().render(crate::i18n::Lang::En).contains("2026-12-02"));
        // valid through its last day
        p.licences = vec![licence(LicenceKind::ToxicPurchase, "2026-12-03")];
        assert!(check_buyer(&toxic, &p, today).is_ok());
        // 第38条: a safety use, production or trading licence will do instead
        for k in [
            LicenceKind::HazUse,
            LicenceKind::HazProduction,
            LicenceKind::HazTrade,
        ] {
            p.licences = vec![licence(k, "2027-01-01")];
            assert!(check_buyer(&toxic, &p, today).is_ok(), "{k:?}");
        }
        // toluene is an 易制毒 class 3 item: the purchase record, whatever else
        let p2 = Partner {
            licences: vec![licence(LicenceKind::HazProduction, "2030-01-01")],
            ..customer()
        };
        assert!(check_buyer(&toluene(), &p2, today).is_err());
        let mut p3 = p2.clone();
        p3.licences
            .push(licence(LicenceKind::PrecursorPurchase, "2030-01-01"));
        assert!(check_buyer(&toluene(), &p3, today).is_ok());
        // other hazardous chemicals: no buyer's licence needed
        let mut plain = toluene();
        plain.precursor_class = 0;
        assert!(check_buyer(&plain, &customer(), today).is_ok());
    }

    #[test]
    fn credit() {
        let c = Credit {
            limit: 100.0,
            open_orders: 40.0,
            unpaid: 50.0,
            this_order: 10.0,
        };
        assert!(!c.over());
        assert!(
            Credit {
                this_order: 10.01,
                ..c
            }
            .over()
        );
    }

    #[test]
    fn fefo_takes_the_earliest_expiry_fifo_the_earliest_receipt() {
        let p = |lot, qty, received_ms, exp: Option<Date>| Pickable {
            lot,
            location: 1,
            qty,
            received_ms,
            expires: exp,
        };
        let stock = vec![
            p(1, 10.0, 100, None),
            p(2, 10.0, 200, Some(date!(2027 - 01 - 01))),
            p(3, 10.0, 300, Some(date!(2026 - 12 - 31))),
            p(4, 0.0, 50, Some(date!(2026 - 12 - 01))),
        ];
        let (picks, short) = propose(stock.clone(), 15.0, Strategy::Fefo);
        assert_eq!(picks, vec![(3, 1, 10.0), (2, 1, 5.0)]);
        assert_eq!(short, 0.0);
        let (picks, _) = propose(stock.clone(), 15.0, Strategy::Fifo);
        assert_eq!(picks, vec![(1, 1, 10.0), (2, 1, 5.0)]);
        let (picks, short) = propose(stock, 40.0, Strategy::Fifo);
        assert_eq!(picks.len(), 3);
        assert_eq!(short, 10.0);
    }
    #[test]
    fn id_numbers_by_their_check_character() {
        assert!(id_number_ok("11010519491231002X"));
        assert!(id_number_ok("11010519491231002x"));
        assert!(!id_number_ok("110105194912310021"));
        assert!(!id_number_ok("1101051949123100"));
        assert!(!id_number_ok("A1010519491231002X"));
        // the check character fits but 1949-13-31 is no day
        assert!(!id_number_ok("110105194913310026"));
    }

    #[test]
    fn reorder_up_to_the_maximum_counting_what_is_on_order_and_planned_use() {
        assert_eq!(reorder_qty(1200.0, 0.0, 1000.0, 5000.0, 0.0, 7.0), None);
        assert_eq!(
            reorder_qty(900.0, 0.0, 1000.0, 5000.0, 0.0, 7.0),
            Some(4100.0)
        );
        assert_eq!(reorder_qty(900.0, 4100.0, 1000.0, 5000.0, 0.0, 7.0), None);
        // 100 a day for 7 days takes 1,500 down to 800
        assert_eq!(
            reorder_qty(1500.0, 0.0, 1000.0, 5000.0, 100.0, 7.0),
            Some(4200.0)
        );
        assert_eq!(reorder_qty(0.0, 0.0, 100.0, 0.0, 0.0, 7.0), Some(200.0));
        assert_eq!(reorder_qty(0.0, 0.0, 0.0, 0.0, 0.0, 7.0), None);
    }

    #[test]
    fn price_deviation_from_the_last_three() {
        assert_eq!(price_deviation(10.0, &[], 10.0), None);
        assert_eq!(price_deviation(10.5, &[10.0, 10.0, 10.0], 10.0), None);
        assert_eq!(
            price_deviation(12.0, &[1.0, 10.0, 10.0, 10.0], 10.0),
            Some(20.0)
        );
        assert_eq!(price_deviation(8.0, &[10.0], 10.0), Some(-20.0));
    }

    #[test]
    fn hazardous_chemicals_are_bought_from_licensed_sellers() {
        let today = date!(2026 - 12 - 03);
        let mut p = customer();
        assert!(check_seller(&toluene(), &p, today).is_err());
        p.licences = vec![licence(LicenceKind::HazProduction, "2027-01-01")];
        assert!(check_seller(&toluene(), &p, today).is_ok());
        p.licences = vec![licence(LicenceKind::HazTrade, "2026-12-02")];
        assert!(check_seller(&toluene(), &p, today).is_err());
    }

    #[test]
    fn abc_by_cumulative_value() {
        // 70 + 15 + 8 + 4 + 2 + 1 = 100: 70 and 15 (which crosses 80 %) are A, 8 and 4
        // (up to 97 %, crossing 95 %) B, the rest C
        let v = [15.0, 70.0, 4.0, 8.0, 1.0, 2.0, 0.0];
        assert_eq!(abc(&v), vec!['A', 'A', 'B', 'B', 'C', 'C', 'C']);
        assert_eq!(abc(&[]), Vec::<char>::new());
        assert_eq!(abc(&[0.0, 0.0]), vec!['C', 'C']);
        assert_eq!(abc(&[5.0]), vec!['A']);
    }

    #[test]
    fn ageing_and_turnover() {
        assert_eq!(age_bucket(0), 0);
        assert_eq!(age_bucket(30), 0);
        assert_eq!(age_bucket(31), 1);
        assert_eq!(age_bucket(180), 2);
        assert_eq!(age_bucket(181), 3);
        assert_eq!(turnover(1200.0, 100.0), Some(12.0));
        assert_eq!(turnover(10.0, 0.0), None);
    }
}
