// skaloe label: the page talks to the local server only (same origin).
"use strict";

let state = null;
let busy = false;
// The players of the clips on the page, by clip id: a clip still queued after
// a label keeps its player (and goes on playing), with no second download.
const players = new Map();
const RETRY_SECONDS = 3;

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
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {  // no answer at all: the server is not running, or the network is down
    const error = new Error("Cannot reach the skaloe label server at " + window.location.host +
                            ". Is skaloe label still running? If not, start it again with " +
                            "the same command");
    error.unreachable = true;
    throw error;
  }
  let payload = null;
  try { payload = await response.json(); } catch (e) { payload = null; }
  if (!response.ok) {
    throw new Error((payload && payload.error) || (response.status + " " + response.statusText));
  }
  return payload;
}

// "0.8 s", "12 s", "1:05": a clip's length as a person reads it.
function formatDuration(seconds) {
  if (seconds < 10) return seconds.toFixed(1) + " s";
  if (seconds < 60) return Math.round(seconds) + " s";
  const whole = Math.round(seconds);
  return Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0");
}

function player(clip) {
  let audio = players.get(clip.id);
  if (audio === undefined) {
    audio = document.createElement("audio");
    audio.controls = true;
    // The header only, so that the player shows the clip's length at once.
    audio.preload = "metadata";
    audio.src = withToken("/clip/" + clip.id);
    players.set(clip.id, audio);
  }
  return audio;
}

// "1 s", "0.4 s": seconds of context.
function formatSeconds(seconds) {
  const text = seconds.toFixed(1);
  return (text.endsWith(".0") ? text.slice(0, -2) : text) + " s";
}

// A segment played with context: a line that says which part of the player
// is the segment, and a bar of the player's length with the segment marked
// and a playhead that follows the audio.
function segmentContext(segment, audio) {
  const box = document.createElement("div");
  box.className = "segment";
  const note = document.createElement("p");
  note.className = "segment-note";
  const total = segment.play_end - segment.play_start;
  const from = segment.before, to = segment.before + (segment.end - segment.start);
  let around;
  if (segment.before > 0 && segment.after > 0) {
    around = Math.abs(segment.before - segment.after) < 0.05
      ? formatSeconds(segment.before) + " before and after"
      : formatSeconds(segment.before) + " before and " + formatSeconds(segment.after) + " after";
  } else if (segment.before > 0) {
    around = formatSeconds(segment.before) + " before (the recording ends with it)";
  } else {
    around = formatSeconds(segment.after) + " after (the recording starts with it)";
  }
  note.textContent = segment.times + (segment.recording ? " of " + segment.recording : "") +
    ", with " + around + ": the window is " + formatSeconds(from).slice(0, -2) + "\u2013" +
    formatSeconds(to) + " into the player.";
  const bar = document.createElement("div");
  bar.className = "span";
  bar.title = "the player's audio: the window in blue, its context in grey";
  const inside = document.createElement("div");
  inside.className = "inside";
  inside.style.left = (100 * from / total) + "%";
  inside.style.width = (100 * (to - from) / total) + "%";
  const head = document.createElement("div");
  head.className = "playhead";
  const follow = () => {
    const t = audio.currentTime || 0;
    head.style.left = Math.min(100, 100 * t / total) + "%";
    box.classList.toggle("in-segment", t >= from && t < to);
  };
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);
  follow();
  bar.append(inside, head);
  box.append(note, bar);
  return box;
}

function render(next) {
  state = next;
  const p = state.progress;
  $("loading").hidden = true;
  $("counts").hidden = false;
  $("blind").hidden = !state.blind;
  $("n-labels").textContent = String(p.n_labels);
  $("labels-word").textContent = p.n_labels === 1 ? "label" : "labels";
  $("n-pool").textContent = String(p.n_pool);
  $("items-word").textContent = state.segments ? "windows" : "clips";
  const counts = Object.entries(p.per_class).map(([c, n]) => c + ": " + n).join(", ");
  $("per-class").textContent = "(" + counts + ")";
  const accuracy = $("accuracy");
  accuracy.textContent = p.accuracy_text;
  accuracy.className = p.accuracy_kind;
  $("hint").textContent = p.hint;
  $("hint").title = p.hint_detail || "";
  $("undo").disabled = !p.can_undo;
  $("last").textContent = p.last
    ? "last: " + (state.blind ? p.last.name : "clip " + p.last.position) +
      (p.last.segment ? " (" + p.last.segment.times + ")" : "") + " \u2192 " +
      p.last.label + " (" + p.last.annotator + ")"
    : "";
  const queue = $("queue");
  queue.replaceChildren();
  const queued = new Set(state.queue.map((clip) => clip.id));
  for (const [id, audio] of players) {
    if (!queued.has(id)) {
      audio.pause();
      players.delete(id);
    }
  }
  state.queue.forEach((clip, i) => {
    const item = document.createElement("li");
    item.className = "clip" + (i === 0 ? " current" : "");
    item.dataset.id = String(clip.id);
    const title = document.createElement("div");
    title.className = "title";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = clip.name;
    title.append(name);
    if (!state.blind) {  // in blind mode the id is a random number, of no use to read
      const id = document.createElement("span");
      id.className = "id";
      id.textContent = "#" + clip.id;
      id.title = "position in the pool (the CSV's position column)";
      title.append(id);
    }
    if (clip.segment) {
      const times = document.createElement("span");
      times.className = "times";
      times.textContent = clip.segment.times;
      times.title = "where the segment lies in its recording (h:mm:ss.s)";
      title.append(times);
    }
    if (typeof clip.duration === "number") {
      const duration = document.createElement("span");
      duration.className = "duration";
      duration.textContent = formatDuration(clip.duration);
      duration.title = clip.segment ? "length of the segment" : "length of the clip";
      title.append(duration);
    }
    item.append(title);
    if (clip.audio) {
      const audio = player(clip);
      item.append(audio);
      const segment = clip.segment;
      if (segment && (segment.before > 0 || segment.after > 0)) {
        item.append(segmentContext(segment, audio));
      }
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
    setStatus(error.unreachable ? "Not saved. " + error.message + ", then reload this page."
                                : String(error.message || error));
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

// The first state: until it arrives the page says it is loading (never
// "0 labels of 0 clips"); a server that cannot be reached is asked again.
async function load() {
  try {
    render(await call("GET", "/api/state"));
    setStatus("");
  } catch (error) {
    if (error.unreachable) {
      $("loading").textContent = error.message + "; this page tries again every " +
                                 RETRY_SECONDS + " seconds\u2026";
      $("loading").className = "error";
      setTimeout(load, RETRY_SECONDS * 1000);
    } else {
      $("loading").textContent = "The labeling session could not be loaded.";
      $("loading").className = "error";
      setStatus(String(error.message || error));
    }
  }
}

load();
