//! 仓储物流 — the warehouse logistics X module, a first-party nplusx plugin written with the
//! kit (contract 0.3).
//!
//! - **Store maps**: each store's locations drawn as a plan, coloured by what they hold
//!   (empty, released stock, a held or rejected lot); a location opens its stock. The plan's
//!   rectangles are placed by the store keeper (scan a location, give its place), or laid
//!   out in rows until then.
//! - **Labels**: printable QR label sheets for a store's locations, the lots in stock and the
//!   materials (`codes` says what a code carries).
//! - **Scanning**: receipt, put-away, picking and issue from a phone. Each scans its lot and
//!   locations with the camera (the box's `scan` fields) and posts through the inventory
//!   module's `inventory.move` action as the person scanning, so every inventory rule
//!   applies; a refusal shows inventory's reason beside the field it concerns.
//!
//! It reads `inventory.materials`, `inventory.locations` and `inventory.stock`, and changes
//! stock only through `inventory.move`.

pub mod agv;
pub mod codes;
pub mod pallets;

use std::collections::BTreeMap;

use codes::Code;
use nplusx_sdk::serde_json::{Value, json};
use nplusx_sdk::{
    Area, Error, Field, Form, Info, Kpi, Labels, Lang, Map, Outcome, Page, Plugin, Table, Tone,
    Values, View, actions, clock, log, plant, records, storage, tag_write, tags,
};
use serde::{Deserialize, Serialize};

/// A material as `inventory.materials` gives it (the fields used here).
#[derive(Debug, Clone, Deserialize)]
struct Material {
    id: u64,
    code: String,
    name: String,
    #[serde(default)]
    spec: String,
    unit: String,
    #[serde(default = "yes")]
    active: bool,
    /// 剧毒: issued only by two custodians in the inventory console.
    #[serde(default)]
    highly_toxic: bool,
}

fn yes() -> bool {
    true
}

/// A location as `inventory.locations` gives it.
#[derive(Debug, Clone, Deserialize)]
struct Location {
    id: u64,
    code: String,
    name: String,
    warehouse: String,
    warehouse_name: String,
}

impl Location {
    fn key(&self) -> String {
        format!("{}/{}", self.warehouse, self.code)
    }
}

/// A lot at a location, as `inventory.stock` gives it.
#[derive(Debug, Clone, Deserialize)]
struct Stock {
    material: String,
    material_name: String,
    lot: String,
    warehouse: String,
    location: String,
    qty: f64,
    unit: String,
    quality: String,
    #[serde(default)]
    expires: Option<String>,
}

/// Where the store keeper placed a location on the store's plan (metres).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Place {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

const ALL: u32 = 10_000;

fn materials() -> Result<Vec<Material>, Error> {
    records::query("inventory.materials", &json!({}), ALL)
}

fn locations() -> Result<Vec<Location>, Error> {
    records::query("inventory.locations", &json!({}), ALL)
}

fn stock(filter: Value) -> Result<Vec<Stock>, Error> {
    records::query("inventory.stock", &filter, ALL)
}

fn place_key(store: &str, loc: &str) -> String {
    format!("place:{}/{loc}", codes::escape(store))
}

/// The places kept for a store's locations.
fn places(store: &str) -> Result<BTreeMap<String, Place>, Error> {
    let prefix = format!("place:{}/", codes::escape(store));
    let mut out = BTreeMap::new();
    for k in storage::keys(&prefix, ALL)? {
        if let Some(p) = storage::get_json::<Place>(&k)? {
            out.insert(k[prefix.len()..].to_string(), p);
        }
    }
    Ok(out)
}

/// Places for locations the keeper has not placed: rows of six 4 × 3 m bays below the
/// placed ones.
fn auto_places(locs: &[&Location], kept: &BTreeMap<String, Place>) -> BTreeMap<String, Place> {
    let below = kept.values().map(|p| p.y + p.h).fold(0.0_f32, f32::max);
    let top = if kept.is_empty() { 1.0 } else { below + 2.0 };
    let mut out = kept.clone();
    for (i, l) in locs
        .iter()
        .filter(|l| !kept.contains_key(&l.code))
        .enumerate()
    {
        let (row, col) = ((i / 6) as f32, (i % 6) as f32);
        out.insert(
            l.code.clone(),
            Place {
                x: 1.0 + col * 5.0,
                y: top + row * 4.0,
                w: 4.0,
                h: 3.0,
            },
        );
    }
    out
}

fn qty(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn err(e: Error) -> String {
    e.into()
}

/// A store's code from the query, else the first store.
fn store_of(query: &Values, locs: &[Location]) -> Option<String> {
    let asked = query.text("wh");
    if !asked.is_empty() && locs.iter().any(|l| l.warehouse == asked) {
        return Some(asked.to_string());
    }
    // the store last arranged on its map, else the one with the most locations
    if let Ok(Some(last)) = storage::get_json::<String>("last_store")
        && locs.iter().any(|l| l.warehouse == last)
    {
        return Some(last);
    }
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for l in locs {
        *count.entry(&l.warehouse).or_default() += 1;
    }
    count
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(w, _)| w.to_string())
}

/// Links to each store's page (`page` with its query so far, ending in `?` or `&`).
fn store_links(page: &str, locs: &[Location], current: &str) -> Vec<(String, String)> {
    let mut stores: BTreeMap<&str, &str> = BTreeMap::new();
    for l in locs {
        stores.insert(&l.warehouse, &l.warehouse_name);
    }
    stores
        .into_iter()
        .map(|(code, name)| {
            let mark = if code == current { "▶ " } else { "" };
            (
                format!("{mark}{name} ({code})"),
                format!("/x/warehouse/{page}wh={}", codes::query(code)),
            )
        })
        .collect()
}

fn map_page(query: &Values, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let locs = locations().map_err(err)?;
    let Some(store) = store_of(query, &locs) else {
        return Ok(Page::new(t("库位图", "Store map"))
            .notice(
                Tone::Warn,
                t(
                    "还没有仓库和库位：请先在进销存模块中建立。",
                    "No stores or locations yet: set them up in the inventory module first.",
                ),
            )
            .into());
    };
    let here: Vec<&Location> = locs.iter().filter(|l| l.warehouse == store).collect();
    let kept = places(&store).map_err(err)?;
    let placed = auto_places(&here, &kept);
    let held = stock(json!({ "warehouse": store })).map_err(err)?;
    let mut by_loc: BTreeMap<&str, Vec<&Stock>> = BTreeMap::new();
    for s in &held {
        by_loc.entry(s.location.as_str()).or_default().push(s);
    }
    let (w, h) = placed.values().fold((10.0_f32, 8.0_f32), |(w, h), p| {
        (w.max(p.x + p.w + 1.0), h.max(p.y + p.h + 1.0))
    });
    let mut map = Map::new(w, h, 1.0);
    let (mut occupied, mut blocked) = (0, 0);
    for l in &here {
        let Some(p) = placed.get(&l.code) else {
            continue;
        };
        let lots = by_loc
            .get(l.code.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let tone = if lots.is_empty() {
            Tone::Neutral
        } else if lots.iter().any(|s| s.quality == "rejected") {
            Tone::Bad
        } else if lots.iter().any(|s| s.quality == "held") {
            Tone::Warn
        } else {
            Tone::Good
        };
        occupied += usize::from(!lots.is_empty());
        blocked += usize::from(matches!(tone, Tone::Warn | Tone::Bad));
        let hint = if lots.is_empty() {
            format!("{} {} · {}", l.code, l.name, t("空", "empty"))
        } else {
            let mut what: Vec<String> = lots
                .iter()
                .take(4)
                .map(|s| format!("{} {} {} {}", s.material_name, s.lot, qty(s.qty), s.unit))
                .collect();
            if lots.len() > 4 {
                what.push(format!("{} {}", lots.len() - 4, t("批更多…", "more lots…")));
            }
            format!("{} {} · {}", l.code, l.name, what.join("; "))
        };
        map = map.area(
            Area::rect(l.code.clone(), p.x, p.y, p.w, p.h)
                .tone(tone)
                .hint(hint)
                .link(format!(
                    "/x/warehouse/bin?wh={}&loc={}",
                    codes::query(&store),
                    codes::query(&l.code)
                )),
        );
    }
    let name = here
        .first()
        .map(|l| l.warehouse_name.clone())
        .unwrap_or_default();
    Ok(Page::new(format!("{} · {name}", t("库位图", "Store map")))
        .links(store_links("map?", &locs, &store))
        .kpis(vec![
            Kpi::new(t("库位", "Locations"), here.len()),
            Kpi::new(t("有货库位", "Occupied"), occupied).tone(Tone::Good),
            Kpi::new(t("存有待检或不合格批号的库位", "Locations holding held or rejected lots"), blocked).tone(
                if blocked > 0 {
                    Tone::Warn
                } else {
                    Tone::Neutral
                },
            ),
        ])
        .map(map)
        .text(t(
            "绿色：合格库存；黄色：有待检（冻结）批次；红色：有不合格批次；灰色：空库位。点击库位查看库存。",
            "Green: released stock; amber: a held lot; red: a rejected lot; grey: empty. Click a location for its stock.",
        ))
        .heading(t("摆放库位", "Place a location"))
        .form(
            Form::new("place", t("保存位置", "Save place"))
                .field(
                    Field::scan("location", t("库位（扫码）", "Location (scan)"))
                        .required()
                        .hint(t("扫库位标签，或输入 仓库/库位", "Scan its label, or type store/location")),
                )
                .field(Field::number("x", t("左边距 (m)", "From the left (m)")).required().min(0.0).max(10_000.0))
                .field(Field::number("y", t("上边距 (m)", "From the top (m)")).required().min(0.0).max(10_000.0))
                .field(Field::number("w", t("宽 (m)", "Width (m)")).required().min(0.5).max(1_000.0).value(4))
                .field(Field::number("h", t("深 (m)", "Depth (m)")).required().min(0.5).max(1_000.0).value(3)),
        )
        .into())
}

fn bin_page(query: &Values, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let (store, loc) = (query.text("wh"), query.text("loc"));
    let locs = locations().map_err(err)?;
    let Some(l) = locs.iter().find(|l| l.warehouse == store && l.code == loc) else {
        return Ok(Page::new(t("库位", "Location"))
            .notice(
                Tone::Bad,
                format!("{} {store}/{loc}", t("没有这个库位：", "No such location:")),
            )
            .into());
    };
    let rows = stock(json!({ "warehouse": store, "location": loc })).map_err(err)?;
    let mut table = Table::new([
        t("物料", "Material"),
        t("名称", "Name"),
        t("批号", "Lot"),
        t("数量", "Qty"),
        t("单位", "Unit"),
        t("质量状态", "Quality"),
        t("有效期至", "Expires"),
    ])
    .numeric(3);
    for s in &rows {
        table.push([
            s.material.clone(),
            s.material_name.clone(),
            s.lot.clone(),
            qty(s.qty),
            s.unit.clone(),
            quality_name(&s.quality, lang).to_string(),
            s.expires.clone().unwrap_or_default(),
        ]);
    }
    let key = l.key();
    Ok(
        Page::new(format!("{} {} · {}", t("库位", "Location"), key, l.name))
            .links([
                (
                    t("返回库位图", "Back to the map"),
                    format!("/x/warehouse/map?wh={}", codes::query(store)),
                ),
                (
                    t("从此库位上架", "Put away from here"),
                    format!("/x/warehouse/putaway?from={}", codes::query(&key)),
                ),
                (
                    t("从此库位拣货", "Pick from here"),
                    format!("/x/warehouse/pick?from={}", codes::query(&key)),
                ),
                (
                    t("从此库位发料", "Issue from here"),
                    format!("/x/warehouse/issue?from={}", codes::query(&key)),
                ),
            ])
            .table(table)
            .into(),
    )
}

/// A sales order as `inventory.sales_orders` gives it (the fields used here).
#[derive(Debug, Clone, Deserialize)]
struct SalesOrder {
    number: String,
    #[serde(default)]
    customer_name: Option<String>,
    #[serde(default)]
    ship_to: String,
    lines: Vec<SalesLine>,
}

#[derive(Debug, Clone, Deserialize)]
struct SalesLine {
    material: Option<String>,
    material_name: Option<String>,
    remaining: f64,
    unit: Option<String>,
}

/// Which lots to pick for a line, first expiring first (FEFO; a lot without a use-by date
/// last): released stock only, as (stock row, qty), and what is short.
fn allocate<'a>(
    rows: &'a [Stock],
    material: &str,
    mut want: f64,
    taken: &mut Promised,
) -> (Vec<(&'a Stock, f64)>, f64) {
    let mut cand: Vec<&Stock> = rows
        .iter()
        .filter(|s| s.material == material && s.quality == "released" && s.qty > 0.0)
        .collect();
    cand.sort_by(|a, b| {
        let key = |s: &Stock| s.expires.clone().unwrap_or_else(|| "9999-99-99".into());
        key(a).cmp(&key(b)).then(a.lot.cmp(&b.lot))
    });
    let mut out = Vec::new();
    for s in cand {
        if want <= 1e-9 {
            break;
        }
        // what an earlier line of the page was offered is not offered again
        let key = (
            s.material.clone(),
            s.lot.clone(),
            s.warehouse.clone(),
            s.location.clone(),
        );
        let left = s.qty - taken.get(&key).copied().unwrap_or(0.0);
        if left <= 1e-9 {
            continue;
        }
        let take = left.min(want);
        *taken.entry(key).or_default() += take;
        out.push((s, take));
        want -= take;
    }
    (out, want.max(0.0))
}

/// What a picking page has offered so far, by (material, lot, store, location).
type Promised = std::collections::HashMap<(String, String, String, String), f64>;

/// A batch running now, as `production.batches` gives it, with its recipe's needs.
#[derive(Debug, Clone, Deserialize)]
struct RunningBatch {
    number: String,
    unit: String,
    product: String,
    #[serde(default)]
    needs: Vec<Need>,
}

#[derive(Debug, Clone, Deserialize)]
struct Need {
    material: String,
    qty: f64,
    unit: String,
    issued: f64,
    remaining: f64,
}

/// The running batches' materials still to issue by their recipes' bills of materials:
/// released lots, first expiring first, each a link to the issue page filled in with the
/// batch's number (an issue naming it joins the batch's record).
fn batch_lists(
    mut page: Page,
    rows: &[Stock],
    taken: &mut Promised,
    lang: Lang,
) -> Result<Page, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let now = clock::now_ms().map_err(err)?;
    let batches: Vec<RunningBatch> = match records::between(
        "production.batches",
        now - 60 * 86_400_000,
        now + 1,
        &json!({ "state": "running" }),
        100,
    ) {
        Ok(b) => b,
        // not granted, or production automation switched off: no batch lists
        Err(Error::Denied(_)) => return Ok(page),
        Err(Error::Failed(s)) if s.contains("switched off") => return Ok(page),
        Err(e) => return Err(err(e)),
    };
    page = page.heading(t("生产批次领料", "Materials for the running batches")).text(t(
        "按运行中批次的配方物料清单减去已发数量生成；点链接扫码发料，单据号即批次号，发料计入该批次的批记录。",
        "From the running batches' recipes (bill of materials) less what was issued to them; a link opens the issue page with the batch's number as reference, and the issue joins the batch's record.",
    ));
    let toxic: std::collections::HashSet<String> = materials()
        .map_err(err)?
        .into_iter()
        .filter(|m| m.highly_toxic)
        .map(|m| m.code)
        .collect();
    let mut any = false;
    for b in batches
        .iter()
        .filter(|b| b.needs.iter().any(|n| n.remaining > 1e-9))
    {
        any = true;
        let mut table = Table::new([
            t("物料", "Material"),
            t("每批用量", "Per batch"),
            t("已发", "Issued"),
            t("待发", "To issue"),
            t("批号", "Lot"),
            t("库位", "Location"),
            t("发料数量", "Issue"),
        ]);
        let mut links: Vec<(String, String)> = Vec::new();
        for n in b.needs.iter().filter(|n| n.remaining > 1e-9) {
            let (picks, short) = allocate(rows, &n.material, n.remaining, taken);
            let head = [
                n.material.clone(),
                format!("{} {}", qty(n.qty), n.unit),
                format!("{} {}", qty(n.issued), n.unit),
                format!("{} {}", qty(n.remaining), n.unit),
            ];
            for (s, q) in &picks {
                let key = format!("{}/{}", s.warehouse, s.location);
                let mut row = head.to_vec();
                row.extend([
                    s.lot.clone(),
                    key.clone(),
                    format!("{} {}", qty(*q), n.unit),
                ]);
                table.push(row);
                if toxic.contains(&n.material) {
                    // 剧毒: two custodians issue it in the inventory console (双人双锁)
                    links.push((
                        format!(
                            "{} {} {} {} ← {key}: {}",
                            t("发料", "Issue"),
                            s.lot,
                            qty(*q),
                            n.unit,
                            t(
                                "剧毒品，须在进销存由两名保管员双人双锁发料",
                                "highly toxic: two custodians issue it in the inventory console"
                            )
                        ),
                        "/x/warehouse/picklist".to_string(),
                    ));
                    continue;
                }
                links.push((
                    format!(
                        "{} {} {} {} ← {key}",
                        t("发料", "Issue"),
                        s.lot,
                        qty(*q),
                        n.unit
                    ),
                    format!(
                        "/x/warehouse/issue?lot={}&from={}&qty={}&reference={}",
                        codes::query(&codes::lot(&n.material, &s.lot)),
                        codes::query(&key),
                        qty(*q),
                        codes::query(&b.number)
                    ),
                ));
            }
            if short > 1e-9 {
                let mut row = head.to_vec();
                row.extend([
                    t("合格库存不足", "short of released stock").to_string(),
                    String::new(),
                    format!("{} {}", qty(short), n.unit),
                ]);
                table.push(row);
            }
        }
        page = page
            .heading(format!(
                "{} {} · {} · {}",
                t("批次", "Batch"),
                b.number,
                b.unit,
                b.product
            ))
            .table(table)
            .links(links);
    }
    if !any {
        page = page.notice(
            Tone::Neutral,
            t(
                "运行中的批次没有待发的物料（或其配方没有物料清单）。",
                "No running batch has materials left to issue (or its recipe has no bill of materials).",
            ),
        );
    }
    Ok(page)
}

fn picklist_page(lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let orders: Vec<SalesOrder> =
        records::query("inventory.sales_orders", &json!({}), 200).map_err(err)?;
    let rows = stock(json!({})).map_err(err)?;
    let sales_text = t(
        "按已审批、未发完的销售单生成：每行按先到期先出（FEFO）建议合格批号与库位；点链接扫码拣到集货库位，单据号即销售单号。发货在进销存的销售单上完成。",
        "From the approved sales orders not yet delivered: each line suggests released lots and locations, first expiring first out (FEFO); a link opens the pick page to scan them to the staging location with the order as reference. The delivery is posted on the sales order in the inventory module.",
    );
    let page = Page::new(t("拣货单", "Picking lists"));
    let mut page = page;
    // the batches first (the plant runs on them), then the orders, each lot offered once
    let mut taken = Promised::new();
    page = batch_lists(page, &rows, &mut taken, lang)?;
    page = page
        .heading(t("销售发货拣货", "Picking for sales orders"))
        .text(sales_text);
    if orders.is_empty() {
        return Ok(page
            .notice(
                Tone::Neutral,
                t("没有待发货的销售单。", "No sales order waits for delivery."),
            )
            .into());
    }
    for o in &orders {
        let mut table = Table::new([
            t("物料", "Material"),
            t("待发", "To deliver"),
            t("批号", "Lot"),
            t("库位", "Location"),
            t("拣货数量", "Pick"),
            t("有效期至", "Use by"),
        ]);
        let mut links: Vec<(String, String)> = Vec::new();
        for l in &o.lines {
            let Some(code) = &l.material else { continue };
            let unit = l.unit.clone().unwrap_or_default();
            let (picks, short) = allocate(&rows, code, l.remaining, &mut taken);
            let name = format!("{code} {}", l.material_name.clone().unwrap_or_default());
            let due = format!("{} {unit}", qty(l.remaining));
            for (s, n) in &picks {
                let key = format!("{}/{}", s.warehouse, s.location);
                table.push([
                    name.clone(),
                    due.clone(),
                    s.lot.clone(),
                    key.clone(),
                    format!("{} {unit}", qty(*n)),
                    s.expires.clone().unwrap_or_default(),
                ]);
                links.push((
                    format!(
                        "{} {} {} {} ← {key}",
                        t("拣货", "Pick"),
                        s.lot,
                        qty(*n),
                        unit
                    ),
                    format!(
                        "/x/warehouse/pick?lot={}&from={}&qty={}&reference={}",
                        codes::query(&codes::lot(code, &s.lot)),
                        codes::query(&key),
                        qty(*n),
                        codes::query(&o.number)
                    ),
                ));
                // or handed to an AGV, to the staging area, when both have stations
                let cfg = settings();
                // (not for a lot already in the staging area)
                if !cfg.vehicles.is_empty()
                    && key != cfg.staging
                    && cfg.stations.contains_key(&key)
                    && cfg.stations.contains_key(&cfg.staging)
                {
                    links.push((
                        format!(
                            "{} {} {} {} ← {key}",
                            t("AGV 搬运", "AGV"),
                            s.lot,
                            qty(*n),
                            unit
                        ),
                        format!(
                            "/x/warehouse/transport?lot={}&from={}&to={}&qty={}",
                            codes::query(&codes::lot(code, &s.lot)),
                            codes::query(&key),
                            codes::query(&cfg.staging),
                            qty(*n)
                        ),
                    ));
                }
            }
            if short > 1e-9 {
                table.push([
                    name.clone(),
                    due.clone(),
                    t("合格库存不足", "short of released stock").to_string(),
                    String::new(),
                    format!("{} {unit}", qty(short)),
                    String::new(),
                ]);
            }
        }
        page = page
            .heading(format!(
                "{} · {}{}",
                o.number,
                o.customer_name.clone().unwrap_or_default(),
                if o.ship_to.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", o.ship_to)
                }
            ))
            .table(table)
            .links(links)
            .links([(
                format!(
                    "{} {}",
                    t("码垛单与托盘标签：", "Pallet plan and labels:"),
                    o.number
                ),
                format!("/x/warehouse/pallets?so={}", codes::query(&o.number)),
            )]);
    }
    Ok(page.into())
}

fn quality_name(q: &str, lang: Lang) -> &'static str {
    match q {
        "released" => lang.pick("合格", "released"),
        "held" => lang.pick("待检（冻结）", "held"),
        "rejected" => lang.pick("不合格", "rejected"),
        _ => lang.pick("未知", "unknown"),
    }
}

fn labels_page(query: &Values, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let locs = locations().map_err(err)?;
    let store = store_of(query, &locs).unwrap_or_default();
    let kind = match query.text("kind") {
        "lots" | "materials" | "lot" => query.text("kind"),
        _ => "locations",
    };
    let mut page = Page::new(t("标签打印", "Labels"))
        .links([
            (
                t("本仓库库位标签", "This store's location labels"),
                format!(
                    "/x/warehouse/labels?kind=locations&wh={}",
                    codes::query(&store)
                ),
            ),
            (
                t("本仓库在库批次标签", "Labels of the lots in this store"),
                format!("/x/warehouse/labels?kind=lots&wh={}", codes::query(&store)),
            ),
            (
                t("物料标签", "Material labels"),
                format!(
                    "/x/warehouse/labels?kind=materials&wh={}",
                    codes::query(&store)
                ),
            ),
        ])
        .links(store_links(&format!("labels?kind={kind}&"), &locs, &store));
    let mut sheet = Labels::new(3);
    match kind {
        "locations" => {
            for l in locs.iter().filter(|l| l.warehouse == store) {
                sheet = sheet.label(
                    codes::location(&l.warehouse, &l.code),
                    format!("{} {}", l.code, l.name),
                    [l.warehouse_name.clone(), l.key()],
                );
            }
        }
        "lots" | "lot" => {
            let mut seen = std::collections::BTreeSet::new();
            let filter = if kind == "lot" {
                json!({ "material": query.text("material"), "lot": query.text("lot") })
            } else {
                json!({ "warehouse": store })
            };
            for s in stock(filter).map_err(err)? {
                if seen.insert((s.material.clone(), s.lot.clone())) {
                    let mut lines = vec![
                        s.material.clone(),
                        format!("{} {}", t("批号", "Lot"), s.lot),
                    ];
                    if let Some(e) = &s.expires {
                        lines.push(format!("{} {e}", t("有效期至", "Use by")));
                    }
                    sheet = sheet.label(codes::lot(&s.material, &s.lot), s.material_name, lines);
                }
            }
        }
        _ => {
            for m in materials().map_err(err)?.into_iter().filter(|m| m.active) {
                sheet = sheet.label(
                    codes::material(&m.code),
                    m.name.clone(),
                    [m.code.clone(), m.spec.clone(), m.unit.clone()],
                );
            }
        }
    }
    if sheet.items.is_empty() {
        page = page.notice(
            Tone::Neutral,
            t("没有可打印的标签。", "No labels to print."),
        );
    } else {
        page = page.labels(sheet);
    }
    Ok(page.into())
}

/// The four scanning operations, each its own page (a phone shows one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Receipt,
    Putaway,
    Pick,
    Issue,
    /// A transfer handed to an AGV or stacker ([`agv`]).
    Transport,
}

impl Op {
    fn of(page: &str) -> Option<Op> {
        Some(match page {
            "receipt" => Op::Receipt,
            "putaway" => Op::Putaway,
            "pick" => Op::Pick,
            "issue" => Op::Issue,
            "transport" => Op::Transport,
            _ => return None,
        })
    }
    fn id(self) -> &'static str {
        match self {
            Op::Receipt => "receipt",
            Op::Putaway => "putaway",
            Op::Pick => "pick",
            Op::Issue => "issue",
            Op::Transport => "transport",
        }
    }
    fn title(self, lang: Lang) -> &'static str {
        match self {
            Op::Receipt => lang.pick("扫码收货", "Receive by scanning"),
            Op::Putaway => lang.pick("扫码上架", "Put away by scanning"),
            Op::Pick => lang.pick("扫码拣货", "Pick by scanning"),
            Op::Issue => lang.pick("扫码发料", "Issue by scanning"),
            Op::Transport => lang.pick("AGV 搬运任务", "AGV transport"),
        }
    }
}

/// The plugin's settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Settings {
    /// Where receipts land unless the keeper scans another place (`store/location`).
    receiving: String,
    /// Where picked goods are staged (`store/location`).
    staging: String,
    /// The AGVs (or stackers) transport tasks go to, by their tags' prefix (`AGV1`).
    vehicles: Vec<String>,
    /// Location key (`store/location`) → the vehicles' station number there.
    stations: BTreeMap<String, u32>,
    /// The most a pallet carries, kg.
    pallet_kg: f64,
}

thread_local! {
    static SETTINGS: std::cell::RefCell<Settings> = std::cell::RefCell::new(Settings::default());
}

fn settings() -> Settings {
    SETTINGS.with(|s| s.borrow().clone())
}

fn scan_hub(lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    Ok(Page::new(t("扫码作业", "Scanning"))
        .text(t(
            "用手机扫描物料、批次和库位标签完成收货、上架、拣货和发料。每一笔都由进销存模块按其规则过账（危化品分区、有效期、质量冻结、剧毒品双人双锁等），以扫码人的名义记录。",
            "Scan material, lot and location labels with a phone to receive, put away, pick and issue. Each is posted by the inventory module under its rules (hazmat separation, expiry, quality holds, two custodians for highly toxic goods) in the name of the person scanning.",
        ))
        .links(
            [Op::Receipt, Op::Putaway, Op::Pick, Op::Issue, Op::Transport]
                .map(|op| (op.title(lang), format!("/x/warehouse/{}", op.id()))),
        )
        .into())
}

fn op_page(op: Op, query: &Values, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let cfg = settings();
    let scan_hint = t(
        "点“扫码”用相机扫标签，或手工输入",
        "Press Scan to read the label, or type it",
    );
    let lot = Field::scan("lot", t("批号（扫码）", "Lot (scan)"))
        .required()
        .value(query.text("lot"))
        .hint(scan_hint);
    let from = Field::scan("from", t("从库位（扫码）", "From location (scan)"))
        .value(query.text("from"))
        .hint(t(
            "批次只在一个库位时可不填",
            "May stay empty when the lot is at one location only",
        ));
    let form = match op {
        Op::Receipt => Form::new("post", t("收货", "Receive"))
            .field(
                Field::scan("material", t("物料（扫码）", "Material (scan)"))
                    .required()
                    .hint(scan_hint),
            )
            .field(
                Field::text("lot_number", t("批号", "Lot number"))
                    .hint(t("留空则按日期自动编号", "Empty: numbered by date")),
            )
            .field(Field::text(
                "supplier_lot",
                t("供应商批号", "Supplier's lot"),
            ))
            .field(
                Field::number("qty", t("数量（基本单位）", "Quantity (base unit)"))
                    .required()
                    .min(0.000_001),
            )
            .field(
                Field::scan("to", t("收货库位（扫码）", "Receiving location (scan)"))
                    .required()
                    .value(&cfg.receiving),
            )
            .field(Field::date("expires", t("有效期至", "Use by")).hint(t(
                "留空按物料保质期计算",
                "Empty: from the material's shelf life",
            )))
            .field(Field::text(
                "reference",
                t("单据（采购单等）", "Document (purchase order…)"),
            )),
        Op::Putaway => Form::new("post", t("上架", "Put away"))
            .field(lot)
            .field(from)
            .field(
                Field::scan("to", t("上架库位（扫码）", "To location (scan)"))
                    .required()
                    .hint(scan_hint),
            )
            .field(
                Field::number("qty", t("数量", "Quantity"))
                    .min(0.000_001)
                    .hint(t(
                        "留空则整批上架",
                        "Empty: all of the lot at that location",
                    )),
            ),
        Op::Pick => Form::new("post", t("拣货", "Pick"))
            .field(lot)
            .field(from)
            .field(
                Field::number("qty", t("数量", "Quantity"))
                    .required()
                    .value(query.text("qty"))
                    .min(0.000_001),
            )
            .field(
                Field::scan("to", t("集货库位（扫码）", "Staging location (scan)"))
                    .required()
                    .value(&cfg.staging),
            )
            .field(
                Field::text(
                    "reference",
                    t("拣货单 / 销售单", "Picking list / sales order"),
                )
                .value(query.text("reference")),
            ),
        Op::Transport => Form::new("post", t("下达搬运任务", "Hand to an AGV"))
            .field(lot)
            .field(from)
            .field(
                Field::scan("to", t("送至库位（扫码）", "To location (scan)"))
                    .required()
                    .value(query.text("to"))
                    .hint(scan_hint),
            )
            .field(
                Field::number("qty", t("数量", "Quantity"))
                    .min(0.000_001)
                    .value(query.text("qty"))
                    .hint(t("留空则整批", "Empty: all of the lot at that location")),
            ),
        Op::Issue => Form::new("post", t("发料", "Issue"))
            .field(lot)
            .field(from)
            .field(
                Field::number("qty", t("数量", "Quantity"))
                    .required()
                    .value(query.text("qty"))
                    .min(0.000_001),
            )
            .field(
                Field::text(
                    "reference",
                    t("生产批次号 / 领料单", "Production batch / requisition"),
                )
                .required()
                .value(query.text("reference"))
                .hint(t(
                    "填运行中批次的批号时，发料计入该批次的批记录",
                    "A running batch's number: the issue joins its batch record",
                )),
            ),
    };
    let mut page = Page::new(op.title(lang));
    if op == Op::Receipt
        && let Some((material, lot, store)) =
            storage::get_json::<(String, String, String)>("last_receipt").map_err(err)?
    {
        page = page.links([(
            format!(
                "{} {material}/{lot}",
                t(
                    "打印上一笔收货的批号标签：",
                    "Print the last receipt's lot label:"
                )
            ),
            format!(
                "/x/warehouse/labels?kind=lot&wh={}&material={}&lot={}",
                codes::query(&store),
                codes::query(&material),
                codes::query(&lot)
            ),
        )]);
    }
    let page = page
        .links([(
            t("返回扫码作业", "Back to scanning"),
            "/x/warehouse/scan".to_string(),
        )])
        .form(form);
    if op == Op::Transport {
        return transport_status(page, &cfg, lang);
    }
    Ok(page.into())
}

/// The transport page below its form: the vehicles now, the tasks, the cancel form.
fn transport_status(mut page: Page, cfg: &Settings, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    if cfg.vehicles.is_empty() {
        page = page.notice(
            Tone::Warn,
            t(
                "未设置 AGV：请管理员在插件设置 agv 中填写车辆（如 AGV1），并在 stations 中填写各库位的站点号。",
                "No AGV set: the admin names the vehicles in the plugin's `agv` setting (e.g. AGV1) and each location's station number in `stations`.",
            ),
        );
    }
    let mut kpis = Vec::new();
    for v in &cfg.vehicles {
        let (state, current) = vehicle_now(v);
        let text = match state {
            Some(0) => t("就绪", "ready").to_string(),
            Some(1) => t("已接收", "accepted").to_string(),
            Some(2) => t("载货中", "carrying").to_string(),
            Some(3) => t("完成", "done").to_string(),
            Some(4) => t("故障", "fault").to_string(),
            Some(x) => x.to_string(),
            None => t("无信号", "no signal").to_string(),
        };
        let tone = match state {
            Some(0 | 3) => Tone::Good,
            Some(1 | 2) => Tone::Warn,
            Some(_) | None => Tone::Bad,
        };
        let hint = match current {
            Some(n) if n > 0 => format!("{} T-{n}", t("任务", "task")),
            _ => String::new(),
        };
        kpis.push(Kpi::new(v.clone(), text).tone(tone).hint(hint));
    }
    if !kpis.is_empty() {
        page = page.kpis(kpis);
    }
    let held: Vec<(String, u32)> = cfg
        .vehicles
        .iter()
        .filter_map(|v| blocked(v).ok().flatten().map(|n| (v.clone(), n)))
        .collect();
    if !held.is_empty() {
        for (v, n) in &held {
            page = page.notice(
                Tone::Bad,
                format!(
                    "{v} {} T-{n}{}",
                    t("故障停用：任务", "is held after a fault on task"),
                    t(
                        "。请到现场确认货物位置（必要时扫码登记），再恢复车辆。",
                        ". Check where the load is (book it by scanning if it moved), then release the vehicle.",
                    )
                ),
            );
        }
        page = page.form(
            Form::new(
                "release",
                t("已检查，恢复车辆", "Checked: release the vehicle"),
            )
            .field(
                Field::choice(
                    "vehicle",
                    t("车辆", "Vehicle"),
                    &held
                        .iter()
                        .map(|(v, _)| (v.as_str(), v.as_str()))
                        .collect::<Vec<_>>(),
                )
                .required(),
            ),
        );
    }
    let mut table = Table::new([
        t("任务", "Task"),
        t("物料 / 批号 / 数量", "Material / lot / quantity"),
        t("从", "From"),
        t("到", "To"),
        t("车辆", "Vehicle"),
        t("下达人", "Asked by"),
        t("状态", "State"),
        t("说明", "Note"),
    ]);
    let zh = lang == Lang::Zh;
    for task in tasks(50).map_err(err)? {
        table.push([
            format!("T-{}", task.n),
            task.what.clone(),
            format!("{} ({})", task.from, task.from_station),
            format!("{} ({})", task.to, task.to_station),
            task.vehicle.clone(),
            // `user:chen.xiaoyan via plugin:warehouse` → chen.xiaoyan
            task.by
                .split(" via ")
                .next()
                .unwrap_or("")
                .trim_start_matches("user:")
                .to_string(),
            task.stage.name(zh).to_string(),
            task.note.clone(),
        ]);
    }
    Ok(page
        .heading(t("搬运任务", "Transport tasks"))
        .table(table.page_size(20))
        .form(
            Form::new("cancel", t("取消排队中的任务", "Cancel a queued task"))
                .field(Field::integer("task", t("任务号", "Task number")).required().min(1.0)),
        )
        .text(t(
            "任务依次下达给就绪的车辆（写入取货站点、卸货站点和任务号）；车辆报告完成后，由进销存模块按其规则过账移库，记录人为插件 warehouse（原因中注明下达人），单据为任务号。被拒绝的移库保留为“完成但未过账”，请按原因处理后扫码上架。",
            "Tasks go to a ready vehicle one at a time (the pick-up and drop-off stations, then the task number). When the vehicle reports done, the inventory module posts the transfer under its rules, recorded as plugin warehouse (the reason names who asked) with the task number as its document. A refused transfer stays “done, not posted”: deal with the reason, then book it by scanning.",
        ))
        .into())
}

/// What the scanned text names among the box's records, or the reason it names nothing.
struct Lookup {
    materials: Vec<Material>,
    locations: Vec<Location>,
}

impl Lookup {
    fn load() -> Result<Lookup, Error> {
        Ok(Lookup {
            materials: materials()?,
            locations: locations()?,
        })
    }

    fn location(&self, text: &str, lang: Lang) -> Result<&Location, String> {
        let (store, loc) = match codes::parse(text) {
            Some(Code::Location(s, l)) => (s, l),
            Some(Code::Bare(b)) => match b.split_once('/') {
                Some((s, l)) => (s.trim().to_string(), l.trim().to_string()),
                None => {
                    // a bare location code is enough when no other store has one of that code
                    let hits: Vec<&Location> =
                        self.locations.iter().filter(|l| l.code == b).collect();
                    return match hits[..] {
                        [one] => Ok(one),
                        [] => Err(format!("{} {b}", lang.pick("没有这个库位：", "No such location:"))),
                        _ => Err(format!(
                            "{} {b}",
                            lang.pick(
                                "多个仓库都有此库位，请扫库位标签或输入 仓库/库位：",
                                "Several stores have this location; scan its label or type store/location:"
                            )
                        )),
                    };
                }
            },
            _ => {
                return Err(format!(
                    "{} {text}",
                    lang.pick("这不是库位标签：", "Not a location label:")
                ));
            }
        };
        self.locations
            .iter()
            .find(|l| l.warehouse == store && l.code == loc)
            .ok_or_else(|| {
                format!(
                    "{} {store}/{loc}",
                    lang.pick("没有这个库位：", "No such location:")
                )
            })
    }

    fn material(&self, code: &str, lang: Lang) -> Result<&Material, String> {
        self.materials
            .iter()
            .find(|m| m.code == code)
            .ok_or_else(|| {
                format!(
                    "{} {code}",
                    lang.pick("没有这个物料：", "No such material:")
                )
            })
    }

    /// A lot label (or `material/lot`) → the material and the lot number. The lot must be
    /// in stock somewhere.
    fn lot(&self, text: &str, lang: Lang) -> Result<(&Material, String, Vec<Stock>), String> {
        let (mat, lot) = match codes::parse(text) {
            Some(Code::Lot(m, l)) => (m, l),
            Some(Code::Bare(b)) if b.contains('/') => {
                let (m, l) = b.split_once('/').unwrap_or_default();
                (m.trim().to_string(), l.trim().to_string())
            }
            // a lot number alone, when one material has a lot of that number in stock
            Some(Code::Bare(b)) => {
                let at = stock(json!({ "lot": b })).map_err(err)?;
                let mut mats: Vec<&str> = at.iter().map(|s| s.material.as_str()).collect();
                mats.sort_unstable();
                mats.dedup();
                match mats[..] {
                    [one] => (one.to_string(), b.clone()),
                    [] => {
                        return Err(format!(
                            "{} {b}",
                            lang.pick("没有这个在库批号：", "No lot in stock:")
                        ));
                    }
                    _ => {
                        return Err(format!(
                            "{} {b}",
                            lang.pick(
                                "多种物料有此批号，请扫批号标签或输入 物料/批号：",
                                "Several materials have this lot number; scan its label or type material/lot:"
                            )
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "{} {text}",
                    lang.pick("这不是批次标签：", "Not a lot label:")
                ));
            }
        };
        let m = self.material(&mat, lang)?;
        let at = stock(json!({ "material": mat, "lot": lot })).map_err(err)?;
        if at.is_empty() {
            return Err(format!(
                "{} {mat}/{lot}",
                lang.pick("没有这个在库批次：", "No lot in stock:")
            ));
        }
        Ok((m, lot, at))
    }
}

/// The next lot number of the plant day, `R<yyMMdd>-<nnn>`, and the counter to keep once
/// the receipt has posted (a refused receipt uses no number).
fn next_lot_number() -> Result<(String, String, u32), String> {
    let now = nplusx_sdk::clock::now_ms().map_err(err)?;
    let off = plant::offset_ms().map_err(err)?;
    let day = plant::day_of(now, off).replace('-', "");
    let key = format!("lotseq:{day}");
    let n: u32 = storage::get_json(&key).map_err(err)?.unwrap_or(0) + 1;
    Ok((format!("R{}-{n:03}", &day[2..]), key, n))
}

/// The inventory module's refusal of `inventory.move` on the form's field it concerns.
fn refusal(e: Error, lang: Lang) -> Outcome {
    match e {
        Error::Invalid(s) => {
            let (field, why) = s.split_once(": ").unwrap_or(("", s.as_str()));
            let ours = match field {
                "from" | "to" | "qty" | "reference" | "expires" => field,
                "lot" | "lot_number" => "lot",
                "material" => "material",
                _ => "",
            };
            let why = format!(
                "{} {why}",
                lang.pick("进销存拒绝：", "Refused by inventory:")
            );
            if ours.is_empty() {
                // no field of ours: the banner names the rule
                Outcome::field_error(lang.pick("进销存", "inventory"), why)
            } else {
                Outcome::field_error(ours, why)
            }
        }
        Error::Denied(s) => Outcome::field_error(lang.pick("权限", "permission"), s),
        Error::Failed(s) | Error::NotFound(s) | Error::Quota(s) => Outcome::field_error(
            lang.pick("进销存", "inventory"),
            format!("{} {s}", lang.pick("进销存拒绝：", "Refused by inventory:")),
        ),
    }
}

fn post(op: Op, f: &Values, lang: Lang) -> Result<Outcome, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let look = Lookup::load().map_err(err)?;
    let qty_in = if f.text("qty").is_empty() {
        None
    } else {
        Some(f.number("qty")?)
    };
    let mut args = json!({ "reference": f.text("reference") });
    let summary;
    // a date lot number's counter, and the lot a receipt makes: kept once it posts
    let mut taken: Option<(String, u32)> = None;
    let mut received: Option<(String, String, String)> = None;
    match op {
        Op::Receipt => {
            let m = match codes::parse(f.text("material")) {
                Some(Code::Material(c)) | Some(Code::Bare(c)) => look.material(&c, lang),
                _ => Err(format!(
                    "{} {}",
                    t("这不是物料标签：", "Not a material label:"),
                    f.text("material")
                )),
            };
            let m = match m {
                Ok(m) => m,
                Err(e) => return Ok(Outcome::field_error("material", e)),
            };
            let to = match look.location(f.text("to"), lang) {
                Ok(l) => l,
                Err(e) => return Ok(Outcome::field_error("to", e)),
            };
            let number = if f.text("lot_number").trim().is_empty() {
                let (number, key, n) = next_lot_number()?;
                taken = Some((key, n));
                number
            } else {
                f.text("lot_number").trim().to_string()
            };
            received = Some((m.code.clone(), number.clone(), to.warehouse.clone()));
            args["kind"] = json!("receipt");
            args["material"] = json!(m.id);
            args["lot_number"] = json!(number);
            args["supplier_lot"] = json!(f.text("supplier_lot"));
            args["to"] = json!(to.id);
            args["qty"] = json!(qty_in.unwrap_or(0.0));
            if !f.text("expires").is_empty() {
                args["expires"] = json!(f.text("expires"));
            }
            summary = format!(
                "{} {} {} {} {} → {}",
                t("已收货", "Received"),
                m.name,
                number,
                qty(qty_in.unwrap_or(0.0)),
                m.unit,
                to.key()
            );
        }
        Op::Putaway | Op::Pick | Op::Issue | Op::Transport => {
            let (m, lot, at) = match look.lot(f.text("lot"), lang) {
                Ok(x) => x,
                Err(e) => return Ok(Outcome::field_error("lot", e)),
            };
            let from = if f.text("from").trim().is_empty() {
                match &at[..] {
                    [one] => look
                        .locations
                        .iter()
                        .find(|l| l.warehouse == one.warehouse && l.code == one.location)
                        .ok_or_else(|| "the lot's location is gone".to_string())?,
                    _ => {
                        let places: Vec<String> = at
                            .iter()
                            .map(|s| format!("{}/{} ({})", s.warehouse, s.location, qty(s.qty)))
                            .collect();
                        return Ok(Outcome::field_error(
                            "from",
                            format!(
                                "{} {}",
                                t(
                                    "此批次在多个库位，请扫来源库位：",
                                    "The lot is at several locations; scan the one it leaves:"
                                ),
                                places.join(", ")
                            ),
                        ));
                    }
                }
            } else {
                match look.location(f.text("from"), lang) {
                    Ok(l) => l,
                    Err(e) => return Ok(Outcome::field_error("from", e)),
                }
            };
            let Some(here) = at
                .iter()
                .find(|s| s.warehouse == from.warehouse && s.location == from.code)
            else {
                return Ok(Outcome::field_error(
                    "from",
                    format!(
                        "{} {}",
                        t("此批次不在库位", "The lot is not at"),
                        from.key()
                    ),
                ));
            };
            // stock is picked to be shipped: only a released lot (a held one may still be
            // put away or moved, and inventory refuses to issue it)
            if op == Op::Pick && here.quality != "released" {
                return Ok(Outcome::field_error(
                    "lot",
                    format!(
                        "{} {} ({})",
                        t(
                            "只能拣选合格批号，此批号为",
                            "Only released lots are picked; this one is"
                        ),
                        quality_name(&here.quality, lang),
                        lot
                    ),
                ));
            }
            let n = qty_in.unwrap_or(here.qty);
            args["material"] = json!(m.id);
            args["lot_number"] = json!(lot);
            args["from"] = json!(from.id);
            args["qty"] = json!(n);
            if op == Op::Issue {
                args["kind"] = json!("issue");
                summary = format!(
                    "{} {} {} {} {} ← {}",
                    t("已发料", "Issued"),
                    m.name,
                    lot,
                    qty(n),
                    m.unit,
                    from.key()
                );
            } else {
                let to = match look.location(f.text("to"), lang) {
                    Ok(l) => l,
                    Err(e) => return Ok(Outcome::field_error("to", e)),
                };
                if to.id == from.id {
                    return Ok(Outcome::field_error(
                        "to",
                        t("目标库位与来源库位相同", "The same location as it leaves"),
                    ));
                }
                args["kind"] = json!("transfer");
                args["to"] = json!(to.id);
                if op == Op::Transport {
                    return queue_task(
                        &args,
                        from,
                        to,
                        format!("{} {lot} {} {}", m.name, qty(n), m.unit),
                        lang,
                    );
                }
                summary = format!(
                    "{} {} {} {} {} {} → {}",
                    if op == Op::Pick {
                        t("已拣货", "Picked")
                    } else {
                        t("已上架", "Put away")
                    },
                    m.name,
                    lot,
                    qty(n),
                    m.unit,
                    from.key(),
                    to.key()
                );
            }
        }
    }
    match actions::invoke("inventory.move", &args.to_string()) {
        Ok(answer) => {
            let id = nplusx_sdk::serde_json::from_str::<Value>(&answer)
                .ok()
                .and_then(|v| v["id"].as_u64())
                .unwrap_or(0);
            log::info(&format!("{} #{id}: {summary}", op.id()));
            if let Some((key, n)) = taken {
                storage::set_json(&key, &n).map_err(err)?;
            }
            if let Some(r) = received {
                storage::set_json("last_receipt", &r).map_err(err)?;
            }
            Ok(Outcome::message(format!(
                "{summary}（{} #{id}）",
                t("出入库记录", "movement")
            )))
        }
        Err(e) => Ok(refusal(e, lang)),
    }
}

fn place(f: &Values, lang: Lang) -> Result<Outcome, String> {
    let look = Lookup::load().map_err(err)?;
    let l = match look.location(f.text("location"), lang) {
        Ok(l) => l,
        Err(e) => return Ok(Outcome::field_error("location", e)),
    };
    let p = Place {
        x: f.number("x")? as f32,
        y: f.number("y")? as f32,
        w: f.number("w")? as f32,
        h: f.number("h")? as f32,
    };
    storage::set_json(&place_key(&l.warehouse, &l.code), &p).map_err(err)?;
    // back to this store's map
    storage::set_json("last_store", &l.warehouse).map_err(err)?;
    Ok(Outcome::message(format!(
        "{} {}",
        lang.pick("已保存库位位置：", "Place saved:"),
        l.key()
    ))
    .next("map"))
}

// ------------------------------------------------------------------ AGV transport

/// Tasks are kept newest first (the key counts down), so the newest are the first keys.
fn task_key(n: u32) -> String {
    format!("task:{:010}", u32::MAX - n)
}

/// The newest `limit` tasks, newest first.
fn tasks(limit: u32) -> Result<Vec<agv::Task>, Error> {
    let mut out = Vec::new();
    for k in storage::keys("task:", limit)? {
        if let Some(t) = storage::get_json::<agv::Task>(&k)? {
            out.push(t);
        }
    }
    Ok(out)
}

/// The numbers of the tasks not finished (queued or on a vehicle), oldest first: the ticks
/// read these, not the whole history.
fn open_numbers() -> Result<Vec<u32>, Error> {
    Ok(storage::get_json::<Vec<u32>>("tasks_open")?.unwrap_or_default())
}

/// Saves a task and keeps the open list in step with its stage.
fn save_task(task: &agv::Task) -> Result<(), Error> {
    storage::set_json(&task_key(task.n), task)?;
    let mut open = open_numbers()?;
    let is_open = task.stage == agv::Stage::Queued || task.stage.in_hand();
    match (open.contains(&task.n), is_open) {
        (false, true) => open.push(task.n),
        (true, false) => open.retain(|n| *n != task.n),
        _ => return Ok(()),
    }
    storage::set_json("tasks_open", &open)
}

/// A vehicle's state and task in hand, from its tags (None: unreadable).
fn vehicle_now(v: &str) -> (Option<i64>, Option<i64>) {
    let names = [format!("{v}.STATE"), format!("{v}.CUR")];
    match tags::read(&names) {
        Ok(c) if c.len() == 2 => {
            let int = |x: &nplusx_sdk::bindings::nplusx::plugin::tags::Current| {
                matches!(x.quality, nplusx_sdk::Quality::Good)
                    .then(|| nplusx_sdk::number(&x.value))
                    .flatten()
                    .map(|f| f as i64)
            };
            (int(&c[0]), int(&c[1]))
        }
        _ => (None, None),
    }
}

/// Queues a transfer for the AGVs: both locations need a station.
fn queue_task(
    args: &Value,
    from: &Location,
    to: &Location,
    what: String,
    lang: Lang,
) -> Result<Outcome, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let cfg = settings();
    if cfg.vehicles.is_empty() {
        return Ok(Outcome::field_error(
            "to",
            t(
                "未设置 AGV（插件设置 agv）",
                "No AGV is set (the plugin's `agv` setting)",
            ),
        ));
    }
    let station = |l: &Location| cfg.stations.get(&l.key()).copied();
    let Some(from_station) = station(from) else {
        return Ok(Outcome::field_error(
            "from",
            format!(
                "{} {}",
                t("此库位没有 AGV 站点号：", "No AGV station at"),
                from.key()
            ),
        ));
    };
    let Some(to_station) = station(to) else {
        return Ok(Outcome::field_error(
            "to",
            format!(
                "{} {}",
                t("此库位没有 AGV 站点号：", "No AGV station at"),
                to.key()
            ),
        ));
    };
    // inventory's rules before the load moves: a transfer it would refuse (toluene into
    // the general store) is not handed to a vehicle
    let mut check = args.clone();
    check["check"] = json!(true);
    let by = match actions::invoke("inventory.move", &check.to_string()) {
        // who asked: the person the movement would be recorded as now
        Ok(answer) => nplusx_sdk::serde_json::from_str::<Value>(&answer)
            .ok()
            .and_then(|a| a["by"].as_str().map(String::from))
            .unwrap_or_default(),
        Err(e) => return Ok(refusal(e, lang)),
    };
    let n = storage::get_json::<u32>("task_seq")
        .map_err(err)?
        .unwrap_or(0)
        + 1;
    let task = agv::Task {
        n,
        what,
        from: from.key(),
        to: to.key(),
        from_station,
        to_station,
        movement: args.to_string(),
        by,
        stage: agv::Stage::Queued,
        vehicle: String::new(),
        created_ms: clock::now_ms().map_err(err)?,
        sent_ms: 0,
        ended_ms: 0,
        note: String::new(),
    };
    storage::set_json("task_seq", &n).map_err(err)?;
    save_task(&task).map_err(err)?;
    log::info(&format!(
        "T-{n} queued: {} {} → {}",
        task.what, task.from, task.to
    ));
    Ok(Outcome::message(format!(
        "{} T-{n}: {} {} → {}",
        t("已排队", "Queued"),
        task.what,
        task.from,
        task.to
    )))
}

fn cancel_task(f: &Values, lang: Lang) -> Result<Outcome, String> {
    let n = u32::try_from(f.integer("task")?).map_err(|_| "task: out of range".to_string())?;
    let Some(mut task) = storage::get_json::<agv::Task>(&task_key(n)).map_err(err)? else {
        return Ok(Outcome::field_error(
            "task",
            format!("{} T-{n}", lang.pick("没有这个任务：", "No such task:")),
        ));
    };
    if task.stage != agv::Stage::Queued {
        return Ok(Outcome::field_error(
            "task",
            format!(
                "{} {}",
                lang.pick(
                    "只能取消排队中的任务；此任务",
                    "Only a queued task can be cancelled; this one is"
                ),
                task.stage.name(lang == Lang::Zh)
            ),
        ));
    }
    task.stage = agv::Stage::Cancelled;
    task.ended_ms = clock::now_ms().map_err(err)?;
    save_task(&task).map_err(err)?;
    Ok(Outcome::message(format!(
        "{} T-{n}",
        lang.pick("已取消", "Cancelled")
    )))
}

fn write_int(tag: String, v: i64) -> Result<(), String> {
    tag_write::write(&tag, &nplusx_sdk::Value::Integer(v))
        .map_err(|e| format!("{tag}: {}", String::from(e)))
}

fn blocked_key(v: &str) -> String {
    format!("blocked:{v}")
}

/// The task a vehicle failed, while it waits for someone to check it (the load may still be
/// on it): nothing more is handed to it until then.
fn blocked(v: &str) -> Result<Option<u32>, Error> {
    storage::get_json::<u32>(&blocked_key(v))
}

/// The posted movement of a task, if the inventory module has it already (a tick stopped
/// between posting and saving the task must not post it twice).
fn posted_movement(n: u32) -> Result<Option<u64>, Error> {
    let rows: Vec<Value> = records::query(
        "inventory.movements",
        &json!({ "reference": format!("T-{n}") }),
        1,
    )?;
    Ok(rows.first().and_then(|m| m["id"].as_u64()))
}

/// One look at a vehicle: its task moves on, is posted or failed, or it gets the next one.
fn run_vehicle(v: &str, now: i64) -> Result<(), String> {
    let (state, current) = vehicle_now(v);
    // the tasks still open, oldest first: queued, or on this vehicle
    let mut open = Vec::new();
    for n in open_numbers().map_err(err)? {
        if let Some(t) = storage::get_json::<agv::Task>(&task_key(n)).map_err(err)?
            && (t.stage == agv::Stage::Queued || (t.stage.in_hand() && t.vehicle == v))
        {
            open.push(t);
        }
    }
    let held = open.iter().position(|t| t.stage.in_hand());
    let decision = agv::decide(
        held.map(|i| (open[i].wire(), open[i].stage, open[i].sent_ms)),
        state,
        current,
        now,
    );
    match decision {
        agv::Decision::Nothing => Ok(()),
        agv::Decision::Clear => {
            // done (or failed) for a task the box no longer holds: one it called a fault
            // (not taken in time) that the vehicle carried after all — say so, loudly
            if let Some(cur) = current.and_then(|c| u32::try_from(c).ok())
                && let Some(mut t) = tasks(200)
                    .map_err(err)?
                    .into_iter()
                    .find(|t| t.vehicle == v && t.wire() == cur && t.stage == agv::Stage::Fault)
                && !t.note.contains("reported done after all")
            {
                t.note = format!(
                    "{}; {v} 之后报告完成：请确认货物位置并扫码登记 / {v} reported done after all: check where the load is, then book it by scanning",
                    t.note
                );
                save_task(&t).map_err(err)?;
                log::error(&format!("T-{}: {}", t.n, t.note));
            }
            write_int(format!("{v}.TASK"), 0)
        }
        agv::Decision::Advance(stage) => {
            let task = &mut open[held.expect("a task in hand")];
            task.stage = stage;
            save_task(task).map_err(err)
        }
        agv::Decision::Fault => {
            let task = &mut open[held.expect("a task in hand")];
            task.stage = agv::Stage::Fault;
            task.ended_ms = now;
            task.note = if current == Some(i64::from(task.wire())) {
                format!("{v} 报告故障 / {v} reported a fault")
            } else {
                format!(
                    "{v} 未在 {s} 秒内接收或无信号 / {v} did not take it within {s} s (or no signal)",
                    s = agv::ACCEPT_MS / 1000
                )
            };
            save_task(task).map_err(err)?;
            // nothing more for this vehicle until someone has looked at it
            storage::set_json(&blocked_key(v), &task.n).map_err(err)?;
            log::warn(&format!("T-{}: {}", task.n, task.note));
            write_int(format!("{v}.TASK"), 0)
        }
        agv::Decision::Done => {
            let task = &mut open[held.expect("a task in hand")];
            let mut args: Value =
                nplusx_sdk::serde_json::from_str(&task.movement).map_err(|e| e.to_string())?;
            args["reference"] = json!(format!("T-{}", task.n));
            // the vehicle moved it, at the request of the person who queued it
            args["reason"] = json!(if task.by.is_empty() {
                format!("AGV {v}")
            } else {
                format!("AGV {v} ({})", task.by)
            });
            let already = posted_movement(task.n).map_err(err)?;
            let posted = match already {
                Some(id) => Ok(id),
                None => actions::invoke("inventory.move", &args.to_string()).map(|answer| {
                    nplusx_sdk::serde_json::from_str::<Value>(&answer)
                        .ok()
                        .and_then(|a| a["id"].as_u64())
                        .unwrap_or(0)
                }),
            };
            match posted {
                Ok(id) => {
                    task.stage = agv::Stage::Posted;
                    task.note = format!("#{id}");
                    log::info(&format!("T-{} done by {v}: movement #{id}", task.n));
                }
                Err(e) => {
                    task.stage = agv::Stage::NotPosted;
                    task.note = String::from(e);
                    log::warn(&format!(
                        "T-{} done by {v}, not posted: {}",
                        task.n, task.note
                    ));
                }
            }
            task.ended_ms = now;
            save_task(task).map_err(err)?;
            write_int(format!("{v}.TASK"), 0)
        }
        agv::Decision::Dispatch => {
            if blocked(v).map_err(err)?.is_some() {
                return Ok(());
            }
            let Some(task) = open.iter_mut().find(|t| t.stage == agv::Stage::Queued) else {
                return Ok(());
            };
            // inventory's rules again, now: the lot may have been held, moved or issued
            // while the task waited — nothing is carried that would not be booked
            let mut check: Value =
                nplusx_sdk::serde_json::from_str(&task.movement).map_err(|e| e.to_string())?;
            check["check"] = json!(true);
            if let Err(e) = actions::invoke("inventory.move", &check.to_string()) {
                task.stage = agv::Stage::Refused;
                task.ended_ms = now;
                task.note = String::from(e);
                log::warn(&format!("T-{} not handed over: {}", task.n, task.note));
                return save_task(task).map_err(err);
            }
            // the stations first, the task number last: writing it starts the task; a write
            // the box refuses leaves the task queued, with the reason on the page
            let written = write_int(format!("{v}.FROM"), i64::from(task.from_station))
                .and_then(|_| write_int(format!("{v}.TO"), i64::from(task.to_station)));
            if let Err(e) = written {
                let note = format!("{v}: {e}");
                if task.note != note {
                    task.note = note;
                    save_task(task).map_err(err)?;
                }
                return Err(e);
            }
            task.note.clear();
            task.stage = agv::Stage::Sent;
            task.vehicle = v.to_string();
            task.sent_ms = now;
            save_task(task).map_err(err)?;
            write_int(format!("{v}.TASK"), i64::from(task.wire()))
        }
    }
}

/// Someone checked a vehicle after a fault (the load is where it should be, or was put
/// back): it takes tasks again.
fn release_vehicle(f: &Values, lang: Lang) -> Result<Outcome, String> {
    let v = f.text("vehicle").trim().to_string();
    if !settings().vehicles.contains(&v) || blocked(&v).map_err(err)?.is_none() {
        return Ok(Outcome::field_error(
            "vehicle",
            format!(
                "{} {v}",
                lang.pick("没有因故障停用的车辆：", "No vehicle held after a fault:")
            ),
        ));
    }
    storage::delete(&blocked_key(&v)).map_err(err)?;
    log::info(&format!("{v} released after its fault was checked"));
    Ok(Outcome::message(format!(
        "{} {v}",
        lang.pick("车辆恢复接收任务：", "The vehicle takes tasks again:")
    )))
}

/// A sales order's delivery palletised ([`pallets`]): the lots picked for it (first expiring
/// first), packed one material a pallet up to the `pallet_kg` setting, with a label per pallet
/// (its code `NX:PAL:<order>/<n>`) to print and stick on it.
fn pallets_page(query: &Values, lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let orders: Vec<SalesOrder> =
        records::query("inventory.sales_orders", &json!({}), 200).map_err(err)?;
    let Some(o) = orders.iter().find(|o| o.number == query.text("so")) else {
        return Ok(Page::new(t("码垛单", "Pallet plan"))
            .notice(
                Tone::Bad,
                format!(
                    "{} {}",
                    t(
                        "没有待发货的销售单：",
                        "No sales order waits for delivery as"
                    ),
                    query.text("so")
                ),
            )
            .links([(
                t("返回拣货单", "Back to the picking lists"),
                "/x/warehouse/picklist",
            )])
            .into());
    };
    let cfg = settings();
    let rows = stock(json!({})).map_err(err)?;
    let mut taken = Promised::new();
    let mut picks = Vec::new();
    let mut short = Vec::new();
    for l in &o.lines {
        let Some(code) = &l.material else { continue };
        let (got, missing) = allocate(&rows, code, l.remaining, &mut taken);
        for (s, q) in got {
            picks.push(pallets::Pick {
                material: code.clone(),
                material_name: l.material_name.clone().unwrap_or_default(),
                lot: s.lot.clone(),
                location: format!("{}/{}", s.warehouse, s.location),
                qty: q,
                unit: s.unit.clone(),
            });
        }
        if missing > 1e-9 {
            short.push(format!("{code} {}", qty(missing)));
        }
    }
    let plan = pallets::pack(&picks, cfg.pallet_kg);
    let total: f64 = plan.iter().filter_map(|p| p.kg).sum();
    let unweighed = plan.iter().filter(|p| p.kg.is_none()).count();
    let customer = o.customer_name.clone().unwrap_or_default();
    let mut table = Table::new([
        t("托盘", "Pallet"),
        t("物料", "Material"),
        t("批号", "Lot"),
        t("库位", "Location"),
        t("数量", "Quantity"),
        t("托盘重量 (kg)", "Pallet weight (kg)"),
    ]);
    let mut sheet = Labels::new(2);
    for p in &plan {
        let id = format!("{}-P{}", o.number, p.n);
        let weight =
            p.kg.map_or_else(|| t("不计重", "not weighed").to_string(), qty);
        for (i, l) in p.lines.iter().enumerate() {
            table.push([
                if i == 0 { id.clone() } else { String::new() },
                format!("{} {}", l.material, l.material_name),
                l.lot.clone(),
                l.location.clone(),
                format!("{} {}", qty(l.qty), l.unit),
                if i == 0 {
                    weight.clone()
                } else {
                    String::new()
                },
            ]);
        }
        let mut lines: Vec<String> = p
            .lines
            .iter()
            .take(3)
            .map(|l| format!("{} {} {}", l.lot, qty(l.qty), l.unit))
            .collect();
        lines.push(format!("{customer} · {} kg", weight));
        sheet = sheet.label(
            format!("NX:PAL:{}/{}", o.number, p.n),
            format!("{id} {}", p.material_name),
            lines,
        );
    }
    let mut page = Page::new(format!("{} · {} · {customer}", t("码垛单", "Pallet plan"), o.number))
        .kpis(vec![
            Kpi::new(t("托盘", "Pallets"), plan.len()),
            Kpi::new(t("总重 (kg)", "Total weight (kg)"), qty(total)),
            Kpi::new(t("每托最大载重 (kg)", "Most a pallet carries (kg)"), qty(cfg.pallet_kg)),
        ])
        .text(t(
            "按先到期先出建议的合格批号装托：每托只装一种物料，重量不超过设置 pallet_kg；超出的行拆到下一托。非重量单位（桶、个）的每一行单独一托。拣货后按托盘贴标签。",
            "The released lots suggested first expiring first, packed one material a pallet up to the pallet_kg setting; a line heavier than what is left goes on to the next pallet. A line in a unit that is not a weight (drums, pieces) gets a pallet of its own. Stick each pallet's label on it once picked.",
        ));
    if unweighed > 0 {
        page = page.notice(
            Tone::Warn,
            format!(
                "{} {unweighed}",
                t("不计重的托盘：", "Pallets not weighed:")
            ),
        );
    }
    if !short.is_empty() {
        page = page.notice(
            Tone::Warn,
            format!(
                "{} {}",
                t("合格库存不足：", "Short of released stock:"),
                short.join(", ")
            ),
        );
    }
    Ok(page
        .table(table)
        .labels(sheet)
        .links([(
            t("返回拣货单", "Back to the picking lists"),
            "/x/warehouse/picklist",
        )])
        .into())
}

struct Warehouse;

impl Plugin for Warehouse {
    fn info() -> Info {
        nplusx_sdk::info(
            "warehouse",
            "仓储物流",
            "Warehouse logistics",
            env!("CARGO_PKG_VERSION"),
        )
        .page("scan", "扫码作业", "Scanning", true)
        .page("map", "库位图", "Store map", true)
        .page("labels", "标签打印", "Labels", true)
        .page("picklist", "拣货单", "Picking lists", true)
        .page("bin", "库位库存", "Location stock", false)
        .page("receipt", "扫码收货", "Receive by scanning", false)
        .page("putaway", "扫码上架", "Put away by scanning", false)
        .page("pick", "扫码拣货", "Pick by scanning", false)
        .page("issue", "扫码发料", "Issue by scanning", false)
        .page("transport", "AGV 搬运任务", "AGV transport", true)
        .page("pallets", "码垛单", "Pallet plan", false)
    }

    fn start(settings: &Values) -> Result<(), String> {
        let s = Settings {
            receiving: settings.text("receiving").trim().to_string(),
            staging: settings.text("staging").trim().to_string(),
            vehicles: agv::vehicles(settings.text("agv")),
            pallet_kg: match settings.text("pallet_kg").trim() {
                "" => 1000.0,
                t => t
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0 && *x <= 5000.0)
                    .ok_or_else(|| format!("pallet_kg: {t} is not a load of 1–5,000 kg"))?,
            },
            stations: agv::stations(settings.text("stations"))
                .map_err(|e| format!("stations: {e}"))?,
        };
        SETTINGS.with(|c| *c.borrow_mut() = s);
        Ok(())
    }

    fn tick(now_ms: i64) {
        let cfg = settings();
        for v in &cfg.vehicles {
            if let Err(e) = run_vehicle(v, now_ms) {
                log::warn(&format!("{v}: {e}"));
            }
        }
    }

    fn render(page: &str, query: &Values, lang: Lang) -> Result<View, String> {
        if let Some(op) = Op::of(page) {
            return op_page(op, query, lang);
        }
        match page {
            "scan" => scan_hub(lang),
            "map" => map_page(query, lang),
            "bin" => bin_page(query, lang),
            "labels" => labels_page(query, lang),
            "picklist" => picklist_page(lang),
            "pallets" => pallets_page(query, lang),
            other => Err(format!("no page {other}")),
        }
    }

    fn action(page: &str, action: &str, fields: &Values, lang: Lang) -> Result<Outcome, String> {
        match (Op::of(page), action) {
            (Some(op), "post") => post(op, fields, lang),
            (None, "place") if page == "map" => place(fields, lang),
            (Some(Op::Transport), "cancel") => cancel_task(fields, lang),
            (Some(Op::Transport), "release") => release_vehicle(fields, lang),
            _ => Err(format!("no action {action} on {page}")),
        }
    }
}

nplusx_sdk::plugin!(Warehouse);

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(code: &str) -> Location {
        Location {
            id: 1,
            code: code.into(),
            name: String::new(),
            warehouse: "RM".into(),
            warehouse_name: "原料库".into(),
        }
    }

    #[test]
    fn unplaced_locations_fall_into_rows_below_the_placed_ones() {
        let (a, b, c) = (loc("A-01"), loc("A-02"), loc("A-03"));
        let kept = BTreeMap::from([(
            "A-02".to_string(),
            Place {
                x: 0.0,
                y: 0.0,
                w: 10.0,
                h: 5.0,
            },
        )]);
        let all = auto_places(&[&a, &b, &c], &kept);
        assert_eq!(all["A-02"], kept["A-02"], "a kept place stays");
        assert_eq!((all["A-01"].x, all["A-01"].y), (1.0, 7.0));
        assert_eq!((all["A-03"].x, all["A-03"].y), (6.0, 7.0));
    }

    fn row(lot: &str, qty: f64, quality: &str, expires: Option<&str>) -> Stock {
        Stock {
            material: "FG-1".into(),
            material_name: String::new(),
            lot: lot.into(),
            warehouse: "WH".into(),
            location: "A".into(),
            qty,
            unit: "kg".into(),
            quality: quality.into(),
            expires: expires.map(String::from),
        }
    }

    #[test]
    fn picking_takes_released_lots_first_expiring_first() {
        let rows = [
            row("L3", 50.0, "released", None),
            row("L1", 30.0, "released", Some("2027-03-01")),
            row("L2", 40.0, "held", Some("2027-01-01")),
            row("L0", 20.0, "released", Some("2027-02-01")),
        ];
        let mut taken = Promised::new();
        let (picks, short) = allocate(&rows, "FG-1", 60.0, &mut taken);
        let got: Vec<(&str, f64)> = picks.iter().map(|(s, n)| (s.lot.as_str(), *n)).collect();
        assert_eq!(got, [("L0", 20.0), ("L1", 30.0), ("L3", 10.0)]);
        assert_eq!(short, 0.0);
        // a second line gets what the first left: 40 of L3, then it is short
        let (picks, short) = allocate(&rows, "FG-1", 50.0, &mut taken);
        let got: Vec<(&str, f64)> = picks.iter().map(|(s, n)| (s.lot.as_str(), *n)).collect();
        assert_eq!(got, [("L3", 40.0)]);
        assert_eq!(short, 10.0);
        let (_, short) = allocate(&rows, "FG-1", 150.0, &mut Promised::new());
        assert_eq!(short, 50.0, "the held lot is not counted");
    }

    #[test]
    fn quantities_drop_trailing_zeros() {
        assert_eq!(qty(120.0), "120");
        assert_eq!(qty(0.125), "0.125");
        assert_eq!(qty(1.5), "1.5");
    }
}
