// List: parked vehicles newest first, filtered by entry time, paged through the API's cursor.

import { api, describe, withQuery } from "./api.js";
import { $, el, fromLocalInput, localTime, say } from "./ui.js";
import { openVehicle } from "./vehicle.js";

const PAGE = 50;
/** Cursors of the pages before the current one, so "previous" can go back. */
let behind = [];
let current = null;
let next = null;

export function initList() {
  $("#list-form").addEventListener("submit", (event) => {
    event.preventDefault();
    behind = [];
    load(null);
  });
  $("#list-next").addEventListener("click", () => {
    behind.push(current);
    load(next);
  });
  $("#list-prev").addEventListener("click", () => load(behind.pop() ?? null));
}

export function showList() {
  behind = [];
  load(null);
}

async function load(cursor) {
  const form = $("#list-form");
  const path = withQuery("/api/v1/vehicles", {
    limit: PAGE,
    order: form.elements.order.value,
    entered_after: fromLocalInput(form.elements.entered_after.value),
    entered_before: fromLocalInput(form.elements.entered_before.value),
    cursor,
  });
  const message = $("#list-message");
  try {
    const page = await api("GET", path);
    current = cursor;
    next = page.next_cursor;
    render(page.items);
    say(message, page.items.length ? "" : "No vehicle matches these filters.", "ok");
  } catch (error) {
    say(message, describe(error), "error");
  }
}

function render(items) {
  const rows = items.map((vehicle) => {
    const row = el("tr", { className: "clickable", attrs: { tabindex: "0", "data-plate": vehicle.number_plate } }, [
      el("td", {}, [el("span", { className: "plate", text: vehicle.number_plate })]),
      el("td", { text: vehicle.contact_name }),
      el("td", { text: vehicle.phone_number }),
      el("td", { text: localTime(vehicle.entry_timestamp) }),
      el("td", { text: localTime(vehicle.expires_at) }),
    ]);
    const open = () => openVehicle(vehicle.number_plate);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
    return row;
  });
  $("#list-table tbody").replaceChildren(...rows);
  $("#list-prev").disabled = behind.length === 0;
  $("#list-next").disabled = !next;
  $("#list-page").textContent = items.length ? `Page ${behind.length + 1}` : "";
}
