// Browser story on a phone: the lab analyst opens the newest resin batch's release sample
// (its lot held under test), types a result outside the plausible range (refused, named),
// then the readings; the box computes solids and acid value by the formulas and judges the
// sample: the acid value fails. She cannot decide her own results (four eyes): the lab's
// head, on her own phone, grants a concession and the lot is free.
// Run by tests/e2e/browser.rs with BASE and PASSWORD of a fresh demo plant.
import assert from "node:assert/strict";
import { BASE, assertClean, launch, newPhone, shot, signIn } from "./lib.mjs";

const browser = await launch();
try {
  const lab = await newPhone(browser);
  await signIn(lab, "he.jing");
  const submit = async (form) => {
    await Promise.all([lab.waitForNavigation(), lab.click(`${form} button[type=submit]`)]);
  };

  // the open samples: the newest batch's release sample is under test
  await lab.goto(BASE + "/quality/samples");
  const row = lab.locator("#samples tbody tr", { hasText: "丙烯酸树脂 AR-100" }).filter({ hasText: "待检" }).filter({ hasText: "成品包装线" }).first();
  await Promise.all([lab.waitForNavigation(), row.locator("a").first().click()]);
  assert.match(await lab.textContent("#sample-state"), /待检/);
  assertClean();

  const field = (keyword) => lab.locator(`#results-form label[data-keyword="${keyword}"]`).locator("input, select");
  // a typo: 45000 g as the sample mass is refused, nothing saved
  await field("W").first().fill("45000");
  await submit("#results-form");
  assert.match(await lab.textContent(".flash.err"), /W/);
  assert.match(await lab.textContent("#sample-state"), /待检/);

  // the readings: solids 0.7530 / 1.5000 g, acid value (2.50 − 0.05) × 0.1 × 56.1 ÷ 2.0 = 6.9
  const readings = { VIS: "4520", DRY: "0.7530", W: "1.5000", V: "2.50", V0: "0.05", c: "0.1000", m: "2.0000", COL: "40", APP: "清澈透明" };
  for (const [k, v] of Object.entries(readings)) {
    await field(k).first().fill(v);
  }
  await shot(lab, "quality-phone-results");
  await submit("#results-form");
  assert.match(await lab.textContent("#sample-state"), /不合格待处置/);
  const sc = lab.locator("#results tbody tr", { hasText: "固体含量" });
  assert.match(await sc.textContent(), /50\.2/);
  assert.match(await sc.textContent(), /合格/);
  const av = lab.locator("#results tbody tr", { hasText: "酸值" }).first();
  assert.match(await av.textContent(), /6\.9/);
  assert.match(await av.textContent(), /不合格/);
  assertClean();

  // her own results: she may order a retest, not concede them
  assert.match(await lab.textContent("#four-eyes"), /复核/);
  const offered = await lab.locator("#decide-form select[name=action] option").evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(offered, ["retest"]);
  assertClean();

  // the lab's head: a concession with its reason releases the lot
  const head = await newPhone(browser);
  await signIn(head, "wu.lihua");
  await head.goto(lab.url());
  assert.equal(await head.locator("#four-eyes").count(), 0);
  assert.match(await head.textContent("#results"), /何静/);
  await head.selectOption("#decide-form select[name=action]", "concession");
  await head.fill("#decide-form input[name=comment]", "酸值略高，客户书面同意让步接收");
  await Promise.all([head.waitForNavigation(), head.click("#decide-form button[type=submit]")]);
  assert.match(await head.textContent("#sample-state"), /让步接收/);
  assert.match(await head.textContent("dl.facts"), /吴丽华/);
  await Promise.all([head.waitForNavigation(), head.click("dl.facts a[href^='/inventory/lots/']")]);
  assert.match(await head.textContent("h1"), /合格/);
  await shot(head, "quality-phone-lot");
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
