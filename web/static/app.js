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

  // Tables with data-sortable sort by a header click (text or number, toggling direction).
  document.querySelectorAll("table[data-sortable]").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, col) {
      th.classList.add("sortable");
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
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
    });
  });
})();

// Theme before first paint would need an inline script; apply as early as this file runs.
try { if (localStorage.getItem("nx-theme") === "dark") document.documentElement.classList.add("dark"); } catch (_) {}
