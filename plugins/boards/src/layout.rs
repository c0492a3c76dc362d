//! Which widgets a board shows and where they go: the catalogue, the four boards'
//! defaults, and the grid arithmetic (kept places, flowing the rest, checking what an
//! admin's arrangement posts). Pure, so it is tested natively.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Grid columns of every board (a 16:9 wall at 1920 px: 160 px a column).
pub const COLUMNS: u8 = 12;
/// Rows a board may take (the box's limit).
pub const ROWS: u8 = 24;

/// A widget's place on the grid, in cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub x: u8,
    pub y: u8,
    pub w: u8,
    pub h: u8,
}

impl Place {
    /// Inside the grid and at least a cell.
    pub fn fits(&self) -> bool {
        self.w >= 1
            && self.h >= 1
            && u16::from(self.x) + u16::from(self.w) <= u16::from(COLUMNS)
            && u16::from(self.y) + u16::from(self.h) <= u16::from(ROWS)
    }
    pub fn overlaps(&self, o: &Place) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
}

/// A widget the boards can show: id, titles, default size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub id: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub w: u8,
    pub h: u8,
}

const fn kind(id: &'static str, zh: &'static str, en: &'static str, w: u8, h: u8) -> Kind {
    Kind { id, zh, en, w, h }
}

/// Every widget but the per-tag gauges (`gauge-<tag>`, 2 × 2, one per configured tag).
pub const CATALOGUE: &[Kind] = &[
    kind("permits", "今日作业票", "Permits today", 4, 2),
    kind("people", "在场人员", "People on site", 4, 2),
    kind("hazards", "事故隐患", "Hidden dangers", 4, 2),
    kind("alarms", "报警", "Alarms", 4, 2),
    kind("alarm_list", "当前报警", "Standing alarms", 6, 4),
    kind(
        "alarm_rate",
        "近24小时报警数",
        "Alarms per hour, last 24 h",
        6,
        3,
    ),
    kind("batches", "在产批次", "Batches running", 6, 3),
    kind("output", "今日产出", "Output today", 4, 2),
    kind("oee", "OEE（近24小时）", "OEE (last 24 h)", 6, 2),
    kind("equipment_states", "设备状态", "Equipment states", 3, 3),
    kind("work_orders", "维修工单", "Work orders", 4, 2),
    kind("faults", "停机与故障", "Equipment down", 6, 3),
    kind("energy_today", "今日能耗", "Energy today", 6, 2),
    kind("energy_hours", "逐时能耗", "Energy by hour", 6, 3),
    kind("movements", "今日出入库", "Stock movements today", 3, 3),
    kind(
        "stock_held",
        "待检与不合格库存",
        "Held and rejected stock",
        6,
        3,
    ),
    kind("quality", "质量检验", "Quality", 4, 2),
];

/// The size of a gauge widget.
pub const GAUGE: (u8, u8) = (2, 2);

pub fn kind_of(id: &str) -> Option<&'static Kind> {
    CATALOGUE.iter().find(|k| k.id == id)
}

/// A gauge's widget id for a tag (`gauge-` and the name with characters outside
/// `[A-Za-z0-9_-]` as `_`).
pub fn gauge_id(tag: &str) -> String {
    let clean: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(58)
        .collect();
    format!("gauge-{clean}")
}

/// The four boards of 附件2's 可视化管理.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardId {
    Overall,
    Equipment,
    Energy,
    Operations,
}

impl BoardId {
    pub const ALL: [BoardId; 4] = [
        BoardId::Overall,
        BoardId::Equipment,
        BoardId::Energy,
        BoardId::Operations,
    ];
    pub fn id(self) -> &'static str {
        match self {
            BoardId::Overall => "overall",
            BoardId::Equipment => "equipment",
            BoardId::Energy => "energy",
            BoardId::Operations => "operations",
        }
    }
    pub fn parse(s: &str) -> Option<BoardId> {
        BoardId::ALL.into_iter().find(|b| b.id() == s)
    }
    pub fn zh(self) -> &'static str {
        match self {
            BoardId::Overall => "综合看板",
            BoardId::Equipment => "设备看板",
            BoardId::Energy => "能源看板",
            BoardId::Operations => "运营看板",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            BoardId::Overall => "Plant board",
            BoardId::Equipment => "Equipment board",
            BoardId::Energy => "Energy board",
            BoardId::Operations => "Operations board",
        }
    }
    /// The widgets a board shows until an admin chooses (gauges: the equipment board
    /// shows every configured gauge).
    pub fn defaults(self) -> &'static [&'static str] {
        match self {
            BoardId::Overall => &[
                "permits",
                "people",
                "hazards",
                "alarms",
                "output",
                "oee",
                "energy_today",
                "equipment_states",
                "alarm_list",
                "batches",
                "movements",
                "quality",
            ],
            BoardId::Equipment => &[
                "equipment_states",
                "work_orders",
                "alarms",
                "faults",
                "alarm_list",
            ],
            BoardId::Energy => &["energy_today", "output", "energy_hours", "alarm_rate"],
            BoardId::Operations => &[
                "output",
                "quality",
                "work_orders",
                "oee",
                "batches",
                "movements",
                "stock_held",
                "alarm_rate",
            ],
        }
    }
}

/// Places widgets (`(id, default w, default h)`, in order) on the grid: a kept place is
/// used where it fits and meets no widget placed before it; the others flow into the first
/// free spot, row by row, at their default size. Widgets that find no room are answered
/// apart (the board says so rather than overlap or run off the grid).
pub fn arrange(
    widgets: &[(String, u8, u8)],
    kept: &BTreeMap<String, Place>,
) -> (Vec<(String, Place)>, Vec<String>) {
    let mut placed: Vec<(String, Place)> = Vec::new();
    let mut flow = Vec::new();
    for (id, w, h) in widgets {
        match kept.get(id) {
            Some(p) if p.fits() && !placed.iter().any(|(_, q)| q.overlaps(p)) => {
                placed.push((id.clone(), *p))
            }
            _ => flow.push((id.clone(), *w, *h)),
        }
    }
    let mut left = Vec::new();
    for (id, w, h) in flow {
        let spot = (0..ROWS)
            .flat_map(|y| (0..COLUMNS).map(move |x| Place { x, y, w, h }))
            .find(|p| p.fits() && !placed.iter().any(|(_, q)| q.overlaps(p)));
        match spot {
            Some(p) => placed.push((id, p)),
            None => left.push(id),
        }
    }
    // the order the widgets were asked in (the browser lays them out by place anyway)
    let order: BTreeMap<&str, usize> = widgets
        .iter()
        .enumerate()
        .map(|(i, (id, _, _))| (id.as_str(), i))
        .collect();
    placed.sort_by_key(|(id, _)| order.get(id.as_str()).copied().unwrap_or(usize::MAX));
    (placed, left)
}

/// An arrangement as the browser posts it (`<widget id>` = `x,y,w,h`), checked against the
/// board's widgets: a widget the board does not show, a place that is not four numbers,
/// runs off the grid or meets another widget is refused with the field and why; nothing
/// is kept then.
pub fn parse_arrangement(
    fields: &[(String, String)],
    known: &[String],
    zh: bool,
) -> Result<BTreeMap<String, Place>, (String, String)> {
    let t = |a: &str, b: &str| if zh { a.to_string() } else { b.to_string() };
    let mut out: BTreeMap<String, Place> = BTreeMap::new();
    for (id, text) in fields {
        if !known.contains(id) {
            return Err((
                id.clone(),
                t("看板上没有这个组件", "no such widget on this board"),
            ));
        }
        let n: Option<Vec<u8>> = text.split(',').map(|x| x.trim().parse().ok()).collect();
        let p = match n.as_deref() {
            Some([x, y, w, h]) => Place {
                x: *x,
                y: *y,
                w: *w,
                h: *h,
            },
            _ => {
                return Err((
                    id.clone(),
                    t(
                        "位置应为 x,y,宽,高 四个整数",
                        "a place is x,y,w,h: four whole numbers",
                    ),
                ));
            }
        };
        if !p.fits() {
            return Err((
                id.clone(),
                if zh {
                    format!("超出看板网格（{COLUMNS} 列 × {ROWS} 行）")
                } else {
                    format!("off the board's grid ({COLUMNS} columns × {ROWS} rows)")
                },
            ));
        }
        if let Some((other, _)) = out.iter().find(|(_, q)| q.overlaps(&p)) {
            return Err((
                id.clone(),
                if zh {
                    format!("与组件 {other} 重叠")
                } else {
                    format!("overlaps widget {other}")
                },
            ));
        }
        out.insert(id.clone(), p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: u8, y: u8, w: u8, h: u8) -> Place {
        Place { x, y, w, h }
    }

    fn ids(list: &[&str]) -> Vec<(String, u8, u8)> {
        list.iter()
            .map(|id| {
                let k = kind_of(id).unwrap();
                (id.to_string(), k.w, k.h)
            })
            .collect()
    }

    #[test]
    fn widgets_flow_without_overlap_and_kept_places_stay() {
        let w = ids(BoardId::Overall.defaults());
        let (placed, left) = arrange(&w, &BTreeMap::new());
        assert!(left.is_empty());
        assert_eq!(placed.len(), w.len());
        for (i, (_, a)) in placed.iter().enumerate() {
            assert!(a.fits());
            for (_, b) in &placed[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} {b:?}");
            }
        }
        // the first three KPI widgets share the top row, the fourth starts the next
        assert_eq!(placed[2].1, at(8, 0, 4, 2));
        assert_eq!(placed[3].1, at(0, 2, 4, 2));
        // an admin moved the alarm list to the top left: it stays, the others flow round it
        let kept = BTreeMap::from([("alarm_list".to_string(), at(0, 0, 6, 4))]);
        let (placed, left) = arrange(&w, &kept);
        assert!(left.is_empty());
        let list = placed.iter().find(|(id, _)| id == "alarm_list").unwrap();
        assert_eq!(list.1, at(0, 0, 6, 4));
        assert_eq!(placed[0].1, at(6, 0, 4, 2));
        // a kept place off the grid or on another kept one flows instead
        let kept = BTreeMap::from([
            ("permits".to_string(), at(11, 0, 4, 2)),
            ("people".to_string(), at(0, 0, 4, 2)),
            ("hazards".to_string(), at(1, 1, 4, 2)),
        ]);
        let (placed, _) = arrange(&w, &kept);
        assert_eq!(placed[1].1, at(0, 0, 4, 2));
        assert!(placed[0].1.fits() && placed[2].1.fits());
    }

    #[test]
    fn forty_widgets_fit_and_more_are_answered_apart() {
        let mut w: Vec<(String, u8, u8)> = (0..40).map(|i| (format!("gauge-{i}"), 3, 2)).collect();
        let (placed, left) = arrange(&w, &BTreeMap::new());
        assert_eq!((placed.len(), left.len()), (40, 0));
        w.extend((40..50).map(|i| (format!("gauge-{i}"), 3, 2)));
        let (placed, left) = arrange(&w, &BTreeMap::new());
        assert_eq!((placed.len(), left.len()), (48, 2));
    }

    #[test]
    fn an_arrangement_is_checked_before_it_is_kept() {
        let known: Vec<String> = ["permits", "people"].map(String::from).to_vec();
        let f = |a: &str, b: &str| {
            vec![
                ("permits".to_string(), a.to_string()),
                ("people".to_string(), b.to_string()),
            ]
        };
        let ok = parse_arrangement(&f("0,0,3,2", "3,0,3,2"), &known, false).unwrap();
        assert_eq!(
            ok["people"],
            Place {
                x: 3,
                y: 0,
                w: 3,
                h: 2
            }
        );
        let e = parse_arrangement(&f("0,0,3,2", "2,1,3,2"), &known, false).unwrap_err();
        assert_eq!(e, ("people".into(), "overlaps widget permits".into()));
        let e = parse_arrangement(&f("10,0,3,2", "3,0,3,2"), &known, false).unwrap_err();
        assert_eq!(e.0, "permits");
        assert!(e.1.contains("off the board's grid"), "{e:?}");
        let e = parse_arrangement(&f("0,0,0,2", "3,0,3,2"), &known, true).unwrap_err();
        assert!(e.1.contains("超出"), "{e:?}");
        let e = parse_arrangement(&f("0,0,3", "3,0,3,2"), &known, false).unwrap_err();
        assert!(e.1.contains("four whole numbers"));
        let e = parse_arrangement(&[("x".into(), "0,0,1,1".into())], &known, false).unwrap_err();
        assert_eq!(e.1, "no such widget on this board");
        assert_eq!(gauge_id("PT-101.PV"), "gauge-PT-101_PV");
    }
}
