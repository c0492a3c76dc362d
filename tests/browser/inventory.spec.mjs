// Browser story on a phone: the warehouse keeper places a purchase order for toluene, the
// manager approves it (it is over the approval limit), the keeper receives it by lot into
// the hazardous-chemical store (a first try into the general store is refused: toluene is a
// hazardous chemical), then issues part of the lot to production and finds it in the ledger.
// Run by tests/e2e/browser.rs with BASE and PASSWORD of a fresh demo plant.
import assert from "node:assert/strict";
import { BASE, assertClean, launch, newPhone, shot, signIn } from "./lib.mjs";

const browser = await launch();
try {
  const as = async (user) => {
    const page = await newPhone(browser);
    await signIn(page, user);
    return page;
  };
  const submit = async (page, form) => {
    await Promise.all([page.waitForNavigation(), page.click(`${form} button[type=submit]`)]);
  };

  // the keeper places the order
  const keeper = await as("chen.xiaoyan");
  await keeper.goto(BASE + "/inventory/purchase-orders");
  await keeper.selectOption("#po-form select[name=supplier]", { label: "S-001 浙江恒源化工贸易有限公司" });
  await keeper.selectOption("#po-form select[name=material_0]", { label: "RM-TOL 甲苯 (kg)" });
  await keeper.fill("#po-form input[name=qty_0]", "50");
  await keeper.fill("#po-form input[name=unit_0]", "桶");
  await keeper.fill("#po-form input[name=price_0]", "6.8");
  await shot(keeper, "inventory-phone-po");
  await submit(keeper, "#po-form");
  assert.match(keeper.url(), /\/inventory\/purchase-orders\/\d+$/);
  const orderUrl = keeper.url();
  assert.match(await keeper.textContent("h1"), /PO-\d+\s+待审批/);
  assertClean();

  // the manager approves it
  const manager = await as("zhang.jianguo");
  await manager.goto(orderUrl);
  await submit(manager, "form.act-approve");
  assert.match(await manager.textContent("h1"), /已审批/);
  assertClean();

  // the keeper receives it by lot: not into the general store
  await keeper.goto(orderUrl);
  await keeper.fill("#receive-form input[name=qty]", "50");
  await keeper.fill("#receive-form input[name=unit]", "桶");
  await keeper.fill("#receive-form input[name=lot_number]", "TOL-PHONE-1");
  await keeper.fill("#receive-form input[name=supplier_lot]", "HY261203");
  await keeper.selectOption("#receive-form select[name=to]", { label: "WH-GEN/G-01" });
  await submit(keeper, "#receive-form");
  assert.match(await keeper.textContent(".flash.err"), /危险化学品专用仓库/);
  assert.equal(await keeper.inputValue("#receive-form input[name=lot_number]"), "TOL-PHONE-1");
  await keeper.selectOption("#receive-form select[name=to]", { label: "WH-HAZ/A-01" });
  await submit(keeper, "#receive-form");
  assert.match(await keeper.textContent("h1"), /已完成/);
  assert.match(await keeper.textContent("#matching"), /8500/);
  await shot(keeper, "inventory-phone-received");
  assertClean();

  // the lot is in stock; issue part of it to production
  await keeper.goto(BASE + "/inventory/movements");
  await keeper.selectOption("#move-form select[name=kind]", "issue");
  await keeper.selectOption("#move-form select[name=material]", { label: "RM-TOL 甲苯 (kg)" });
  await keeper.fill("#move-form input[name=lot]", "TOL-PHONE-1");
  await keeper.fill("#move-form input[name=qty]", "1200");
  await keeper.selectOption("#move-form select[name=from]", { label: "WH-HAZ/A-01" });
  await keeper.fill("#move-form input[name=reference]", "B-PHONE");
  await submit(keeper, "#move-form");
  assert.match(keeper.url(), /\/inventory\/movements\?material=\d+$/);
  const ledger = await keeper.textContent("#ledger");
  assert.match(ledger, /TOL-PHONE-1/);
  assert.match(ledger, /B-PHONE/);
  assert.match(ledger, /领用出库/);
  await shot(keeper, "inventory-phone-issued");
  assertClean();

  // the lot's page shows what is left
  await keeper.click("#ledger >> text=TOL-PHONE-1 >> nth=0");
  await keeper.waitForURL(/\/inventory\/lots\/\d+$/);
  assert.match(await keeper.textContent("main"), /7300/);
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
