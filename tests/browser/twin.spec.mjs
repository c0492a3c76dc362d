// Browser story: the safety manager watches the plant in the digital twin. The plant view
// draws the zones, equipment, permits at work and people on the plant layout and refreshes
// itself; a zone opens the twin's page of that zone, and from there the reactor opens its
// ledger record and a permit at work its permit; the same view on a phone.
// Run by tests/e2e/browser.rs with BASE, PASSWORD, TOKEN (admin API token), SHOTS, CHROMIUM.
import assert from "node:assert/strict";
import { BASE, api, assertClean, launch, newPage, newPhone, shot, signIn } from "./lib.mjs";

const running = async (id) =>
  (await api("GET", "/api/v1/plugins")).json.some((p) => p.id === id && p.stats?.state === "running");

const browser = await launch();
try {
  for (let i = 0; i < 60 && !(await running("twin")); i++) await new Promise((r) => setTimeout(r, 500));
  assert.ok(await running("twin"), "the twin plugin runs");
  const zones = (await api("GET", "/api/v1/safety/zones")).json;
  const hall = zones.find((z) => z.name === "聚合车间");
  const r101 = (await api("GET", "/api/v1/equipment")).json.items.find((e) => e.tag_no === "R101");

  const page = await newPage(browser);
  await signIn(page, "wang.haitao");
  await page.goto(BASE + "/x/twin/plant");
  assert.equal(await page.textContent("h1"), "全厂孪生");
  const map = page.locator("[data-widget=map] svg");
  assert.equal(await map.locator("g.map-area").count(), zones.length, "every zone drawn");
  assert.ok((await map.locator("g.map-marker").count()) > 20, "equipment, permits and people");
  // the layout image under the zones loads (its own route, the reader may read safety)
  await page.waitForFunction(() => {
    const img = document.querySelector("[data-widget=map] svg image");
    return img && img.getBBox().width > 0;
  });
  await shot(page, "twin-plant");

  // it refreshes itself: the board is fetched again and replaced (every 15 s)
  await page.waitForSelector("[data-board][data-refreshed]", { timeout: 25000 });
  assert.equal(await page.locator("[data-widget=map] g.map-area").count(), zones.length);
  assertClean();

  // a zone: its own page
  await Promise.all([
    page.waitForNavigation(),
    page.locator(`a[href="/x/twin/zone?id=${hall.id}"] polygon`).dispatchEvent("click"),
  ]);
  assert.equal(await page.textContent("h1"), "区域 · 聚合车间");
  const permits = page.locator("[data-widget=map] a[href^='/safety/permits/']");
  assert.ok((await permits.count()) > 0, "permits at work in the hall");
  await shot(page, "twin-zone");
  assertClean();

  // the reactor: its ledger record
  await Promise.all([
    page.waitForNavigation(),
    page.locator(`[data-widget=map] a[href="/equipment/${r101.id}"] circle`).dispatchEvent("click"),
  ]);
  assert.ok(new URL(page.url()).pathname === `/equipment/${r101.id}`, page.url());
  assert.match(await page.textContent("h1"), /R101/);
  await page.goBack();

  // a permit at work: its permit
  const href = await permits.first().getAttribute("href");
  await Promise.all([page.waitForNavigation(), permits.first().locator("circle").dispatchEvent("click")]);
  assert.equal(new URL(page.url()).pathname, href);
  assertClean();

  // on a phone: the board stacks, the map still draws every zone
  const phone = await newPhone(browser);
  await signIn(phone, "wang.haitao");
  await phone.goto(BASE + "/x/twin/plant");
  assert.equal(await phone.locator("[data-widget=map] g.map-area").count(), zones.length);
  await shot(phone, "twin-phone");
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
