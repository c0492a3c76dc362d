// Browser story: an admin signs in, switches to English, and switches a module off and on.
// Run by tests/browser.rs with BASE (server URL), PASSWORD (demo password), SHOTS (dir).
import assert from "node:assert/strict";
import { BASE, PASSWORD, assertClean, launch, shot } from "./lib.mjs";

const browser = await launch();

async function signIn(page, user) {
  await page.goto(BASE + "/");
  assert.match(page.url(), /\/login/, "anonymous visitors land on the login page");
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
}

try {
  // --- desktop: sign in (Chinese by default), switch to English, toggle a module
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const page = await ctx.newPage();
  await signIn(page, "admin");
  await page.waitForSelector("h1");
  assert.equal(await page.textContent("h1"), "模块总览");
  await shot(page, "home-zh");

  await page.getByRole("link", { name: "English" }).click();
  await page.waitForSelector("h1:text('Modules at a glance')");

  await page.getByRole("link", { name: "Modules", exact: true }).click();
  await page.waitForURL(/\/admin\/modules$/);
  const row = page.locator("#module-safety");
  assert.equal(await row.getAttribute("data-state"), "enabled");

  // dismissing the confirmation changes nothing
  page.once("dialog", (d) => d.dismiss());
  await row.getByRole("button", { name: "Disable" }).click();
  await page.waitForTimeout(300);
  assert.equal(await page.locator("#module-safety").getAttribute("data-state"), "enabled");

  // accepting it switches the module off; the dialog warns that the module is required
  let warning = "";
  page.once("dialog", (d) => { warning = d.message(); d.accept(); });
  await Promise.all([
    page.waitForNavigation(),
    page.locator("#module-safety").getByRole("button", { name: "Disable" }).click(),
  ]);
  assert.match(warning, /required for acceptance/);
  assert.equal(await page.locator("#module-safety").getAttribute("data-state"), "disabled");
  assert.equal(await page.locator("nav, aside").getByRole("link", { name: "Enterprise archive" }).count(), 0,
    "the module leaves the menu");
  await shot(page, "modules-disabled-en");
  const resp = await page.goto(BASE + "/safety/certificates");
  assert.equal(resp.status(), 404);

  await page.goto(BASE + "/admin/modules");
  page.once("dialog", (d) => d.accept());
  await Promise.all([
    page.waitForNavigation(),
    page.locator("#module-safety").getByRole("button", { name: "Enable" }).click(),
  ]);
  assert.equal(await page.locator("#module-safety").getAttribute("data-state"), "enabled");
  await page.getByRole("link", { name: "Enterprise archive" }).click();
  await page.waitForURL(/\/safety\/certificates$/);
  assert.ok(await page.locator("table.data tbody tr").count() > 5, "its data is still there");
  await shot(page, "archive-en");

  // a filter applies on change without reloading the page; the address follows and the
  // swapped table still sorts
  await page.evaluate(() => { window.__notReloaded = true; });
  await Promise.all([
    page.waitForURL(/status=expired/),
    page.selectOption("select[name=status]", "expired"),
  ]);
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#results tbody tr")].every((r) => r.classList.contains("row-expired")));
  assert.ok(await page.locator("#results tbody tr.row-expired").count() >= 1, "expired certificates listed");
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "the results were swapped in place");
  const header = page.locator("#results thead th").nth(2);
  await header.click();
  assert.equal(await header.getAttribute("aria-sort"), "ascending", "the swapped table sorts");
  await page.goBack();
  await page.waitForURL(/\/safety\/certificates$/);
  await ctx.close();

  // --- phone: the menu folds away behind a button
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "zh-CN",
  });
  const p = await phone.newPage();
  await signIn(p, "wang.haitao");
  await p.waitForSelector("h1");
  assert.equal(await p.isVisible("#sidenav"), false, "menu hidden on a phone");
  // app.js is deferred: under load the heading is there before the button's handler is
  await p.waitForLoadState("load");
  await p.click("[data-toggle-nav]");
  // the menu opens (waited for: under load the click's effect may take a frame or two)
  try {
    await p.waitForSelector("#sidenav", { state: "visible", timeout: 10000 });
  } catch (e) {
    await shot(p, "menu-did-not-open");
    throw new Error(`menu did not open at ${p.url()}; body class "${await p.getAttribute("body", "class")}"`);
  }
  await p.getByRole("link", { name: "企业档案" }).click();
  await p.waitForURL(/\/safety\/certificates$/);
  const width = await p.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no horizontal page scroll on a phone (scrollWidth ${width})`);
  await shot(p, "archive-phone-zh");
  await phone.close();

  // admin pages with wide forms still fit a phone
  const phoneAdmin = await browser.newContext({
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "zh-CN",
  });
  const a = await phoneAdmin.newPage();
  await signIn(a, "admin");
  await a.waitForSelector("h1");
  for (const path of ["/admin/profile", "/admin/tokens", "/admin/users", "/admin/audit", "/compliance"]) {
    await a.goto(BASE + path);
    const w = await a.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= 390, `${path} fits a phone (scrollWidth ${w})`);
  }
  await shot(a, "compliance-phone-zh");
  await phoneAdmin.close();
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
