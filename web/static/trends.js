// Trend page: several tags on one time axis (ECharts), zoom re-queries the server for the
// visible range, so detail appears as you zoom in. Ranges longer than two hours are drawn
// from 1,000 min/avg/max buckets, shorter ones from raw samples.
(function () {
  "use strict";
  var el = document.getElementById("trend-chart");
  if (!el || !window.echarts) return;
  var form = document.getElementById("trend-form");
  var rangeSel = document.getElementById("trend-range");
  var fromIn = document.getElementById("trend-from");
  var toIn = document.getElementById("trend-to");
  var tags = (el.getAttribute("data-tags") || "").split(",").filter(Boolean);
  var dark = document.documentElement.classList.contains("dark");
  var chart = echarts.init(el, dark ? "dark" : null);
  var span = { "1h": 3600e3, "8h": 8 * 3600e3, "24h": 24 * 3600e3, "7d": 7 * 24 * 3600e3 };

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localInput(ms) {
    var d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function rfc3339(ms) { return new Date(ms).toISOString(); }
  function currentRange() {
    if (rangeSel.value === "custom" && fromIn.value && toIn.value) {
      return [new Date(fromIn.value).getTime(), new Date(toIn.value).getTime()];
    }
    var to = Date.now();
    return [to - (span[rangeSel.value] || span["8h"]), to];
  }
  function exportLinks(r) {
    var q = "?tags=" + encodeURIComponent(tags.join(",")) + "&from=" + encodeURIComponent(rfc3339(r[0])) +
      "&to=" + encodeURIComponent(rfc3339(r[1])) + (r[1] - r[0] > 2 * 3600e3 ? "&buckets=1000" : "");
    document.getElementById("export-csv").href = "/integration/trends/export" + q + "&format=csv";
    document.getElementById("export-xlsx").href = "/integration/trends/export" + q + "&format=xlsx";
  }

  function load(r) {
    if (!tags.length) { chart.clear(); chart.setOption({ title: { text: el.getAttribute("data-empty"), left: "center", top: "middle", textStyle: { fontSize: 14, color: "#667077" } } }); return; }
    exportLinks(r);
    var raw = r[1] - r[0] <= 2 * 3600e3;
    var q = "?from=" + encodeURIComponent(rfc3339(r[0])) + "&to=" + encodeURIComponent(rfc3339(r[1])) + (raw ? "" : "&buckets=1000");
    chart.showLoading();
    Promise.all(tags.map(function (t) {
      return fetch("/api/v1/tags/" + encodeURIComponent(t) + "/history" + q, { credentials: "same-origin" })
        .then(function (resp) { if (!resp.ok) throw new Error(resp.status); return resp.json(); });
    })).then(function (hs) {
      var units = [];
      hs.forEach(function (h) { if (units.indexOf(h.unit) < 0) units.push(h.unit); });
      var series = [];
      hs.forEach(function (h) {
        var axis = units.indexOf(h.unit);
        var data = h.points
          ? h.points.map(function (p) { return [p.ts_ms, p.quality.q === "bad" ? null : (typeof p.value === "number" ? p.value : null)]; })
          : h.buckets.map(function (b) { return [b.ts_ms, b.avg]; });
        var present = data.filter(function (d) { return d[1] !== null; }).length;
        series.push({ name: h.tag + (h.unit ? " (" + h.unit + ")" : ""), type: "line", showSymbol: present < 60, symbolSize: 4, yAxisIndex: Math.min(axis, 3),
          step: raw ? "end" : false, sampling: "lttb", connectNulls: false, data: data });
      });
      chart.hideLoading();
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { top: 0, type: "scroll" },
        grid: { left: 56, right: 16 + 48 * Math.max(0, Math.min(units.length, 4) - 1), top: 36, bottom: 72 },
        xAxis: { type: "time", min: r[0], max: r[1] },
        yAxis: units.slice(0, 4).map(function (u, i) {
          return { type: "value", name: u, scale: true, position: i === 0 ? "left" : "right", offset: i > 1 ? 48 * (i - 1) : 0 };
        }),
        dataZoom: [{ type: "inside", filterMode: "none" }, { type: "slider", filterMode: "none", bottom: 16 }],
        series: series
      }, true);
    }).catch(function () {
      chart.hideLoading();
      chart.setOption({ title: { text: el.getAttribute("data-error"), left: "center", top: "middle" } }, true);
    });
  }

  // zooming in fetches the visible range again (debounced)
  var timer = null;
  chart.on("datazoom", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var opt = chart.getOption();
      var x = opt.xAxis[0], dz = opt.dataZoom[0];
      var lo = x.min + (x.max - x.min) * dz.start / 100, hi = x.min + (x.max - x.min) * dz.end / 100;
      if (dz.start === 0 && dz.end === 100) return;
      load([Math.round(lo), Math.round(hi)]);
    }, 400);
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    tags = Array.prototype.map.call(form.querySelectorAll("input[name=tag]:checked"), function (c) { return c.value; }).slice(0, 8);
    var r = currentRange();
    var u = new URL(window.location.href);
    u.searchParams.set("tags", tags.join(","));
    history.replaceState(null, "", u.pathname + u.search);
    load(r);
  });
  rangeSel.addEventListener("change", function () {
    if (rangeSel.value !== "custom") { var r = currentRange(); fromIn.value = localInput(r[0]); toIn.value = localInput(r[1]); }
  });
  window.addEventListener("resize", function () { chart.resize(); });
  var r0 = currentRange();
  fromIn.value = fromIn.value || localInput(r0[0]);
  toIn.value = toIn.value || localInput(r0[1]);
  load(r0);
})();
