// Watchlist alerts: a watched plate (or a look-alike of it) was registered somewhere. Each alert
// stays at the top of every view until someone dismisses it, and is announced at once.

import { $, el, localTime } from "./ui.js";
import { openVehicle } from "./vehicle.js";

/** An `alert` frame from the live search. */
export function onAlert(frame) {
  const vehicle = frame.vehicle;
  const open = el("button", { className: "link", text: "Open", attrs: { type: "button" } });
  open.addEventListener("click", () => openVehicle(vehicle.number_plate));
  const dismiss = el("button", { className: "quiet small", text: "Dismiss", attrs: { type: "button" } });
  const alert = el("div", { className: "alert", attrs: { "data-plate": vehicle.number_plate } }, [
    el("strong", { text: "Watched plate arrived: " }),
    el("span", { className: "plate", text: vehicle.number_plate }),
    el("span", { className: "alert-note", text: ` — ${frame.note}` }),
    el("span", { className: "help", text: ` (entered ${localTime(vehicle.entry_timestamp)}) ` }),
    open,
    dismiss,
  ]);
  dismiss.addEventListener("click", () => alert.remove());
  $("#alerts").prepend(alert);
}

export function clearAlerts() {
  $("#alerts").replaceChildren();
}
