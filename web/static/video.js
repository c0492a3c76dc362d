// Live camera views (templates integration/_camera_live.html): the box sends the camera's
// H.264/H.265 repackaged as fragmented MP4 over one long HTTP response
// (/integration/cameras/{id}/live.mp4); Media Source Extensions play it. The player stays
// near the live edge, drops what it has played, and reconnects when the stream ends. Where
// the browser cannot play the codec (H.265 in most browsers) it says so and shows the
// camera's snapshot instead.
(function () {
  "use strict";
  var MS = window.ManagedMediaSource || window.MediaSource;

  function start(fig) {
    if (fig.getAttribute("data-started")) return;
    fig.setAttribute("data-started", "1");
    var video = fig.querySelector("video");
    var note = fig.querySelector(".live-note");
    var fallback = fig.querySelector("img.fallback");
    var url = fig.getAttribute("data-video-live");
    function L(k) { return fig.getAttribute("data-l-" + k) || ""; }
    function say(text) { if (note) note.textContent = text; }
    function showFallback() {
      if (fallback) fallback.hidden = false;
      video.hidden = true;
    }
    if (!MS) { say(L("nomse")); showFallback(); return; }
    var retry = 1000;

    function connect() {
      say(L("connecting"));
      var ctrl = new AbortController();
      fetch(url, { signal: ctrl.signal, credentials: "same-origin", cache: "no-store" }).then(function (res) {
        if (!res.ok || !res.body) {
          return res.text().then(function (t) {
            var msg = L("down");
            try { msg = JSON.parse(t).message || msg; } catch (e) { /* an HTML error page */ }
            throw new Error(msg);
          });
        }
        var type = res.headers.get("content-type") || "";
        if (!MS.isTypeSupported(type)) {
          ctrl.abort();
          say(/hvc1|hev1/.test(type) ? L("h265") : L("nomse") + " (" + type + ")");
          showFallback();
          return "unsupported";
        }
        return play(res.body.getReader(), type);
      }).then(function (r) {
        if (r === "unsupported") return;
        later(L("down"));
      }, function (e) {
        if (e && e.name === "AbortError") return;
        later((e && e.message) || L("down"));
      });
    }

    function later(text) {
      say(text);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    }

    function play(reader, type) {
      return new Promise(function (resolve) {
        var ms = new MS();
        var queue = [];
        var sb = null;
        var done = false;
        video.disableRemotePlayback = true;
        video.src = URL.createObjectURL(ms);
        function pump() {
          if (!sb || sb.updating || !queue.length) return;
          var b = video.buffered;
          if (b.length && video.currentTime - b.start(0) > 30) {
            // keep memory flat: drop what was played
            sb.remove(b.start(0), video.currentTime - 10);
            return;
          }
          try {
            sb.appendBuffer(queue.shift());
          } catch (e) {
            finish();
          }
        }
        function finish() {
          if (done) return;
          done = true;
          try { reader.cancel(); } catch (e) { /* already closed */ }
          resolve();
        }
        ms.addEventListener("sourceopen", function () {
          sb = ms.addSourceBuffer(type);
          sb.addEventListener("updateend", function () {
            var b = video.buffered;
            if (b.length) {
              var end = b.end(b.length - 1);
              // stay within a second or so of the camera
              if (video.currentTime < b.start(0) || end - video.currentTime > 2.5) {
                video.currentTime = Math.max(b.start(b.length - 1), end - 0.5);
              }
              if (video.paused) video.play().catch(function () { /* autoplay refused */ });
            }
            pump();
          });
          (function read() {
            reader.read().then(function (r) {
              if (r.done) { finish(); return; }
              if (queue.length < 200) queue.push(r.value);
              retry = 1000;
              say("");
              pump();
              read();
            }, finish);
          })();
        }, { once: true });
        video.addEventListener("error", finish, { once: true });
      });
    }
    connect();
  }

  // a view starts when it scrolls into sight: a page of many cameras does not open every
  // stream at once (over plain HTTP/1.1 a browser holds six connections to the box)
  function all() {
    var figs = document.querySelectorAll("[data-video-live]");
    if (!("IntersectionObserver" in window)) { figs.forEach(start); return; }
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) { seen.unobserve(e.target); start(e.target); }
      });
    });
    figs.forEach(function (f) { seen.observe(f); });
  }
  // the camera page's status card follows the connection (re-read from the page itself)
  function follow() {
    var card = document.querySelector("[data-camera-status]");
    if (!card) return;
    setInterval(function () {
      if (document.hidden) return;
      fetch(location.href, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-camera-status]");
        if (fresh) card.innerHTML = fresh.innerHTML;
      }).catch(function () { /* the next round tries again */ });
    }, 3000);
  }
  function boot() { all(); follow(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
