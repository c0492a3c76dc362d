// Browser story: an engineer places a binding on the demo reactor's process screen by drag
// and drop and saves it (a tag that does not exist is refused when placed); an operator opens the
// screen, sees live values and writes the reaction temperature set-point through the
// confirmation (old → new), read back from the device; a step too large is refused with
// the rule's reason; an on/off valve is opened the same way; the same screen and the unit's table on a phone.
// Run by tests/browser.rs with BASE and PASSWORD (the demo).
import assert from "node:assert/strict";
import { BASE, assertClean, expectError, launch, newPage, newPhone, shot, signIn } from "./lib.mjs";

const browser = await launch();

async function api(page, path) {
  return page.evaluate(async (p) => (await fetch(p)).json(), path);
}

try {
  const page = await newPage(browser);
  await signIn(page, "admin");

  // a manual on/off point for the on/off command (the simulator has none)
  await page.goto(BASE + "/automation/screens");
  const made = await page.evaluate(async () => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const r = await fetch("/api/v1/tags", {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ id: 0, name: "R101.XV101", data_type: "bool", source: { kind: "manual" },
        writable: true, equipment: "R101", area: "resin", description_zh: "R101 夹套冷却水阀" }),
    });
    return r.status;
  });
  assert.equal(made, 201);

  // ------------------------------------------------------------ the editor
  await page.goto(BASE + "/automation/screens");
  await Promise.all([page.waitForNavigation(), page.click("[data-screens] a:has-text('编辑')")]);
  assert.match(page.url(), /\/automation\/screens\/\d+\/edit$/);
  const id = page.url().match(/screens\/(\d+)\/edit/)[1];
  const before = await api(page, `/api/v1/automation/screens/${id}`);

  // an unknown tag: refused when placed, named; nothing is added
  const count = await page.locator("[data-canvas] .ov").count();
  await page.fill("[data-b-tag]", "R101.NOPE");
  await page.click("[data-b-add]");
  await page.waitForSelector("[data-editor-error]:not([hidden])");
  assert.match(await page.textContent("[data-editor-error]"), /R101\.NOPE/);
  assert.equal(await page.locator("[data-canvas] .ov").count(), count);

  // a trend of the jacket temperature, dragged to the lower right of the drawing
  await page.fill("[data-b-tag]", "R101.TT102");
  await page.selectOption("[data-b-show]", "trend");
  await page.fill("[data-b-label]", "夹套趋势");
  await page.click("[data-b-add]");
  const ov = page.locator("[data-canvas] .ov.sel");
  assert.equal(await ov.count(), 1);
  const canvas = await page.locator("[data-canvas]").boundingBox();
  const box = await ov.boundingBox();
  await page.mouse.move(box.x + 5, box.y + 5);
  await page.mouse.down();
  await page.mouse.move(canvas.x + canvas.width * 0.5, canvas.y + canvas.height * 0.6, { steps: 5 });
  await page.mouse.move(canvas.x + canvas.width * 0.7 + 5, canvas.y + canvas.height * 0.8 + 5, { steps: 5 });
  await page.mouse.up();
  // and the cooling-water valve as an on/off state, left where it lands
  await page.fill("[data-b-tag]", "R101.XV101");
  await page.selectOption("[data-b-show]", "state");
  await page.fill("[data-b-label]", "XV101");
  await page.click("[data-b-add]");
  const xv = await page.locator("[data-canvas] .ov.sel").boundingBox();
  await page.mouse.move(xv.x + 5, xv.y + 5);
  await page.mouse.down();
  await page.mouse.move(canvas.x + canvas.width * 0.88 + 5, canvas.y + canvas.height * 0.6 + 5, { steps: 5 });
  await page.mouse.up();
  await page.click("[data-save]");
  await page.waitForFunction(() => /已保存/.test(document.querySelector("[data-editor-status]").textContent));
  await shot(page, "screen-editor-zh");
  const saved = await api(page, `/api/v1/automation/screens/${id}`);
  assert.equal(saved.version, before.version + 1);
  assert.equal(saved.bindings.length, before.bindings.length + 2);
  const placed = saved.bindings.find((b) => b.tag === "R101.TT102" && b.show === "trend");
  assert.ok(placed, "the binding was saved");
  assert.ok(Math.abs(placed.x - 70) < 2 && Math.abs(placed.y - 80) < 2, `placed at ${placed.x},${placed.y}`);

  // ------------------------------------------------------------ operating from the screen
  await page.goto(BASE + `/automation/screens/${id}`);
  const tt = page.locator('[data-ov="R101.TT101"] .ov-v').first();
  await page.waitForFunction(() => {
    const v = document.querySelector('[data-ov="R101.TT101"] .ov-v');
    return v && /\d/.test(v.textContent);
  });
  assert.match(await tt.textContent(), /^\d+\.\d\d$/);
  // the unit's phase by its name, not its number
  assert.match(await page.locator('[data-ov="R101.PHASE"] .ov-v').textContent(), /^(待料|投料|升温|反应|保温|降温|出料)$/);
  // the new binding shows on the live screen too
  assert.equal(await page.locator('[data-ov="R101.TT102"].ov-trend').count(), 1);

  const sp = page.locator('[data-ov="R101.TIC101.SP"]');
  await page.waitForFunction(() => /\d/.test(document.querySelector('[data-ov="R101.TIC101.SP"] .ov-v').textContent));
  const old = parseFloat(await sp.locator(".ov-v").textContent());
  const target = old < 100 ? Math.round(old) + 3 : Math.round(old) - 3;
  await sp.click();
  const dlg = page.locator("[data-write-dialog]");
  assert.ok(await dlg.isVisible(), "the dialog opened");
  // outside the range: said before anything is sent
  await dlg.locator("input[name=value]").fill("500");
  await dlg.locator("[data-w-next]").click();
  assert.match(await dlg.locator("[data-w-input-error]").textContent(), /量程/);
  await dlg.locator("input[name=value]").fill(String(target));
  await dlg.locator("[data-w-next]").click();
  assert.match(await dlg.locator("[data-w-new]").textContent(), new RegExp(`^${target}\\.0 °C$`));
  assert.match(await dlg.locator("[data-w-old]").textContent(), /°C$/);
  await shot(page, "screen-write-confirm-zh");
  await dlg.locator("[data-w-send]").click();
  await dlg.locator("[data-w-result]").waitFor();
  await page.waitForFunction(() => document.querySelector("[data-w-result]").textContent.length > 0);
  assert.match(await dlg.locator("[data-w-result]").textContent(), new RegExp(`已写入.*${target}\\.0`));
  const cur = await api(page, "/api/v1/tags/R101.TIC101.SP");
  assert.equal(cur.current.value, target);
  await dlg.locator("[data-w-step=result] [data-w-cancel]").click();

  // a step over the rule's 20 °C: refused by the server with the reason, nothing written
  expectError(/status of 409 .*\/api\/v1\/tags\/R101\.TIC101\.SP\/write\)$/);
  await sp.click();
  const far = target < 85 ? target + 25 : target - 25;
  await dlg.locator("input[name=value]").fill(String(far));
  await dlg.locator("[data-w-next]").click();
  await dlg.locator("[data-w-send]").click();
  await page.waitForFunction(() => document.querySelector("[data-w-result]").classList.contains("err"));
  assert.match(await dlg.locator("[data-w-result]").textContent(), /步长|频繁/);
  assert.equal((await api(page, "/api/v1/tags/R101.TIC101.SP")).current.value, target);
  await dlg.locator("[data-w-step=result] [data-w-cancel]").click();

  // an on/off command: the valve opened through the same confirmation
  await page.locator('[data-ov="R101.XV101"]').click();
  await dlg.locator("input[name=onoff][value=true]").check();
  await dlg.locator("[data-w-next]").click();
  assert.match(await dlg.locator("[data-w-new]").textContent(), /^开/);
  await dlg.locator("[data-w-send]").click();
  await page.waitForFunction(() => /已写入/.test(document.querySelector("[data-w-result]").textContent));
  assert.equal((await api(page, "/api/v1/tags/R101.XV101")).current.value, true);
  await dlg.locator("[data-w-step=result] [data-w-cancel]").click();
  await page.waitForFunction(() => document.querySelector('[data-ov="R101.XV101"]').classList.contains("on"));

  // the wall screen: no menu
  await page.goto(BASE + `/automation/screens/${id}?wall=1`);
  assert.equal(await page.locator(".sidenav").count(), 0);
  await page.context().close();

  // ------------------------------------------------------------ on a phone
  const phone = await newPhone(browser);
  await signIn(phone, "admin");
  await phone.goto(BASE + `/automation/screens/${id}`);
  await phone.waitForFunction(() => /\d/.test(document.querySelector('[data-ov="R101.TT101"] .ov-v').textContent));
  const c = await phone.locator("[data-canvas]").boundingBox();
  assert.ok(c.width <= 390, `the screen fits the phone (${c.width})`);
  const o = await phone.locator('[data-ov="R101.TT101"]').first().boundingBox();
  assert.ok(o.x >= c.x && o.x + o.width <= c.x + c.width + 60, "the value sits on the drawing");
  await shot(phone, "screen-phone-zh");
  await phone.goto(BASE + "/automation/units/R101");
  await phone.waitForSelector('tr[data-tag="R101.TT101"]');
  assert.ok((await phone.locator("tr[data-tag]").count()) >= 8, "the unit's tags as a table");
  await shot(phone, "unit-table-phone-zh");
  await phone.context().close();
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
