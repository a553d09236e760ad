"""The dashboard page: one HTML document with its CSS and script inline (no network, no CDN).

The script polls `/api/state` every POLL_MS and fills the page; a symbol's chart (inline
SVG) is fetched from `/api/chart` only when its version in the state changed. Values are
written with `textContent`, never parsed as HTML, except the SVG the server drew itself.

Stable hooks for tests and people: `[data-counter=NAME]` elements carry the raw number in
`data-value` (names: ticks_in, stored, rejected, alerts, iterator_age_ms);
`#alerts > li.alert[data-symbol][data-signal][data-timestamp][data-price]`;
`#rejected-latest > li[data-reason]`; `#functions > tr[data-function] > td[data-field]`;
`#charts > figure.chart[data-symbol][data-chart-version]`; `[data-note=NAME]` holds the
source's note on a figure (ticks_in, iterator_age_ms, functions, alerts), empty when it has
none; `body[data-polls]` counts the
polls that succeeded and `#status[data-state]` is "live" or "error".
"""

from __future__ import annotations

POLL_MS = 1500

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tickstack dashboard</title>
<style>
:root { --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --golden: #15803d; --death: #c81e1e; --bad: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f8fafc; }
header { display: flex; align-items: baseline; gap: 1rem; padding: 0.8rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.25rem; margin: 0; }
#source { color: var(--muted); }
#status { margin-left: auto; font-size: 0.9rem; }
#status[data-state="live"]::before { content: "\\25CF\\00A0"; color: var(--golden); }
#status[data-state="error"] { color: var(--death); font-weight: 600; }
main { padding: 1rem 1.5rem; display: grid; gap: 1rem; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
.counters { grid-column: 1 / -1; display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 0.8rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 0.7rem 1rem; }
.counter .label { color: var(--muted); font-size: 0.85rem; }
.counter .value { font-size: 2rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.counter .note { color: var(--muted); font-size: 0.75rem; min-height: 1em; }
section.card > .note { color: var(--muted); font-size: 0.8rem; margin: 0.4rem 0 0; }
section.card > .note:empty { display: none; }
.counter[data-kind="rejected"] .value:not([data-value="0"]) { color: var(--bad); }
h2 { font-size: 1rem; margin: 0 0 0.5rem; }
ol, ul { margin: 0; padding: 0; list-style: none; }
#alerts { max-height: 22rem; overflow-y: auto; }
#alerts li { border-left: 4px solid var(--muted); padding: 0.35rem 0.7rem; margin-bottom: 0.45rem; background: #fbfbfb; }
#alerts li[data-signal="GOLDEN_CROSS"] { border-color: var(--golden); }
#alerts li[data-signal="DEATH_CROSS"] { border-color: var(--death); }
#alerts .subject { font-weight: 650; }
#alerts li[data-signal="GOLDEN_CROSS"] .subject { color: var(--golden); }
#alerts li[data-signal="DEATH_CROSS"] .subject { color: var(--death); }
#alerts .message { white-space: pre-wrap; font-size: 0.9rem; }
#alerts .when, #rejected-latest .when { color: var(--muted); font-size: 0.8rem; }
#rejected-latest li { padding: 0.25rem 0; border-bottom: 1px solid var(--line); font-size: 0.9rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line); }
td[data-field] { text-align: right; font-variant-numeric: tabular-nums; }
td[data-field="errors"]:not([data-value="0"]):not([data-value=""]) { color: var(--death); font-weight: 700; }
.empty { color: var(--muted); font-style: italic; }
#charts { grid-column: 1 / -1; display: grid; gap: 1rem; }
figure.chart { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 0.5rem; }
figure.chart svg { width: 100%; height: auto; display: block; }
figure.chart .error { color: var(--death); }
</style>
</head>
<body data-polls="0">
<header>
  <h1>tickstack</h1>
  <span id="source"></span>
  <span id="status" data-state="connecting">connecting&hellip;</span>
</header>
<main>
  <section class="counters" aria-label="counters">
    <div class="card counter" data-kind="ticks_in"><div class="label">Ticks in</div><div class="value" data-counter="ticks_in" data-value="">&ndash;</div><div class="note" id="ticks-in-basis" data-note="ticks_in"></div></div>
    <div class="card counter" data-kind="stored"><div class="label">Stored</div><div class="value" data-counter="stored" data-value="">&ndash;</div><div class="note">ticks in the table</div></div>
    <div class="card counter" data-kind="rejected"><div class="label">Rejected</div><div class="value" data-counter="rejected" data-value="">&ndash;</div><div class="note">invalid records kept aside</div></div>
    <div class="card counter" data-kind="alerts"><div class="label">Alerts</div><div class="value" data-counter="alerts" data-value="">&ndash;</div><div class="note">Golden / Death Crosses sent</div></div>
    <div class="card counter" data-kind="iterator_age_ms"><div class="label">Stream iterator age</div><div class="value" data-counter="iterator_age_ms" data-value="">&ndash;</div><div class="note" data-note="iterator_age_ms">how far behind the reader is</div></div>
  </section>
  <section class="card" aria-labelledby="alerts-title">
    <h2 id="alerts-title">Alerts, newest first</h2>
    <p class="note" data-note="alerts"></p>
    <ol id="alerts"></ol>
  </section>
  <div style="display: grid; gap: 1rem; align-content: start;">
    <section class="card" aria-labelledby="functions-title">
      <h2 id="functions-title">Functions</h2>
      <table><thead><tr><th>Function</th><th style="text-align:right">Invocations</th><th style="text-align:right">Errors</th><th style="text-align:right">Avg duration</th></tr></thead>
      <tbody id="functions"></tbody></table>
      <p class="note" data-note="functions"></p>
    </section>
    <section class="card" aria-labelledby="rejected-title">
      <h2 id="rejected-title">Latest rejections</h2>
      <ul id="rejected-latest"></ul>
    </section>
  </div>
  <section id="charts" aria-label="charts"></section>
</main>
<script>
"use strict";
const POLL_MS = __POLL_MS__;
const DASH = "\\u2013";
let polls = 0;
const shownCharts = new Map();   // symbol -> version on screen (or being fetched)

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}
function count(value) { return value === null || value === undefined ? DASH : Number(value).toLocaleString("en-US"); }
function millis(value) {
  if (value === null || value === undefined) return DASH;
  return value >= 10000 ? (value / 1000).toFixed(1) + " s" : Math.round(value).toLocaleString("en-US") + " ms";
}
function setCounter(name, value, text) {
  const node = document.querySelector('[data-counter="' + name + '"]');
  node.dataset.value = value === null || value === undefined ? "" : String(value);
  node.textContent = text;
}

function setNote(name, text) {
  for (const node of document.querySelectorAll('[data-note="' + name + '"]')) node.textContent = text || "";
}

function renderCounters(state) {
  const c = state.counters;
  const notes = state.notes || {};
  setCounter("ticks_in", c.ticks_in, count(c.ticks_in));
  setNote("ticks_in", c.ticks_in_basis === "stream" ? (notes.ticks_in || "records put on the stream")
                                                    : "stored count (no stream counter here)");
  setNote("iterator_age_ms", notes.iterator_age_ms || "how far behind the reader is");
  setNote("functions", notes.functions);
  setNote("alerts", notes.alerts);
  setCounter("stored", c.stored, count(c.stored));
  setCounter("rejected", c.rejected, count(c.rejected));
  setCounter("alerts", c.alerts, count(c.alerts));
  setCounter("iterator_age_ms", c.iterator_age_ms, millis(c.iterator_age_ms));
}

function renderAlerts(alerts) {
  const list = document.getElementById("alerts");
  const items = alerts.map(function (a) {
    const li = el("li", {"class": "alert", "data-symbol": a.symbol, "data-signal": a.signal,
                         "data-timestamp": a.timestamp, "data-price": a.price});
    li.append(el("div", {"class": "subject"}, a.subject));
    if (a.message) li.append(el("div", {"class": "message"}, a.message));
    li.append(el("div", {"class": "when"}, a.sent_at ? "sent " + a.sent_at : ""));
    return li;
  });
  if (!items.length) items.push(el("li", {"class": "empty"}, "No alerts yet."));
  list.replaceChildren(...items);
}

function renderRejected(rejected) {
  const list = document.getElementById("rejected-latest");
  const items = rejected.map(function (r) {
    const li = el("li", {"data-reason": r.reason, "data-at": r.at || ""});
    li.append(el("div", {"class": "reason"}, r.reason));
    li.append(el("div", {"class": "when"}, (r.at || "") + (r.key ? "  " + r.key : "")));
    return li;
  });
  if (!items.length) items.push(el("li", {"class": "empty"}, "Nothing rejected."));
  list.replaceChildren(...items);
}

function renderFunctions(functions) {
  const rows = functions.map(function (f) {
    const tr = el("tr", {"data-function": f.name});
    tr.append(el("td", {}, f.name));
    tr.append(el("td", {"data-field": "invocations", "data-value": f.invocations ?? ""}, count(f.invocations)));
    tr.append(el("td", {"data-field": "errors", "data-value": f.errors ?? ""}, count(f.errors)));
    tr.append(el("td", {"data-field": "duration_ms", "data-value": f.duration_ms ?? ""},
                 f.duration_ms === null || f.duration_ms === undefined ? DASH : Number(f.duration_ms).toFixed(1) + " ms"));
    return tr;
  });
  if (!rows.length) {
    const tr = el("tr", {"class": "empty"});
    tr.append(el("td", {"colspan": "4"}, "No function metrics on this target."));
    rows.push(tr);
  }
  document.getElementById("functions").replaceChildren(...rows);
}

function chartFigure(symbol) {
  for (const figure of document.querySelectorAll("#charts > figure.chart")) {
    if (figure.dataset.symbol === symbol) return figure;
  }
  const figure = el("figure", {"class": "chart", "data-symbol": symbol, "data-chart-version": ""});
  figure.append(el("p", {"class": "empty"}, "Drawing " + symbol + "\\u2026"));
  document.getElementById("charts").append(figure);
  return figure;
}

async function loadChart(symbol, version) {
  const figure = chartFigure(symbol);
  shownCharts.set(symbol, version);
  try {
    const response = await fetch("/api/chart?symbol=" + encodeURIComponent(symbol) + "&v=" + encodeURIComponent(version),
                                 {cache: "no-store"});
    const body = await response.text();
    if (shownCharts.get(symbol) !== version) return;   // a newer version is on its way
    if (!response.ok) throw new Error(body);
    figure.innerHTML = body;                            // SVG drawn by this server
    figure.dataset.chartVersion = version;
    figure.removeAttribute("data-error");
  } catch (error) {
    shownCharts.delete(symbol);                          // try again on the next poll
    figure.dataset.error = String(error.message || error);
    figure.replaceChildren(el("p", {"class": "error"}, "Chart of " + symbol + " failed: " + figure.dataset.error));
  }
}

function renderCharts(charts) {
  const wanted = new Set(charts.map(function (c) { return c.symbol; }));
  for (const figure of document.querySelectorAll("#charts > figure.chart")) {
    if (!wanted.has(figure.dataset.symbol)) { figure.remove(); shownCharts.delete(figure.dataset.symbol); }
  }
  for (const c of charts) {
    chartFigure(c.symbol);
    if (shownCharts.get(c.symbol) !== c.version) loadChart(c.symbol, c.version);
  }
}

function setStatus(state, text) {
  const status = document.getElementById("status");
  status.dataset.state = state;
  status.textContent = text;
}

async function poll() {
  try {
    const response = await fetch("/api/state", {cache: "no-store"});
    const state = await response.json();
    if (!response.ok) throw new Error(state.error || ("HTTP " + response.status));
    document.getElementById("source").textContent = state.source || "";
    renderCounters(state);
    renderAlerts(state.alerts);
    renderRejected(state.rejected_latest);
    renderFunctions(state.functions);
    renderCharts(state.charts);
    polls += 1;
    document.body.dataset.polls = String(polls);
    setStatus("live", "updated " + state.generated_at);
  } catch (error) {
    setStatus("error", "not updating: " + (error.message || error));
  } finally {
    setTimeout(poll, POLL_MS);
  }
}
poll();
</script>
</body>
</html>
""".replace("__POLL_MS__", str(POLL_MS))
