// skaloe label: the page talks to the local server only (same origin).
"use strict";

let state = null;
let busy = false;

// A server reachable from other machines wants its access token, given in the
// page's own address (?token=...), with every request but the page itself.
const token = new URLSearchParams(window.location.search).get("token");

const $ = (id) => document.getElementById(id);

function withToken(url) {
  return token === null ? url : url + "?token=" + encodeURIComponent(token);
}

function setStatus(text) {
  $("status").textContent = text || "";
}

async function call(method, url, body) {
  const options = { method, headers: {} };
  if (token !== null) options.headers["X-Skaloe-Token"] = token;
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  let payload = null;
  try { payload = await response.json(); } catch (e) { payload = null; }
  if (!response.ok) {
    throw new Error((payload && payload.error) || (response.status + " " + response.statusText));
  }
  return payload;
}

function render(next) {
  state = next;
  const p = state.progress;
  $("n-labels").textContent = String(p.n_labels);
  $("n-pool").textContent = String(p.n_pool);
  const counts = Object.entries(p.per_class).map(([c, n]) => c + ": " + n).join(", ");
  $("per-class").textContent = "(" + counts + ")";
  const accuracy = $("accuracy");
  accuracy.textContent = p.accuracy_text;
  accuracy.className = p.accuracy_kind;
  $("hint").textContent = p.hint;
  $("undo").disabled = !p.can_undo;
  $("last").textContent = p.last
    ? "last: clip " + p.last.position + " \u2192 " + p.last.label + " (" + p.last.annotator + ")"
    : "";
  const queue = $("queue");
  queue.replaceChildren();
  state.queue.forEach((clip, i) => {
    const item = document.createElement("li");
    item.className = "clip" + (i === 0 ? " current" : "");
    item.dataset.id = String(clip.id);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = clip.name;
    const id = document.createElement("span");
    id.className = "id";
    id.textContent = "#" + clip.id;
    item.append(name, id);
    if (clip.audio) {
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = withToken("/clip/" + clip.id);
      item.append(audio);
    }
    const buttons = document.createElement("div");
    buttons.className = "labels";
    state.classes.forEach((label, k) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "label";
      button.dataset.label = label;
      if (k < 9) {
        const key = document.createElement("kbd");
        key.textContent = String(k + 1);
        button.append(key);
      }
      button.append(document.createTextNode(label));
      button.addEventListener("click", () => sendLabel(clip.id, label));
      buttons.append(button);
    });
    item.append(buttons);
    queue.append(item);
  });
  $("done").hidden = state.queue.length > 0;
  document.body.dataset.ready = "true";
  document.body.dataset.nLabels = String(p.n_labels);
}

async function run(action) {
  if (busy) return;
  busy = true;
  document.body.dataset.busy = "true";
  document.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    render(await action());
    setStatus("");
  } catch (error) {
    setStatus(String(error.message || error));
    try { render(await call("GET", "/api/state")); } catch (e) { /* keep the message */ }
  } finally {
    busy = false;
    document.body.dataset.busy = "false";
    document.querySelectorAll("button.label").forEach((b) => { b.disabled = false; });
    $("undo").disabled = !(state && state.progress.can_undo);
  }
}

function sendLabel(id, label) {
  return run(() => call("POST", "/api/label", { id, label }));
}

function undo() {
  return run(() => call("POST", "/api/undo", {}));
}

$("undo").addEventListener("click", undo);
$("export").href = withToken("/labels.csv");

document.addEventListener("keydown", (event) => {
  if (!state || event.altKey || event.metaKey) return;
  if (event.target && ["INPUT", "TEXTAREA"].includes(event.target.tagName)) return;
  if ((event.key === "z" && event.ctrlKey) || ((event.key === "u" || event.key === "U") && !event.ctrlKey)) {
    event.preventDefault();
    undo();
    return;
  }
  if (event.ctrlKey) return;
  const current = state.queue[0];
  if (!current) return;
  if (/^[1-9]$/.test(event.key)) {
    const label = state.classes[Number(event.key) - 1];
    if (label !== undefined) {
      event.preventDefault();
      sendLabel(current.id, label);
    }
  } else if (event.key === " ") {
    const audio = document.querySelector(".clip.current audio");
    if (audio) {
      event.preventDefault();
      if (audio.paused) audio.play(); else audio.pause();
    }
  }
});

run(() => call("GET", "/api/state"));
