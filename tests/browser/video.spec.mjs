// Browser story: the demo's camera (the box's own test picture over RTSP) is watched live
// on the cameras page — the video's pixels change from one moment to the next (the block
// moves), not just an element on the page — then on the camera's own page with its status,
// and on a phone. Prints how long the first picture took. Run by tests/browser.rs with BASE
// and PASSWORD (the demo).
import assert from "node:assert/strict";
import { BASE, assertClean, launch, newPage, newPhone, shot, signIn } from "./lib.mjs";

const browser = await launch();

/// Waits until the first live video on the page shows pictures; returns the video handle.
async function playing(page) {
  const video = page.locator("[data-video-live] video").first();
  await page.waitForFunction(() => {
    const v = document.querySelector("[data-video-live] video");
    return v && v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0;
  }, null, { timeout: 20000 });
  return video;
}

/// The video's picture as pixels (a canvas copy).
async function grab(page) {
  return page.evaluate(() => {
    const v = document.querySelector("[data-video-live] video");
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext("2d");
    g.drawImage(v, 0, 0);
    return Array.from(g.getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0));
  });
}

try {
  const page = await newPage(browser);
  await signIn(page, "admin");

  const opened = Date.now();
  await page.goto(BASE + "/integration/cameras");
  await playing(page);
  console.log(`live view: first picture ${Date.now() - opened} ms after opening the page`);
  const size = await page.evaluate(() => {
    const v = document.querySelector("[data-video-live] video");
    return [v.videoWidth, v.videoHeight];
  });
  assert.deepEqual(size, [320, 240]);
  // frames advance: the picture changes while we watch, and the clock moves with it (a
  // busy machine may hold a fragment back for a moment: the stream must go on, so wait for
  // a second of playback rather than time one second of wall clock)
  const a = await grab(page);
  const t0 = await page.evaluate(() => document.querySelector("[data-video-live] video").currentTime);
  const wall = Date.now();
  await page.waitForFunction(
    (t0) => document.querySelector("[data-video-live] video").currentTime - t0 >= 1,
    t0,
    { timeout: 10000 },
  );
  console.log(`live view: a second of playback in ${Date.now() - wall} ms`);
  const b = await grab(page);
  const differing = a.filter((v, i) => Math.abs(v - b[i]) > 40).length;
  assert.ok(differing > 500, `${differing} pixels changed: the picture is live`);
  // and it is the test picture: colour bars, white at the left edge under the counter
  assert.ok(a[40 * 320 + 5] > 200, `left-edge pixel ${a[40 * 320 + 5]}`);
  // near the live edge
  const lag = await page.evaluate(() => {
    const v = document.querySelector("[data-video-live] video");
    return v.buffered.end(v.buffered.length - 1) - v.currentTime;
  });
  assert.ok(lag < 3, `${lag} s behind the camera`);
  await shot(page, "video-cameras");

  // the camera's page: live, its status, the day's recordings
  await page.click("[data-video-live] figcaption a");
  await page.waitForURL(/\/integration\/cameras\/\d+$/);
  await playing(page);
  const status = await page.textContent("[data-camera-status]");
  assert.match(status, /已连接/);
  assert.match(status, /avc1\./);
  assert.match(status, /320×240/);
  await page.waitForSelector(".recordings .timeline");
  await shot(page, "video-camera");

  // on a phone
  const phone = await newPhone(browser);
  await signIn(phone, "liu.yang");
  await phone.goto(BASE + "/integration/cameras");
  await playing(phone);
  await shot(phone, "video-phone");

  assertClean();
  console.log("browser story passed");
} finally {
  await browser.close();
}
