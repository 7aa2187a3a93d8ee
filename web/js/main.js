// The operator page: sign in with an API key, then find, register, list and (for admins)
// administer. Views are switched by the URL's fragment (#find, #register, #list, #admin).

import { api, describe, ApiError } from "./api.js";
import { session } from "./session.js";
import { $, banner, say } from "./ui.js";
import { initFind, startFind, stopFind } from "./find.js";
import { initRegister, focusRegister } from "./register.js";
import { initList, showList } from "./list.js";
import { initAdmin, showAdmin } from "./admin.js";
import { initVehicleDialog } from "./vehicle.js";
import { initOccupancy, showOccupancy, hideOccupancy } from "./occupancy.js";

const VIEWS = ["find", "register", "list", "occupancy", "admin"];

function init() {
  initVehicleDialog();
  initFind();
  initRegister();
  initList();
  initOccupancy();
  initAdmin();
  $("#sign-in-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", () => session.expire(""));
  $("#banner-close").addEventListener("click", () => banner(""));
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", shortcuts);
  session.onChange((reason) => {
    if (!session.signedIn) {
      stopFind();
      say($("#sign-in-error"), reason || "", "error");
    }
    route();
  });
  route();
}

/**
 * Checks the key with the service and learns its role: admins may list keys, operators may
 * read the retention setting, viewers neither.
 */
async function signIn(event) {
  event.preventDefault();
  const input = $("#sign-in-key");
  const key = input.value.trim();
  const error = $("#sign-in-error");
  if (!key) {
    say(error, "Paste an API key first.", "error");
    return;
  }
  try {
    await api("GET", "/api/v1/keys", undefined, key);
    session.start(key, "admin");
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 403) {
      session.start(key, await operatorOrViewer(key));
    } else if (failure instanceof ApiError && failure.status === 401) {
      say(error, "This key is not accepted: it is unknown, revoked or expired.", "error");
      input.select();
      return;
    } else {
      say(error, describe(failure), "error");
      return;
    }
  }
  input.value = "";
  say(error, "");
  if (!location.hash || location.hash === "#sign-in") location.hash = "#find";
  else route();
}

async function operatorOrViewer(key) {
  try {
    await api("GET", "/api/v1/config/retention", undefined, key);
    return "operator";
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 403) return "viewer";
    throw failure;
  }
}

let active = null;

function route() {
  const signedIn = session.signedIn;
  $("#nav").hidden = !signedIn;
  $("#who").hidden = !signedIn;
  $("#view-sign-in").hidden = signedIn;
  for (const link of document.querySelectorAll("[data-admin]")) link.hidden = !session.admin;
  for (const link of document.querySelectorAll("[data-writer]")) link.hidden = session.viewer;
  if (!signedIn) {
    for (const view of VIEWS) $(`#view-${view}`).hidden = true;
    active = null;
    $("#sign-in-key").focus();
    return;
  }
  $("#who-role").textContent = session.role;
  let view = location.hash.slice(1);
  if (!VIEWS.includes(view) || (view === "admin" && !session.admin)
    || (view === "register" && session.viewer)) view = "find";
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (active === null) startFind();
  const entering = view !== active;
  active = view;
  if (!entering) return;
  if (view !== "occupancy") hideOccupancy();
  if (view === "find") $("#q").focus();
  if (view === "register") focusRegister();
  if (view === "list") showList();
  if (view === "occupancy") showOccupancy();
  if (view === "admin") showAdmin();
}

/** `/` jumps to the search box from anywhere but a text field. */
function shortcuts(event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || !session.signedIn) return;
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement
    || target instanceof HTMLSelectElement || target.isContentEditable;
  if (typing || document.querySelector("dialog[open]")) return;
  event.preventDefault();
  if (location.hash !== "#find") location.hash = "#find";
  $("#q").focus();
}

init();
