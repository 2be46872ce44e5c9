/**
 * The dashboard's one page: HTML with inline CSS and JS, no framework. It listens to the
 * `events` stream (server-sent events) next to it and updates its tables in place, so a
 * row keeps its buttons while the numbers change. Every value is written as text, never
 * as HTML.
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
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
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
  button { font: inherit; font-size: 12px; padding: 4px 10px; border-radius: 5px; border: 1px solid #c5ccd6; background: #fff; cursor: pointer; }
  button:hover { background: #eef1f5; }
  button:disabled { opacity: .45; cursor: not-allowed; }
  .empty { padding: 14px 16px; color: var(--muted); }
  .muted { color: var(--muted); }
  #notice { min-height: 20px; color: var(--muted); font-size: 13px; }
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
  <div id="notice" role="status"></div>
</main>
<script>
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const rows = new Map();
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
      row.c.totals.textContent = b.totals.successes + " / " + b.totals.failures + " / " + b.totals.rejections;
      row.c.last.textContent = b.lastFailure ? b.lastFailure.reason + " (" + when(b.lastFailure.at) + ")" : "—";
      row.c.probe.textContent = b.isolated ? "until reset" : b.nextProbeInMs === null ? "—" : "in " + ago(b.nextProbeInMs);
      row.c.phase.textContent = b.retryPhase && !b.isolated ? b.retryPhase + " #" + b.attempt : "—";
      row.c.store.textContent = b.store;
      row.isolate.disabled = !control || b.isolated;
      row.reset.disabled = !control;
      row.isolate.title = row.reset.title = control ? "" : "start the dashboard with allowControl to enable";
    }
    for (const [name, row] of rows) if (!seen.has(name)) { row.tr.remove(); rows.delete(name); }
    $("breakers-empty").hidden = list.length > 0;
    $("breaker-count").textContent = list.length + (list.length === 1 ? " breaker" : " breakers");
  }
  function render(s) {
    control = s.control;
    $("control").textContent = control ? "control enabled" : "read-only";
    renderBreakers(s.breakers);
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
