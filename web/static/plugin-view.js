// Plugin pages: charts, gauges and boards.
// Each [data-plugin-chart] holds the plugin's chart data as JSON (the WIT `chart-data`
// variant): {"TimeSeries": [series]}, {"Bars": [slices]}, {"Pie": [slices]}; each
// [data-plugin-gauge] a `gauge` record. A [data-board] reloads itself every
// data-refresh seconds (the page is fetched again and the board replaced; when that fails
// it dims, data-stale, and says since when), goes full
// screen on [data-fullscreen], and, with data-arrange, lets its widgets be dragged and
// resized on the grid and posts their places (`<id>` = `x,y,w,h`) to that address.
(function () {
  "use strict";
  var charts = [];

  function chartOption(el, data) {
    if (data.TimeSeries) {
      if (!data.TimeSeries.length || data.TimeSeries.every(function (s) { return !s.points.length; })) {
        return { title: { text: el.getAttribute("data-empty"), left: "center", top: "middle", textStyle: { fontSize: 14 } } };
      }
      return {
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
    if (data.Bars) {
      return {
        tooltip: {}, grid: { left: 50, right: 20, top: 20, bottom: 40 },
        xAxis: { type: "category", data: data.Bars.map(function (b) { return b.label; }) },
        yAxis: { type: "value" },
        series: [{ type: "bar", data: data.Bars.map(function (b) { return b.value; }) }]
      };
    }
    if (data.Pie) {
      return {
        tooltip: { trigger: "item" },
        series: [{ type: "pie", radius: "65%", data: data.Pie.map(function (b) { return { name: b.label, value: b.value }; }) }]
      };
    }
    return null;
  }

  var toneColour = { Good: "#2e7d32", Warn: "#b26b00", Bad: "#c62828", Neutral: "#1e6fd9" };

  function gaugeOption(g) {
    return {
      series: [{
        type: "gauge", min: g.min, max: g.max, radius: "95%",
        progress: { show: true, width: 10, itemStyle: { color: toneColour[g.tone] || toneColour.Neutral } },
        axisLine: { lineStyle: { width: 10 } },
        axisLabel: { distance: 14, fontSize: 10 },
        splitLine: { length: 8 }, axisTick: { show: false }, pointer: { width: 4 },
        title: { offsetCenter: [0, "70%"], fontSize: 12 },
        detail: { valueAnimation: false, fontSize: 22, offsetCenter: [0, "40%"],
          formatter: function (v) { return (Math.round(v * 100) / 100) + (g.unit ? " " + g.unit : ""); } },
        data: [{ value: g.value, name: g.label }]
      }]
    };
  }

  function draw(root) {
    if (!window.echarts) return;
    var dark = document.documentElement.classList.contains("dark");
    root.querySelectorAll("[data-plugin-chart],[data-plugin-gauge]").forEach(function (el) {
      var option;
      try {
        option = el.hasAttribute("data-plugin-gauge")
          ? gaugeOption(JSON.parse(el.getAttribute("data-plugin-gauge")))
          : chartOption(el, JSON.parse(el.getAttribute("data-plugin-chart")));
      } catch (e) { return; }
      if (!option) return;
      var chart = echarts.init(el, dark ? "dark" : null);
      chart.setOption(option);
      charts.push(chart);
    });
  }

  function dispose(root) {
    charts = charts.filter(function (c) {
      if (root.contains(c.getDom())) { c.dispose(); return false; }
      return true;
    });
  }

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  function place(w, p) {
    w.setAttribute("data-x", p.x); w.setAttribute("data-y", p.y);
    w.setAttribute("data-w", p.w); w.setAttribute("data-h", p.h);
    w.style.gridColumn = (p.x + 1) + " / span " + p.w;
    w.style.gridRow = (p.y + 1) + " / span " + p.h;
  }

  function at(w) {
    return { x: +w.getAttribute("data-x"), y: +w.getAttribute("data-y"),
      w: +w.getAttribute("data-w"), h: +w.getAttribute("data-h") };
  }

  function overlap(a, b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  }

  // after a drop: widgets under the one dropped move down below it (and those under them,
  // in turn), then every widget rises as far as the grid is free — no two share a cell
  function settle(board, moved) {
    var ws = Array.prototype.slice.call(board.querySelectorAll("[data-widget]"));
    for (var round = 0; round < 500; round++) {
      var hit = null;
      for (var i = 0; i < ws.length && !hit; i++) {
        for (var j = 0; j < ws.length && !hit; j++) {
          if (i !== j && overlap(at(ws[i]), at(ws[j]))) hit = [ws[i], ws[j]];
        }
      }
      if (!hit) break;
      var a = hit[0], b = hit[1];
      var victim = a === moved ? b : b === moved ? a : (at(a).y <= at(b).y ? b : a);
      var stays = victim === a ? b : a;
      var p = at(victim);
      p.y = at(stays).y + at(stays).h;
      place(victim, p);
    }
    ws.sort(function (a, b) { return at(a).y - at(b).y || at(a).x - at(b).x; });
    ws.forEach(function (w) {
      var p = at(w);
      while (p.y > 0) {
        var up = { x: p.x, y: p.y - 1, w: p.w, h: p.h };
        if (ws.some(function (o) { return o !== w && overlap(up, at(o)); })) break;
        p = up;
      }
      place(w, p);
    });
  }

  // drag a widget's body to move it, its corner to resize it, in whole grid cells
  function arrange(board) {
    var cols = +board.getAttribute("data-columns");
    var rows = 24;
    board.classList.add("arranging");
    board.querySelectorAll("[data-widget]").forEach(function (w) {
      var handle = document.createElement("span");
      handle.className = "widget-resize";
      handle.setAttribute("aria-hidden", "true");
      w.appendChild(handle);
      w.addEventListener("pointerdown", function (e) {
        var resizing = e.target === handle;
        var rect = board.getBoundingClientRect();
        var cw = rect.width / cols;
        var ch = cw * 0.6;
        var start = at(w), x0 = e.clientX, y0 = e.clientY;
        w.setPointerCapture(e.pointerId);
        e.preventDefault();
        function move(ev) {
          var dx = Math.round((ev.clientX - x0) / cw), dy = Math.round((ev.clientY - y0) / ch);
          var p = { x: start.x, y: start.y, w: start.w, h: start.h };
          if (resizing) {
            p.w = Math.max(1, Math.min(cols - p.x, start.w + dx));
            p.h = Math.max(1, Math.min(rows - p.y, start.h + dy));
          } else {
            p.x = Math.max(0, Math.min(cols - p.w, start.x + dx));
            p.y = Math.max(0, Math.min(rows - p.h, start.y + dy));
          }
          place(w, p);
        }
        function up() {
          w.removeEventListener("pointermove", move);
          w.removeEventListener("pointerup", up);
          settle(board, w);
          charts.forEach(function (c) { c.resize(); });
        }
        w.addEventListener("pointermove", move);
        w.addEventListener("pointerup", up);
      });
    });
  }

  function save(board) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = board.getAttribute("data-arrange");
    var csrf = document.querySelector('meta[name="csrf-token"]');
    var fields = [["csrf", csrf ? csrf.content : ""]];
    board.querySelectorAll("[data-widget]").forEach(function (w) {
      var p = at(w);
      fields.push([w.getAttribute("data-widget"), [p.x, p.y, p.w, p.h].join(",")]);
    });
    fields.forEach(function (f) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = f[0]; i.value = f[1];
      form.appendChild(i);
    });
    document.body.appendChild(form);
    form.submit();
  }

  function refresh(board) {
    var every = +board.getAttribute("data-refresh");
    if (!every) return;
    setInterval(function () {
      if (board.classList.contains("arranging") || document.hidden) return;
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          // signed out (the sign-in page comes back), refused or a broken page: say so
          var fresh = html && new DOMParser().parseFromString(html, "text/html").querySelector("[data-board]");
          if (!fresh) { stale(board); return; }
          current(board);
          board.setAttribute("data-rendered", fresh.getAttribute("data-rendered") || "");
          dispose(board);
          board.innerHTML = fresh.innerHTML;
          draw(board);
          fit(board);
          board.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () { stale(board); /* the next round tries again */ });
    }, every * 1000);
  }

  // a board whose refresh fails dims and says since when (the plant time the box wrote its
  // last good figures) they are old
  function stale(board) {
    if (board.hasAttribute("data-stale")) return;
    var hhmm = board.getAttribute("data-rendered") || "";
    board.setAttribute("data-stale", "");
    var p = document.createElement("p");
    p.className = "flash err board-stale";
    p.setAttribute("role", "alert");
    p.textContent = (board.getAttribute("data-stale-label") || "").replace("{time}", hhmm);
    board.parentNode.insertBefore(p, board);
    fit(board);
  }
  function current(board) {
    if (!board.hasAttribute("data-stale")) return;
    board.removeAttribute("data-stale");
    var p = board.previousElementSibling;
    if (p && p.classList.contains("board-stale")) p.remove();
  }

  // on a wall screen the rows the board uses share the screen's height (never below 64 px)
  function fit(board) {
    if (!document.documentElement.classList.contains("wall")) return;
    var rows = 1;
    board.querySelectorAll("[data-widget]").forEach(function (w) {
      var p = at(w);
      rows = Math.max(rows, p.y + p.h);
    });
    var gap = parseFloat(getComputedStyle(board).rowGap) || 0;
    var free = window.innerHeight - board.getBoundingClientRect().top - 16 - gap * (rows - 1);
    board.style.gridAutoRows = Math.max(64, Math.floor(free / rows)) + "px";
    charts.forEach(function (c) { c.resize(); });
  }

  draw(document);
  document.querySelectorAll("[data-board]").forEach(function (board) {
    board.querySelectorAll("[data-widget]").forEach(function (w) { place(w, at(w)); });
    fit(board);
    window.addEventListener("resize", function () { fit(board); });
    refresh(board);
  });
  document.querySelectorAll("[data-arrange-start]").forEach(function (b) {
    b.addEventListener("click", function () {
      var board = document.querySelector("[data-board][data-arrange]");
      if (!board) return;
      if (board.classList.contains("arranging")) { save(board); return; }
      arrange(board);
      b.textContent = b.getAttribute("data-save-label");
    });
  });
  document.querySelectorAll("[data-fullscreen]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.documentElement;
      if (document.fullscreenElement) { document.exitFullscreen(); return; }
      if (el.requestFullscreen) el.requestFullscreen().catch(function () { /* refused: stays in the window */ });
    });
  });
})();
