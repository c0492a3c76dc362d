// The I-MR chart of the SPC page: readings with the centre line, control limits and the
// specification limits, and the points that break a Western Electric rule marked.
(function () {
  "use strict";
  if (!window.echarts) return;
  var el = document.querySelector("[data-spc]");
  if (!el) return;
  var r;
  try { r = JSON.parse(el.getAttribute("data-spc")); } catch (e) { return; }
  if (!r || !r.imr || !r.points.length) return;
  var dark = document.documentElement.classList.contains("dark");
  var chart = echarts.init(el, dark ? "dark" : null);
  var lines = [
    { name: "x̄", yAxis: r.imr.center, lineStyle: { type: "solid" } },
    { name: "UCL", yAxis: r.imr.ucl },
    { name: "LCL", yAxis: r.imr.lcl }
  ];
  if (r.usl !== null && r.usl !== undefined) lines.push({ name: "USL", yAxis: r.usl, lineStyle: { color: "#c0392b" } });
  if (r.lsl !== null && r.lsl !== undefined) lines.push({ name: "LSL", yAxis: r.lsl, lineStyle: { color: "#c0392b" } });
  var broken = {};
  r.violations.forEach(function (v) { broken[v.index] = true; });
  chart.setOption({
    tooltip: { trigger: "axis" },
    grid: { left: 60, right: 50, top: 20, bottom: 40 },
    xAxis: { type: "time" },
    yAxis: { type: "value", scale: true },
    dataZoom: [{ type: "inside" }],
    series: [{
      type: "line",
      data: r.points.map(function (p, i) {
        return broken[i] ? { value: [p.ms, p.value], itemStyle: { color: "#c0392b" }, symbolSize: 9 } : [p.ms, p.value];
      }),
      markLine: { symbol: "none", label: { formatter: "{b}" }, lineStyle: { type: "dashed" }, data: lines }
    }]
  });
  var charts = [chart];
  // the X̄-R chart: subgroup means against their limits
  var xel = document.querySelector("[data-spc-xbar]");
  if (xel && r.xbar_r && r.subgroups.length) {
    var x = echarts.init(xel, dark ? "dark" : null);
    x.setOption({
      tooltip: { trigger: "axis" },
      grid: { left: 60, right: 50, top: 20, bottom: 40 },
      xAxis: { type: "time" },
      yAxis: { type: "value", scale: true },
      series: [{
        type: "line",
        data: r.subgroups.map(function (g) { return [g.ms, g.mean]; }),
        markLine: { symbol: "none", label: { formatter: "{b}" }, lineStyle: { type: "dashed" }, data: [
          { name: "X̄̄", yAxis: r.xbar_r.center, lineStyle: { type: "solid" } },
          { name: "UCL", yAxis: r.xbar_r.ucl },
          { name: "LCL", yAxis: r.xbar_r.lcl }
        ] }
      }]
    });
    charts.push(x);
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
