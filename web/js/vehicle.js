// One vehicle, opened from any list: its details, the phone as a link and a copy button, and
// "vehicle left" behind a confirmation step.

import { api, describe, ApiError } from "./api.js";
import { $, copy, localTime, say, toast } from "./ui.js";

let shown = null;

export function initVehicleDialog() {
  const dialog = $("#vehicle-dialog");
  $("#vehicle-copy").addEventListener("click", async () => {
    if (!shown) return;
    const done = await copy(shown.phone_number);
    say($("#vehicle-message"), done ? "Phone number copied." : "Copy failed: select the number instead.", done ? "ok" : "error");
  });
  $("#vehicle-left").addEventListener("click", () => confirming(true));
  $("#vehicle-cancel-left").addEventListener("click", () => confirming(false));
  $("#vehicle-confirm-left").addEventListener("click", async () => {
    if (!shown) return;
    const plate = shown.number_plate;
    try {
      await api("DELETE", `/api/v1/vehicles/${encodeURIComponent(plate)}`);
      dialog.close();
      toast(`${plate} has left; its record is deleted.`);
    } catch (error) {
      const gone = error instanceof ApiError && error.status === 404;
      say($("#vehicle-message"), gone ? `${plate} is no longer parked.` : describe(error), "error");
      confirming(false);
    }
  });
  dialog.addEventListener("close", () => { shown = null; });
}

function confirming(on) {
  $("#vehicle-left").hidden = on;
  $("#vehicle-confirm-left").hidden = !on;
  $("#vehicle-cancel-left").hidden = !on;
  (on ? $("#vehicle-confirm-left") : $("#vehicle-left")).focus();
}

/** Opens the dialog for `plate`, read fresh from the service. */
export async function openVehicle(plate) {
  const dialog = $("#vehicle-dialog");
  let vehicle;
  try {
    vehicle = await api("GET", `/api/v1/vehicles/${encodeURIComponent(plate)}`);
  } catch (error) {
    const gone = error instanceof ApiError && error.status === 404;
    toast(gone ? `${plate} is no longer parked.` : describe(error));
    return;
  }
  shown = vehicle;
  $("#vehicle-plate").textContent = vehicle.number_plate;
  $("#vehicle-name").textContent = vehicle.contact_name;
  const phone = $("#vehicle-phone");
  phone.textContent = vehicle.phone_number;
  phone.href = `tel:${vehicle.phone_number}`;
  $("#vehicle-entered").textContent = localTime(vehicle.entry_timestamp);
  $("#vehicle-expires").textContent = localTime(vehicle.expires_at);
  say($("#vehicle-message"), "");
  $("#vehicle-left").hidden = false;
  $("#vehicle-confirm-left").hidden = true;
  $("#vehicle-cancel-left").hidden = true;
  if (!dialog.open) dialog.showModal();
  phone.focus();
}
