// Find: one box, results as you type over the live-search WebSocket, kept current by the
// service's `added` and `removed` frames.

import { LiveSearch } from "./live.js";
import { $, el, matchedByLookalike } from "./ui.js";
import { openVehicle } from "./vehicle.js";
import { onOccupancy } from "./occupancy.js";
import { onAlert, clearAlerts } from "./alerts.js";

const LIMIT = 20;
/**
 * One or two characters match most of a large car park, and counting those matches is the
 * slowest search there is: such a search is sent only once typing pauses, so that typing on to
 * a real query is never held up behind it.
 */
const SHORT_QUERY_PAUSE_MS = 150;
const STATES = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" };

let live;
let pending = null;
let shortTimer = null;
let shown = { id: null, query: "", items: [], total: 0 };

export function initFind() {
  live = new LiveSearch(onFrame, (state) => {
    const status = $("#live-status");
    status.dataset.state = state;
    status.textContent = STATES[state];
  });
  const input = $("#q");
  input.addEventListener("input", () => search(input.value));
  $("#find-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const first = $("#results .result");
    if (first) first.click();
  });
}

export function startFind() {
  live.start();
  search($("#q").value);
}

export function stopFind() {
  live.stop();
  shown = { id: null, query: "", items: [], total: 0 };
  clearAlerts();
  $("#results").replaceChildren();
  $("#find-summary").textContent = "";
}

function search(query) {
  clearTimeout(shortTimer);
  const trimmed = query.trim();
  const send = () => { pending = { id: live.search(trimmed, LIMIT), query: trimmed }; };
  if (trimmed.length > 0 && trimmed.length < 3) {
    shortTimer = setTimeout(send, SHORT_QUERY_PAUSE_MS);
  } else {
    send();
  }
}

function onFrame(frame) {
  switch (frame.type) {
    case "results":
      // Only the answer to the newest search is shown; answers to searches typed over are
      // dropped.
      if (!pending || frame.id !== pending.id) return;
      shown = { id: frame.id, query: pending.query, items: frame.items, total: frame.total, fresh: new Set() };
      render();
      break;
    case "added": {
      if (frame.id !== shown.id) return;
      const at = shown.items.findIndex((v) => v.number_plate === frame.vehicle.number_plate);
      if (at >= 0) {
        shown.items[at] = frame.vehicle;
      } else {
        shown.items.unshift(frame.vehicle);
        shown.total += 1;
        if (shown.items.length > LIMIT) shown.items.pop();
      }
      shown.fresh.add(frame.vehicle.number_plate);
      render();
      break;
    }
    case "removed": {
      if (frame.id !== shown.id) return;
      const before = shown.items.length;
      shown.items = shown.items.filter((v) => v.number_plate !== frame.number_plate);
      if (shown.items.length < before) shown.total = Math.max(0, shown.total - 1);
      render();
      break;
    }
    case "occupancy":
      onOccupancy(frame);
      break;
    case "alert":
      onAlert(frame);
      break;
    default:
      break;
  }
}

function render() {
  const list = $("#results");
  const items = shown.items.map((vehicle) => {
    const plate = el("span", { className: "plate-cell" }, [
      el("span", { className: "plate", text: vehicle.number_plate }),
    ]);
    if (shown.query && matchedByLookalike(vehicle, shown.query)) {
      plate.append(el("span", {
        className: "lookalike", text: "look-alike",
        attrs: { title: "Matched through characters that are easily misread (0/O, 1/I, 8/B …)" },
      }));
    }
    const button = el("button", {
      className: shown.fresh.has(vehicle.number_plate) ? "result fresh" : "result",
      attrs: { type: "button", "data-plate": vehicle.number_plate },
    }, [
      plate,
      el("span", { className: "name", text: vehicle.contact_name }),
      el("span", { className: "phone", text: vehicle.phone_number }),
    ]);
    button.addEventListener("click", () => openVehicle(vehicle.number_plate));
    return el("li", {}, [button]);
  });
  list.replaceChildren(...items);
  list.dataset.query = shown.query;
  const { total, query } = shown;
  const more = total > items.length ? ` (showing ${items.length})` : "";
  $("#find-summary").textContent = query
    ? `${total} ${total === 1 ? "vehicle matches" : "vehicles match"} “${query}”${more}`
    : `${total} ${total === 1 ? "vehicle" : "vehicles"} parked, latest first${more}`;
}
