// Browser story: an engineer adds an OPC UA server as a device, browses it, adds a variable
// as a tag from the browser with one click and sees its live value.
// Run by tests/browser.rs with BASE, PASSWORD, UA_ENDPOINT (a test OPC UA server).
import assert from "node:assert/strict";
import { BASE, assertClean, launch, newPage, shot, signIn } from "./lib.mjs";

const UA_ENDPOINT = process.env.UA_ENDPOINT;
const browser = await launch();

try {
  const page = await newPage(browser);
  await signIn(page, "admin");

  // the device: only the OPC UA fields show
  await page.goto(BASE + "/integration/devices");
  await Promise.all([page.waitForNavigation(), page.click("text=添加设备")]);
  await page.fill("input[name=name]", "DCS 网关");
  await page.selectOption("select[name=driver]", "opc_ua");
  assert.equal(await page.isVisible("input[name=ua_endpoint]"), true);
  assert.equal(await page.isVisible("input[name=host]"), false, "Modbus fields hidden");
  await page.fill("input[name=ua_endpoint]", UA_ENDPOINT);
  await page.fill("input[name=ua_interval_ms]", "200");
  await Promise.all([page.waitForNavigation(), page.click("form.form-grid button[type=submit]")]);
  assert.match(page.url(), /\/integration\/devices\/\d+$/);
  for (let i = 0; i < 30 && !(await page.textContent(".kpis")).includes("已连接"); i++) {
    await page.waitForTimeout(500);
    await page.reload();
  }
  assert.match(await page.textContent(".kpis"), /已连接/);

  // browse: Objects → Plant → the variables with their values
  await Promise.all([page.waitForNavigation(), page.click("text=浏览节点")]);
  assert.match(await page.textContent("table"), /Plant/);
  await Promise.all([page.waitForNavigation(), page.click("table >> text=Plant")]);
  const row = page.locator("tr", { hasText: "R101.Temperature" });
  assert.match(await row.textContent(), /85\.5/);
  assert.match(await row.textContent(), /Double/);
  await shot(page, "opcua-browse-zh");

  // add as tag: the form comes filled in; save it
  await Promise.all([page.waitForNavigation(), row.locator("text=添加为位号").click()]);
  assert.equal(await page.inputValue("input[name=ua_node]"), "ns=2;s=R101.Temperature");
  assert.equal(await page.inputValue("input[name=name]"), "R101.Temperature");
  assert.equal(await page.inputValue("select[name=source_kind]"), "opc_ua");
  await page.fill("input[name=unit]", "°C");
  await Promise.all([page.waitForNavigation(), page.click("form.form-grid button.primary")]);
  assert.match(page.url(), /\/integration\/tags\/R101\.Temperature$/);
  for (let i = 0; i < 30 && !(await page.textContent(".kpis")).includes("85.5"); i++) {
    await page.waitForTimeout(500);
    await page.reload();
  }
  assert.match(await page.textContent(".kpis"), /85\.5/);

  // the browser now shows that the variable has a tag
  await page.goBack();
  await page.goBack();
  await page.reload();
  assert.match(await page.locator("tr", { hasText: "R101.Temperature" }).textContent(), /R101\.Temperature.*R101\.Temperature/s);
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
