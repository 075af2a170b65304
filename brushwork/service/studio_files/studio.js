// brushwork studio: paint a photo in the browser against this server's API.
// Flow: photo + styles (+ region strokes) -> a multipart form -> POST /v1/stylize, or /v1/jobs for
// Gram and large images (progress, Cancel) -> the exact bytes shown and offered for download.

import { ApiFailure, call, json, key } from "./api.js";
import { COLOURS, Regions } from "./regions.js";
import { drawChart, fillTable, quotaLine } from "./usage.js";

const $ = (id) => document.getElementById(id);
const JOB_POLL_MS = 400;
const DIRECT_LONGEST = 1024;
const FORM_FIELDS = ["method", "strength", "color", "size", "steps"];
// Longer results, and Gram, go through jobs: they take more than a moment.

const state = { photo: null, photoUrl: null, styles: [], job: null, resultUrl: null, usage: [], offered: [] };
const regions = new Regions($("regions"));

class Cancelled extends Error {}

function say(text, calm = false) {
  $("message").textContent = text;
  $("message").classList.toggle("ok", calm);
}

function fail(error) {
  say(error instanceof ApiFailure ? error.message : `Something went wrong in the page: ${error.message || error}`);
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// --- the same words as the command line's help: the service's own OpenAPI description -----------
async function describeControls() {
  const schema = await (await fetch("/openapi.json")).json();
  const body = schema.paths["/v1/stylize"].post.requestBody.content["multipart/form-data"].schema;
  const fields = schema.components.schemas[body.$ref.split("/").pop()].properties;
  for (const name of FORM_FIELDS) {
    if (fields[name]?.description) $(`${name}-help`).textContent = fields[name].description;
  }
  const options = (select, values, chosen) => select.replaceChildren(...values.map((value) => {
    const option = new Option(value, value, false, value === chosen);
    return option;
  }));
  options($("method"), fields.method.enum, fields.method.default);
  options($("color"), fields.color.enum, fields.color.default);
  if (fields.size.maximum) $("size").max = fields.size.maximum;
  if (fields.steps.maximum) $("steps").max = fields.steps.maximum;
  $("size").value = fields.size.default;
  $("steps").value = fields.steps.default;
  syncMethod();
}

// --- shipped styles ----------------------------------------------------------------------------
async function loadShipped() {
  const group = $("shipped");
  let models;
  try {
    ({ models } = await json("/v1/models"));
  } catch (error) {
    group.replaceChildren(Object.assign(document.createElement("p"), {
      className: "hint", textContent: "Paste your API key above to see the shipped styles." }));
    if (!(error instanceof ApiFailure && error.code === "unauthorized")) fail(error);
    return;
  }
  state.offered = models;
  const styles = models.filter((model) => model.family === "feedforward");
  group.replaceChildren(...styles.map((model) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.model = model.name;
    button.setAttribute("aria-pressed", "false");
    const picture = new Image(72, 72);
    picture.alt = "";
    button.append(picture, document.createTextNode(model.name));
    call(`/v1/models/${encodeURIComponent(model.name)}/thumbnail`)
      .then((response) => response.blob()).then((blob) => { picture.src = URL.createObjectURL(blob); })
      .catch(() => {});
    button.addEventListener("click", () => toggleShipped(model.name, picture));
    return button;
  }));
}

function toggleShipped(name, picture) {
  const chosen = state.styles.findIndex((style) => style.kind === "model" && style.name === name);
  if (chosen >= 0) {
    removeStyle(chosen);
    return;
  }
  if (state.styles.some((style) => style.kind === "image")) {
    say("Shipped styles paint with their own networks, so your style images were set aside.", true);
    while (state.styles.length) removeStyle(0);
  }
  state.styles.push({ kind: "model", name, picture, weight: 1 });
  stylesChanged();
}

// --- the user's own styles -----------------------------------------------------------------------
function readable(file) {
  return new Promise((done) => {
    const probe = new Image();
    const url = URL.createObjectURL(file);
    probe.onload = () => done({ url, width: probe.naturalWidth, height: probe.naturalHeight });
    probe.onerror = () => { URL.revokeObjectURL(url); done(null); };
    probe.src = url;
  });
}

async function addStyles(files) {
  for (const file of files) {
    const seen = await readable(file);
    if (!seen) {
      say(`“${file.name}” is not an image this page can read: choose a PNG, JPEG or WebP file.`);
      continue;
    }
    if (state.styles.some((style) => style.kind === "model")) {
      while (state.styles.length) removeStyle(0);
    }
    state.styles.push({ kind: "image", name: file.name, file, url: seen.url, weight: 1 });
  }
  stylesChanged();
}

function removeStyle(index) {
  state.styles.splice(index, 1);
  regions.remove(index);
  stylesChanged();
}

function stylesChanged() {
  regions.fit(state.styles.length);
  regions.active = Math.min(regions.active, Math.max(0, state.styles.length - 1));
  const list = $("style-list");
  list.replaceChildren(...state.styles.map((style, index) => {
    const item = document.createElement("li");
    item.classList.toggle("active", index === regions.active);
    const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
    swatch.style.background = COLOURS[index % COLOURS.length];
    const picture = Object.assign(new Image(48, 48), { src: style.url || style.picture.src, alt: "" });
    const name = Object.assign(document.createElement("span"), { className: "name", textContent: style.name });
    const weightLabel = Object.assign(document.createElement("label"), { textContent: "weight", htmlFor: `weight-${index}` });
    const weight = Object.assign(document.createElement("input"), {
      type: "number", id: `weight-${index}`, min: "0", step: "0.1", value: String(style.weight) });
    weight.addEventListener("change", () => { style.weight = Number(weight.value); });
    const brush = Object.assign(document.createElement("button"), { type: "button", textContent: "Brush" });
    brush.setAttribute("aria-pressed", String(index === regions.active));
    brush.setAttribute("aria-label", `Paint regions with ${style.name}`);
    brush.addEventListener("click", () => { regions.active = index; stylesChanged(); });
    const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "✕" });
    remove.setAttribute("aria-label", `Remove ${style.name}`);
    remove.addEventListener("click", () => removeStyle(index));
    item.append(swatch, picture, name, weightLabel, weight, brush, remove);
    return item;
  }));
  for (const button of $("shipped").querySelectorAll("button")) {
    const chosen = state.styles.some((style) => style.kind === "model" && style.name === button.dataset.model);
    button.setAttribute("aria-pressed", String(chosen));
  }
  syncMethod();
}

// Shipped styles paint with feedforward; style images with any other method.
function syncMethod() {
  const select = $("method");
  const shipped = state.styles.length > 0 && state.styles[0].kind === "model";
  for (const option of select.options) option.disabled = shipped ? option.value !== "feedforward" : option.value === "feedforward";
  if (select.selectedOptions[0]?.disabled) select.value = shipped ? "feedforward" : "adain";
  $("steps").disabled = select.value !== "gatys";
}

// --- the photo -----------------------------------------------------------------------------------
async function choosePhoto(file) {
  const seen = await readable(file);
  if (!seen) {
    say(`“${file.name}” is not an image this page can read: choose a PNG, JPEG or WebP photo.`);
    return;
  }
  state.photo = file;
  state.photoUrl = seen.url;
  $("photo").src = seen.url;
  $("before").src = seen.url;
  $("canvas-wrap").hidden = false;
  $("brush-tools").disabled = false;
  regions.reset(seen.width, seen.height, state.styles.length);
  say("");
}

// --- painting ------------------------------------------------------------------------------------
async function order() {
  const form = new FormData();
  form.append("content", state.photo, state.photo.name);
  form.append("method", $("method").value);
  for (const style of state.styles) {
    if (style.kind === "model") form.append("model", style.name);
    else form.append("style", style.file, style.file.name);
    form.append("style_weight", String(style.weight));
  }
  if (!$("strength-default").checked) form.append("strength", $("strength").value);
  form.append("color", $("color").value);
  form.append("size", $("size").value);
  if ($("method").value === "gatys") form.append("steps", $("steps").value);
  const painted = regions.painted();
  if (painted.some(Boolean)) {
    const bare = state.styles.filter((_, index) => !painted[index]).map((style) => style.name);
    if (bare.length) {
      throw new ApiFailure(0, "regions", `Paint a region for ${bare.join(", ")} too, or press Clear to let the ` +
        "styles cover the whole photo.");
    }
    (await regions.masks()).forEach((blob, index) => form.append("mask", blob, `region-${index + 1}.png`));
  }
  return form;
}

function throughJobs() {
  const size = Number($("size").value);
  const photo = $("photo");
  const longest = size || Math.max(photo.naturalWidth, photo.naturalHeight);
  return $("method").value === "gatys" || longest > DIRECT_LONGEST;
}

async function runJob(form) {
  const job = await json("/v1/jobs", { method: "POST", form });
  state.job = job.id;
  $("cancel").hidden = false;
  $("progress").hidden = false;
  try {
    for (;;) {
      await sleep(JOB_POLL_MS);
      let now;
      try {
        now = await json(`/v1/jobs/${job.id}`);
      } catch (error) {
        if (error instanceof ApiFailure && ["rate_limited", "database_unavailable"].includes(error.code)) continue;
        throw error;
      }
      $("progress").value = now.progress;
      $("status").textContent = `${now.state} · ${Math.round(now.progress * 100)} %`;
      if (now.state === "done") return (await call(now.result)).blob();
      if (now.state === "cancelled") throw new Cancelled();
      if (now.state === "failed") throw new ApiFailure(0, "failed", `The job failed: ${now.error}`);
    }
  } finally {
    state.job = null;
    $("cancel").hidden = true;
    $("progress").hidden = true;
  }
}

async function cancelJob() {
  if (!state.job) return;
  $("status").textContent = "cancelling…";
  try {
    await call(`/v1/jobs/${state.job}`, { method: "DELETE" });
  } catch (error) {
    fail(error);
  }
}

function showResult(blob) {
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  state.resultUrl = URL.createObjectURL(blob);
  $("after").src = state.resultUrl;
  $("before").src = state.photoUrl;
  for (const id of ["compare", "compare-slider", "compare-label", "download"]) $(id).hidden = false;
  const stem = state.photo.name.replace(/\.[^.]*$/, "") || "photo";
  $("download").href = state.resultUrl;
  $("download").download = `${stem}-brushwork.png`;
  slide();
}

function slide() {
  $("after-clip").style.clipPath = `inset(0 0 0 ${$("compare-slider").value}%)`;
}

async function paint() {
  if (!state.photo) return say("Choose a photo first.");
  if (!state.styles.length) return say("Choose a shipped style, or drop a style image.");
  const button = $("paint");
  button.disabled = true;
  say("");
  $("status").textContent = "painting…";
  try {
    const form = await order();
    const blob = throughJobs() ? await runJob(form) : await (await call("/v1/stylize", { method: "POST", form })).blob();
    showResult(blob);
    $("status").textContent = "done";
  } catch (error) {
    $("status").textContent = "";
    if (error instanceof Cancelled) say("The job was cancelled.", true);
    else fail(error);
  } finally {
    button.disabled = false;
    refreshUsage();
  }
}

// --- usage ---------------------------------------------------------------------------------------
function measure() {
  return document.querySelector("input[name=measure]:checked").value;
}

async function refreshUsage() {
  try {
    const answer = await json("/v1/usage");
    state.usage = answer.usage;
    $("quota").textContent = quotaLine(answer.month);
  } catch (error) {
    if (!(error instanceof ApiFailure && error.code === "unauthorized")) fail(error);
    state.usage = [];
    $("quota").textContent = "";
  }
  drawChart($("usage-chart"), $("usage-caption"), state.usage, measure());
  fillTable(document.querySelector("#usage-table tbody"), state.usage);
}

// --- wiring --------------------------------------------------------------------------------------
function dropZone(zone, input, take) {
  input.addEventListener("change", () => { if (input.files.length) take([...input.files]); });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) take([...event.dataTransfer.files]);
  });
}

function start() {
  $("key").value = key.get();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    key.set($("key").value.trim());
    say(key.get() ? "Key in use for this tab." : "No key: fine on a server without keys.", true);
    loadShipped();
    refreshUsage();
  });
  $("forget-key").addEventListener("click", () => { key.set(""); $("key").value = ""; say("Key forgotten.", true); });
  dropZone($("photo-drop"), $("photo-file"), (files) => choosePhoto(files[0]));
  dropZone($("style-drop"), $("style-files"), addStyles);
  $("method").addEventListener("change", syncMethod);
  $("strength").addEventListener("input", () => {
    $("strength-default").checked = false;
    $("strength-value").textContent = $("strength").value;
  });
  $("strength-default").addEventListener("change", () => {
    $("strength-value").textContent = $("strength-default").checked ? "default" : $("strength").value;
  });
  for (const input of document.querySelectorAll("input[name=tool]")) {
    input.addEventListener("change", () => { regions.erasing = $("tool-eraser").checked; });
  }
  $("brush-size").addEventListener("input", () => { regions.radius = Number($("brush-size").value) / 2; });
  regions.radius = Number($("brush-size").value) / 2;
  $("clear-regions").addEventListener("click", () => regions.clear());
  $("paint").addEventListener("click", paint);
  $("cancel").addEventListener("click", cancelJob);
  $("compare-slider").addEventListener("input", slide);
  for (const input of document.querySelectorAll("input[name=measure]")) {
    input.addEventListener("change", () => drawChart($("usage-chart"), $("usage-caption"), state.usage, measure()));
  }
  $("refresh-usage").addEventListener("click", refreshUsage);
  describeControls().catch(fail);
  loadShipped();
  refreshUsage();
  document.body.dataset.ready = "true";
}

start();
