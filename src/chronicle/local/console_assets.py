"""The console's stylesheet and script, served from the package at /console/static/ (no CDN, no build step)."""

CSS = """
:root { --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --ok: #12b76a; --bad: #d92d20; --warn: #f79009;
        --accent: #2e90fa; --bg: #f8f9fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       background: var(--bg); }
header { display: flex; align-items: center; gap: 18px; padding: 10px 20px; background: #101828; color: #fff; }
header a { color: #d0d5dd; text-decoration: none; } header a.here, header a:hover { color: #fff; }
header .brand { font-weight: 700; color: #fff; margin-right: 8px; }
header form { margin-left: auto; display: flex; gap: 6px; align-items: center; color: #d0d5dd; }
main { padding: 16px 20px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 22px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f2f4f7; font-weight: 600; }
td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.status { font-weight: 600; } .status-SUCCEEDED { color: var(--ok); } .status-FAILED, .status-TIMED_OUT { color: var(--bad); }
.status-CAUGHT { color: var(--warn); }
.muted { color: var(--muted); }
form.filters { display: flex; gap: 8px; align-items: center; margin-bottom: 12px; flex-wrap: wrap; }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
.layout { display: grid; grid-template-columns: minmax(320px, auto) 1fr; gap: 20px; align-items: start; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
pre { white-space: pre-wrap; word-break: break-word; background: #f2f4f7; padding: 8px; border-radius: 6px;
      margin: 4px 0 10px; max-height: 320px; overflow: auto; font-size: 12px; }
svg.graph { background: #fff; border: 1px solid var(--line); border-radius: 8px; }
svg.graph .state rect { fill: #f2f4f7; stroke: #98a2b3; stroke-width: 1.5; }
svg.graph .state text { font: 12px system-ui, sans-serif; fill: #344054; pointer-events: none; }
svg.graph .state { cursor: pointer; }
svg.graph .state.taken rect { fill: #d1fadf; stroke: var(--ok); stroke-width: 2.5; }
svg.graph .state.caught rect { fill: #fef0c7; stroke: var(--warn); stroke-width: 2.5; }
svg.graph .state.failed rect { fill: #fee4e2; stroke: var(--bad); stroke-width: 3; }
svg.graph .state.selected rect { stroke: var(--accent); stroke-width: 3.5; }
svg.graph .edge { fill: none; stroke: #98a2b3; stroke-width: 1.4; }
svg.graph .edge.catch { stroke-dasharray: 5 4; }
svg.graph .edge.taken { stroke: var(--ok); stroke-width: 3; }
svg.graph marker path { fill: #667085; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px;
            vertical-align: -1px; border: 2px solid; }
.flash { background: #d1fadf; border: 1px solid var(--ok); padding: 8px 12px; border-radius: 6px; margin-bottom: 12px; }
.bad { color: var(--bad); font-weight: 600; } .ok { color: var(--ok); font-weight: 600; }
"""

JS = """
// Click a state of the graph (or its row): show its input, output, error and cause in the panel.
(function () {
  var panel = document.getElementById('state-panel');
  if (!panel) { return; }
  function show(name) {
    var source = document.getElementById('state-' + name);
    document.querySelectorAll('svg.graph .state').forEach(function (g) {
      g.classList.toggle('selected', g.getAttribute('data-state') === name);
    });
    panel.innerHTML = source ? source.innerHTML :
      '<h2>' + name.replace(/[<>&]/g, '') + '</h2><p class="muted">Not entered by this execution.</p>';
  }
  document.querySelectorAll('svg.graph .state').forEach(function (g) {
    var name = g.getAttribute('data-state');
    g.addEventListener('click', function () { show(name); });
    g.addEventListener('keydown', function (e) { if (e.key === 'Enter') { show(name); } });
  });
  document.querySelectorAll('[data-show-state]').forEach(function (a) {
    a.addEventListener('click', function (e) { e.preventDefault(); show(a.getAttribute('data-show-state')); });
  });
  var first = document.querySelector('svg.graph .state.failed') || document.querySelector('svg.graph .state.taken');
  if (first) { show(first.getAttribute('data-state')); }
})();
"""
