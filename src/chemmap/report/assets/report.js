// chemmap report.html: decodes the embedded maps and spectra, draws the selected map, and shows
// the picked pixel's values and spectrum beside its cluster's mean ± std. No request leaves the
// page. Scripting hooks: window.chemmap.{ready, pick(row, col), picked(), highlight(k), show(name)}.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("chemmap-data").textContent);
  const [H, W] = data.shape;
  const [h, w] = data.displayShape;
  const F = data.factor;
  const SVGNS = "http://www.w3.org/2000/svg";
  const el = (id) => document.getElementById(id);
  const canvas = el("map");
  const ctx = canvas.getContext("2d");
  const state = { layer: 0, row: null, col: null, highlighted: new Set(), layers: [], spectra: null };

  function base64Bytes(text) {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function unpack(text, dtype) {
    const stream = new Blob([base64Bytes(text)]).stream().pipeThrough(new DecompressionStream("deflate"));
    const buffer = await new Response(stream).arrayBuffer();
    return dtype === "u8" ? new Uint8Array(buffer) : new Uint16Array(buffer);
  }

  const STEPS = 65534;
  const MISSING = 65535;

  function layerValue(layer, index) {
    const q = layer.raw[index];
    if (layer.kind === "categorical") return q === layer.missing ? null : q;
    if (q === MISSING) return null;
    return layer.min + (q / STEPS) * (layer.max - layer.min);
  }

  function format(value) {
    if (value === null || Number.isNaN(value)) return "blank";
    const a = Math.abs(value);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return value.toExponential(3);
    if (a >= 1000) return value.toFixed(0);
    const text = value.toPrecision(4);
    return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  }

  function hexColor(hex) {
    const n = parseInt(hex.replace("#", ""), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  const lut = [];
  for (let i = 0; i < 256; i++) lut.push([0, 2, 4].map((o) => parseInt(data.colormap.substr(i * 6 + o, 2), 16)));

  function clusterLayer() {
    return data.clusters ? state.layers.find((l) => l.name === data.clusters.layer) : null;
  }

  function dimColor() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches
      ? [18, 20, 23]
      : [255, 255, 255];
  }

  // ---- map ----------------------------------------------------------------------------------
  function drawMap() {
    const layer = state.layers[state.layer];
    const clusters = clusterLayer();
    const image = ctx.createImageData(w, h);
    const px = image.data;
    const colors = layer.kind === "categorical" ? layer.colors.map(hexColor) : null;
    const dim = dimColor();
    const highlighting = state.highlighted.size > 0 && clusters;
    for (let i = 0; i < w * h; i++) {
      const q = layer.raw[i];
      let rgb;
      if (colors) rgb = q === layer.missing ? null : colors[q];
      else rgb = q === MISSING ? null : lut[Math.min(255, Math.floor((q / STEPS) * 256))];
      const o = i * 4;
      if (!rgb) { px[o + 3] = 0; continue; }
      let alpha = 1;
      if (highlighting && !state.highlighted.has(clusters.raw[i])) alpha = 0.22;
      px[o] = rgb[0] * alpha + dim[0] * (1 - alpha);
      px[o + 1] = rgb[1] * alpha + dim[1] * (1 - alpha);
      px[o + 2] = rgb[2] * alpha + dim[2] * (1 - alpha);
      px[o + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
    const what = highlighting ? `; highlighted: ${[...state.highlighted].map(clusterName).join(", ")}` : "";
    canvas.setAttribute("aria-label", `${layer.title}, ${H} by ${W} pixels${what}. Arrow keys pick a pixel.`);
    drawScale(layer);
  }

  function drawScale(layer) {
    const bar = el("colorbar");
    bar.replaceChildren();
    const legend = el("legend");
    legend.querySelectorAll(".static").forEach((n) => n.remove());
    if (layer.kind === "continuous") {
      const c = document.createElement("canvas");
      c.width = 256; c.height = 1;
      const g = c.getContext("2d").createImageData(256, 1);
      lut.forEach((rgb, i) => g.data.set([...rgb, 255], i * 4));
      c.getContext("2d").putImageData(g, 0, 0);
      const lo = document.createElement("span"); lo.textContent = format(layer.min);
      const hi = document.createElement("span"); hi.textContent = `${format(layer.max)} ${layer.unit || ""}`;
      bar.append(lo, c, hi);
    } else if (!data.clusters || layer.name !== data.clusters.layer) {
      layer.categories.forEach((name, i) => {
        const item = document.createElement("span");
        item.className = "static";
        item.innerHTML = `<span class="swatch" style="background:${layer.colors[i]}"></span>`;
        item.append(name);
        legend.append(item);
      });
    }
  }

  function clusterName(k) {
    return clusterLayer().categories[k];
  }

  function buildLegend() {
    const legend = el("legend");
    const clusters = clusterLayer();
    if (!clusters) {
      el("legend-hint").hidden = true;
      return;
    }
    const total = data.clusters.counts.reduce((a, b) => a + b, 0) || 1;
    clusters.categories.forEach((name, k) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.cluster = String(k);
      b.setAttribute("aria-pressed", "false");
      b.innerHTML = `<span class="swatch" style="background:${clusters.colors[k]}"></span>`;
      b.append(`${name} (${((100 * data.clusters.counts[k]) / total).toFixed(1)} %)`);
      b.addEventListener("click", () => highlight(k));
      legend.append(b);
    });
  }

  function highlight(k) {
    if (state.highlighted.has(k)) state.highlighted.delete(k);
    else state.highlighted.add(k);
    document.querySelectorAll("#legend button").forEach((b) => {
      b.setAttribute("aria-pressed", String(state.highlighted.has(Number(b.dataset.cluster))));
    });
    drawMap();
    drawSpectrum();
  }

  function eventPixel(event) {
    const r = canvas.getBoundingClientRect();
    const row = Math.floor(((event.clientY - r.top) / r.height) * H);
    const col = Math.floor(((event.clientX - r.left) / r.width) * W);
    if (row < 0 || col < 0 || row >= H || col >= W) return null;
    return [row, col];
  }

  function displayIndex(row, col) {
    return Math.floor(row / F) * w + Math.floor(col / F);
  }

  // ---- picking ------------------------------------------------------------------------------
  function pick(row, col) {
    row = Math.max(0, Math.min(H - 1, Math.round(row)));
    col = Math.max(0, Math.min(W - 1, Math.round(col)));
    state.row = row; state.col = col;
    el("pixel-readout").textContent = `row ${row}, col ${col}`;
    const marker = el("marker");
    marker.hidden = false;
    marker.style.left = `${((col + 0.5) / W) * 100}%`;
    marker.style.top = `${((row + 0.5) / H) * 100}%`;
    marker.style.width = `${(100 / W) * 1.6}%`;
    marker.style.height = `${(100 / H) * 1.6}%`;
    const index = displayIndex(row, col);
    const body = el("pixel-values").tBodies[0];
    body.replaceChildren();
    for (const layer of state.layers) {
      const v = layerValue(layer, index);
      const tr = body.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = layer.title;
      tr.append(th);
      const td = tr.insertCell();
      td.textContent = layer.kind === "categorical" ? (v === null ? "blank" : layer.categories[v]) : `${format(v)}${v === null || !layer.unit ? "" : " " + layer.unit}`;
    }
    drawSpectrum();
  }

  function pickedSpectrum() {
    const s = state.spectra;
    if (!s || state.row === null) return null;
    const sr = Math.min(s.rows - 1, Math.round(state.row / s.stride));
    const sc = Math.min(s.cols - 1, Math.round(state.col / s.stride));
    const n = data.axis.values.length;
    const offset = (sr * s.cols + sc) * n;
    const y = new Array(n);
    let blank = true;
    for (let i = 0; i < n; i++) {
      const q = s.raw[offset + i];
      y[i] = q === MISSING ? NaN : s.min + (q / STEPS) * (s.max - s.min);
      if (q !== MISSING) blank = false;
    }
    return { row: sr * s.stride, col: sc * s.stride, y, blank };
  }

  function pixelCluster() {
    const clusters = clusterLayer();
    if (!clusters || state.row === null) return null;
    return layerValue(clusters, displayIndex(state.row, state.col));
  }

  // Local maxima of a lightly smoothed spectrum whose prominence exceeds a tenth of its range.
  function findPeaks(x, y) {
    const n = y.length;
    const s = y.map((_, i) => {
      let sum = 0, count = 0;
      for (let j = Math.max(0, i - 2); j <= Math.min(n - 1, i + 2); j++) if (!Number.isNaN(y[j])) { sum += y[j]; count++; }
      return count ? sum / count : NaN;
    });
    const finite = s.filter((v) => !Number.isNaN(v));
    if (finite.length < 3) return [];
    const range = Math.max(...finite) - Math.min(...finite);
    const peaks = [];
    for (let i = 1; i < n - 1; i++) {
      if (!(s[i] > s[i - 1] && s[i] >= s[i + 1])) continue;
      let left = s[i], right = s[i];
      for (let j = i - 1; j >= 0 && !(s[j] > s[i]); j--) left = Math.min(left, s[j]);
      for (let j = i + 1; j < n && !(s[j] > s[i]); j++) right = Math.min(right, s[j]);
      const prominence = s[i] - Math.max(left, right);
      if (prominence >= 0.1 * range) peaks.push({ x: x[i], y: y[i], prominence });
    }
    return peaks.sort((a, b) => b.prominence - a.prominence).slice(0, 6).sort((a, b) => a.x - b.x);
  }

  function niceTicks(lo, hi, count) {
    const span = hi - lo || 1;
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) ticks.push(+t.toPrecision(12));
    return ticks;
  }

  function svg(tag, attrs, parent) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.append(node);
    return node;
  }

  function drawSpectrum() {
    const panel = el("spectrum");
    panel.replaceChildren();
    if (!data.axis) { panel.setAttribute("aria-label", "No spectra in this report"); return; }
    const x = data.axis.values;
    const series = [];
    const colors = clusterLayer() ? clusterLayer().colors : [];
    const names = clusterLayer() ? clusterLayer().categories : [];
    const own = pixelCluster();
    const shown = new Set(state.highlighted);
    if (own !== null && own !== undefined) shown.add(own);
    for (const k of [...shown].sort((a, b) => a - b)) {
      series.push({ kind: "band", y: data.clusters.means[k], sd: data.clusters.stds[k], color: colors[k], name: `${names[k]} mean ± std`, dashed: k === own });
    }
    const picked = pickedSpectrum();
    if (picked && !picked.blank) series.push({ kind: "pixel", y: picked.y, name: `pixel row ${picked.row}, col ${picked.col}` });
    const M = { l: 62, r: 14, t: 28, b: 44 }, VW = 640, VH = 330;
    const root = svg("svg", { viewBox: `0 0 ${VW} ${VH}`, "aria-hidden": "true" }, panel);
    let lo = Infinity, hi = -Infinity;
    for (const s of series) {
      s.y.forEach((v, i) => {
        const sd = s.sd ? s.sd[i] : 0;
        if (!Number.isNaN(v)) { lo = Math.min(lo, v - sd); hi = Math.max(hi, v + sd); }
      });
    }
    if (!series.length) {
      svg("text", { x: VW / 2, y: VH / 2, "text-anchor": "middle" }, root).textContent = "Pick a pixel to see its spectrum";
      panel.setAttribute("aria-label", "No pixel picked yet");
      return;
    }
    const pad = (hi - lo) * 0.08 || 1;
    lo -= pad; hi += pad;
    const x0 = x[0], x1 = x[x.length - 1];
    const X = (v) => M.l + ((v - x0) / (x1 - x0 || 1)) * (VW - M.l - M.r);
    const Y = (v) => VH - M.b - ((v - lo) / (hi - lo)) * (VH - M.t - M.b);
    for (const t of niceTicks(x0, x1, 7)) {
      const g = svg("g", { class: "tick" }, root);
      svg("line", { class: "grid", x1: X(t), x2: X(t), y1: M.t, y2: VH - M.b }, g);
      svg("text", { x: X(t), y: VH - M.b + 16, "text-anchor": "middle" }, g).textContent = format(t);
    }
    for (const t of niceTicks(lo, hi, 5)) {
      const g = svg("g", { class: "tick" }, root);
      svg("line", { class: "grid", x1: M.l, x2: VW - M.r, y1: Y(t), y2: Y(t) }, g);
      svg("text", { x: M.l - 6, y: Y(t) + 4, "text-anchor": "end" }, g).textContent = format(t);
    }
    svg("rect", { class: "axis", x: M.l, y: M.t, width: VW - M.l - M.r, height: VH - M.t - M.b, fill: "none" }, root);
    svg("text", { x: (M.l + VW - M.r) / 2, y: VH - 8, "text-anchor": "middle" }, root).textContent = data.axis.label;
    svg("text", { x: 14, y: (M.t + VH - M.b) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(M.t + VH - M.b) / 2})` }, root).textContent = data.axis.intensity;
    const path = (ys) => ys.map((v, i) => (Number.isNaN(v) ? "" : `${X(x[i]).toFixed(1)},${Y(v).toFixed(1)}`)).filter(Boolean).join(" ");
    let legendX = M.l;
    for (const s of series) {
      if (s.kind === "band") {
        const upper = s.y.map((v, i) => v + s.sd[i]);
        const lower = s.y.map((v, i) => v - s.sd[i]).reverse();
        const pts = `${path(upper)} ${lower.map((v, j) => `${X(x[x.length - 1 - j]).toFixed(1)},${Y(v).toFixed(1)}`).join(" ")}`;
        svg("polygon", { points: pts, fill: s.color, "fill-opacity": 0.22, stroke: "none" }, root);
        svg("polyline", { points: path(s.y), fill: "none", stroke: s.color, "stroke-width": 1.6, "stroke-dasharray": s.dashed ? "5 3" : "none", class: "cluster-mean" }, root);
      } else {
        svg("polyline", { points: path(s.y), class: "pixel" }, root);
        for (const p of findPeaks(x, s.y)) {
          svg("text", { class: "peak-label", x: X(p.x), y: Y(p.y) - 7 }, root).textContent = format(p.x);
        }
      }
      const key = svg("g", {}, root);
      svg("line", { x1: legendX, x2: legendX + 18, y1: 14, y2: 14, stroke: s.color || "currentColor", "stroke-width": 2.5, class: s.kind === "pixel" ? "pixel" : "", "stroke-dasharray": s.dashed ? "5 3" : "none" }, key);
      const label = svg("text", { x: legendX + 22, y: 18 }, key);
      label.textContent = s.name;
      legendX += 30 + s.name.length * 6.3;
    }
    const peaks = picked && !picked.blank ? findPeaks(x, picked.y).map((p) => format(p.x)) : [];
    const unit = data.axis.unit;
    panel.setAttribute("aria-label", picked && !picked.blank
      ? `Spectrum of the pixel at row ${picked.row}, col ${picked.col}${peaks.length ? `, bands at ${peaks.join(", ")} ${unit}` : ""}${own !== null ? `, with the mean ± std of ${names[own]}` : ""}`
      : "Cluster mean spectra");
    const note = el("spectrum-note");
    if (picked && state.spectra.stride > 1 && (picked.row !== state.row || picked.col !== state.col)) {
      note.textContent = `Spectra are stored for every ${state.spectra.stride}th pixel: shown is the nearest stored pixel (row ${picked.row}, col ${picked.col}).`;
    } else if (picked && picked.blank) {
      note.textContent = "This pixel is masked (no valid spectrum).";
    } else {
      note.textContent = "";
    }
  }

  // ---- wiring -------------------------------------------------------------------------------
  function show(name) {
    const i = state.layers.findIndex((l) => l.name === name);
    if (i < 0) throw new Error(`no map named ${name}`);
    state.layer = i;
    el("map-select").value = String(i);
    drawMap();
  }

  async function init() {
    state.layers = await Promise.all(data.layers.map(async (l) => ({ ...l, raw: await unpack(l.data, l.dtype) })));
    if (data.spectra) state.spectra = { ...data.spectra, raw: await unpack(data.spectra.data, data.spectra.dtype) };
    canvas.width = w;
    canvas.height = h;
    if (F > 1) el("map-note").textContent = `Maps are embedded at 1/${F} resolution: values are means of ${F} x ${F} pixel blocks (labels: the block's first pixel).`;
    const select = el("map-select");
    state.layers.forEach((l, i) => select.add(new Option(l.title, String(i))));
    select.addEventListener("change", () => { state.layer = Number(select.value); drawMap(); });
    buildLegend();
    canvas.addEventListener("click", (e) => { const p = eventPixel(e); if (p) pick(...p); });
    canvas.addEventListener("mousemove", (e) => {
      const p = eventPixel(e);
      if (!p) return;
      const layer = state.layers[state.layer];
      const v = layerValue(layer, displayIndex(...p));
      const shown = layer.kind === "categorical" ? (v === null ? "blank" : layer.categories[v]) : format(v);
      el("hover-readout").textContent = `row ${p[0]}, col ${p[1]}: ${shown}`;
    });
    canvas.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? 10 : 1;
      const moves = { ArrowUp: [-step, 0], ArrowDown: [step, 0], ArrowLeft: [0, -step], ArrowRight: [0, step] };
      if (moves[e.key]) {
        e.preventDefault();
        const [r, c] = state.row === null ? [Math.floor(H / 2), Math.floor(W / 2)] : [state.row, state.col];
        pick(r + moves[e.key][0], c + moves[e.key][1]);
      } else if ((e.key === "Enter" || e.key === " ") && state.row === null) {
        e.preventDefault();
        pick(Math.floor(H / 2), Math.floor(W / 2));
      }
    });
    if (window.matchMedia) window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawMap);
    drawMap();
    drawSpectrum();
  }

  const ready = init().then(
    () => { document.body.dataset.ready = "true"; },
    (error) => {
      const note = el("map-note");
      note.classList.add("warning");
      note.textContent = `This browser could not unpack the maps embedded in the page (${error.message}); it needs `
        + "DecompressionStream (Chrome/Edge 80+, Firefox 113+, Safari 16.4+). The written report below is complete.";
      throw error;
    },
  );
  window.chemmap = {
    ready,
    pick,
    highlight,
    show,
    picked() {
      const p = pickedSpectrum();
      return {
        row: state.row,
        col: state.col,
        cluster: pixelCluster(),
        spectrum: p && { row: p.row, col: p.col, x: data.axis.values, y: p.y },
        peaks: p && !p.blank ? findPeaks(data.axis.values, p.y).map((q) => q.x) : [],
      };
    },
    layers: () => state.layers.map((l) => l.name),
  };
})();
