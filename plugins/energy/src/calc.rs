//! The energy module's rules and arithmetic, pure (tested natively: `cargo test`): the
//! media and their units, conversion to standard coal (GB/T 2589-2020) and CO2, the
//! metering hierarchy's coverage against GB 17167-2006, hour-of-week baselines, and
//! plant dates from the periods the box hands over.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;
/// 1 kgce = 29 307 kJ (GB/T 2589-2020).
pub const GJ_PER_KGCE: f64 = 0.029_307;

/// An energy medium the module meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    Electricity,
    Water,
    Steam,
    NaturalGas,
    CompressedAir,
    Nitrogen,
}

impl Medium {
    pub const ALL: [Medium; 6] = [
        Medium::Electricity,
        Medium::Water,
        Medium::Steam,
        Medium::NaturalGas,
        Medium::CompressedAir,
        Medium::Nitrogen,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Medium::Electricity => "electricity",
            Medium::Water => "water",
            Medium::Steam => "steam",
            Medium::NaturalGas => "natural_gas",
            Medium::CompressedAir => "compressed_air",
            Medium::Nitrogen => "nitrogen",
        }
    }

    pub fn parse(s: &str) -> Option<Medium> {
        Medium::ALL.into_iter().find(|m| m.id() == s.trim())
    }

    /// The unit consumption is counted in.
    pub fn unit(self) -> &'static str {
        match self {
            Medium::Electricity => "kWh",
            Medium::Water | Medium::Steam => "t",
            Medium::NaturalGas | Medium::CompressedAir | Medium::Nitrogen => "m³",
        }
    }

    pub fn name(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Medium::Electricity, true) => "电",
            (Medium::Electricity, false) => "Electricity",
            (Medium::Water, true) => "新鲜水",
            (Medium::Water, false) => "Fresh water",
            (Medium::Steam, true) => "蒸汽",
            (Medium::Steam, false) => "Steam",
            (Medium::NaturalGas, true) => "天然气",
            (Medium::NaturalGas, false) => "Natural gas",
            (Medium::CompressedAir, true) => "压缩空气",
            (Medium::CompressedAir, false) => "Compressed air",
            (Medium::Nitrogen, true) => "氮气",
            (Medium::Nitrogen, false) => "Nitrogen",
        }
    }

    /// Bought from outside the site: counted in the site's totals. Compressed air and
    /// nitrogen are made on site from electricity, so counting them too would count that
    /// electricity twice; their equivalent is shown per meter only.
    pub fn purchased(self) -> bool {
        !matches!(self, Medium::CompressedAir | Medium::Nitrogen)
    }

    /// GB 17167-2006 表 3: the least metering rate (%) at the site boundary, the secondary
    /// units and the main equipment. Compressed air and nitrogen, energy-carrying media the
    /// table does not name, take the stricter of its rows for such media (water's).
    pub fn required_rate(self, level: Level) -> f64 {
        let (site, unit, equipment) = match self {
            Medium::Electricity => (100.0, 100.0, 95.0),
            Medium::NaturalGas => (100.0, 100.0, 90.0),
            Medium::Steam => (100.0, 80.0, 70.0),
            Medium::Water | Medium::CompressedAir | Medium::Nitrogen => (100.0, 95.0, 80.0),
        };
        match level {
            Level::Site => site,
            Level::Unit => unit,
            Level::Equipment => equipment,
        }
    }
}

/// A place in the metering hierarchy (GB 17167: 用能单位 / 次级用能单位 / 主要用能设备).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Site,
    Unit,
    Equipment,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Site, Level::Unit, Level::Equipment];
    pub fn id(self) -> &'static str {
        match self {
            Level::Site => "site",
            Level::Unit => "unit",
            Level::Equipment => "equipment",
        }
    }
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.id() == s.trim())
    }
    pub fn name(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Level::Site, true) => "用能单位（进出）",
            (Level::Site, false) => "Site boundary",
            (Level::Unit, true) => "次级用能单位",
            (Level::Unit, false) => "Secondary unit",
            (Level::Equipment, true) => "主要用能设备",
            (Level::Equipment, false) => "Main equipment",
        }
    }
}

/// A node of the hierarchy and the media it uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub level: Level,
    /// The node it belongs to; empty for the site.
    #[serde(default)]
    pub parent: String,
    pub media: Vec<Medium>,
    /// The equipment's tag number (位号), for work orders on abnormal consumption.
    #[serde(default)]
    pub equipment: String,
}

/// How a meter's tag counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A running total (kWh, t, m³): consumption is its increase.
    Totaliser,
    /// A rate (kW, t/h, m³/h): consumption is its time integral.
    Rate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meter {
    pub id: String,
    pub name: String,
    pub medium: Medium,
    pub tag: String,
    pub kind: Kind,
    /// The node it meters.
    pub node: String,
    /// Multiplies the tag's figure into the medium's unit (a CT ratio, m³ → t…).
    pub scale: f64,
}

/// A version of the conversion factors, in force from a plant day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    pub version: u32,
    /// `YYYY-MM-DD`.
    pub from: String,
    /// kgce per unit of each medium.
    pub coal: BTreeMap<Medium, f64>,
    /// The grid's CO2 factor by year, kgCO2/kWh.
    pub grid: BTreeMap<i32, f64>,
    /// kgCO2 per m³ of natural gas burnt.
    pub gas_co2: f64,
    /// tCO2 per GJ of purchased heat (steam).
    pub heat_co2: f64,
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub note: String,
}

impl Factors {
    /// Version 1: GB/T 2589-2020's coefficients (steam: GB/T 50441-2016's 1.0 MPa figure,
    /// 76 kgoe/t; GB/T 2589 converts steam by its heat content, so a plant enters its own
    /// steam's value) and the national grid averages of 2022 and 2023.
    pub fn standard() -> Factors {
        Factors {
            version: 1,
            from: "2000-01-01".into(),
            coal: [
                (Medium::Electricity, 0.1229),
                (Medium::Water, 0.2571),
                // 1.0 MPa steam, GB/T 50441-2016 (76 kgoe/t × 1.4286): 0.1086 kgce/kg
                (Medium::Steam, 108.6),
                (Medium::NaturalGas, 1.2143),
                (Medium::CompressedAir, 0.0400),
                (Medium::Nitrogen, 0.6714),
            ]
            .into_iter()
            .collect(),
            grid: [(2022, 0.5366), (2023, 0.5306)].into_iter().collect(),
            gas_co2: 2.162,
            heat_co2: 0.11,
            by: String::new(),
            note: "GB/T 2589-2020 (steam: GB/T 50441-2016, 1.0 MPa)".into(),
        }
    }

    /// The reason a version cannot be used, if any: every factor present, finite and not
    /// negative.
    pub fn problem(&self) -> Option<String> {
        if parse_day(&self.from).is_none() {
            return Some(format!("from: {:?} is not a day (YYYY-MM-DD)", self.from));
        }
        for m in Medium::ALL {
            match self.coal.get(&m) {
                None => return Some(format!("{}: no standard coal factor", m.id())),
                Some(x) if !x.is_finite() || *x < 0.0 => {
                    return Some(format!("{}: a factor cannot be negative ({x})", m.id()));
                }
                _ => {}
            }
        }
        for (year, x) in &self.grid {
            if !x.is_finite() || *x < 0.0 || !(1990..=2100).contains(year) {
                return Some(format!("grid {year}: a factor cannot be negative ({x})"));
            }
        }
        if self.grid.is_empty() {
            return Some("grid: at least one year's factor".into());
        }
        for (name, x) in [("gas_co2", self.gas_co2), ("heat_co2", self.heat_co2)] {
            if !x.is_finite() || x < 0.0 {
                return Some(format!("{name}: a factor cannot be negative ({x})"));
            }
        }
        None
    }

    /// kgce of `amount` of a medium.
    pub fn kgce(&self, m: Medium, amount: f64) -> f64 {
        amount * self.coal.get(&m).copied().unwrap_or(0.0)
    }

    /// The grid factor for a year: that year's, else the latest before it, else the
    /// earliest.
    pub fn grid_for(&self, year: i32) -> f64 {
        self.grid
            .range(..=year)
            .next_back()
            .or_else(|| self.grid.iter().next())
            .map(|(_, x)| *x)
            .unwrap_or(0.0)
    }

    /// kgCO2 of `amount` of a medium in `year`: electricity by the grid factor, natural gas
    /// by its combustion factor, steam as purchased heat (its standard coal's energy);
    /// water, compressed air and nitrogen none of their own (their electricity is metered).
    pub fn kg_co2(&self, m: Medium, amount: f64, year: i32) -> f64 {
        match m {
            Medium::Electricity => amount * self.grid_for(year),
            Medium::NaturalGas => amount * self.gas_co2,
            Medium::Steam => self.kgce(m, amount) * GJ_PER_KGCE * self.heat_co2 * 1000.0,
            Medium::Water | Medium::CompressedAir | Medium::Nitrogen => 0.0,
        }
    }
}

/// The version in force on a day (`YYYY-MM-DD`): the newest whose `from` is not after it.
pub fn in_force<'a>(versions: &'a [Factors], day: &str) -> Option<&'a Factors> {
    versions
        .iter()
        .filter(|f| f.from.as_str() <= day)
        .max_by_key(|f| (f.from.clone(), f.version))
}

/// One row of the coverage check.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub level: Level,
    pub medium: Medium,
    /// Nodes at the level that use the medium.
    pub needed: usize,
    /// Of those, the ones with a meter of the medium.
    pub metered: usize,
    pub required_pct: f64,
}

impl Coverage {
    pub fn pct(&self) -> f64 {
        if self.needed == 0 {
            100.0
        } else {
            self.metered as f64 * 100.0 / self.needed as f64
        }
    }
    pub fn passes(&self) -> bool {
        self.pct() + 1e-9 >= self.required_pct
    }
}

/// GB 17167's metering rate per level and medium: the nodes using a medium that have a
/// meter of it, against the table's least rate. Levels and media nobody uses are left out.
pub fn coverage(nodes: &[Node], meters: &[Meter]) -> Vec<Coverage> {
    let mut out = Vec::new();
    for level in Level::ALL {
        for medium in Medium::ALL {
            let users: Vec<&Node> = nodes
                .iter()
                .filter(|n| n.level == level && n.media.contains(&medium))
                .collect();
            if users.is_empty() {
                continue;
            }
            let metered = users
                .iter()
                .filter(|n| meters.iter().any(|m| m.node == n.id && m.medium == medium))
                .count();
            out.push(Coverage {
                level,
                medium,
                needed: users.len(),
                metered,
                required_pct: medium.required_rate(level),
            });
        }
    }
    out
}

/// A broken rule: the field it is about and why.
pub type Problem = (&'static str, String);

/// Checks a meter against the hierarchy and the tag's data type.
pub fn meter_problem(m: &Meter, nodes: &[Node], tag_type: Option<&str>) -> Option<Problem> {
    if !valid_id(&m.id) {
        return Some(("id", "id: 1–32 of a-z, 0-9, - and _".into()));
    }
    if m.name.trim().is_empty() || m.name.chars().count() > 64 {
        return Some(("name", "name: 1–64 characters".into()));
    }
    if !nodes.iter().any(|n| n.id == m.node) {
        return Some(("node", format!("node {:?} is not in the hierarchy", m.node)));
    }
    if !m.scale.is_finite() || m.scale <= 0.0 {
        return Some(("scale", format!("scale must be above 0, not {}", m.scale)));
    }
    match tag_type {
        None => Some(("tag", format!("there is no tag {}", m.tag))),
        Some("int" | "float") => None,
        Some(other) => Some((
            "tag",
            format!("{} is a {other} tag; a meter needs a number", m.tag),
        )),
    }
}

pub fn node_problem(n: &Node, nodes: &[Node]) -> Option<Problem> {
    if !valid_id(&n.id) {
        return Some(("id", "id: 1–32 of a-z, 0-9, - and _".into()));
    }
    if n.name.trim().is_empty() || n.name.chars().count() > 64 {
        return Some(("name", "name: 1–64 characters".into()));
    }
    let parent = |why: String| Some(("parent", why));
    match n.level {
        Level::Site if !n.parent.is_empty() => parent("the site has no parent".into()),
        Level::Site if nodes.iter().any(|o| o.level == Level::Site && o.id != n.id) => {
            Some(("level", "there is one site".into()))
        }
        Level::Site => None,
        _ => match nodes.iter().find(|p| p.id == n.parent) {
            None => parent(format!("parent {:?} is not in the hierarchy", n.parent)),
            Some(p) if p.level >= n.level => {
                parent(format!("parent {:?} must be a level above", n.parent))
            }
            Some(_) => None,
        },
    }
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// An hour-of-week baseline: for each of the 168 hours (Monday 00:00 first, plant time),
/// the mean and standard deviation of that hour's consumption over the weeks seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
    pub weeks: Vec<u32>,
}

/// The hour of the week (0–167, Monday 00:00 = 0) of an instant in plant time.
pub fn hour_of_week(ts_ms: i64, offset_ms: i64) -> usize {
    let local = ts_ms + offset_ms;
    let days = local.div_euclid(DAY_MS);
    // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) mod 7
    let weekday = (days + 3).rem_euclid(7);
    (weekday * 24 + local.rem_euclid(DAY_MS) / HOUR_MS) as usize
}

impl Baseline {
    /// From hourly consumption `(hour start, value)`; hours without a value are skipped.
    pub fn learn(hours: &[(i64, Option<f64>)], offset_ms: i64) -> Baseline {
        let mut sum = vec![0.0; 168];
        let mut sq = vec![0.0; 168];
        let mut n = vec![0u32; 168];
        for (ts, v) in hours {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                let h = hour_of_week(*ts, offset_ms);
                sum[h] += v;
                sq[h] += v * v;
                n[h] += 1;
            }
        }
        let mean: Vec<f64> = (0..168)
            .map(|i| {
                if n[i] > 0 {
                    sum[i] / f64::from(n[i])
                } else {
                    f64::NAN
                }
            })
            .collect();
        let sd = (0..168)
            .map(|i| {
                if n[i] > 1 {
                    let m = mean[i];
                    ((sq[i] - f64::from(n[i]) * m * m) / f64::from(n[i] - 1))
                        .max(0.0)
                        .sqrt()
                } else {
                    f64::NAN
                }
            })
            .collect();
        Baseline { mean, sd, weeks: n }
    }

    /// Whether an hour's consumption is abnormally high: above the mean by `sigma`
    /// standard deviations and by at least a fifth (so a steady meter's tiny spread does
    /// not alarm). Needs two weeks of that hour; without them nothing is judged.
    pub fn abnormal(&self, hour: usize, value: f64, sigma: f64) -> Option<bool> {
        let (m, s, n) = (
            *self.mean.get(hour)?,
            *self.sd.get(hour)?,
            *self.weeks.get(hour)?,
        );
        if n < 2 || !m.is_finite() || !s.is_finite() {
            return None;
        }
        Some(value > m + sigma * s && value > m * 1.2)
    }
}

pub use nplusx_sdk::plant::{day_of, month_of};

pub fn parse_day(s: &str) -> Option<(i32, u32, u32)> {
    let mut it = s.split('-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    (it.next().is_none() && s.len() == 10 && (1..=12).contains(&m) && (1..=31).contains(&d))
        .then_some((y, m, d))
}

/// Output in tonnes from a quantity and its unit (`t`, `kg`); other units are not mass.
pub fn tonnes(qty: f64, unit: &str) -> Option<f64> {
    match unit.trim() {
        "t" | "吨" => Some(qty),
        "kg" | "千克" | "公斤" => Some(qty / 1000.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, level: Level, parent: &str, media: &[Medium]) -> Node {
        Node {
            id: id.into(),
            name: id.into(),
            level,
            parent: parent.into(),
            media: media.to_vec(),
            equipment: String::new(),
        }
    }

    fn meter(id: &str, medium: Medium, node: &str) -> Meter {
        Meter {
            id: id.into(),
            name: id.into(),
            medium,
            tag: format!("{id}.E"),
            kind: Kind::Totaliser,
            node: node.into(),
            scale: 1.0,
        }
    }

    #[test]
    fn standard_coal_and_co2_follow_the_standards() {
        let f = Factors::standard();
        assert_eq!(f.problem(), None);
        // 1,000 kWh: 122.9 kgce; 2026 takes the latest grid factor (2023): 530.6 kg CO2
        assert!((f.kgce(Medium::Electricity, 1000.0) - 122.9).abs() < 1e-9);
        assert!((f.kg_co2(Medium::Electricity, 1000.0, 2026) - 530.6).abs() < 1e-9);
        assert!((f.kg_co2(Medium::Electricity, 1000.0, 2022) - 536.6).abs() < 1e-9);
        // 10 t of 1.0 MPa steam: 1,086 kgce = 31.83 GJ → 3.501 t CO2 as purchased heat
        assert!((f.kgce(Medium::Steam, 10.0) - 1086.0).abs() < 1e-9);
        let steam = f.kg_co2(Medium::Steam, 10.0, 2026);
        assert!((steam - 1086.0 * 0.029_307 * 110.0).abs() < 1e-6, "{steam}");
        // 100 m³ of natural gas: 121.43 kgce, 216.2 kg CO2
        assert!((f.kgce(Medium::NaturalGas, 100.0) - 121.43).abs() < 1e-9);
        assert!((f.kg_co2(Medium::NaturalGas, 100.0, 2026) - 216.2).abs() < 1e-9);
        assert_eq!(f.kg_co2(Medium::Water, 100.0, 2026), 0.0);
    }

    #[test]
    fn a_negative_or_missing_factor_is_refused_and_versions_follow_their_day() {
        let mut f = Factors::standard();
        f.coal.insert(Medium::Steam, -1.0);
        assert!(f.problem().unwrap().contains("negative"));
        let mut f = Factors::standard();
        f.coal.remove(&Medium::Water);
        assert!(f.problem().unwrap().contains("water"));
        let mut f = Factors::standard();
        f.grid.insert(2024, -0.5);
        assert!(f.problem().unwrap().contains("negative"));
        let mut f = Factors::standard();
        f.from = "2026-13-01".into();
        assert!(f.problem().is_some());
        let v1 = Factors::standard();
        let mut v2 = Factors::standard();
        v2.version = 2;
        v2.from = "2026-07-01".into();
        v2.coal.insert(Medium::Electricity, 0.3);
        let all = [v1, v2];
        assert_eq!(in_force(&all, "2026-06-30").unwrap().version, 1);
        assert_eq!(in_force(&all, "2026-07-01").unwrap().version, 2);
    }

    #[test]
    fn coverage_is_counted_per_level_and_medium_against_gb_17167() {
        use Medium::*;
        let nodes = vec![
            node("site", Level::Site, "", &[Electricity, Steam]),
            node("resin", Level::Unit, "site", &[Electricity, Steam]),
            node("tank", Level::Unit, "site", &[Electricity]),
            node("r101", Level::Equipment, "resin", &[Steam]),
        ];
        let meters = vec![
            meter("em01", Electricity, "site"),
            meter("fq301", Steam, "site"),
            meter("em02", Electricity, "resin"),
            meter("fq302", Steam, "resin"),
            meter("fq303", Steam, "r101"),
        ];
        let c = coverage(&nodes, &meters);
        let get = |l: Level, m: Medium| c.iter().find(|x| x.level == l && x.medium == m).unwrap();
        // the tank farm has no electricity meter: 1 of 2 secondary units, 50 % < 100 %
        let e = get(Level::Unit, Electricity);
        assert_eq!(
            (e.needed, e.metered, e.pct(), e.passes()),
            (2, 1, 50.0, false)
        );
        assert!(get(Level::Site, Electricity).passes());
        assert!(get(Level::Unit, Steam).passes());
        let s = get(Level::Equipment, Steam);
        assert_eq!((s.required_pct, s.passes()), (70.0, true));
        assert_eq!(c.len(), 5);
    }

    #[test]
    fn meters_and_nodes_are_checked() {
        let nodes = vec![node("site", Level::Site, "", &[Medium::Electricity])];
        let m = meter("em01", Medium::Electricity, "site");
        assert_eq!(meter_problem(&m, &nodes, Some("float")), None);
        assert!(
            meter_problem(&m, &nodes, Some("string"))
                .unwrap()
                .1
                .contains("needs a number")
        );
        assert!(meter_problem(&m, &nodes, Some("bool")).is_some());
        assert!(meter_problem(&m, &nodes, None).unwrap().0 == "tag");
        let mut bad = m.clone();
        bad.node = "nowhere".into();
        assert!(meter_problem(&bad, &nodes, Some("float")).is_some());
        bad = m.clone();
        bad.scale = -2.0;
        assert!(meter_problem(&bad, &nodes, Some("float")).is_some());
        assert!(node_problem(&node("site2", Level::Site, "", &[]), &nodes).is_some());
        assert!(node_problem(&node("u", Level::Unit, "nope", &[]), &nodes).is_some());
        assert_eq!(
            node_problem(&node("u", Level::Unit, "site", &[]), &nodes),
            None
        );
    }

    #[test]
    fn baselines_learn_each_hour_of_the_week() {
        // 2026-11-30 is a Monday; plant time +08:00
        let off = 8 * HOUR_MS;
        let tuesday = 1_796_054_400_000; // 2026-12-01 00:00 +08:00
        assert_eq!(hour_of_week(tuesday, off), 24);
        let monday = tuesday - DAY_MS;
        assert_eq!(hour_of_week(monday + 10 * HOUR_MS, off), 10);
        let mut hours = Vec::new();
        for week in 0..4 {
            for h in 0..168 {
                let ts = monday + (week * 168 + h) * HOUR_MS;
                let v = if h == 10 { 100.0 + week as f64 } else { 50.0 };
                hours.push((ts, Some(v)));
            }
        }
        let b = Baseline::learn(&hours, off);
        assert!((b.mean[10] - 101.5).abs() < 1e-9);
        assert_eq!(b.weeks[10], 4);
        assert_eq!(b.abnormal(10, 104.0, 3.0), Some(false));
        assert_eq!(b.abnormal(10, 140.0, 3.0), Some(true));
        // a steady hour: no spread, but a fifth above the mean is needed too
        assert_eq!(b.abnormal(11, 55.0, 3.0), Some(false));
        assert_eq!(b.abnormal(11, 61.0, 3.0), Some(true));
        let short = Baseline::learn(&hours[..168], off);
        assert_eq!(
            short.abnormal(10, 500.0, 3.0),
            None,
            "one week judges nothing"
        );
    }

    #[test]
    fn days_and_units_parse() {
        assert_eq!(parse_day("2026-02-30"), Some((2026, 2, 30)));
        assert_eq!(parse_day("2026-2-3"), None);
        assert_eq!(tonnes(2500.0, "kg"), Some(2.5));
        assert_eq!(tonnes(3.0, "m³"), None);
    }
}
