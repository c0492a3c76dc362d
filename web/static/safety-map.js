// The plant map: zones drawn from metres (origin bottom-left), people live over SSE, a
// click on the map adds a vertex to the zone being drawn, and track playback.
(function () {
  "use strict";
  const svg = document.getElementById("plant-map");
  if (!svg) return;
  const H = parseFloat(svg.dataset.h);
  const NS = "http://www.w3.org/2000/svg";
  const flip = (pts) => pts.trim().split(/\s+/).filter(Boolean).map((p) => {
    const [x, y] = p.split(",").map(Number);
    return `${x},${H - y}`;
  }).join(" ");
  svg.querySelectorAll("polygon[data-points]").forEach((p) => p.setAttribute("points", flip(p.dataset.points)));

  // live people
  const layer = document.getElementById("people");
  function draw(people) {
    if (!layer) return;
    layer.replaceChildren(...people.map((s) => {
      const c = document.createElementNS(NS, "circle");
      c.setAttribute("cx", s.x);
      c.setAttribute("cy", H - s.y);
      c.setAttribute("r", 2.5);
      c.setAttribute("class", "person" + (s.sos ? " sos" : "") + (s.still_s >= 120 ? " still" : ""));
      c.dataset.person = s.person;
      const t = document.createElementNS(NS, "title");
      t.textContent = `${s.name} (${s.x.toFixed(0)}, ${s.y.toFixed(0)})`;
      c.append(t);
      return c;
    }));
    const st = document.querySelector("[data-live]");
    if (st) st.textContent = st.textContent.replace(/\d+/, people.length);
  }
  const seen = document.getElementById("seen-json");
  if (seen && layer) {
    draw(JSON.parse(seen.textContent));
    const es = new EventSource("/safety/map/stream");
    es.addEventListener("positions", (e) => {
      const v = JSON.parse(e.data);
      draw(v.people);
      for (const [id, n] of v.occupancy) {
        const el = document.querySelector(`[data-occ="${id}"]`);
        if (el) el.textContent = n;
      }
    });
  }

  // drawing a zone: clicks add vertices (metres, one decimal)
  const poly = document.getElementById("polygon");
  const draft = document.getElementById("draft");
  if (poly && draft) {
    const preview = () => {
      const p = document.createElementNS(NS, "polygon");
      p.setAttribute("class", "zone draft");
      p.setAttribute("points", flip(poly.value));
      draft.replaceChildren(p);
    };
    svg.addEventListener("click", (e) => {
      const pt = svg.createSVGPoint();
      pt.x = e.clientX;
      pt.y = e.clientY;
      const m = pt.matrixTransform(svg.getScreenCTM().inverse());
      poly.value = (poly.value.trim() + ` ${m.x.toFixed(1)},${(H - m.y).toFixed(1)}`).trim();
      preview();
    });
    poly.addEventListener("input", preview);
  }

  // track playback
  const track = document.getElementById("track-json");
  const line = document.getElementById("track-line");
  if (track && line) {
    const pts = JSON.parse(track.textContent);
    line.setAttribute("points", pts.map((p) => `${p[1]},${H - p[2]}`).join(" "));
    const dot = document.getElementById("track-dot");
    const slider = document.getElementById("track-slider");
    const label = document.getElementById("track-time");
    const show = (i) => {
      const p = pts[i];
      if (!p) return;
      dot.setAttribute("cx", p[1]);
      dot.setAttribute("cy", H - p[2]);
      if (label) label.textContent = new Date(p[0]).toLocaleString();
    };
    if (slider) {
      slider.addEventListener("input", () => show(+slider.value));
      show(+slider.value);
      const play = document.getElementById("track-play");
      let timer = null;
      play?.addEventListener("click", () => {
        if (timer) { clearInterval(timer); timer = null; return; }
        if (+slider.value >= pts.length - 1) slider.value = 0;
        timer = setInterval(() => {
          if (+slider.value >= pts.length - 1) { clearInterval(timer); timer = null; return; }
          slider.value = +slider.value + 1;
          show(+slider.value);
        }, 100);
      });
    }
  }
})();
