// Browser story: an operator watches the live alarm list while a new alarm fires, and
// acknowledges and shelves it; the list and the top-bar banner follow without a reload.
// The safety officer finds the notices for the responsible under the top bar's alert badge
// (not in the alarm list) and acknowledges one, on a desktop and on a phone.
// Run by tests/browser.rs with BASE, PASSWORD, TOKEN (admin API token), SHOTS, CHROMIUM.
import assert from "node:assert/strict";
import { BASE, api, assertClean, expectError, launch, shot, signIn } from "./lib.mjs";

const browser = await launch();

const unack = (page) => page.locator("[data-alarm-banner] [data-n=unack]").textContent().then(Number);

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const page = await ctx.newPage();
  await signIn(page, "li.ming");
  // the demo has standing process alarms (the reactor's temperature, a gas detector): the
  // banner shows them
  const before = await unack(page);
  assert.ok(before > 0, `the banner counts unacknowledged alarms (${before})`);
  await page.click("[data-alarm-banner]");
  await page.waitForURL(/\/automation\/alarms$/);
  assert.equal(await page.textContent("h1"), "实时报警");

  // an engineer adds an alarm that holds at once: oxygen above 1 %vol
  const tags = (await api("GET", "/api/v1/tags?q=GD103")).json;
  const o2 = tags.find((t) => t.name === "GD103");
  const created = await api("POST", "/api/v1/alarms/defs", {
    id: 0, tag: o2.id, condition: { kind: "high", limit: 1.0 }, priority: "urgent",
    deadband: 0, on_delay_s: 0, off_delay_s: 0, message_zh: "测试：氧含量高", message_en: "Test: oxygen high",
    area: "", latch: false, enabled: true,
  });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = created.json.id;

  // the operator's list and banner update by themselves
  const row = page.locator(`tr[data-alarm="${id}"]`);
  await row.waitFor({ timeout: 10000 });
  assert.match(await row.textContent(), /测试：氧含量高/);
  assert.match(await row.textContent(), /未确认/);
  await page.waitForFunction((n) => Number(document.querySelector("[data-alarm-banner] [data-n=unack]").textContent) > n, before);
  assert.match(await page.getAttribute("[data-alarm-banner]", "class"), /p-urgent/, "the banner takes the most urgent colour");
  await shot(page, "alarms-live-zh");

  // acknowledge from the list
  await Promise.all([page.waitForNavigation(), row.getByRole("button", { name: "确认" }).click()]);
  await page.locator(`tr[data-alarm="${id}"]`).waitFor();
  assert.match(await page.locator(`tr[data-alarm="${id}"]`).textContent(), /已确认/);
  assert.equal(await unack(page), before, "acknowledged: the count is back");

  // shelving needs a reason; with one it hides the alarm for the chosen time
  await page.click(`tr[data-alarm="${id}"] a[href="/automation/alarms/${id}"]`);
  await page.waitForURL(new RegExp(`/automation/alarms/${id}$`));
  await page.selectOption("select[name=minutes]", "30");
  await page.fill("form[action$='/shelve'] input[name=comment]", "传感器标定");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/shelve'] button[type=submit]")]);
  assert.match(await page.textContent(".card"), /已搁置/);
  assert.match(await page.textContent("table.data"), /传感器标定/, "the journal shows the reason");
  await shot(page, "alarm-detail-zh");

  // an operator may not suppress (approve level): the buttons are not there, the API says 403
  expectError(/status of 403 .*\/api\/v1\/alarms\/\d+\/suppress/);
  assert.equal(await page.locator("form[action$='/suppress']").count(), 0);
  const r = await page.evaluate(async (u) => (await fetch(u, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": document.querySelector("meta[name=csrf-token]").content }, body: JSON.stringify({ comment: "x" }) })).status, `${BASE}/api/v1/alarms/${id}/suppress`);
  assert.equal(r, 403);

  // the journal finds it and exports it
  await page.goto(BASE + "/automation/journal?q=" + encodeURIComponent("氧含量"));
  assert.ok(await page.locator("table.data tbody tr").count() >= 3, "raised, acknowledged, shelved");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("a[href*='format=xlsx']")]);
  assert.match(download.suggestedFilename(), /^alarm-journal-.*\.xlsx$/);
  await page.goto(BASE + "/automation/kpi");
  await shot(page, "alarm-kpi-zh");
  await ctx.close();

  // on a phone the list is cards and fits the screen
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "zh-CN" });
  const p = await phone.newPage();
  await signIn(p, "li.ming");
  for (const path of ["/automation/alarms", "/automation/journal", "/automation/kpi", "/automation/defs"]) {
    await p.goto(BASE + path);
    const w = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= 390, `${path} fits a phone (scrollWidth ${w})`);
  }
  await p.goto(BASE + "/automation/alarms");
  await shot(p, "alarms-phone-zh");
  await phone.close();

  // the safety office: expired certificates and overdue tasks are alerts behind the badge
  const office = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "zh-CN" });
  const o = await office.newPage();
  await signIn(o, "wang.haitao");
  const badge = Number(await o.textContent("[data-alerts]"));
  assert.ok(badge >= 2, `the alert badge counts the office's alerts (${badge})`);
  await o.click("a[href='/alerts']");
  await o.waitForURL(/\/alerts$/);
  assert.equal(await o.textContent("h1"), "提醒");
  const due = o.locator("tr.unacked", { hasText: "已超期" }).first();
  await due.locator("input[name=comment]").fill("已报换证");
  await due.locator("button[type=submit]").click();
  await o.waitForURL(/\/alerts$/);
  assert.equal(Number(await o.textContent("[data-alerts]")), badge - 1, "one fewer to look at");
  assert.match(await o.textContent("table[data-alerts]"), /已报换证/);
  const width = await o.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `/alerts fits a phone (scrollWidth ${width})`);
  await shot(o, "alerts-phone-zh");
  await office.close();
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
