//! Pages and JSON API of purchasing and sales: requisitions, purchase orders (approve,
//! receive by lot, invoice, pay), sales orders (approve, deliver by lot, pay), the
//! public-security sales registers and the finance hand-off (receivables, payables), with
//! CSV exports.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::model::{OrderState, PurchaseOrder, RegisterEntry, Requisition, SalesOrder};
use super::service::orders::{self as os, Balance, Matching, PoAction, PoInput, SoAction, SoInput};
use super::service::{self as svc, Posted};
use crate::auth::model::Level;
use crate::error::Error;
use crate::web::context::{Ctx, to_value};
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Either, Need};

/// Acting on an order: approvers approve, writers do the rest (checked per action).
type Acts = Either<grant::inventory::Write, grant::inventory::Approve>;

/// Every action but approval needs inventory write.
fn may(ctx: &Ctx, approving: bool) -> Result<bool, AppError> {
    if !approving && !ctx.who.can(M, Level::Write) {
        return Err(crate::web::context::forbidden(M, Level::Write));
    }
    Ok(ctx.who.can(M, Level::Approve))
}

const M: &str = "inventory";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(purchase_page)
        .service(purchase_submit)
        .service(purchase_one_page)
        .service(purchase_act_submit)
        .service(sales_page)
        .service(sales_submit)
        .service(sales_one_page)
        .service(sales_act_submit)
        .service(finance_page)
        .service(api_requisitions)
        .service(api_requisition_create)
        .service(api_requisitions_propose)
        .service(api_purchase_orders)
        .service(api_purchase_create)
        .service(api_purchase_order)
        .service(api_purchase_act)
        .service(api_sales_orders)
        .service(api_sales_create)
        .service(api_sales_order)
        .service(api_sales_act)
        .service(api_register)
        .service(api_receivables)
        .service(api_payables)
        .service(counts_page)
        .service(count_submit)
        .service(count_page)
        .service(count_act_submit)
        .service(analysis_page)
        .service(api_counts)
        .service(api_count_create)
        .service(api_count)
        .service(api_count_act)
        .service(api_analysis);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api_requisitions,
    api_requisition_create,
    api_requisitions_propose,
    api_purchase_orders,
    api_purchase_create,
    api_purchase_order,
    api_purchase_act,
    api_sales_orders,
    api_sales_create,
    api_sales_order,
    api_sales_act,
    api_register,
    api_receivables,
    api_payables,
    api_counts,
    api_count_create,
    api_count,
    api_count_act,
    api_analysis
))]
pub struct Doc;

/// A table as a download: CSV (UTF-8 with BOM, for Excel) or an Excel workbook.
fn file_response(
    name: &str,
    format: Option<&str>,
    header: &[&str],
    rows: Vec<Vec<String>>,
) -> Result<HttpResponse, AppError> {
    let format = crate::web::export::Format::parse(format);
    let t = crate::web::export::Table {
        head: header.iter().map(|h| h.to_string()).collect(),
        rows,
        // codes, ID numbers and amounts stay text as written
        numeric_from: usize::MAX,
    };
    Ok(crate::web::export::attachment(
        name,
        format,
        t.bytes(format)?,
    ))
}

/// Whether a query asks for a file (`csv` or `xlsx`) rather than JSON.
fn wants_file(format: Option<&str>) -> bool {
    matches!(format, Some("csv") | Some("xlsx"))
}

// ------------------------------------------------------------------ API: requisitions

/// Purchase requisitions.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Requisitions", body = Vec<Requisition>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/requisitions")]
async fn api_requisitions(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(os::requisitions(&ctx.app.store.read()?)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ReqInput {
    material: u64,
    qty: f64,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    reason: String,
}

/// Asks for a material to be bought.
#[utoipa::path(tag = "inventory", request_body = ReqInput, responses(
    (status = 201, description = "Created", body = Requisition), (status = 422, description = "A field breaks a rule")),
    security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/requisitions")]
async fn api_requisition_create(
    ctx: Need<grant::inventory::Write>,
    body: web::Json<ReqInput>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let x = ctx
        .write(move |app, actor| {
            os::requisition(
                &app.store,
                actor,
                b.material,
                b.qty,
                &b.unit,
                &b.reason,
                crate::util::now_ms(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(x))
}

/// Proposes requisitions for materials whose stock, with what is on order and the planned
/// use over a 14-day lead time, is at or below the reorder point.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "The new proposals", body = Vec<Requisition>)), security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/requisitions/propose")]
async fn api_requisitions_propose(
    ctx: Need<grant::inventory::Write>,
) -> Result<HttpResponse, AppError> {
    let v = ctx
        .write(|app, _| os::propose_requisitions(&app.store, 14.0, crate::util::now_ms()))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

// ------------------------------------------------------------------ API: purchase orders

#[derive(Serialize, utoipa::ToSchema)]
struct PoAnswer {
    #[serde(flatten)]
    order: PurchaseOrder,
    matching: Vec<Matching>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PoActed {
    order: PurchaseOrder,
    movements: Vec<Posted>,
}

/// Purchase orders, newest first.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Orders", body = Vec<PurchaseOrder>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/purchase-orders")]
async fn api_purchase_orders(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let mut v = os::purchase_orders(&ctx.app.store.read()?)?;
    v.reverse();
    Ok(HttpResponse::Ok().json(v))
}

/// Places a purchase order (prices in CNY per base unit). Over the approval limit, or with
/// a price far from the last ones, it waits for approval (`state: pending`, `needs`).
#[utoipa::path(tag = "inventory", request_body = PoInput, responses(
    (status = 201, description = "Placed", body = PurchaseOrder), (status = 422, description = "A rule refused it")),
    security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/purchase-orders")]
async fn api_purchase_create(
    ctx: Need<grant::inventory::Write>,
    body: web::Json<PoInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let po = ctx
        .write(move |app, actor| os::create_po(&app.store, actor, input, super::posting(app)))
        .await?;
    Ok(HttpResponse::Created().json(po))
}

/// A purchase order with its matching summary (ordered / received / invoiced).
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Order id")), responses(
    (status = 200, description = "The order", body = PoAnswer), (status = 404, description = "No such order")),
    security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/purchase-orders/{id}")]
async fn api_purchase_order(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let order = os::purchase_order(&ctx.app.store.read()?, *id)?;
    Ok(HttpResponse::Ok().json(PoAnswer {
        matching: os::matching(&order),
        order,
    }))
}

/// Acts on a purchase order: `{"action": "approve"}` (inventory approve, not the one who
/// placed it), `cancel`, `receive` (`lines`: line, qty, lot_number, supplier_lot, expires,
/// to), `invoice` (line, qty, amount), `pay` (amount).
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Order id")), request_body = PoAction, responses(
    (status = 200, description = "Done", body = PoActed),
    (status = 403, description = "Approval needs inventory approve"),
    (status = 409, description = "Not in a state for this action, or approving one's own order"),
    (status = 422, description = "A rule refused it")), security(("bearer" = ["inventory:write", "inventory:approve"])))]
#[post("/api/v1/inventory/purchase-orders/{id}/actions")]
async fn api_purchase_act(
    ctx: Need<Acts>,
    id: web::Path<u64>,
    body: web::Json<PoAction>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = (id.into_inner(), body.into_inner());
    let can = may(&ctx, matches!(action, PoAction::Approve))?;
    let (order, movements) = ctx
        .write(move |app, actor| po_act(app, actor, id, action, can))
        .await?;
    Ok(HttpResponse::Ok().json(PoActed { order, movements }))
}

/// Runs an order action and announces the movements it posted.
fn announced<T>(
    app: &crate::app::App,
    r: crate::error::Result<(T, Vec<Posted>)>,
) -> crate::error::Result<(T, Vec<Posted>)> {
    let r = r?;
    for p in &r.1 {
        super::announce(app, &p.movement);
    }
    Ok(r)
}

fn po_act(
    app: &crate::app::App,
    actor: &crate::store::Actor,
    id: u64,
    action: PoAction,
    can: bool,
) -> crate::error::Result<(PurchaseOrder, Vec<Posted>)> {
    announced(
        app,
        os::po_act(&app.store, actor, id, action, can, super::posting(app)),
    )
}

fn so_act(
    app: &crate::app::App,
    actor: &crate::store::Actor,
    id: u64,
    action: SoAction,
    can: bool,
) -> crate::error::Result<(SalesOrder, Vec<Posted>)> {
    announced(
        app,
        os::so_act(&app.store, actor, id, action, can, super::posting(app)),
    )
}

// ------------------------------------------------------------------ API: sales orders

#[derive(Serialize, utoipa::ToSchema)]
struct SoActed {
    order: SalesOrder,
    movements: Vec<Posted>,
}

/// Sales orders, newest first.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Orders", body = Vec<SalesOrder>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/sales-orders")]
async fn api_sales_orders(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let mut v = os::sales_orders(&ctx.app.store.read()?)?;
    v.reverse();
    Ok(HttpResponse::Ok().json(v))
}

/// Takes a sales order (standard, sample, consignment, return, transfer). A buyer without
/// a valid licence for hazardous, 剧毒, 易制爆 or 易制毒 goods is refused; registered goods
/// need the handler's name and ID number and the end use. Below the floor price, or over
/// the credit limit (open orders + unpaid deliveries + this order), it waits for approval,
/// or is refused when the customer's policy is `block`.
#[utoipa::path(tag = "inventory", request_body = SoInput, responses(
    (status = 201, description = "Taken", body = SalesOrder), (status = 422, description = "A rule refused it")),
    security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/sales-orders")]
async fn api_sales_create(
    ctx: Need<grant::inventory::Write>,
    body: web::Json<SoInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let so = ctx
        .write(move |app, actor| os::create_so(&app.store, actor, input, super::posting(app)))
        .await?;
    Ok(HttpResponse::Created().json(so))
}

/// A sales order.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Order id")), responses(
    (status = 200, description = "The order", body = SalesOrder), (status = 404, description = "No such order")),
    security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/sales-orders/{id}")]
async fn api_sales_order(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(os::sales_order(&ctx.app.store.read()?, *id)?))
}

/// Acts on a sales order: `approve` (inventory approve, not the one who took it),
/// `cancel`, `deliver` (`lines`: line, qty, optional `picks` of lot, location, qty; without
/// picks the lots are proposed FEFO or FIFO), `pay` (amount).
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Order id")), request_body = SoAction, responses(
    (status = 200, description = "Done", body = SoActed),
    (status = 403, description = "Approval needs inventory approve"),
    (status = 409, description = "Not in a state for this action"),
    (status = 422, description = "A rule refused it")), security(("bearer" = ["inventory:write", "inventory:approve"])))]
#[post("/api/v1/inventory/sales-orders/{id}/actions")]
async fn api_sales_act(
    ctx: Need<Acts>,
    id: web::Path<u64>,
    body: web::Json<SoAction>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = (id.into_inner(), body.into_inner());
    let can = may(&ctx, matches!(action, SoAction::Approve))?;
    let (order, movements) = ctx
        .write(move |app, actor| so_act(app, actor, id, action, can))
        .await?;
    Ok(HttpResponse::Ok().json(SoActed { order, movements }))
}

// ------------------------------------------------------------------ API: registers, finance

#[derive(Deserialize, utoipa::IntoParams)]
struct RegisterQuery {
    /// From (`YYYY-MM-DD`, plant time); default a year ago.
    from: Option<String>,
    /// To (inclusive); default today.
    to: Option<String>,
    /// `csv` or `xlsx` for the file filed with the police; default JSON.
    format: Option<String>,
}

const REGISTER_COLUMNS: [&str; 15] = [
    "日期时间 / time",
    "销售单 / sales order",
    "购买单位 / buyer",
    "统一社会信用代码 / credit code",
    "地址 / address",
    "经办人 / handler",
    "经办人身份证号 / handler ID",
    "品名 / item",
    "CAS",
    "数量 / quantity",
    "单位 / unit",
    "批号 / lot",
    "用途 / use",
    "许可证 / licences",
    "出库人 / by",
];

/// A sales register: `toxic` (剧毒, kept ≥ 1 year), `explosive` (易制爆) or `precursor`
/// (易制毒, kept 2 years): buyer, address, handler and ID number, item, quantity, use.
/// `format=csv` gives the file for filing with the county public-security bureau.
#[utoipa::path(tag = "inventory", params(("which" = String, Path, description = "toxic, explosive or precursor"), RegisterQuery), responses(
    (status = 200, description = "The register", body = Vec<RegisterEntry>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/registers/{which}")]
async fn api_register(
    ctx: Need<grant::inventory::Read>,
    which: web::Path<String>,
    q: web::Query<RegisterQuery>,
) -> Result<HttpResponse, AppError> {
    let which = which.into_inner();
    if !["toxic", "explosive", "precursor"].contains(&which.as_str()) {
        return Err(Error::not_found("inventory.err.register").into());
    }
    let off = ctx.app.offset;
    let today = crate::plant_time::today(off);
    let day = |field: &'static str, s: Option<&str>, default: time::Date| match s
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => crate::plant_time::parse_day(s)
            .ok_or_else(|| Error::invalid(field, "inventory.err.day")),
        None => Ok(default),
    };
    let from = day("from", q.from.as_deref(), today - time::Duration::days(365))?;
    let to = day("to", q.to.as_deref(), today)?;
    let rows = os::register(
        &ctx.app.store.read()?,
        &which,
        crate::plant_time::day_start(from, off),
        crate::plant_time::day_start(to + time::Duration::days(1), off),
    )?;
    if wants_file(q.format.as_deref()) {
        let rows = rows
            .into_iter()
            .map(|e| {
                vec![
                    crate::plant_time::format_minute(e.ts_ms, off),
                    format!("SO-{}", e.sales_order),
                    e.buyer,
                    e.buyer_credit_code,
                    e.address,
                    e.handler,
                    e.handler_id,
                    e.material_name,
                    e.cas,
                    e.qty.to_string(),
                    e.unit,
                    e.lot,
                    e.end_use,
                    e.licences,
                    e.by,
                ]
            })
            .collect();
        return file_response(
            &format!("register-{which}"),
            q.format.as_deref(),
            &REGISTER_COLUMNS,
            rows,
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct FormatQuery {
    /// `csv` or `xlsx` for the accounting system's import; default JSON.
    format: Option<String>,
}

const FINANCE_COLUMNS: [&str; 8] = [
    "code",
    "name",
    "credit_code",
    "amount",
    "paid",
    "open",
    "overdue",
    "orders",
];

fn finance_file(
    name: &str,
    format: Option<&str>,
    v: Vec<Balance>,
) -> Result<HttpResponse, AppError> {
    let rows = v
        .into_iter()
        .map(|b| {
            vec![
                b.code,
                b.name,
                b.credit_code,
                format!("{:.2}", b.amount),
                format!("{:.2}", b.paid),
                format!("{:.2}", b.open),
                format!("{:.2}", b.overdue),
                b.orders.to_string(),
            ]
        })
        .collect();
    file_response(name, format, &FINANCE_COLUMNS, rows)
}

/// Receivables per customer (delivered value, paid, open, past the payment terms). With
/// `format=csv`: columns code, name, credit_code, amount, paid, open, overdue, orders (CNY,
/// two decimals, UTF-8 with BOM) for the accounting system.
#[utoipa::path(tag = "inventory", params(FormatQuery), responses((status = 200, description = "Receivables", body = Vec<Balance>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/finance/receivables")]
async fn api_receivables(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    let v = os::receivables(&ctx.app.store.read()?, crate::util::now_ms())?;
    if wants_file(q.format.as_deref()) {
        return finance_file("receivables", q.format.as_deref(), v);
    }
    Ok(HttpResponse::Ok().json(v))
}

/// Payables per supplier (received value, paid, open); `format=csv` as for receivables.
#[utoipa::path(tag = "inventory", params(FormatQuery), responses((status = 200, description = "Payables", body = Vec<Balance>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/finance/payables")]
async fn api_payables(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    let v = os::payables(&ctx.app.store.read()?)?;
    if wants_file(q.format.as_deref()) {
        return finance_file("payables", q.format.as_deref(), v);
    }
    Ok(HttpResponse::Ok().json(v))
}

// ------------------------------------------------------------------ pages

/// Names for order pages.
fn names(ctx: &Ctx) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let mats = svc::materials(&r)?;
    let partners = svc::partners(&r)?;
    let mut locs: Vec<serde_json::Value> = Vec::new();
    let whs = svc::warehouses(&r)?;
    for l in svc::locations(&r)? {
        let wh = whs
            .iter()
            .find(|w| w.id == l.warehouse)
            .map_or("?", |w| w.code.as_str());
        locs.push(serde_json::json!({"id": l.id, "label": format!("{wh}/{}", l.code)}));
    }
    Ok(context! {
        materials => to_value(&mats),
        partners => to_value(&partners),
        locations => to_value(&locs),
        can_write => ctx.who.can(M, Level::Write),
        can_approve => ctx.who.can(M, Level::Approve),
    })
}

fn purchase_data(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let mut orders = os::purchase_orders(&r)?;
    orders.reverse();
    let reqs: Vec<Requisition> = os::requisitions(&r)?
        .into_iter()
        .filter(|q| q.state == super::model::ReqState::Open)
        .collect();
    Ok(context! {
        orders => to_value(&orders),
        requisitions => to_value(&reqs),
        values => to_value(&values),
        ..names(ctx)?
    })
}

#[get("/inventory/purchase-orders")]
async fn purchase_page(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let c = purchase_data(&ctx, serde_json::json!({}))?;
    ctx.page("inventory/purchase_orders.html", c)
}

/// Order lines from a form: `material_N`, `qty_N`, `unit_N`, `price_N` for N = 0..5.
fn form_lines(f: &FormData) -> Result<Vec<os::LineInput>, Error> {
    let mut v = Vec::new();
    for i in 0..5 {
        let Some(material) = f.get(&format!("material_{i}")).trim().parse::<u64>().ok() else {
            continue;
        };
        let qty = f.get(&format!("qty_{i}")).trim();
        if qty.is_empty() {
            continue;
        }
        v.push(os::LineInput {
            material,
            qty: qty
                .parse()
                .map_err(|_| Error::invalid("qty", "common.err.number"))?,
            unit: f.get(&format!("unit_{i}")).to_string(),
            price: match f.get(&format!("price_{i}")).trim() {
                "" => None,
                p => Some(
                    p.parse()
                        .map_err(|_| Error::invalid("price", "common.err.number"))?,
                ),
            },
        });
    }
    Ok(v)
}

#[post("/inventory/purchase-orders")]
async fn purchase_submit(
    ctx: Need<grant::inventory::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let input = PoInput {
            supplier: f
                .opt("supplier")?
                .ok_or_else(|| Error::invalid("supplier", "inventory.err.partner_not_found"))?,
            lines: form_lines(&f)?,
            requisitions: f
                .all("requisitions")
                .iter()
                .filter_map(|x| x.parse().ok())
                .collect(),
            note: f.get("note").into(),
        };
        ctx.write(move |app, actor| os::create_po(&app.store, actor, input, super::posting(app)))
            .await
            .map(|po| format!("/inventory/purchase-orders/{}", po.id))
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/purchase_orders.html", || {
        purchase_data(&ctx, f.echo())
    })
}

fn purchase_one_data(
    ctx: &Ctx,
    id: u64,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let po = os::purchase_order(&r, id)?;
    let supplier = svc::partner(&r, po.supplier)?;
    let matching = os::matching(&po);
    Ok(context! {
        order => to_value(&po),
        supplier => to_value(&supplier),
        matching => to_value(&matching),
        receivable => po.state == OrderState::Approved,
        values => to_value(&values),
        ..names(ctx)?
    })
}

#[get("/inventory/purchase-orders/{id}")]
async fn purchase_one_page(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let c = purchase_one_data(&ctx, *id, serde_json::json!({}))?;
    ctx.page("inventory/purchase_order.html", c)
}

/// The order page's buttons and its receive form (one line at a time).
fn po_form_action(f: &FormData) -> Result<PoAction, Error> {
    Ok(match f.get("action") {
        "approve" => PoAction::Approve,
        "cancel" => PoAction::Cancel,
        "receive" => PoAction::Receive {
            lines: vec![os::ReceiveLine {
                line: f.opt("line")?.unwrap_or(0),
                qty: f
                    .opt("qty")?
                    .ok_or_else(|| Error::invalid("qty", "inventory.err.qty"))?,
                unit: f.get("unit").into(),
                lot_number: f.get("lot_number").into(),
                supplier_lot: f.get("supplier_lot").into(),
                expires: Some(f.get("expires").to_string()).filter(|s| !s.trim().is_empty()),
                to: f
                    .opt("to")?
                    .ok_or_else(|| Error::invalid("to", "inventory.err.location_required"))?,
            }],
        },
        "invoice" => PoAction::Invoice {
            line: f.opt("line")?.unwrap_or(0),
            qty: f.opt("qty")?.unwrap_or(0.0),
            amount: f.opt("amount")?.unwrap_or(0.0),
        },
        "pay" => PoAction::Pay {
            amount: f.opt("amount")?.unwrap_or(0.0),
        },
        _ => return Err(Error::invalid("action", "inventory.err.action")),
    })
}

#[post("/inventory/purchase-orders/{id}/actions")]
async fn purchase_act_submit(
    ctx: Need<Acts>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let can = may(&ctx, f.get("action") == "approve")?;
    let r = async {
        let action = po_form_action(&f)?;
        ctx.write(move |app, actor| po_act(app, actor, id, action, can))
            .await
            .map(|_| format!("/inventory/purchase-orders/{id}"))
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/purchase_order.html", || {
        purchase_one_data(&ctx, id, f.echo())
    })
}

fn sales_data(ctx: &Ctx, values: serde_json::Value) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let mut orders = os::sales_orders(&r)?;
    orders.reverse();
    Ok(context! {
        orders => to_value(&orders),
        kinds => ["standard", "sample", "consignment", "return", "transfer"],
        values => to_value(&values),
        ..names(ctx)?
    })
}

#[get("/inventory/sales-orders")]
async fn sales_page(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let c = sales_data(&ctx, serde_json::json!({"kind": "standard"}))?;
    ctx.page("inventory/sales_orders.html", c)
}

#[post("/inventory/sales-orders")]
async fn sales_submit(
    ctx: Need<grant::inventory::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let kind = serde_json::from_value(serde_json::Value::String(f.get("kind").into()))
            .map_err(|_| Error::invalid("kind", "inventory.err.kind"))?;
        let input = SoInput {
            customer: f
                .opt("customer")?
                .ok_or_else(|| Error::invalid("customer", "inventory.err.partner_not_found"))?,
            kind,
            lines: form_lines(&f)?,
            end_use: f.get("end_use").into(),
            handler: super::model::Handler {
                name: f.get("handler").into(),
                id_number: f.get("handler_id").into(),
            },
            ship_to: f.get("ship_to").into(),
            strategy: serde_json::from_value(serde_json::Value::String(f.get("strategy").into()))
                .ok(),
        };
        ctx.write(move |app, actor| os::create_so(&app.store, actor, input, super::posting(app)))
            .await
            .map(|so| format!("/inventory/sales-orders/{}", so.id))
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/sales_orders.html", || {
        sales_data(&ctx, f.echo())
    })
}

fn sales_one_data(
    ctx: &Ctx,
    id: u64,
    values: serde_json::Value,
) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let so = os::sales_order(&r, id)?;
    let customer = svc::partner(&r, so.customer)?;
    let (open, unpaid) = os::credit_in_use(&r, so.customer, None)?;
    let consignment_store = svc::warehouses(&r)?
        .into_iter()
        .find(|w| w.consignee == Some(so.customer));
    Ok(context! {
        consignment_store => to_value(&consignment_store),
        order => to_value(&so),
        customer => to_value(&customer),
        credit_open => open,
        credit_unpaid => unpaid,
        deliverable => so.state == OrderState::Approved
            && so.lines.iter().any(|l| l.delivered + 1e-9 < l.qty),
        consumable => so.state == OrderState::Approved
            && so.lines.iter().any(|l| l.consumed + 1e-9 < l.delivered),
        // who placed it does not approve it (the service refuses; the page does not offer)
        own_order => so.created_by == ctx.actor().label(),
        values => to_value(&values),
        ..names(ctx)?
    })
}

#[get("/inventory/sales-orders/{id}")]
async fn sales_one_page(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let c = sales_one_data(&ctx, *id, serde_json::json!({}))?;
    ctx.page("inventory/sales_order.html", c)
}

#[post("/inventory/sales-orders/{id}/actions")]
async fn sales_act_submit(
    ctx: Need<Acts>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let can = may(&ctx, f.get("action") == "approve")?;
    let r = async {
        let action = match f.get("action") {
            "approve" => SoAction::Approve,
            "cancel" => SoAction::Cancel,
            "deliver" => SoAction::Deliver {
                lines: vec![os::DeliverLine {
                    line: f.opt("line")?.unwrap_or(0),
                    qty: f
                        .opt("qty")?
                        .ok_or_else(|| Error::invalid("qty", "inventory.err.qty"))?,
                    picks: None,
                    to: f.opt("to")?,
                    lot: None,
                }],
            },
            "consume" => SoAction::Consume {
                lines: vec![os::ConsumeLine {
                    line: f.opt("line")?.unwrap_or(0),
                    qty: f
                        .opt("qty")?
                        .ok_or_else(|| Error::invalid("qty", "inventory.err.qty"))?,
                }],
            },
            "pay" => SoAction::Pay {
                amount: f.opt("amount")?.unwrap_or(0.0),
            },
            _ => return Err(Error::invalid("action", "inventory.err.action").into()),
        };
        ctx.write(move |app, actor| so_act(app, actor, id, action, can))
            .await
            .map(|_| format!("/inventory/sales-orders/{id}"))
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/sales_order.html", || {
        sales_one_data(&ctx, id, f.echo())
    })
}

#[get("/inventory/finance")]
async fn finance_page(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    let rec = os::receivables(&r, crate::util::now_ms())?;
    let pay = os::payables(&r)?;
    drop(r);
    ctx.page(
        "inventory/finance.html",
        context! { receivables => to_value(&rec), payables => to_value(&pay) },
    )
}

// ------------------------------------------------------------------ counts and analysis

use super::service::counts::{self as cs, CountAction, StockCount};

/// Stock counts, newest first.
#[utoipa::path(tag = "inventory", responses((status = 200, description = "Counts", body = Vec<StockCount>)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/counts")]
async fn api_counts(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let mut v = cs::counts(&ctx.app.store.read()?)?;
    v.reverse();
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CountInput {
    warehouse: u64,
    /// One location only; default the whole warehouse.
    #[serde(default)]
    location: Option<u64>,
}

/// Opens a stock count of a warehouse (or one location) with today's book quantities.
#[utoipa::path(tag = "inventory", request_body = CountInput, responses(
    (status = 201, description = "Opened", body = StockCount), (status = 422, description = "No such warehouse or location")),
    security(("bearer" = ["inventory:write"])))]
#[post("/api/v1/inventory/counts")]
async fn api_count_create(
    ctx: Need<grant::inventory::Write>,
    body: web::Json<CountInput>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let c = ctx
        .write(move |app, actor| {
            cs::open_count(
                &app.store,
                actor,
                b.warehouse,
                b.location,
                crate::util::now_ms(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(c))
}

/// A stock count.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Count id")), responses(
    (status = 200, description = "The count", body = StockCount), (status = 404, description = "No such count")),
    security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/counts/{id}")]
async fn api_count(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(cs::count(&ctx.app.store.read()?, *id)?))
}

/// Acts on a count: `record` (`lines`: line, counted), `approve` (inventory approve, not the
/// one who opened it: the variances post as `count` movements), `cancel`.
#[utoipa::path(tag = "inventory", params(("id" = u64, Path, description = "Count id")), request_body = CountAction, responses(
    (status = 200, description = "Done", body = StockCount),
    (status = 409, description = "Closed, or approving one's own count"),
    (status = 422, description = "A rule refused it")), security(("bearer" = ["inventory:write", "inventory:approve"])))]
#[post("/api/v1/inventory/counts/{id}/actions")]
async fn api_count_act(
    ctx: Need<Acts>,
    id: web::Path<u64>,
    body: web::Json<CountAction>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = (id.into_inner(), body.into_inner());
    let can = may(&ctx, matches!(action, CountAction::Approve))?;
    Ok(HttpResponse::Ok().json(
        ctx.write(move |app, actor| {
            cs::count_act(&app.store, actor, id, action, can, super::posting(app))
        })
        .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct AnalysisQuery {
    /// The period in days before now (default 365, 7–1,095).
    days: Option<i64>,
}

/// Stock value, turnover, days of cover, ageing by receipt and ABC by consumption value.
#[utoipa::path(tag = "inventory", params(AnalysisQuery), responses((status = 200, description = "The analysis", body = cs::Analysis)), security(("bearer" = ["inventory:read"])))]
#[get("/api/v1/inventory/analysis")]
async fn api_analysis(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<AnalysisQuery>,
) -> Result<HttpResponse, AppError> {
    let days = q.days.unwrap_or(365).clamp(7, 1095);
    Ok(HttpResponse::Ok().json(cs::analysis(
        &ctx.app.store.read()?,
        crate::util::now_ms(),
        days,
    )?))
}

fn counts_data(ctx: &Ctx) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let mut list = cs::counts(&r)?;
    list.reverse();
    Ok(context! {
        counts => to_value(&list),
        warehouses => to_value(&svc::warehouses(&r)?),
        ..names(ctx)?
    })
}

#[get("/inventory/counts")]
async fn counts_page(ctx: Need<grant::inventory::Read>) -> Result<HttpResponse, AppError> {
    let c = counts_data(&ctx)?;
    ctx.page("inventory/counts.html", c)
}

#[post("/inventory/counts")]
async fn count_submit(
    ctx: Need<grant::inventory::Write>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let r = async {
        let wh: u64 = f
            .opt("warehouse")?
            .ok_or_else(|| Error::invalid("warehouse", "inventory.err.warehouse_not_found"))?;
        let loc: Option<u64> = f.opt("location")?;
        ctx.write(move |app, actor| {
            cs::open_count(&app.store, actor, wh, loc, crate::util::now_ms())
        })
        .await
        .map(|c| format!("/inventory/counts/{}", c.id))
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/counts.html", || {
        counts_data(&ctx)
    })
}

fn count_data(ctx: &Ctx, id: u64) -> Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let c = cs::count(&r, id)?;
    let lots: Vec<String> = c
        .lines
        .iter()
        .map(|l| svc::lot(&r, l.lot).map(|x| x.number).unwrap_or_default())
        .collect();
    let variances: Vec<Option<f64>> = c.lines.iter().map(cs::variance).collect();
    Ok(context! {
        count => to_value(&c),
        lots => lots,
        variances => variances,
        ..names(ctx)?
    })
}

#[get("/inventory/counts/{id}")]
async fn count_page(
    ctx: Need<grant::inventory::Read>,
    id: web::Path<u64>,
) -> Result<HttpResponse, AppError> {
    let c = count_data(&ctx, *id)?;
    ctx.page("inventory/count.html", c)
}

/// The count page: `counted_N` inputs saved with `action=record`, or `action=approve`.
#[post("/inventory/counts/{id}/actions")]
async fn count_act_submit(
    ctx: Need<Acts>,
    id: web::Path<u64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let f = FormData::from(form);
    let id = id.into_inner();
    let can = may(&ctx, f.get("action") == "approve")?;
    let r = async {
        let action = match f.get("action") {
            "approve" => CountAction::Approve,
            "cancel" => CountAction::Cancel,
            _ => {
                let mut lines = Vec::new();
                for (k, v) in &f.0 {
                    if let Some(i) = k.strip_prefix("counted_")
                        && !v.trim().is_empty()
                    {
                        lines.push(cs::Counted {
                            line: i
                                .parse()
                                .map_err(|_| Error::invalid("line", "inventory.err.line"))?,
                            counted: v
                                .trim()
                                .parse()
                                .map_err(|_| Error::invalid("counted", "common.err.number"))?,
                        });
                    }
                }
                CountAction::Record { lines }
            }
        };
        ctx.write(move |app, actor| {
            cs::count_act(&app.store, actor, id, action, can, super::posting(app))
        })
        .await
        .map(|_| format!("/inventory/counts/{id}"))
    }
    .await;
    ctx.done(r, "flash.saved", "inventory/count.html", || {
        count_data(&ctx, id)
    })
}

#[get("/inventory/analysis")]
async fn analysis_page(
    ctx: Need<grant::inventory::Read>,
    q: web::Query<AnalysisQuery>,
) -> Result<HttpResponse, AppError> {
    let days = q.days.unwrap_or(365).clamp(7, 1095);
    let a = cs::analysis(&ctx.app.store.read()?, crate::util::now_ms(), days)?;
    ctx.page(
        "inventory/analysis.html",
        context! { a => to_value(&a), days => days, buckets => super::rules::AGE_BUCKETS },
    )
}
