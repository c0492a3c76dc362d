// Process screens (templates automation/screen.html and screen_edit.html).
// View: overlays follow /api/v1/automation/screens/{id}/stream; a writable tag opens the
// set-point dialog: the value, then old → new, then the device's read-back or the refusal.
// Edit: overlays are dragged into place (pointer events: mouse, pen and touch), added,
// changed and removed in the panel, and saved as JSON to POST /api/v1/automation/screens.
(function () {
  "use strict";
  var root = document.querySelector("[data-screen]");
  var dataEl = document.getElementById("screen-data");
  if (!root || !dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var canvas = root.querySelector("[data-canvas]");
  var mode = root.getAttribute("data-mode");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  function L(k) { return root.getAttribute("data-l-" + k) || k; }

  function decimals(res) {
    var r = parseFloat(res);
    if (!(r > 0) || r >= 1) return 0;
    return Math.min(6, Math.ceil(-Math.log10(r) - 1e-9));
  }
  function fmt(v, tag) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "boolean") return v ? L("on") : L("off");
    if (tag && tag.states && tag.states.length && typeof v === "number" && tag.states[v] !== undefined) return tag.states[v];
    if (typeof v === "number") return v.toFixed(decimals(tag ? tag.resolution : 1));
    return String(v);
  }
  function el(name, cls, text) {
    var e = document.createElement(name);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var SVGNS = "http://www.w3.org/2000/svg";
  // POSTs JSON with the session's CSRF token; resolves to {ok, j} (j the JSON answer)
  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      credentials: "same-origin",
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, j: j }; });
    });
  }

  // ---------------------------------------------------------------- overlays
  // One element per binding; `state` holds what the stream last said of each tag.
  var state = { values: {}, alarms: {}, trends: {} };
  var overlays = [];

  function render(b) {
    var tag = data.tags[b.tag] || {};
    var o = el("div", "ov ov-" + b.show);
    o.style.left = b.x + "%";
    o.style.top = b.y + "%";
    o.setAttribute("data-ov", b.tag);
    o.title = b.tag + (tag.description ? " " + tag.description : "");
    if (b.label) o.appendChild(el("span", "ov-label", b.label));
    if (b.show === "bar") {
      var bar = el("span", "ov-gauge");
      bar.appendChild(el("i"));
      o.appendChild(bar);
    }
    if (b.show === "trend") {
      var svg = document.createElementNS(SVGNS, "svg");
      svg.setAttribute("class", "ov-spark");
      svg.setAttribute("viewBox", "0 0 100 30");
      svg.setAttribute("preserveAspectRatio", "none");
      svg.appendChild(document.createElementNS(SVGNS, "polyline"));
      o.appendChild(svg);
    }
    if (b.show === "alarm") o.appendChild(el("span", "ov-mark", "▲"));
    else o.appendChild(el("span", "ov-v", "—"));
    if (b.show === "value" || b.show === "bar") o.appendChild(el("span", "ov-unit", tag.unit || ""));
    if (mode === "view" && tag.writable && (b.show === "value" || b.show === "state")) {
      o.classList.add("ov-writable");
      o.tabIndex = 0;
      o.setAttribute("role", "button");
    }
    canvas.appendChild(o);
    return o;
  }

  function paint(b, o) {
    var tag = data.tags[b.tag] || {};
    var cur = state.values[b.tag];
    var al = state.alarms[b.tag];
    var v = cur ? cur[0] : null, q = cur ? cur[1] : "bad";
    o.classList.toggle("q-bad", !cur || q === "bad");
    o.classList.toggle("q-uncertain", q === "uncertain");
    ["urgent", "high", "medium", "low"].forEach(function (p) { o.classList.toggle("al-" + p, !!al && al[0] === p); });
    o.classList.toggle("al-wait", !!al && al[1]);
    o.classList.toggle("al-rtn", !!al && !al[2]);
    var ve = o.querySelector(".ov-v");
    if (ve) ve.textContent = cur ? fmt(v, tag) : "—";
    if (b.show === "state") o.classList.toggle("on", v === true || (typeof v === "number" && v !== 0));
    if (b.show === "bar") {
      var lo = tag.lo, hi = tag.hi, f = 0;
      if (typeof v === "number" && hi > lo) f = Math.max(0, Math.min(1, (v - lo) / (hi - lo)));
      o.querySelector(".ov-gauge i").style.width = (f * 100).toFixed(1) + "%";
    }
    if (b.show === "trend") {
      var pts = state.trends[b.tag] || [];
      if (pts.length > 1) {
        var t0 = pts[0][0], t1 = pts[pts.length - 1][0], lo2 = Infinity, hi2 = -Infinity;
        pts.forEach(function (p) { lo2 = Math.min(lo2, p[1]); hi2 = Math.max(hi2, p[1]); });
        if (hi2 === lo2) { hi2 += 1; lo2 -= 1; }
        var s = pts.map(function (p) {
          return ((p[0] - t0) / Math.max(1, t1 - t0) * 100).toFixed(1) + "," + (28 - (p[1] - lo2) / (hi2 - lo2) * 26).toFixed(1);
        }).join(" ");
        o.querySelector("polyline").setAttribute("points", s);
      }
    }
  }

  function paintAll() { data.bindings.forEach(function (b, i) { paint(b, overlays[i]); }); }
  function build() {
    overlays.forEach(function (o) { o.remove(); });
    overlays = data.bindings.map(render);
    paintAll();
  }

  // ---------------------------------------------------------------- live
  function live() {
    var status = root.querySelector("[data-status]");
    var es = new EventSource("/api/v1/automation/screens/" + data.id + "/stream");
    // every value is marked lost while the box is not heard from (the stream says
    // `alive` every 5 s when nothing changes)
    var heard = Date.now();
    function lost(yes) {
      canvas.classList.toggle("lost", yes);
      if (status) status.textContent = yes ? L("lost") : "";
    }
    function alive() { heard = Date.now(); lost(false); }
    setInterval(function () { if (Date.now() - heard > 12000) lost(true); }, 2000);
    es.addEventListener("alive", alive);
    function take(f) {
      alive();
      Object.keys(f.values || {}).forEach(function (k) {
        state.values[k] = f.values[k];
        var v = f.values[k][0];
        if (typeof v === "number" && f.values[k][1] === "good") {
          var tr = state.trends[k] || (state.trends[k] = []);
          tr.push([f.values[k][2], v]);
          var cut = f.values[k][2] - 10 * 60 * 1000;
          while (tr.length && tr[0][0] < cut) tr.shift();
        }
      });
      Object.keys(f.alarms || {}).forEach(function (k) {
        if (f.alarms[k] === null) delete state.alarms[k]; else state.alarms[k] = f.alarms[k];
      });
      paintAll();
    }
    es.addEventListener("snapshot", function (e) {
      var f = JSON.parse(e.data);
      state.trends = f.trends || {};
      take(f);
    });
    es.addEventListener("changes", function (e) { take(JSON.parse(e.data)); });
    es.onerror = function () { lost(true); };
  }

  // ---------------------------------------------------------------- writes
  function dialog() {
    var d = document.querySelector("[data-write-dialog]");
    if (!d) return;
    var q = function (s) { return d.querySelector(s); };
    var steps = d.querySelectorAll("[data-w-step]");
    var current = null, wanted = null;
    function step(name) { steps.forEach(function (s) { s.hidden = s.getAttribute("data-w-step") !== name; }); }
    function open(b) {
      var tag = data.tags[b.tag];
      var cur = state.values[b.tag];
      current = { b: b, tag: tag, old: cur ? cur[0] : null };
      q("[data-w-title]").textContent = b.tag;
      q("[data-w-desc]").textContent = tag.description || "";
      q("[data-w-now]").textContent = fmt(current.old, tag) + " " + (tag.unit || "");
      var isBool = tag.type === "bool";
      q("[data-w-number]").hidden = isBool;
      q("[data-w-bool]").hidden = !isBool;
      var range = "";
      if (tag.lo !== null || tag.hi !== null) range = "(" + (tag.lo === null ? "−∞" : tag.lo) + " … " + (tag.hi === null ? "∞" : tag.hi) + " " + (tag.unit || "") + ")";
      q("[data-w-range]").textContent = range;
      var input = q("input[name=value]");
      input.value = typeof current.old === "number" ? fmt(current.old, tag) : "";
      d.querySelectorAll("input[name=onoff]").forEach(function (r) { r.checked = false; });
      q("[data-w-input-error]").hidden = true;
      step("enter");
      d.showModal();
      if (!isBool) input.select();
    }
    function next() {
      var tag = current.tag, err = q("[data-w-input-error]");
      if (tag.type === "bool") {
        var r = d.querySelector("input[name=onoff]:checked");
        if (!r) { err.textContent = L("pick"); err.hidden = false; return; }
        wanted = r.value === "true";
      } else {
        var raw = q("input[name=value]").value.trim();
        var n = Number(raw);
        if (raw === "" || !isFinite(n)) { err.textContent = L("number"); err.hidden = false; return; }
        if ((tag.lo !== null && n < tag.lo) || (tag.hi !== null && n > tag.hi)) { err.textContent = L("range"); err.hidden = false; return; }
        wanted = n;
      }
      q("[data-w-old]").textContent = fmt(current.old, tag) + " " + (tag.unit || "");
      q("[data-w-new]").textContent = fmt(wanted, tag) + " " + (tag.unit || "");
      q("[data-w-critical]").hidden = !tag.critical;
      step("confirm");
    }
    function send() {
      var b = current.b, tag = current.tag;
      var url = tag.critical ? "/api/v1/automation/writes" : "/api/v1/tags/" + encodeURIComponent(b.tag) + "/write";
      var body = tag.critical ? { tag: b.tag, value: wanted } : { value: wanted };
      q("[data-w-send]").disabled = true;
      postJson(url, body).then(function (x) {
        var res = q("[data-w-result]");
        res.className = x.ok ? "flash ok" : "flash err";
        q("[data-w-step=result] [data-w-back]").hidden = x.ok;
        if (!x.ok) res.textContent = (x.j.error && x.j.error.message) || "?";
        else if (tag.critical) res.textContent = L("requested").replace("{id}", x.j.id);
        else res.textContent = L("written").replace("{value}", fmt(x.j.value, tag) + " " + (tag.unit || ""));
        step("result");
      }).catch(function (e) {
        var res = q("[data-w-result]");
        res.className = "flash err";
        res.textContent = String(e);
        step("result");
      }).then(function () { q("[data-w-send]").disabled = false; });
    }
    q("[data-w-next]").addEventListener("click", next);
    q("input[name=value]").addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); next(); } });
    d.querySelectorAll("[data-w-back]").forEach(function (b) { b.addEventListener("click", function () { step("enter"); }); });
    q("[data-w-send]").addEventListener("click", send);
    d.querySelectorAll("[data-w-cancel]").forEach(function (c) { c.addEventListener("click", function () { d.close(); }); });
    canvas.addEventListener("click", function (e) {
      var o = e.target.closest(".ov-writable");
      if (!o) return;
      open(data.bindings[overlays.indexOf(o)]);
    });
    canvas.addEventListener("keydown", function (e) {
      var o = e.target.closest && e.target.closest(".ov-writable");
      if (o && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); open(data.bindings[overlays.indexOf(o)]); }
    });
  }

  // ---------------------------------------------------------------- editor
  function editor() {
    var panel = root.querySelector("[data-binding-form]");
    var f = {
      tag: panel.querySelector("[data-b-tag]"), show: panel.querySelector("[data-b-show]"),
      label: panel.querySelector("[data-b-label]"), legend: panel.querySelector("[data-b-legend]"),
      add: panel.querySelector("[data-b-add]"), apply: panel.querySelector("[data-b-apply]"),
      remove: panel.querySelector("[data-b-remove]")
    };
    var errEl = root.querySelector("[data-editor-error]"), statusEl = root.querySelector("[data-editor-status]");
    var selected = -1, dirty = false;
    function changed() { dirty = true; statusEl.textContent = L("unsaved"); }
    function select(i) {
      selected = i;
      overlays.forEach(function (o, j) { o.classList.toggle("sel", j === i); });
      var b = data.bindings[i];
      f.legend.textContent = i < 0 ? f.legend.getAttribute("data-new") : f.legend.getAttribute("data-sel");
      f.apply.hidden = f.remove.hidden = i < 0;
      if (b) { f.tag.value = b.tag; f.show.value = b.show; f.label.value = b.label || ""; }
    }
    var known = {};
    document.querySelectorAll("#tag-names option").forEach(function (o) { known[o.value] = true; });
    function knownTag(name) {
      if (known[name]) { errEl.hidden = true; return true; }
      errEl.textContent = L("unknown").replace("{tag}", name);
      errEl.hidden = false;
      f.tag.focus();
      return false;
    }
    f.add.addEventListener("click", function () {
      var name = f.tag.value.trim();
      if (!name) { f.tag.focus(); return; }
      if (!knownTag(name)) return;
      data.bindings.push({ tag: name, show: f.show.value, label: f.label.value.trim(), x: 45, y: 45 });
      if (!data.tags[name]) data.tags[name] = {};
      build();
      select(data.bindings.length - 1);
      changed();
    });
    f.apply.addEventListener("click", function () {
      var b = data.bindings[selected];
      if (!b || !knownTag(f.tag.value.trim())) return;
      b.tag = f.tag.value.trim(); b.show = f.show.value; b.label = f.label.value.trim();
      if (!data.tags[b.tag]) data.tags[b.tag] = {};
      build(); select(selected); changed();
    });
    f.remove.addEventListener("click", function () {
      if (selected < 0) return;
      data.bindings.splice(selected, 1);
      build(); select(-1); changed();
    });
    // dragging: the overlay's top-left follows the pointer, in percent of the canvas
    var drag = null;
    canvas.addEventListener("pointerdown", function (e) {
      var o = e.target.closest(".ov");
      if (!o) { select(-1); return; }
      var i = overlays.indexOf(o);
      select(i);
      var r = canvas.getBoundingClientRect(), orect = o.getBoundingClientRect();
      drag = { i: i, o: o, dx: e.clientX - orect.left, dy: e.clientY - orect.top, r: r };
      o.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var b = data.bindings[drag.i], r = drag.r;
      b.x = Math.round(Math.max(0, Math.min(100, (e.clientX - drag.dx - r.left) / r.width * 100)) * 10) / 10;
      b.y = Math.round(Math.max(0, Math.min(100, (e.clientY - drag.dy - r.top) / r.height * 100)) * 10) / 10;
      drag.o.style.left = b.x + "%";
      drag.o.style.top = b.y + "%";
      changed();
    });
    function end() { drag = null; }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    root.querySelector("[data-save]").addEventListener("click", function () {
      var body = {
        id: data.id, version: data.version,
        name: root.querySelector("[data-f-name]").value,
        unit: root.querySelector("[data-f-unit]").value,
        bindings: data.bindings.map(function (b) { return { tag: b.tag, show: b.show, x: b.x, y: b.y, label: b.label || "" }; })
      };
      errEl.hidden = true;
      postJson("/api/v1/automation/screens", body).then(function (x) {
        if (!x.ok) {
          errEl.textContent = (x.j.error && x.j.error.message) || "?";
          errEl.hidden = false;
          return;
        }
        data.version = x.j.version;
        dirty = false;
        statusEl.textContent = L("saved").replace("{version}", x.j.version);
      }).catch(function (e) { errEl.textContent = String(e); errEl.hidden = false; });
    });
    window.addEventListener("beforeunload", function (e) { if (dirty) { e.preventDefault(); e.returnValue = ""; } });
  }

  build();
  if (mode === "edit") {
    editor();
    live();
  } else {
    live();
    dialog();
  }
})();
