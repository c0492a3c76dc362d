// What the browser stories share: the environment tests/browser.rs sets (BASE, PASSWORD,
// SHOTS, CHROMIUM), the browser, screenshots and signing in.
import { chromium } from "playwright-core";

export const BASE = process.env.BASE;
export const PASSWORD = process.env.PASSWORD;
const SHOTS = process.env.SHOTS || "";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/// Debian's chromium, headless, without background traffic.
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// A full-page screenshot into SHOTS (when set), for looking at the pages afterwards.
export async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/// Signs in on the login page as a demo user.
export async function signIn(page, user) {
  await page.goto(BASE + "/login");
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
}

/// A desktop-sized page in Chinese (the plant's default language).
export async function newPage(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  return ctx.newPage();
}

/// A phone-sized page in Chinese (a 6.1-inch phone held upright).
export async function newPhone(browser) {
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "zh-CN",
  });
  return ctx.newPage();
}
