// Admin: the watchlist (plates to be alerted about, each with a note).

import { api, describe, ApiError } from "./api.js";
import { $, el, localTime, say } from "./ui.js";

export function initWatchlist() {
  $("#watch-form").addEventListener("submit", watch);
}

export async function showWatchlist() {
  try {
    const list = await api("GET", "/api/v1/watchlist");
    const rows = list.items.map((entry) => {
      const remove = el("button", {
        className: "quiet small", text: "Stop watching",
        attrs: { type: "button", "aria-label": `Stop watching ${entry.number_plate}` },
      });
      remove.addEventListener("click", () => unwatch(entry.number_plate));
      return el("tr", { attrs: { "data-plate": entry.number_plate } }, [
        el("td", {}, [el("span", { className: "plate", text: entry.number_plate })]),
        el("td", { text: entry.note }),
        el("td", { text: localTime(entry.expires_at) }),
        el("td", {}, [remove]),
      ]);
    });
    if (!rows.length) rows.push(el("tr", {}, [el("td", { text: "No plate is watched.", attrs: { colspan: "4" } })]));
    $("#watch-table tbody").replaceChildren(...rows);
  } catch (error) {
    say($("#watch-message"), describe(error), "error");
  }
}

async function watch(event) {
  event.preventDefault();
  const form = $("#watch-form");
  for (const field of ["number_plate", "note"]) {
    $(`#err-watch-${field}`).textContent = "";
    form.elements[field].removeAttribute("aria-invalid");
  }
  const plate = form.elements.number_plate.value.trim();
  if (!plate) {
    $("#err-watch-number_plate").textContent = "The plate is required.";
    form.elements.number_plate.setAttribute("aria-invalid", "true");
    form.elements.number_plate.focus();
    return;
  }
  try {
    const entry = await api("PUT", `/api/v1/watchlist/${encodeURIComponent(plate)}`, { note: form.elements.note.value });
    form.reset();
    say($("#watch-message"), `${entry.number_plate} is watched.`);
    showWatchlist();
    form.elements.number_plate.focus();
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) {
      let first = null;
      for (const [field, text] of Object.entries(error.fields)) {
        const slot = $(`#err-watch-${field}`);
        if (!slot) continue;
        slot.textContent = `${field === "note" ? "The note" : "The plate"} ${text}.`;
        form.elements[field].setAttribute("aria-invalid", "true");
        first = first || form.elements[field];
      }
      if (first) first.focus();
    } else {
      say($("#watch-message"), describe(error), "error");
    }
  }
}

async function unwatch(plate) {
  try {
    await api("DELETE", `/api/v1/watchlist/${encodeURIComponent(plate)}`);
    say($("#watch-message"), `${plate} is no longer watched.`);
    showWatchlist();
  } catch (error) {
    say($("#watch-message"), describe(error), "error");
  }
}
