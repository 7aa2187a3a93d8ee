// Occupancy: a gauge of vehicles parked against the capacity, and a chart of the hourly series
// (parked as an area, entries and exits as bars), drawn as SVG by this page. The gauge follows
// the live search's `occupancy` frames; the chart is fetched again shortly after they arrive.

import { api, describe } from "./api.js";
import { $, el, localTime, niceMax, say, svg } from "./ui.js";

const CHART = { width: 720, height: 260, left: 44, right: 8, top: 12, bottom: 40 };
/** Frames can come many times a second at a busy gate: the chart is redrawn at most this often. */
const REFRESH_MS = 2_000;

let visible = false;
let refreshTimer = null;
let latest = { parked: null, capacity: null };

export function initOccupancy() {
  $("#occupancy-hours").addEventListener("change", load);
}

export function showOccupancy() {
  visible = true;
  load();
}

export function hideOccupancy() {
  visible = false;
}

/** An `occupancy` frame from the live search. */
export function onOccupancy(frame) {
  latest = { parked: frame.parked, capacity: frame.capacity };
  drawGauge(latest.parked, latest.capacity);
  if (visible && !refreshTimer) {
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      if (visible) load();
    }, REFRESH_MS);
  }
}

async function load() {
  const hours = $("#occupancy-hours").value;
  try {
    const occupancy = await api("GET", `/api/v1/occupancy?hours=${hours}`);
    latest = { parked: occupancy.parked, capacity: occupancy.capacity };
    drawGauge(occupancy.parked, occupancy.capacity);
    drawChart(occupancy.series, occupancy.capacity);
    say($("#occupancy-message"), "");
  } catch (error) {
    say($("#occupancy-message"), describe(error), "error");
  }
}


/** A half-circle gauge; without a capacity, the count alone. */
function drawGauge(parked, capacity) {
  const gauge = $("#gauge");
  const arc = "M 20 100 A 80 80 0 0 1 180 100";
  const parts = [svg("path", { d: arc, class: "gauge-track", pathLength: 100 })];
  let caption;
  if (capacity) {
    const share = Math.min(1, parked / capacity);
    const level = share >= 0.95 ? "full" : share >= 0.8 ? "busy" : "ok";
    parts.push(svg("path", {
      d: arc, class: `gauge-value ${level}`, pathLength: 100,
      "stroke-dasharray": `${(share * 100).toFixed(2)} 100`,
    }));
    const percent = Math.round((parked / capacity) * 100);
    parts.push(svg("text", { x: 100, y: 88, class: "gauge-number" }, `${percent}%`));
    caption = `${parked} of ${capacity} places taken (${percent}%)${parked > capacity ? " — over capacity" : ""}`;
  } else {
    parts.push(svg("text", { x: 100, y: 88, class: "gauge-number" }, String(parked)));
    caption = `${parked} ${parked === 1 ? "vehicle" : "vehicles"} parked — an admin can set the capacity`;
  }
  gauge.replaceChildren(...parts);
  $("#gauge-text").textContent = caption;
}

function drawChart(series, capacity) {
  const chart = $("#chart");
  const title = chart.querySelector("title");
  const { width, height, left, right, top, bottom } = CHART;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const most = Math.max(1, capacity || 0, ...series.map((h) => Math.max(h.parked, h.entries, h.exits)));
  const scale = niceMax(most);
  const x = (i) => left + (plotWidth * i) / Math.max(1, series.length);
  const y = (value) => top + plotHeight - (plotHeight * value) / scale;
  const step = plotWidth / Math.max(1, series.length);
  const parts = [title];
  for (const tick of [0, scale / 2, scale]) {
    parts.push(svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "grid" }));
    parts.push(svg("text", { x: left - 6, y: y(tick) + 4, class: "axis end" }, String(tick)));
  }
  if (capacity) {
    parts.push(svg("line", { x1: left, x2: width - right, y1: y(capacity), y2: y(capacity), class: "capacity-line" }));
    parts.push(svg("text", { x: width - right, y: y(capacity) - 4, class: "axis end" }, `capacity ${capacity}`));
  }
  // Parked at each hour's end, as an area.
  const points = series.map((h, i) => `${(x(i + 1)).toFixed(1)},${y(h.parked).toFixed(1)}`);
  if (series.length) {
    const area = `M ${x(0).toFixed(1)},${y(0)} L ${x(0).toFixed(1)},${y(series[0].parked).toFixed(1)} L ${points.join(" L ")} L ${x(series.length).toFixed(1)},${y(0)} Z`;
    parts.push(svg("path", { d: area, class: "parked-area" }));
  }
  const bar = Math.max(1, step * 0.35);
  series.forEach((h, i) => {
    if (h.entries) {
      parts.push(svg("rect", { x: x(i) + step * 0.1, y: y(h.entries), width: bar, height: y(0) - y(h.entries), class: "entries-bar" }));
    }
    if (h.exits) {
      parts.push(svg("rect", { x: x(i) + step * 0.1 + bar, y: y(h.exits), width: bar, height: y(0) - y(h.exits), class: "exits-bar" }));
    }
  });
  if (series.length) {
    const first = series[0].hour;
    const last = series[series.length - 1].hour;
    parts.push(svg("text", { x: left, y: height - 14, class: "axis" }, hourLabel(first)));
    parts.push(svg("text", { x: width - right, y: height - 14, class: "axis end" }, `${hourLabel(last)} (now)`));
  }
  chart.replaceChildren(...parts);
  const entries = series.reduce((sum, h) => sum + h.entries, 0);
  const exits = series.reduce((sum, h) => sum + h.exits, 0);
  const peak = Math.max(0, ...series.map((h) => h.parked));
  $("#chart-summary").textContent =
    `Over ${series.length} hours: ${entries} entries, ${exits} exits, at most ${peak} parked at an hour's end.`;
  $("#occupancy-table tbody").replaceChildren(...series.map((h) => el("tr", {}, [
    el("td", { text: localTime(h.hour) }), el("td", { text: h.entries }),
    el("td", { text: h.exits }), el("td", { text: h.parked }),
  ])));
}

/** An hour's start in the browser's time zone, without seconds. */
function hourLabel(iso) {
  return new Date(iso).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
