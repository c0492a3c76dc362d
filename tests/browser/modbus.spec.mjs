// Browser story: an engineer connects a Modbus TCP PLC, maps a setpoint to a tag and
// writes it; a value outside the range is refused with a message.
// Run by tests/browser.rs with BASE, PASSWORD, PLC_PORT (a test PLC with 60.0 at HR100).
import assert from "node:assert/strict";
import { BASE, assertClean, launch, newPage, shot, signIn } from "./lib.mjs";

const PLC_PORT = process.env.PLC_PORT;

const browser = await launch();

try {
  const page = await newPage(browser);
  await signIn(page, "admin");

  // add the device: only the chosen driver's fields show
  await page.goto(BASE + "/integration/devices");
  await Promise.all([page.waitForNavigation(), page.click("text=添加设备")]);
  await page.fill("input[name=name]", "R201 PLC");
  await page.selectOption("select[name=driver]", "modbus_tcp");
  assert.equal(await page.isVisible("input[name=host]"), true);
  assert.equal(await page.isVisible("input[name=path]"), false, "RTU fields hidden for TCP");
  await page.fill("input[name=host]", "127.0.0.1");
  await page.fill("input[name=port]", PLC_PORT);
  await page.fill("input[name=groups]", "default=500");
  await shot(page, "device-form-zh");
  await Promise.all([page.waitForNavigation(), page.click("form.form-grid button[type=submit]")]);
  assert.match(page.url(), /\/integration\/devices\/\d+$/);
  for (let i = 0; i < 20 && !(await page.textContent(".kpis")).includes("已连接"); i++) {
    await page.waitForTimeout(500);
    await page.reload();
  }
  assert.match(await page.textContent(".kpis"), /已连接/);

  // map the setpoint
  await page.goto(BASE + "/integration/tags/new");
  await page.fill("input[name=name]", "TIC201.SP");
  await page.fill("input[name=description_zh]", "R201 温度设定");
  await page.selectOption("select[name=source_kind]", "modbus");
  assert.equal(await page.isVisible("select[name=signal]"), false, "simulator signal hidden");
  await page.selectOption("select[name=device]", { label: "R201 PLC" });
  await page.selectOption("select[name=mb_area]", "holding_register");
  await page.fill("input[name=mb_address]", "100");
  await page.selectOption("select[name=mb_format]", "float32");
  await page.fill("input[name=range_lo]", "0");
  await page.fill("input[name=range_hi]", "100");
  await page.fill("input[name=unit]", "°C");
  await page.check("input[name=writable]");
  await Promise.all([page.waitForNavigation(), page.click("form.form-grid button[type=submit]")]);
  assert.match(page.url(), /\/integration\/tags\/TIC201\.SP$/);
  for (let i = 0; i < 20 && (await page.textContent(".kpi-value .v")).trim() !== "60"; i++) {
    await page.waitForTimeout(500);
    await page.reload();
  }
  assert.equal((await page.textContent(".kpi-value .v")).trim(), "60");

  // outside the range: refused, the form says why
  page.on("dialog", (d) => d.accept());
  await page.fill("form[action$='/write'] input[name=value]", "150");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/write'] button[type=submit]")]);
  assert.match(await page.textContent(".flash.err"), /0 … 100/);
  await shot(page, "tag-write-refused-zh");
  // inside: written and read back
  await page.fill("form[action$='/write'] input[name=value]", "72.5");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/write'] button[type=submit]")]);
  assert.match(await page.textContent(".flash.ok"), /已写入/);
  assert.match((await page.textContent(".kpi-value .v")).trim(), /^72\.50*$/);
  await shot(page, "tag-written-zh");
  await page.context().close();
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
