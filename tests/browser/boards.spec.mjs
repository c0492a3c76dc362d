// Browser story: the plant manager's wall screen and phone. The admin opens the 综合 board,
// drags the standing-alarm list to the top left and saves; opens the board as a wall screen
// (no menu, dark theme), switches it to full screen, watches it refresh itself and dim when
// its session ends; then reads the energy page on a phone.
// Run by tests/browser.rs with BASE, PASSWORD, TOKEN (admin API token), SHOTS, CHROMIUM.
import assert from "node:assert/strict";
import { BASE, api, assertClean, launch, newPhone, shot, signIn } from "./lib.mjs";

const browser = await launch();

const running = async (id) =>
  (await api("GET", "/api/v1/plugins")).json.some((p) => p.id === id && p.stats?.state === "running");

try {
  // a wall screen refreshes every 5 s (the admin's setting; 30 s by default)
  for (let i = 0; i < 60 && !(await running("boards")); i++) await new Promise((r) => setTimeout(r, 500));
  const p = (await api("GET", "/api/v1/plugins")).json.find((x) => x.id === "boards");
  p.settings.refresh_seconds = "5";
  const put = await api("PUT", "/api/v1/plugins/boards/settings", { settings: p.settings, grants: p.grants });
  assert.equal(put.status, 200, JSON.stringify(put.json));
  for (let i = 0; i < 60 && !(await running("boards")); i++) await new Promise((r) => setTimeout(r, 500));

  // a wall screen, tall enough to hold the whole board while dragging
  const wallCtx = await browser.newContext({ viewport: { width: 1920, height: 2400 }, locale: "zh-CN" });
  const page = await wallCtx.newPage();
  page.on("dialog", (d) => d.accept());
  await signIn(page, "admin");
  await page.goto(BASE + "/x/boards/overall");
  assert.equal(await page.textContent("h1"), "综合看板");
  assert.ok((await page.locator("[data-widget]").count()) >= 12, "the plant board's widgets");
  const body = await page.textContent("main");
  for (const label of ["今日作业票", "在场人员", "事故隐患", "未确认", "OEE（近24小时）", "今日能耗"]) {
    assert.ok(body.includes(label), label);
  }
  await page.waitForSelector("[data-widget=equipment_states] canvas", { timeout: 10000 });

  // arrange: drag the alarm list to the top left, save
  const list = page.locator("[data-widget=alarm_list]");
  const before = await list.getAttribute("data-y");
  assert.notEqual(before, "0", "the alarm list starts lower down");
  await page.click("[data-arrange-start]");
  const board = await page.locator("[data-board]").boundingBox();
  const box = await list.boundingBox();
  await page.mouse.move(box.x + 40, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(board.x + 40, board.y + 40, { steps: 8 });
  await page.mouse.up();
  await Promise.all([page.waitForNavigation(), page.click("[data-arrange-start]")]);
  assert.match(await page.textContent(".flash.ok"), /布局已保存/);
  assert.equal(await page.locator("[data-widget=alarm_list]").getAttribute("data-x"), "0");
  assert.equal(await page.locator("[data-widget=alarm_list]").getAttribute("data-y"), "0");
  await shot(page, "board-overall-zh");

  // the wall screen: no menu, dark, full screen, refreshing itself
  await Promise.all([page.waitForNavigation(), page.click("text=大屏显示")]);
  assert.match(page.url(), /\/x\/boards\/overall\?wall=1$/);
  assert.match(await page.getAttribute("html", "class"), /dark wall/);
  assert.equal(await page.locator(".sidenav").count(), 0, "no menu on the wall");
  await page.click("[data-fullscreen]");
  await page.waitForFunction(() => document.fullscreenElement !== null, null, { timeout: 5000 });
  await page.waitForSelector("[data-board][data-refreshed]", { timeout: 15000 });
  assert.equal(await page.locator("[data-widget=alarm_list]").getAttribute("data-x"), "0", "the arrangement survives a refresh");
  const width = await page.evaluate(() => document.querySelector("[data-board]").getBoundingClientRect().width);
  assert.ok(width > 1800, `the board fills the screen (${width} px)`);
  const bottom = await page.evaluate(() => document.querySelector("[data-board]").getBoundingClientRect().bottom);
  assert.ok(bottom <= 2400, `the whole board is on the screen (bottom at ${bottom} px)`);
  await shot(page, "board-wall-zh");
  // the wall's session ends (the sign-in page comes back): the board dims and says since when
  const boardUrl = (u) => u.pathname === "/x/boards/overall";
  await page.route(boardUrl, (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>登录</title><form method=post></form>" }));
  await page.waitForSelector("[data-board][data-stale]", { timeout: 15000 });
  assert.match(await page.textContent(".board-stale"), /数据已过期：自 \d\d-\d\d \d\d:\d\d 起/);
  await shot(page, "board-wall-stale-zh");
  await page.unroute(boardUrl);
  await page.waitForSelector("[data-board]:not([data-stale])", { timeout: 15000 });
  assert.equal(await page.locator(".board-stale").count(), 0, "fresh figures clear the notice");

  // the energy page on a phone
  for (let i = 0; i < 60 && !(await running("energy")); i++) await new Promise((r) => setTimeout(r, 500));
  const energy = (await api("GET", "/api/v1/plugins")).json.find((x) => x.id === "energy");
  assert.ok(await running("energy"), JSON.stringify(energy));
  const phone = await newPhone(browser);
  await signIn(phone, "admin");
  await phone.goto(BASE + "/x/energy/overview");
  assert.equal(await phone.textContent("h1"), "能源管理");
  assert.ok((await phone.locator(".kpi").count()) >= 3, "the energy KPIs");
  await phone.waitForSelector(".plugin-chart canvas", { timeout: 10000 });
  const w = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 390, `the energy page fits a phone (scrollWidth ${w})`);
  await shot(phone, "energy-phone-zh");
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
