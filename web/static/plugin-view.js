// Charts of plugin pages: each [data-plugin-chart] holds the plugin's chart data as JSON
// (the WIT `chart-data` variant): {"TimeSeries": [series]}, {"Bars": [slices]}, {"Pie": [slices]}.
(function () {
  "use strict";
  if (!window.echarts) return;
  var dark = document.documentElement.classList.contains("dark");
  document.querySelectorAll("[data-plugin-chart]").forEach(function (el) {
    var data;
    try { data = JSON.parse(el.getAttribute("data-plugin-chart")); } catch (e) { return; }
    var chart = echarts.init(el, dark ? "dark" : null);
    var option;
    if (data.TimeSeries) {
      if (!data.TimeSeries.length || data.TimeSeries.every(function (s) { return !s.points.length; })) {
        option = { title: { text: el.getAttribute("data-empty"), left: "center", top: "middle", textStyle: { fontSize: 14 } } };
      } else {
        option = {
          tooltip: { trigger: "axis" },
          legend: { top: 0 },
          grid: { left: 50, right: 20, top: 30, bottom: 40 },
          xAxis: { type: "time" },
          yAxis: { type: "value", scale: true },
          dataZoom: [{ type: "inside" }],
          series: data.TimeSeries.map(function (s) {
            return { name: s.unit ? s.name + " (" + s.unit + ")" : s.name, type: "line", showSymbol: false,
              data: s.points.map(function (p) { return [p.ts_ms, p.value]; }) };
          })
        };
      }
    } else if (data.Bars) {
      option = {
        tooltip: {}, grid: { left: 50, right: 20, top: 20, bottom: 40 },
        xAxis: { type: "category", data: data.Bars.map(function (b) { return b.label; }) },
        yAxis: { type: "value" },
        series: [{ type: "bar", data: data.Bars.map(function (b) { return b.value; }) }]
      };
    } else if (data.Pie) {
      option = {
        tooltip: { trigger: "item" },
        series: [{ type: "pie", radius: "65%", data: data.Pie.map(function (b) { return { name: b.label, value: b.value }; }) }]
      };
    } else {
      return;
    }
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
