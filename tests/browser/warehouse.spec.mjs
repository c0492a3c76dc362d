// Browser story on a phone: the store keeper receives a lot of emulsion by typing the codes
// (as a hand scanner types them), prints the lot's and a shelf's QR labels, then puts the
// lot away by scanning both labels with the phone's camera: a photo of each label goes into
// the scan field's camera input, the box's barcode reader (WebAssembly, allowed on this page
// only) decodes it into the field, and the movement is posted by the inventory module.
// Run by tests/e2e/browser.rs with BASE and PASSWORD of a fresh demo plant.
import assert from "node:assert/strict";
import { BASE, api, assertClean, launch, newPhone, shot, signIn } from "./lib.mjs";

const running = async (id) =>
  (await api("GET", "/api/v1/plugins")).json.some((p) => p.id === id && p.stats?.state === "running");

const browser = await launch();
try {
  for (let i = 0; i < 60 && !(await running("warehouse")); i++) await new Promise((r) => setTimeout(r, 500));
  assert.ok(await running("warehouse"), "the warehouse plugin runs");
  const keeper = await newPhone(browser);
  await signIn(keeper, "chen.xiaoyan");
  const submit = async (page) => {
    await Promise.all([page.waitForNavigation(), page.click("form.form-grid button[type=submit]")]);
  };

  // receipt, typed: into the receiving area the demo set
  await keeper.goto(BASE + "/x/warehouse/receipt");
  assert.equal(await keeper.inputValue("input[name=to]"), "WH-GEN/G-03");
  await keeper.fill("input[name=material]", "NX:MAT:FG-WE200");
  await keeper.fill("input[name=lot_number]", "WE-PHONE-1");
  await keeper.fill("input[name=qty]", "40");
  await submit(keeper);
  assert.match(await keeper.textContent(".flash.ok"), /已收货.*WE-PHONE-1.*WH-GEN\/G-03/);
  assertClean();

  // the labels, printed at a printer's resolution: a photo of each is what the camera sees
  const printer = await (await browser.newContext({ deviceScaleFactor: 3, locale: "zh-CN" })).newPage();
  await signIn(printer, "chen.xiaoyan");
  const photo = async (path, code) => {
    await printer.goto(BASE + path);
    const label = printer.locator("article.label", { hasText: code });
    assert.equal(await label.count(), 1, `one label says ${code}`);
    return label.locator(".label-qr svg").screenshot();
  };
  const lotPhoto = await photo("/x/warehouse/labels?kind=lots&wh=WH-GEN", "NX:LOT:FG-WE200/WE-PHONE-1");
  const shelfPhoto = await photo("/x/warehouse/labels?kind=locations&wh=WH-GEN", "NX:LOC:WH-GEN/G-01");
  assertClean();

  // put-away by scanning both labels
  await keeper.goto(BASE + "/x/warehouse/putaway");
  const scanInto = async (field, png, code) => {
    const box = keeper.locator(".scan", { has: keeper.locator(`input[name=${field}]`) });
    await box.locator("input[type=file]").setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: png });
    await keeper.waitForFunction(
      ([name, want]) => document.querySelector(`input[name=${name}]`).value === want,
      [field, code], { timeout: 20000 });
    assert.match(await box.locator("[data-scan-status]").textContent(), /已识别/);
  };
  await scanInto("lot", lotPhoto, "NX:LOT:FG-WE200/WE-PHONE-1");
  await scanInto("to", shelfPhoto, "NX:LOC:WH-GEN/G-01");
  await shot(keeper, "warehouse-phone-scanned");
  await submit(keeper);
  assert.match(await keeper.textContent(".flash.ok"), /已上架.*WE-PHONE-1.*WH-GEN\/G-03 → WH-GEN\/G-01/);
  assertClean();

  // the shelf holds the lot now; the map colours it
  await keeper.goto(BASE + "/x/warehouse/bin?wh=WH-GEN&loc=G-01");
  assert.match(await keeper.textContent("main"), /WE-PHONE-1/);
  await keeper.goto(BASE + "/x/warehouse/map?wh=WH-GEN");
  assert.equal(await keeper.locator("a[href='/x/warehouse/bin?wh=WH-GEN&loc=G-01'] g.map-area.tone-good").count(), 1);
  await shot(keeper, "warehouse-phone-map");
  assertClean();

  // a photo without a code says so and leaves the field alone
  await keeper.goto(BASE + "/x/warehouse/putaway");
  const blank = await keeper.locator("h1").screenshot();
  const lotBox = keeper.locator(".scan", { has: keeper.locator("input[name=lot]") });
  await lotBox.locator("input[type=file]").setInputFiles({ name: "blank.png", mimeType: "image/png", buffer: blank });
  await keeper.waitForFunction(() =>
    document.querySelector(".scan [data-scan-status]").textContent.includes("没有识别"), null, { timeout: 20000 });
  assert.equal(await keeper.inputValue("input[name=lot]"), "");
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
