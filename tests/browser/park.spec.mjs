// Browser story: the park. The plant's admin publishes northbound to the park's broker; the
// park's admin (here the same demo box, so one appliance is both) switches on the park
// subscription from the park board's form, watches the plant's card appear by itself, opens
// the plant's page, and reads the board on a phone.
// Run by tests/browser.rs with BASE, PASSWORD, TOKEN, SHOTS, CHROMIUM and BROKER_PORT.
import assert from "node:assert/strict";
import { BASE, api, assertClean, launch, newPage, newPhone, shot, signIn } from "./lib.mjs";

const PORT = process.env.BROKER_PORT;
const browser = await launch();

try {
  const name = (await api("GET", "/api/v1/profile")).json.company_name;
  assert.ok(name, "the demo names its enterprise");
  const page = await newPage(browser);
  await signIn(page, "admin");

  // the plant: northbound to the park's broker
  await page.goto(BASE + "/integration/northbound");
  await page.check("input[name=enabled]");
  await page.fill("input[name=host]", "127.0.0.1");
  await page.fill("input[name=port]", PORT);
  await page.fill("input[name=group_id]", "Lanxi");
  await page.fill("input[name=node_id]", "demo-plant");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit].primary")]);
  assert.match(await page.textContent(".flash.ok"), /已保存/);

  // the park: the board is empty and its form open until the subscription is on
  await page.goto(BASE + "/integration/park");
  assert.equal(await page.textContent("h1"), "园区总览");
  assert.equal(await page.locator("article.park-plant").count(), 0);
  await page.fill("details input[name=port]", "0");
  await page.check("details input[name=enabled]");
  await page.fill("details input[name=host]", "127.0.0.1");
  await Promise.all([page.waitForNavigation(), page.click("details button[type=submit]")]);
  assert.equal(await page.locator(".flash.err, .field-error, [aria-invalid=true]").count() > 0, true, "a bad port is refused");
  await page.fill("details input[name=port]", PORT);
  await page.fill("details input[name=groups]", "Lanxi");
  await Promise.all([page.waitForNavigation(), page.click("details button[type=submit]")]);
  assert.match(await page.textContent(".flash.ok"), /已保存/);

  // the plant's card comes by itself (the board refreshes every 5 s)
  const card = page.locator('article.park-plant[data-node="Lanxi/demo-plant"]');
  await card.waitFor({ timeout: 30000 });
  await page.waitForFunction(
    (n) => document.querySelector('article.park-plant[data-node="Lanxi/demo-plant"] h2')?.textContent.includes(n),
    name, { timeout: 30000 });
  const text = await card.textContent();
  for (const label of ["在线", "报警", "安全生产", "未关闭隐患", "设备管理", "质量管理"]) {
    assert.ok(text.includes(label), `${label} on the card: ${text}`);
  }
  await shot(page, "park-board-zh");

  // one plant's page: its figures, alarms and values by area
  await Promise.all([page.waitForNavigation(), card.locator("h2 a").click()]);
  assert.ok((await page.textContent("h1")).includes(name));
  assert.ok((await page.locator("table tbody tr").count()) >= 10, "the plant's values");
  await shot(page, "park-plant-zh");

  // on a phone
  const phone = await newPhone(browser);
  await signIn(phone, "admin");
  await phone.goto(BASE + "/integration/park");
  await phone.locator("article.park-plant").first().waitFor({ timeout: 10000 });
  const w = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 390, `the park board fits a phone (scrollWidth ${w})`);
  await shot(phone, "park-board-phone-zh");
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
