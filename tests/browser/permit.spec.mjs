// Browser story on a phone: an applicant drafts a hot-work permit (a welder whose certificate
// expired is refused), the lab records a failing gas analysis and then a passing one at the
// same point, the approvers sign the chain step by step, the applicant briefs the crew, the
// guardian starts the work and prints the permit with its button.
// Run by tests/browser.rs with BASE and PASSWORD of a fresh demo plant.
import assert from "node:assert/strict";
import { BASE, assertClean, launch, newPhone, shot, signIn } from "./lib.mjs";

/// Local plant time (UTC+8) `minutes` from now, as a datetime-local value.
function plantTime(minutes) {
  return new Date(Date.now() + (8 * 60 + minutes) * 60e3).toISOString().slice(0, 16);
}

/// Who signs each approving duty in the demo plant.
const SIGNERS = { unit: "li.ming", safety_dept: "wang.haitao", leader: "zhang.jianguo" };

const browser = await launch();
try {
  const as = async (user) => {
    const page = await newPhone(browser);
    await signIn(page, user);
    return page;
  };
  const press = async (page, action) => {
    await Promise.all([page.waitForNavigation(), page.click(`form.act-${action} button[type=submit]`)]);
  };
  const stage = (page) => page.getAttribute("[data-stage]", "data-stage");

  // the applicant drafts the permit on the phone
  const applicant = await as("zhou.jianming");
  await applicant.goto(BASE + "/safety/permits");
  await applicant.click("#new-permit summary");
  await Promise.all([applicant.waitForNavigation(), applicant.click("#new-permit >> text=动火作业")]);
  await applicant.fill("textarea[name=content]", "污水站排泥管线法兰补焊");
  await applicant.fill("input[name=location]", "污水站");
  await applicant.fill("input[name=x]", "650");
  await applicant.fill("input[name=y]", "640");
  await applicant.fill("input[name=from]", plantTime(-1));
  await applicant.fill("input[name=to]", plantTime(180));
  await applicant.selectOption("select[name=method_kind]", "welding");
  await applicant.fill("input[name=method]", "电焊");
  await applicant.selectOption("select[name=outdoor]", "false");
  await applicant.fill("input[name=wind_force]", "2");
  await applicant.fill("input[name=work_unit]", "设备动力部");
  await applicant.fill("input[name=leader]", "徐国平");
  await applicant.selectOption("select[name=guardian_id]", { label: "孙伟" });
  await applicant.fill("textarea[name=workers]", "陈志强 T330781197808060033");
  await applicant.fill("textarea[name=risks]", "残余污泥可燃气体\n焊接火花");
  await shot(applicant, "permit-phone-form");
  // 陈志强's welding certificate has expired (the archive says so): refused, form kept
  await Promise.all([applicant.waitForNavigation(), applicant.click("#permit-form button[type=submit]")]);
  assert.match(await applicant.textContent(".flash.err"), /陈志强.*已于.*过期/);
  assert.equal(await applicant.inputValue("input[name=location]"), "污水站");
  await applicant.fill("textarea[name=workers]", "王强 T330781199203150417");
  await Promise.all([applicant.waitForNavigation(), applicant.click("#permit-form button[type=submit]")]);
  assert.match(applicant.url(), /\/safety\/permits\/\d+$/);
  const url = applicant.url();
  const number = (await applicant.textContent("h1")).trim();
  assert.match(number, /^DH-\d{8}-\d{3}$/);
  assert.equal(await stage(applicant), "draft");
  await press(applicant, "submit");
  await press(applicant, "confirm_measures");
  assert.equal(await stage(applicant), "gas_analysis");

  // the lab records the gas analysis: 0.8 % is over the 0.2 % limit (LEL unknown) — recorded
  // as failing, and the permit waits
  const lab = await as("wu.lihua");
  await lab.goto(url);
  await lab.fill("form.act-gas input[name=sampled]", plantTime(-3));
  await lab.fill("form.act-gas input[name=point]", "法兰口");
  await lab.fill("form.act-gas input[name=combustible_pct]", "0.8");
  await lab.fill("form.act-gas input[name=o2_pct]", "20.9");
  await press(lab, "gas");
  assert.equal(await stage(lab), "gas_analysis");
  assert.match(await lab.textContent("#gas"), /不合格.*可燃气体 0\.8 %.*0\.2/s);
  assert.equal(await lab.isVisible("#gas-blocked"), true);
  await shot(lab, "permit-phone-gas-failed");
  // after ventilation, a passing re-test at the same point
  await lab.fill("form.act-gas input[name=sampled]", plantTime(0));
  await lab.fill("form.act-gas input[name=point]", "法兰口");
  await lab.fill("form.act-gas input[name=combustible_pct]", "0.1");
  await lab.fill("form.act-gas input[name=o2_pct]", "20.9");
  await press(lab, "gas");
  assert.equal(await stage(lab), "approval");
  assert.equal(await lab.isVisible("#gas-blocked"), false);
  assert.match(await lab.textContent("#gas"), /法兰口/);
  await shot(lab, "permit-phone-gas");

  // the approval chain, signed in order by the holder of each step's duty
  for (let i = 0; i < 4; i++) {
    const page = await as("zhou.jianming");
    await page.goto(url);
    if ((await stage(page)) !== "approval") break;
    const duty = await page.getAttribute(".steps li.next", "data-duty");
    assert.ok(SIGNERS[duty], `a demo signer for ${duty}`);
    // the applicant is offered no approval button
    assert.equal(await page.isVisible("form.act-approve"), false);
    const approver = await as(SIGNERS[duty]);
    await approver.goto(url);
    await approver.fill("form.act-approve input[name=note]", "同意");
    await press(approver, "approve");
    assert.match(await approver.textContent(".flash.ok"), /已签字/);
    await shot(approver, `permit-phone-approved-${duty}`);
  }
  await applicant.goto(url);
  assert.equal(await stage(applicant), "briefing");
  assert.equal(await applicant.locator(".steps li.done").count(), await applicant.locator(".steps li").count());

  // the applicant briefs the crew; the guardian starts the work
  await press(applicant, "brief");
  const guardian = await as("sun.wei");
  await guardian.goto(url);
  await press(guardian, "start");
  assert.equal(await stage(guardian), "working");
  assert.match(await guardian.textContent("#signatures"), /开始作业.*孙伟/s);
  await shot(guardian, "permit-phone-working");

  // the printable permit carries the QR code of the live permit, and its button prints
  await guardian.goto(url + "/print");
  assert.match(await guardian.textContent("body"), new RegExp(number));
  assert.match(await guardian.textContent("h1"), /^动火作业安全作业票$/);
  assert.equal(await guardian.locator(".qr svg").count(), 1);
  await guardian.evaluate(() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; });
  await guardian.click("button[data-print]");
  assert.equal(await guardian.evaluate(() => window.__printed), 1);
  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
