// Browser story on phones: an operator scans the QR label of the feed pump P101 (opens the
// address the label carries), reports a fault with a photo; the maintenance lead assigns
// it; the technician starts, books a bearing from the spare-parts list and reports it
// done; the lead signs it off and the order is closed. Stock follows the part. Then the
// operator walks the pump house's inspection round; a finding opens a work order.
// Run by tests/e2e/browser.rs with BASE and PASSWORD of a fresh demo plant.
import assert from "node:assert/strict";
import { BASE, assertClean, launch, newPhone, shot, signIn } from "./lib.mjs";

// a 2×2 PNG, as a phone camera would hand over (smaller)
const PHOTO = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==",
  "base64",
);

const browser = await launch();
try {
  const submit = async (page, form) => {
    await Promise.all([page.waitForNavigation(), page.click(`${form} button[type=submit]`)]);
  };

  // the label sheet carries each machine's address; the operator's phone opens P101's
  const operator = await newPhone(browser);
  await signIn(operator, "li.ming");
  await operator.goto(BASE + "/equipment/labels");
  const label = operator.locator(".label", { hasText: "单体进料泵" }).filter({ hasText: /^P101\b/ }).first();
  assert.equal(await label.locator("svg").count(), 1, "a QR code on the label");
  const url = (await label.locator(".url").textContent()).trim();
  assert.match(url, /\/equipment\/\d+$/);
  await operator.goto(url.replace(/^https?:\/\/[^/]+/, BASE));
  assert.match(await operator.textContent("h1"), /P101/);
  assert.match(await operator.textContent("#condition"), /振动速度/);
  assertClean();

  // the fault report, with a photo of the leaking seal
  await Promise.all([operator.waitForNavigation(), operator.click("#report-fault")]);
  await operator.fill("#report-form input[name=title]", "机封处滴漏加剧");
  await operator.fill("#report-form textarea[name=description]", "驱动端机封每分钟约 10 滴，地面有积液。");
  await operator.setInputFiles("#report-form input[type=file][name=photo]", {
    name: "seal.png",
    mimeType: "image/png",
    buffer: PHOTO,
  });
  await shot(operator, "equipment-phone-report");
  await submit(operator, "#report-form");
  assert.equal(await operator.getAttribute("#order-state", "data-state"), "open");
  assert.equal(await operator.locator("#photos img").count(), 1);
  const order = operator.url();
  assertClean();

  // the lead assigns it to the technician
  const lead = await newPhone(browser);
  await signIn(lead, "xu.guoping");
  await lead.goto(order);
  await lead.selectOption(".act-assign select[name=assignee]", { label: "钱峰" });
  await submit(lead, ".act-assign");
  assert.equal(await lead.getAttribute("#order-state", "data-state"), "assigned");

  // the technician starts, takes a bearing from the spare-parts list, reports it done
  const tech = await newPhone(browser);
  await signIn(tech, "qian.feng");
  // the assignment reached him as a notice that opens the order
  await tech.goto(BASE + "/notices");
  assert.match(await tech.textContent("ul.notices"), /已派给您/);
  await tech.goto(order);
  await submit(tech, ".act-start");
  assert.equal(await tech.getAttribute("#order-state", "data-state"), "in_progress");
  const stockBefore = await tech.locator("#parts-form select[name=part_material] option").first().textContent();
  assert.match(stockBefore, /SP-BRG-6309.*库存 6/);
  await tech.fill(".act-done textarea[name=report]", "机械密封动环磨损，更换机封及驱动端轴承，试车无泄漏。");
  await tech.fill(".act-done input[name=hours]", "3.5");
  await tech.locator(".act-done fieldset label", { hasText: "SP-BRG-6309" }).locator("input[name=part_qty]").fill("1");
  await shot(tech, "equipment-phone-done");
  await submit(tech, ".act-done");
  assert.equal(await tech.getAttribute("#order-state", "data-state"), "done");
  assert.match(await tech.textContent("#work"), /SP-BRG-6309 深沟球轴承 1/);
  // the technician cannot sign off his own work: the button is not his
  assert.equal(await tech.locator(".act-verify").count(), 0);
  assertClean();

  // the lead signs it off: closed
  await lead.goto(order);
  await lead.fill(".act-verify input[name=note]", "现场确认无泄漏，同意关闭。");
  await submit(lead, ".act-verify");
  assert.equal(await lead.getAttribute("#order-state", "data-state"), "verified");
  assert.match(await lead.textContent("#signoff"), /徐国平/);
  await shot(lead, "equipment-phone-verified");
  // the part left the spare-parts store
  await lead.goto(BASE + "/equipment");
  await Promise.all([lead.waitForNavigation(), lead.locator("#ledger a", { hasText: /^P101$/ }).click()]);
  assert.match(await lead.locator("#bom tbody tr", { hasText: "SP-BRG-6309" }).textContent(), /5(\.0)? 套/);
  assertClean();

  // the shift's inspection round on the operator's phone: every checkpoint answered, the
  // standby pump will not turn by hand — its own work order
  await operator.goto(BASE + "/equipment/rounds");
  await Promise.all([
    operator.waitForNavigation(),
    operator.locator("#routes tr", { hasText: "泵房班检" }).locator("a.button").click(),
  ]);
  const readings = { 出口压力: "0.35", 轴承温度: "52", 排气压力: "0.7" };
  for (const point of await operator.locator("fieldset.checkpoint").all()) {
    const legend = await point.locator("legend").textContent();
    if ((await point.locator("input[type=number]").count()) > 0) {
      const key = Object.keys(readings).find((k) => legend.includes(k));
      await point.locator("input[type=number]").fill(readings[key]);
    } else if (legend.includes("盘车")) {
      await point.locator("input[type=radio][value='0']").check();
      await point.locator("input[name^=note_]").fill("盘车很紧，转不动");
    } else {
      await point.locator("input[type=radio][value='1']").check();
    }
  }
  await shot(operator, "equipment-phone-round");
  await submit(operator, "#round-form");
  assert.match(operator.url(), /\/equipment\/rounds\/record\/\d+$/);
  assert.match(await operator.textContent("#round-orders"), /P101B/);
  assert.equal(await operator.locator("#round-results tr.bad").count(), 1);
  await Promise.all([operator.waitForNavigation(), operator.locator("#round-orders a").first().click()]);
  assert.equal(await operator.getAttribute("#order-state", "data-state"), "open");
  assert.equal(await operator.locator("#origin-round").count(), 1);
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
