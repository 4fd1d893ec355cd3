// The "EvoLink videos" page: plain DOM code, no build step. Every string from the server goes through
// textContent or a URL attribute, never innerHTML. All URLs are relative to this page (…/evolink/videos),
// so the page works wherever the Airflow UI is served.
"use strict";

const PAGE_SIZE = 24;

// The page's own query, read without URLSearchParams: Airflow 3.1's UI puts the raw run ID into the tab's {RUN_ID}
// (3.3's encodes it), so a literal "+" (every manual__…+00:00 run) must stay a "+", never become the space form
// encoding makes of it. decodeURIComponent keeps "+" and decodes %2B, %20 and UTF-8 alike.
function decodeComponent(text) {
  try { return decodeURIComponent(text); } catch (error) { return text; }  // a raw "%" in a 3.1 run ID
}

function pageQuery(search) {
  const values = new Map();
  for (const pair of search.replace(/^\?/, "").split("&")) {
    if (!pair) continue;
    const [key, ...rest] = pair.split("=");
    const name = decodeComponent(key);
    if (!values.has(name)) values.set(name, decodeComponent(rest.join("=")));
  }
  return { get: (key) => (values.has(key) ? values.get(key) : null) };
}

const query = pageQuery(window.location.search);
// Airflow UI root: the page lives at <root>evolink/videos.
const uiRoot = window.location.pathname.replace(/evolink\/videos\/?$/, "");
// The task-instance tab: the UI fills {MAP_INDEX} only for mapped task instances (an unmapped one keeps the literal
// placeholder, or none at all), which means map index -1.
const taskInstance = query.get("task_id") ? {
  dag_id: query.get("dag_id"), run_id: query.get("run_id"), task_id: query.get("task_id"),
  map_index: /^-?\d+$/.test(query.get("map_index") || "") ? query.get("map_index") : "-1",
} : null;
const state = {
  offset: 0, dag: query.get("dag_id") || "", model: query.get("model") || "", review: query.get("review") || "",
};

const $ = (id) => document.getElementById(id);

function followTheme() {
  // Same origin as the Airflow UI, which marks its theme with class "dark"/"light" on <html>.
  const apply = () => {
    let dark;
    try {
      dark = window.parent.document.documentElement.classList.contains("dark");
    } catch (error) {
      dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
    }
    if (query.get("theme")) dark = query.get("theme") === "dark";
    document.documentElement.classList.toggle("dark", dark);
    document.documentElement.classList.toggle("light", !dark);
  };
  apply();
  try {
    if (window.parent !== window) {
      new MutationObserver(apply).observe(window.parent.document.documentElement, { attributes: true });
    }
  } catch (error) { /* not framed by the UI: the system preference stays */ }
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function formatBytes(bytes) {
  if (typeof bytes !== "number") return null;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

// How a card names where the estimate before submitting came from (XCom evolink_usage "estimate_source").
const ESTIMATE_SOURCES = {
  price_list: "EvoLink's price list",
  catalogue: "the catalogue's published price",
  credits_per_second: "the task's credits_per_second",
};

function metaLine(video) {
  const parts = [
    video.model,
    typeof video.duration === "number" ? `${video.duration} s` : null,
    video.quality,
    formatBytes(video.bytes),
    typeof video.render_seconds === "number" ? `rendered in ${video.render_seconds} s` : null,
  ].filter(Boolean);
  const credits = typeof video.credits_reserved === "number"
    ? el("span", { className: "credits", textContent: `${video.credits_reserved} credits` }) : null;
  const line = el("p", { className: "meta" }, parts.join(" · "));
  if (credits) line.append(parts.length ? " · " : "", credits);
  if (credits) credits.title = [
    video.billing_rule ? `billing: ${video.billing_rule}` : null,
    typeof video.credits_estimated === "number"
      ? `estimated ${video.credits_estimated} credits (${ESTIMATE_SOURCES[video.estimate_source] || "no source"})` : null,
  ].filter(Boolean).join("; ");
  return line;
}

function links(video) {
  // Each path segment encoded (a run ID's "+", ":", spaces, …), as the UI's own links are, on every Airflow line.
  const run = `${uiRoot}dags/${encodeURIComponent(video.dag_id)}/runs/${encodeURIComponent(video.run_id)}`;
  let task = `${run}/tasks/${encodeURIComponent(video.task_id)}`;
  if (video.map_index >= 0) task += `/mapped/${video.map_index}`;
  const link = (href, text) => el("a", { href, textContent: text, target: "_top" });
  return el("p", { className: "links" },
    link(run, `Run ${video.run_id}`), link(task, `Task ${video.task_id}${video.map_index >= 0 ? ` [${video.map_index}]` : ""}`));
}

function play(video) {
  const player = $("video");
  player.poster = `api/${video.poster}`;
  player.src = `api/${video.stream}`;
  $("player-prompt").textContent = video.prompt || "(no prompt recorded)";
  $("player-meta").replaceWith(Object.assign(metaLine(video), { id: "player-meta" }));
  $("player-links").replaceWith(Object.assign(links(video), { id: "player-links" }));
  $("player").hidden = false;
  $("player").dataset.video = video.id;
  $("player").scrollIntoView({ block: "nearest" });
  player.play().catch(() => { /* the user presses play */ });
}

function card(video) {
  const poster = el("img", { alt: "", loading: "lazy", src: `api/${video.poster}` });
  poster.addEventListener("error", () => poster.remove());  // no poster: the play symbol stays
  const thumb = el("button", { className: "thumb", type: "button", title: "Play" }, poster);
  thumb.setAttribute("aria-label", `Play ${video.prompt || video.file_name}`);
  thumb.addEventListener("click", () => play(video));
  const prompt = el("p", { className: "prompt", textContent: video.prompt || video.file_name });
  const when = el("p", { className: "meta", textContent: `${new Date(video.timestamp).toLocaleString()} · ${video.dag_id}` });
  const node = el("article", { className: "card" }, thumb,
    el("div", { className: "body" }, prompt, metaLine(video), when, links(video), reviewBadge(video.review)));
  node.dataset.video = video.id;
  return node;
}

function fillSelect(select, values, selected) {
  const first = select.options[0];
  select.replaceChildren(first, ...values.map((value) => el("option", { value, textContent: value })));
  select.value = values.includes(selected) ? selected : "";
}

async function load() {
  const params = new URLSearchParams({ offset: state.offset, limit: PAGE_SIZE });
  if (taskInstance) Object.entries(taskInstance).forEach(([key, value]) => params.set(key, value));
  if (state.dag && !taskInstance) params.set("dag_id", state.dag);
  if (state.model && !taskInstance) params.set("model", state.model);
  if (state.review && !taskInstance) params.set("review", state.review);
  $("status").textContent = "Loading…";
  const response = await fetch(`api/videos?${params}`, { credentials: "same-origin" });
  if (!response.ok) {
    $("status").textContent = response.status === 401 ? "Log in to Airflow to see EvoLink videos."
      : response.status === 403 ? "You may not read Assets, so no EvoLink videos can be shown."
        : `The videos could not be loaded (HTTP ${response.status}).`;
    return;
  }
  const data = await response.json();
  if (taskInstance && !data.videos.length && await showReview(taskInstance)) return;
  fillSelect($("filter-dag"), data.dag_ids, state.dag);
  fillSelect($("filter-model"), data.models, state.model);
  $("cards").replaceChildren(...data.videos.map(card));
  const pages = Math.max(1, Math.ceil(data.total_entries / PAGE_SIZE));
  const current = Math.floor(state.offset / PAGE_SIZE) + 1;
  $("page").textContent = `Page ${current} of ${pages} · ${data.total_entries} video${data.total_entries === 1 ? "" : "s"}`;
  $("prev").disabled = state.offset === 0;
  $("next").disabled = state.offset + PAGE_SIZE >= data.total_entries;
  $("status").textContent = data.videos.length ? ""
    : taskInstance ? "This task instance stored no EvoLink videos." : "No EvoLink videos yet.";
  $("status").hidden = data.videos.length > 0;
  if (taskInstance && data.videos.length === 1) play(data.videos[0]);
}

function start() {
  followTheme();
  if (taskInstance) {
    $("filters").hidden = true;
    $("title").textContent = "EvoLink videos of this task instance";
  }
  $("filter-dag").addEventListener("change", (event) => { state.dag = event.target.value; state.offset = 0; load(); });
  $("filter-model").addEventListener("change", (event) => { state.model = event.target.value; state.offset = 0; load(); });
  $("filter-review").value = state.review;
  $("filter-review").addEventListener("change", (event) => { state.review = event.target.value; state.offset = 0; load(); });
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); load(); });
  $("next").addEventListener("click", () => { state.offset += PAGE_SIZE; load(); });
  $("player-close").addEventListener("click", () => {
    const player = $("video");
    player.pause();
    player.removeAttribute("src");
    player.load();
    $("player").hidden = true;
  });
  load();
}

document.addEventListener("DOMContentLoaded", start);
