// Browser story: the admin of a fresh box (asked to change the first password) trusts a
// contractor's key, uploads the contractor's signed package of the example plugin, reviews
// what it asks for (the dangerous capabilities unticked), installs it, opens its page from
// the menu and uses its form.
// Run by tests/browser.rs with BASE, PASSWORD (the first admin's), PKG (a signed .nxp of
// plugins/examples/tank-watch) and PUBKEY.
import assert from "node:assert/strict";
import { BASE, assertClean, launch, newPage, shot, signIn } from "./lib.mjs";

const PASSWORD = process.env.PASSWORD;
const PKG = process.env.PKG;
const PUBKEY = process.env.PUBKEY;
const browser = await launch();

try {
  const page = await newPage(browser);
  page.on("dialog", (d) => d.accept());
  await signIn(page, "admin");
  // the first password must be changed
  assert.match(page.url(), /\/account\/password/);
  await page.fill("input[name=old_password]", PASSWORD);
  await page.fill("input[name=password]", "Plugin-Admin-2026");
  await page.fill("input[name=password2]", "Plugin-Admin-2026");
  await Promise.all([page.waitForNavigation(), page.click("main form button[type=submit]")]);

  // no X module yet: the modules page offers to install a plugin
  await page.goto(BASE + "/admin/modules");
  assert.match(await page.textContent("#module-cloud"), /安装插件/);

  // trust the contractor's key
  await page.goto(BASE + "/admin/plugins");
  // only the bundled modules (energy, boards) are listed, switched off
  assert.match(await page.textContent("table"), /能源管理/);
  await page.fill("input[name=public_key]", PUBKEY);
  await page.fill("input[name=name]", "示例承包商");
  await Promise.all([page.waitForNavigation(), page.click("text=信任此公钥")]);
  assert.match(await page.textContent("body"), /示例承包商/);

  // upload → review: who signed it, what it asks for, dangerous ones unticked
  await page.setInputFiles("input[type=file][name=file]", PKG);
  await Promise.all([page.waitForNavigation(), page.click("text=审核插件")]);
  assert.match(await page.textContent("h1"), /审核插件: 储罐液位监视/);
  const review = await page.textContent("main");
  assert.match(review, /受信任/);
  assert.match(review, /读取和订阅位号/);
  assert.equal(await page.isChecked("input[name=grant][value='tags.read']"), true);
  assert.equal(await page.isChecked("input[name=grant][value='tags.write']"), false, "dangerous: unticked");
  assert.equal(await page.isChecked("input[name=grant][value=actions]"), false, "dangerous: unticked");
  await shot(page, "plugin-review-zh");
  await Promise.all([page.waitForNavigation(), page.click("form button.primary")]);
  assert.match(page.url(), /\/admin\/plugins\/tank-watch$/);
  for (let i = 0; i < 40 && !(await page.textContent(".kpis")).includes("运行中"); i++) {
    await page.waitForTimeout(300);
    await page.reload();
  }
  assert.match(await page.textContent(".kpis"), /运行中/);
  assert.match(await page.textContent(".plugin-log"), /watching 0 level tags/);

  // its page from the X menu: KPI cards, a table, a chart, a form
  await Promise.all([page.waitForNavigation(), page.click(".sidenav >> text=储罐液位")]);
  assert.match(page.url(), /\/x\/tank-watch\/overview$/);
  assert.match(await page.textContent("h1"), /储罐液位/);
  assert.equal(await page.locator(".kpis .kpi").count(), 3, "three KPI cards");
  assert.equal(await page.locator("table.data").count(), 1);
  await page.waitForSelector(".plugin-chart canvas", { timeout: 10000 });
  // a value outside the form's limits comes back with the box's reason (contract 0.2 checks
  // a form before the plugin sees it); nothing is saved
  await page.evaluate(() => document.querySelectorAll("input[name=high_pct]").forEach((i) => i.removeAttribute("max")));
  await page.fill("input[name=high_pct]", "150");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/threshold'] button[type=submit]")]);
  assert.match(await page.textContent("body"), /须在 10 到 100 之间/);
  await page.fill("input[name=high_pct]", "90");
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/threshold'] button[type=submit]")]);
  assert.match(await page.textContent(".flash.ok"), /阈值已设为 90 %/);
  assert.match(await page.textContent(".kpis"), /阈值 90 %/);
  await shot(page, "plugin-example-zh");

  // the guide's module now shows as served by the plugin
  await page.goto(BASE + "/admin/modules");
  assert.match(await page.textContent("#module-cloud"), /管理插件/);
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
