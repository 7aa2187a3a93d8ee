// One vehicle, opened from any list: its details, the phone as a link and a copy button, and
// "vehicle left" behind a confirmation step. Viewers see the number masked and may reveal it
// with a reason; admins may place or lift a legal hold.

import { api, describe, ApiError } from "./api.js";
import { session } from "./session.js";
import { $, copy, fromLocalInput, localTime, say, toast } from "./ui.js";

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
      await api("DELETE", path(plate));
      dialog.close();
      toast(`${plate} has left; its record is deleted.`);
    } catch (error) {
      const gone = error instanceof ApiError && error.status === 404;
      say($("#vehicle-message"), gone ? `${plate} is no longer parked.` : describe(error), "error");
      confirming(false);
    }
  });
  $("#reveal-submit").addEventListener("click", reveal);
  $("#hold-submit").addEventListener("click", placeHold);
  $("#hold-lift").addEventListener("click", liftHold);
  dialog.addEventListener("close", () => { shown = null; });
}

const path = (plate, rest = "") => `/api/v1/vehicles/${encodeURIComponent(plate)}${rest}`;

function confirming(on) {
  $("#vehicle-left").hidden = on;
  $("#vehicle-confirm-left").hidden = !on;
  $("#vehicle-cancel-left").hidden = !on;
  (on ? $("#vehicle-confirm-left") : $("#vehicle-left")).focus();
}

/** The number as a link to call, or (masked, for viewers) as plain text. */
function showPhone(number, callable) {
  const phone = $("#vehicle-phone");
  phone.textContent = number;
  if (callable) phone.href = `tel:${number}`;
  else phone.removeAttribute("href");
  $("#vehicle-copy").hidden = !callable;
}

function showHold(hold) {
  $("#vehicle-hold-label").hidden = !hold;
  $("#vehicle-hold").hidden = !hold;
  $("#vehicle-hold").textContent = hold ? `until ${localTime(hold.until)} — ${hold.reason}` : "";
  $("#hold-lift").hidden = !hold;
  $("#hold-submit").textContent = hold ? "Replace hold" : "Place hold";
}

async function reveal() {
  if (!shown) return;
  const error = $("#err-reveal-reason");
  say(error, "");
  try {
    const revealed = await api("POST", path(shown.number_plate, "/reveal"), { reason: $("#reveal-reason").value });
    showPhone(revealed.phone_number, true);
    $("#reveal-box").hidden = true;
    say($("#vehicle-message"), "Number revealed; this was recorded in the audit log.", "ok");
  } catch (failure) {
    const field = failure instanceof ApiError ? failure.fields.reason : undefined;
    say(field ? error : $("#vehicle-message"), field || describe(failure), "error");
  }
}

async function placeHold() {
  if (!shown) return;
  for (const name of ["reason", "until"]) say($(`#err-hold-${name}`), "");
  const body = { reason: $("#hold-reason").value, until: fromLocalInput($("#hold-until").value) };
  try {
    const vehicle = await api("POST", path(shown.number_plate, "/hold"), body);
    shown = vehicle;
    showHold(vehicle.hold);
    $("#vehicle-expires").textContent = localTime(vehicle.expires_at);
    say($("#vehicle-message"), "Held: the purge keeps this vehicle until the date set.", "ok");
  } catch (failure) {
    const fields = failure instanceof ApiError ? failure.fields : {};
    for (const [name, message] of Object.entries(fields)) {
      const node = $(`#err-hold-${name}`);
      if (node) say(node, message, "error");
    }
    if (!fields.reason && !fields.until) say($("#vehicle-message"), describe(failure), "error");
  }
}

async function liftHold() {
  if (!shown) return;
  const plate = shown.number_plate;
  try {
    await api("DELETE", path(plate, "/hold"));
    toast(`The hold on ${plate} is lifted.`);
    await openVehicle(plate);
  } catch (failure) {
    say($("#vehicle-message"), describe(failure), "error");
  }
}

/** Opens the dialog for `plate`, read fresh from the service. */
export async function openVehicle(plate) {
  const dialog = $("#vehicle-dialog");
  let vehicle;
  try {
    vehicle = await api("GET", path(plate));
  } catch (error) {
    const gone = error instanceof ApiError && error.status === 404;
    toast(gone ? `${plate} is no longer parked.` : describe(error));
    if (dialog.open) dialog.close();
    return;
  }
  shown = vehicle;
  $("#vehicle-plate").textContent = vehicle.number_plate;
  $("#vehicle-name").textContent = vehicle.contact_name;
  showPhone(vehicle.phone_number, !session.viewer);
  $("#vehicle-entered").textContent = localTime(vehicle.entry_timestamp);
  $("#vehicle-expires").textContent = localTime(vehicle.expires_at);
  showHold(vehicle.hold);
  $("#reveal-box").hidden = !session.viewer;
  $("#reveal-reason").value = "";
  say($("#err-reveal-reason"), "");
  $("#hold-box").hidden = !session.admin;
  $("#hold-reason").value = "";
  $("#hold-until").value = "";
  for (const name of ["reason", "until"]) say($(`#err-hold-${name}`), "");
  say($("#vehicle-message"), "");
  $("#vehicle-left").hidden = session.viewer;
  $("#vehicle-confirm-left").hidden = true;
  $("#vehicle-cancel-left").hidden = true;
  if (!dialog.open) dialog.showModal();
  (session.viewer ? $("#reveal-reason") : $("#vehicle-phone")).focus();
}
