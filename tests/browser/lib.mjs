// What the browser stories share: the environment tests/browser.rs sets (BASE, PASSWORD,
// TOKEN, SHOTS, CHROMIUM), the browser, the admin API, screenshots and signing in.
import { chromium } from "playwright-core";

export const BASE = process.env.BASE;
export const PASSWORD = process.env.PASSWORD;
const SHOTS = process.env.SHOTS || "";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/// The admin API with the bootstrap token tests/browser.rs passes as TOKEN: status and JSON.
export async function api(method, path, body) {
  const r = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${process.env.TOKEN}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

/// What the pages printed as errors (console errors, uncaught exceptions, CSP violations,
/// which Chromium reports as console errors), with the page they came from.
const errors = [];

/// Debian's chromium, headless, without background traffic. Every context it opens reports
/// its pages' console errors into `errors`, so a story can fail on them (`assertClean`).
export async function launch() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args) => {
    const ctx = await newContext(...args);
    ctx.on("console", (m) => {
      if (m.type() !== "error") return;
      const page = m.page()?.url() ?? "?";
      // a page answered with 4xx is a refusal the story asks for and checks (a form
      // re-shown with its error, a 403 page); a sub-resource failing is an error
      const refusal = /^Failed to load resource: the server responded with a status of 4\d\d/
        .test(m.text()) && m.location().url === page;
      if (!refusal) errors.push(`${page}: ${m.text()} (${m.location().url})`);
    });
    ctx.on("weberror", (e) => errors.push(`${e.page()?.url() ?? "?"}: ${e.error().message}`));
    return ctx;
  };
  return browser;
}

/// Errors a story provokes on purpose (a request it expects to be refused), by pattern.
const expected = [];

/// Tells `assertClean` that errors matching `re` are the story's own doing.
export function expectError(re) {
  expected.push(re);
}

/// Fails the story if any page it visited printed an error or broke the CSP.
export function assertClean() {
  const left = errors.filter((e) => !expected.some((re) => re.test(e)));
  if (left.length) {
    throw new Error(`the browser reported errors on the pages visited:\n${left.join("\n")}`);
  }
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
