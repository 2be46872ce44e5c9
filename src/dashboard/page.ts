/**
 * The dashboard's one page (breakers and rate limiters): HTML with inline CSS and JS, no framework. It listens to the
 * `events` stream (server-sent events) next to it and updates its tables in place, so a
 * row keeps its buttons while the numbers change. Every value is written as text, never
 * as HTML. Each adaptive limiter's row draws its recent rate and cooldowns as a small
 * inline SVG chart, built by the page's own script from the snapshot's history.
 */

/** The page, with `title` escaped into it. */
export function renderPage(title: string): string {
  return PAGE.replace(/__TITLE__/g, escapeHtml(title));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  :root { --bg: #f6f7f9; --card: #fff; --ink: #1d2430; --muted: #6b7585; --line: #e3e6eb;
          --closed: #1f9d55; --open: #d64545; --half: #d98e04; --isolated: #7a4cc2; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
  header { display: flex; align-items: center; gap: 16px; padding: 14px 24px; background: #1d2430; color: #fff; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  header .meta { margin-left: auto; display: flex; gap: 14px; align-items: center; color: #c9d1dd; font-size: 13px; }
  .dot { width: 9px; height: 9px; border-radius: 50%; display: inline-block; background: #888; margin-right: 6px; vertical-align: 1px; }
  .dot.live { background: #3ccf7a; }
  .dot.down { background: #e05a5a; }
  main { padding: 20px 24px; display: grid; gap: 20px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow-x: auto; }
  section h2 { font-size: 14px; margin: 0; padding: 12px 16px; border-bottom: 1px solid var(--line); display: flex; gap: 10px; align-items: baseline; }
  section h2 small { color: var(--muted); font-weight: 400; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 9px 16px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; background: #fafbfc; }
  tr:last-child td { border-bottom: 0; }
  td.num { font-variant-numeric: tabular-nums; }
  td.reason { white-space: normal; max-width: 360px; color: #444; }
  .badge { display: inline-block; min-width: 78px; text-align: center; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; }
  .badge.closed { background: var(--closed); } .badge.open { background: var(--open); }
  .badge.half-open { background: var(--half); } .badge.isolated { background: var(--isolated); }
  .badge.pacing { background: var(--closed); } .badge.cooldown { background: var(--open); }
  .badge.exhausted { background: var(--half); } .badge.waiting { background: var(--half); }
  .gauge { display: inline-block; width: 70px; height: 7px; border-radius: 4px; background: var(--line); margin-right: 8px; vertical-align: 1px; overflow: hidden; }
  .sub { font-size: 12px; }
  .gauge > i { display: block; height: 100%; background: var(--closed); }
  button { font: inherit; font-size: 12px; padding: 4px 10px; border-radius: 5px; border: 1px solid #c5ccd6; background: #fff; cursor: pointer; }
  button:hover { background: #eef1f5; }
  button:disabled { opacity: .45; cursor: not-allowed; }
  .empty { padding: 14px 16px; color: var(--muted); }
  .muted { color: var(--muted); }
  #notice { min-height: 20px; color: var(--muted); font-size: 13px; }
  svg.spark { display: block; width: 160px; height: 36px; margin-top: 4px; overflow: visible; }
  svg.spark .frame { fill: #fafbfc; stroke: var(--line); }
  svg.spark .cooldown { fill: var(--open); fill-opacity: .18; }
  svg.spark .area { fill: #4e79a7; fill-opacity: .12; stroke: none; }
  svg.spark .rate { fill: none; stroke: #4e79a7; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
  svg.spark .now { fill: #4e79a7; }
  .spark-caption { font-size: 11px; color: var(--muted); font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<header>
  <h1>__TITLE__</h1>
  <div class="meta">
    <span id="control" class="muted"></span>
    <span><span id="dot" class="dot"></span><span id="conn">connecting…</span></span>
    <span id="updated"></span>
  </div>
</header>
<main>
  <section>
    <h2>Circuit breakers <small id="breaker-count"></small></h2>
    <table id="breakers">
      <thead><tr><th>Breaker</th><th>State</th><th>Failures</th><th>Calls ok / failed / rejected</th><th>Last failure</th><th>Next probe</th><th>Retry phase</th><th>Store</th><th>Actions</th></tr></thead>
      <tbody></tbody>
    </table>
    <div class="empty" id="breakers-empty" hidden>No breakers yet.</div>
  </section>
  <section>
    <h2>Rate limiters <small id="limiter-count"></small></h2>
    <table id="limiters">
      <thead><tr><th>Limiter</th><th>State</th><th>Rate</th><th>Remaining</th><th>Cooldown</th><th>Waiting</th><th>In flight</th><th>Back-offs (last)</th><th>Store</th></tr></thead>
      <tbody></tbody>
    </table>
    <div class="empty" id="limiters-empty" hidden>No rate limiters.</div>
  </section>
  <div id="notice" role="status"></div>
</main>
<script>
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const rows = new Map();
  const limiterRows = new Map();
  let control = false;

  function cell(row, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }
  function ago(ms) {
    if (ms < 1000) return Math.max(0, Math.round(ms)) + " ms";
    if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
    return Math.round(ms / 60000) + " min";
  }
  function when(at) {
    return at > 1e12 ? new Date(at).toLocaleTimeString() : "t=" + at + " ms";
  }
  function act(name, action) {
    fetch("breakers/" + encodeURIComponent(name) + "/" + action, { method: "POST", headers: { "x-breakwater-control": "1" } })
      .then((r) => r.json().then((body) => { $("notice").textContent = r.ok ? action + ": " + name + " done" : "refused: " + body.error; }))
      .catch((e) => { $("notice").textContent = "request failed: " + e; });
  }
  function breakerRow(name) {
    const tr = document.createElement("tr");
    tr.dataset.breaker = name;
    const c = {
      name: cell(tr), state: cell(tr), failures: cell(tr, "num"), totals: cell(tr, "num"), last: cell(tr, "reason"),
      probe: cell(tr, "num"), phase: cell(tr), store: cell(tr, "muted"), actions: cell(tr),
    };
    c.name.textContent = name;
    const badge = document.createElement("span");
    badge.className = "badge";
    c.state.appendChild(badge);
    const isolate = document.createElement("button");
    isolate.textContent = "Isolate";
    isolate.dataset.action = "isolate";
    isolate.onclick = () => act(name, "isolate");
    const reset = document.createElement("button");
    reset.textContent = "Reset";
    reset.dataset.action = "reset";
    reset.onclick = () => act(name, "reset");
    c.actions.append(isolate, " ", reset);
    return { tr, c, badge, isolate, reset };
  }
  function renderBreakers(list) {
    const body = $("breakers").tBodies[0];
    const seen = new Set();
    for (const b of list) {
      seen.add(b.name);
      let row = rows.get(b.name);
      if (!row) { row = breakerRow(b.name); rows.set(b.name, row); body.appendChild(row.tr); }
      const shown = b.isolated ? "isolated" : b.state;
      row.badge.textContent = shown;
      row.badge.className = "badge " + shown;
      row.tr.dataset.state = shown;
      row.c.failures.textContent = String(b.failures);
      row.c.totals.textContent = b.totals ? b.totals.successes + " / " + b.totals.failures + " / " + b.totals.rejections : "—";
      row.c.last.textContent = b.lastFailure ? b.lastFailure.reason + " (" + when(b.lastFailure.at) + ")" : "—";
      row.c.probe.textContent = b.isolated ? "until reset" : b.nextProbeInMs === null ? "—" : "in " + ago(b.nextProbeInMs);
      row.c.phase.textContent = b.retryPhase && !b.isolated ? b.retryPhase + " #" + b.attempt : "—";
      row.c.store.textContent = b.fleet
        ? b.store + " · fleet " + b.fleet.state + ", quorum " + b.fleet.quorum + ", own views open: " + (b.fleet.ownViewsOpen.join(", ") || "none")
        : b.store;
      row.isolate.disabled = !control || b.isolated;
      row.reset.disabled = !control;
      row.isolate.title = row.reset.title = control ? "" : "start the dashboard with allowControl to enable";
    }
    for (const [name, row] of rows) if (!seen.has(name)) { row.tr.remove(); rows.delete(name); }
    $("breakers-empty").hidden = list.length > 0;
    $("breaker-count").textContent = list.length + (list.length === 1 ? " breaker" : " breakers");
  }
  function rate(r) {
    return (r >= 100 ? Math.round(r) : r >= 10 ? r.toFixed(1) : r.toFixed(2)) + " /s";
  }
  function span(ms) {
    const trim = (x) => String(Math.round(x * 10) / 10);
    if (ms < 1000) return trim(ms) + " ms";
    if (ms < 120000) return trim(ms / 1000) + " s";
    if (ms < 7200000) return trim(ms / 60000) + " min";
    return trim(ms / 3600000) + " h";
  }
  function limiterRow(l) {
    const tr = document.createElement("tr");
    tr.dataset.limiter = l.name;
    tr.dataset.kind = l.kind;
    const c = {
      name: cell(tr), state: cell(tr), rate: cell(tr, "num"), remaining: cell(tr, "num"), cooldown: cell(tr, "num"),
      queued: cell(tr, "num"), inFlight: cell(tr, "num"), backoffs: cell(tr, "reason"), store: cell(tr, "muted"),
    };
    // The rate as text, and (adaptive) its recent past as a small chart under it.
    const rateText = document.createElement("div");
    const spark = svgEl("svg", { class: "spark", viewBox: "0 0 160 36", role: "img" });
    const caption = document.createElement("div");
    caption.className = "spark-caption";
    c.rate.append(rateText, spark, caption);
    const algorithm = document.createElement("div");
    algorithm.className = "muted sub";
    c.name.append(l.name, algorithm);
    const badge = document.createElement("span");
    badge.className = "badge";
    c.state.appendChild(badge);
    const gauge = document.createElement("span");
    gauge.className = "gauge";
    const fill = document.createElement("i");
    gauge.appendChild(fill);
    const left = document.createElement("span");
    c.remaining.append(gauge, left);
    return { tr, c, badge, gauge, fill, left, algorithm, rateText, spark, caption };
  }
  const SVG_NS = "http://www.w3.org/2000/svg";
  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG_NS, name);
    for (const k of Object.keys(attrs)) el.setAttribute(k, attrs[k]);
    return el;
  }
  // The rate over the history (newest at the right; at least 30 samples wide, so a young
  // history is not a sliver), cooldowns as red bands.
  function drawSpark(row, h) {
    const svg = row.spark;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const n = h ? h.at.length : 0;
    svg.dataset.samples = String(n);
    svg.style.display = row.caption.style.display = h ? "" : "none";
    if (!h) return;
    const W = 160, H = 36, P = 2;
    svg.appendChild(svgEl("rect", { class: "frame", x: 0.5, y: 0.5, width: W - 1, height: H - 1, rx: 3 }));
    if (n === 0) { row.caption.textContent = "collecting…"; return; }
    const end = h.at[n - 1];
    const shown = Math.min(h.spanMs, Math.max(end - h.at[0], 30 * h.intervalMs));
    const start = end - shown;
    let max = 0;
    for (const r of h.ratePerSec) max = Math.max(max, r);
    const top = max > 0 ? max * 1.15 : 1;
    const x = (t) => (P + ((t - start) / shown) * (W - 2 * P)).toFixed(1);
    const y = (v) => (H - P - (v / top) * (H - 2 * P)).toFixed(1);
    const cooldowns = svgEl("g", { class: "cooldowns" });
    let cooled = 0;
    for (let i = 0; i < n; i++) {
      if (!(h.cooldownMs[i] > 0)) continue;
      const t1 = Math.min(h.at[i] + h.cooldownMs[i], i + 1 < n ? h.at[i + 1] : h.at[i] + h.intervalMs);
      cooldowns.appendChild(svgEl("rect", { class: "cooldown", x: x(h.at[i]), y: 1, width: Math.max(1, x(t1) - x(h.at[i])).toFixed(1), height: H - 2 }));
      cooled++;
    }
    svg.appendChild(cooldowns);
    // A gap of more than two intervals (no sample could be taken) breaks the line.
    let line = "";
    let area = "";
    let runStart = 0;
    const close = (i) => { area += "L" + x(h.at[i]) + "," + (H - P) + "L" + x(h.at[runStart]) + "," + (H - P) + "Z"; };
    for (let i = 0; i < n; i++) {
      const gap = i > 0 && h.at[i] - h.at[i - 1] > 2.5 * h.intervalMs;
      if (gap) { close(i - 1); runStart = i; }
      const move = i === 0 || gap;
      line += (move ? "M" : "L") + x(h.at[i]) + "," + y(h.ratePerSec[i]);
      area += (move ? "M" : "L") + x(h.at[i]) + "," + y(h.ratePerSec[i]);
    }
    close(n - 1);
    svg.appendChild(svgEl("path", { class: "area", d: area }));
    svg.appendChild(svgEl("path", { class: "rate", d: line }));
    svg.appendChild(svgEl("circle", { class: "now", cx: x(end), cy: y(h.ratePerSec[n - 1]), r: 2 }));
    const minutes = Math.round(((end - h.at[0]) / 60000) * 10) / 10;
    const title = svgEl("title", {});
    title.textContent = "rate over the last " + span(end - h.at[0]) + " (max " + rate(max) + ")" + (cooled > 0 ? "; red: cooling down after a back-off" : "");
    svg.appendChild(title);
    row.caption.textContent = "max " + rate(max) + " · " + (minutes >= 1 ? minutes + " min" : span(end - h.at[0]));
  }
  function renderLimiters(list) {
    const body = $("limiters").tBodies[0];
    const seen = new Set();
    for (const l of list) {
      // Limiters may share a name (one per tenant): the second is "name#2".
      let id = l.kind + ":" + l.name;
      for (let n = 2; seen.has(id); n++) id = l.kind + ":" + l.name + "#" + n;
      seen.add(id);
      let row = limiterRows.get(id);
      if (!row) { row = limiterRow(l); limiterRows.set(id, row); body.appendChild(row.tr); }
      const state = l.cooldownMs > 0 ? "cooldown" : l.queued > 0 ? "waiting" : l.remaining === 0 ? "exhausted" : "pacing";
      row.badge.textContent = state === "cooldown" ? "cooling down" : state;
      row.badge.className = "badge " + state;
      row.tr.dataset.state = state;
      row.algorithm.textContent = l.algorithm;
      // A window reads best as "600 per 1 min"; a bucket and the adaptive limiter as a pace.
      const shown = l.windowMs !== null ? l.limit + " per " + span(l.windowMs) + (l.ratePerSec >= 0.1 ? " · " + rate(l.ratePerSec) : "")
        : rate(l.ratePerSec) + (l.limit !== null ? " (burst " + l.limit + ")" : "");
      row.rateText.textContent = shown + (l.rateSource && l.rateSource !== "initial" ? " · " + l.rateSource : "");
      if (l.remaining === null || l.limit === null) {
        row.gauge.style.display = "none";
        row.left.textContent = "—";
      } else {
        row.gauge.style.display = "";
        row.fill.style.width = Math.max(0, Math.min(100, (100 * l.remaining) / l.limit)) + "%";
        row.left.textContent = l.remaining + " / " + l.limit;
      }
      row.c.cooldown.textContent = l.cooldownMs > 0 ? ago(l.cooldownMs) + " left" : "—";
      row.c.queued.textContent = String(l.queued);
      row.c.inFlight.textContent = l.inFlight === null ? "—" : String(l.inFlight);
      row.c.backoffs.textContent = l.backoffs === null ? "—" : l.backoffs + (l.lastBackoff ? " (" + l.lastBackoff.status + (l.lastBackoff.retryAfterMs !== null ? ", Retry-After " + ago(l.lastBackoff.retryAfterMs) : "") + ", " + when(l.lastBackoff.at) + ")" : "");
      drawSpark(row, l.history);
      row.c.store.textContent = l.store;
    }
    for (const [id, row] of limiterRows) if (!seen.has(id)) { row.tr.remove(); limiterRows.delete(id); }
    $("limiters-empty").hidden = list.length > 0;
    $("limiter-count").textContent = list.length + (list.length === 1 ? " limiter" : " limiters");
  }
  function render(s) {
    control = s.control;
    $("control").textContent = control ? "control enabled" : "read-only";
    renderBreakers(s.breakers);
    renderLimiters(s.limiters || []);
    $("updated").textContent = "updated " + new Date(s.at).toLocaleTimeString();
  }
  const events = new EventSource("events");
  events.addEventListener("snapshot", (e) => render(JSON.parse(e.data)));
  events.onopen = () => { $("dot").className = "dot live"; $("conn").textContent = "live"; };
  events.onerror = () => { $("dot").className = "dot down"; $("conn").textContent = "reconnecting…"; };
})();
</script>
</body>
</html>
`;
