// nplusx console behaviour. No inline scripts (CSP: script-src 'self').
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');

  // Forms with data-confirm ask before submitting (module switches, deletions, revocations).
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var msg = f.getAttribute && f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
    }
  });

  // htmx requests carry the CSRF token as a header.
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) e.detail.headers["X-CSRF-Token"] = csrf.content;
  });

  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-toggle-nav],[data-toggle-theme],[data-print]");
    if (!t) return;
    if (t.hasAttribute("data-toggle-nav")) {
      document.body.classList.toggle("nav-open");
    } else if (t.hasAttribute("data-toggle-theme")) {
      var dark = document.documentElement.classList.toggle("dark");
      try { localStorage.setItem("nx-theme", dark ? "dark" : "light"); } catch (_) {}
    } else if (t.hasAttribute("data-print")) {
      window.print();
    }
  });

  // Form parts that apply to one choice only (data-show-when="driver=modbus_tcp|modbus_rtu")
  // follow the select that controls them (data-controls="driver"). Without JS all show.
  document.querySelectorAll("select[data-controls]").forEach(function (sel) {
    var name = sel.getAttribute("data-controls");
    function apply() {
      document.querySelectorAll('[data-show-when^="' + name + '="]').forEach(function (el) {
        var want = el.getAttribute("data-show-when").slice(name.length + 1).split("|");
        el.hidden = want.indexOf(sel.value) < 0;
      });
    }
    sel.addEventListener("change", apply);
    apply();
  });

  // Tables with data-sortable sort by a header click (text or number, toggling direction);
  // delegated, so tables swapped in by a filter form sort too.
  function markSortable(root) {
    root.querySelectorAll("table[data-sortable] thead th").forEach(function (th) { th.classList.add("sortable"); });
  }
  markSortable(document);
  document.addEventListener("htmx:afterSettle", function () { markSortable(document); });
  document.addEventListener("click", function (e) {
    var th = e.target.closest("table[data-sortable] thead th");
    if (!th) return;
    var table = th.closest("table"), col = th.cellIndex, body = table.tBodies[0];
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (x) { x.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = (a.cells[col] || {}).textContent || "", y = (b.cells[col] || {}).textContent || "";
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, document.documentElement.lang);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
})();

// Live tag values: any element with data-live="NAME,NAME" (empty = all) gets its
// [data-tag] rows / cards updated from the server's event stream.
// A filter form that swaps the table in starts a new stream for the rows now shown.
(function () {
  "use strict";
  var es = null, root = null;
  function start() {
    if (es) { es.close(); es = null; }
    root = document.querySelector("[data-live]");
    if (!root || !window.EventSource) return;
    var names = root.getAttribute("data-live");
    var url = "/api/v1/stream/tags" + (names ? "?names=" + encodeURIComponent(names) : "");
    var labels = {
      good: root.getAttribute("data-q-good"),
      uncertain: root.getAttribute("data-q-uncertain"),
      bad: root.getAttribute("data-q-bad")
    };
    var rows = {};
    document.querySelectorAll("[data-tag]").forEach(function (el) { rows[el.getAttribute("data-tag")] = el; });
    function decimals(res) {
      var r = parseFloat(res);
      if (!(r > 0) || r >= 1) return 0;
      return Math.min(6, Math.ceil(-Math.log10(r) - 1e-9));
    }
    function fmt(v, el) {
      if (v === null || v === undefined) return "—";
      if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(decimals(el.getAttribute("data-resolution")));
      return String(v);
    }
    function pad(n) { return (n < 10 ? "0" : "") + n; }
    function time(ms) {
      var d = new Date(ms);
      return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    }
    function apply(e) {
      JSON.parse(e.data).forEach(function (x) {
        var el = rows[x.name];
        if (!el) return;
        var v = el.querySelector(".v"), q = el.querySelector(".q"), ts = el.querySelector(".ts");
        if (v && x.value !== null) v.textContent = fmt(x.value, el);
        if (q) {
          var badge = q.querySelector(".badge") || q;
          badge.className = badge === q ? q.className : "badge q-" + x.quality.q;
          if (labels[x.quality.q]) badge.textContent = labels[x.quality.q];
        }
        if (ts) ts.textContent = time(x.ts_ms);
        el.classList.toggle("stale", x.quality.q !== "good");
      });
    }
    es = new EventSource(url);
    es.addEventListener("snapshot", apply);
    es.addEventListener("values", apply);
  }
  start();
  document.addEventListener("htmx:afterSettle", function () {
    if (document.querySelector("[data-live]") !== root) start();
  });
})();

// Live alarms: the top-bar banner's counts and, on the alarm list, the list itself follow
// /api/v1/alarms/stream. The list is re-fetched as server-rendered HTML (one template).
(function () {
  "use strict";
  var banner = document.querySelector("[data-alarm-banner]");
  if (!banner || !window.EventSource) return;
  var pending = null;
  function counts(s) {
    banner.querySelector('[data-n="unack"]').textContent = s.unack;
    banner.querySelector('[data-n="active"]').textContent = s.active;
    banner.className = "alarm-banner" + (s.unack ? " unack" : "") + (s.top ? " p-" + s.top : "");
  }
  function refresh() {
    var list = document.getElementById("alarm-list");
    if (!list || pending) return;
    // a burst of changes fetches the list once
    pending = setTimeout(function () {
      pending = null;
      fetch(list.getAttribute("data-alarm-list"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var tmp = document.createElement("div");
          tmp.innerHTML = html;
          var fresh = tmp.querySelector("#alarm-list");
          var now = document.getElementById("alarm-list");
          if (fresh && now) now.replaceWith(fresh);
        })
        .catch(function () {});
    }, 300);
  }
  var es = new EventSource("/api/v1/alarms/stream");
  es.addEventListener("summary", function (e) { counts(JSON.parse(e.data)); });
  es.addEventListener("changed", function (e) {
    counts(JSON.parse(e.data).summary);
    refresh();
  });
})();

// Theme before first paint would need an inline script; apply as early as this file runs.
try { if (localStorage.getItem("nx-theme") === "dark") document.documentElement.classList.add("dark"); } catch (_) {}
