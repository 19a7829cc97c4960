"""The live dashboard's pages: HTML shells around the client script that polls the JSON API.

The templates embed JavaScript and CSS; every value from a study is escaped (html.escape on the
server, esc() in the browser). Each page's own script declares its names after the shared
_CLIENT_JS in one scope, so a page must not reuse a name the shared code declares.
"""

# ruff: noqa: E501  (the page templates embed JavaScript and CSS whose lines are kept whole)

from __future__ import annotations

import html
import json
import time
from typing import Any
from urllib.parse import quote

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;padding:12px 20px;color:#202124}
a{color:#1967d2;text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:20px;margin:4px 0 8px}h2{font-size:16px;margin:20px 0 6px}
.stats span{display:inline-block;margin-right:18px}.stats b{font-size:16px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e8eaed;padding:3px 6px;text-align:left}
th{background:#f1f3f4;cursor:pointer;user-select:none;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.kept{color:#1e8e3e;font-weight:600}.baseline{color:#1a73e8;font-weight:600}.failed{color:#d93025}
.rejected{color:#e37400}.pruned{color:#a142f4}.reverted{color:#5f6368}.running{color:#9334e6}
pre{background:#f8f9fa;padding:8px;overflow:auto;white-space:pre-wrap;max-height:480px;border:1px solid #e8eaed}
.diff .add{color:#137333}.diff .del{color:#a50e0e}.diff .hunk{color:#1967d2}
.pager{margin:6px 0}.muted{color:#5f6368}.card{border:1px solid #dadce0;border-radius:6px;padding:8px 12px;margin:8px 0}
"""

# Shared client code: carry ?token= along (the cookie usually does it), poll, and draw with Plotly.react
# so zoom and hover survive updates (uirevision).
_CLIENT_JS = r"""
const TOKEN = new URLSearchParams(location.search).get('token');
function withToken(u){ if(!TOKEN) return u; return u + (u.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(TOKEN); }
async function getJSON(u){ const r = await fetch(withToken(u), {credentials:'same-origin'}); if(!r.ok) throw new Error(r.status); return r.json(); }
function fmt(v, d){ if(v===null||v===undefined) return '—'; if(typeof v==='number') return Number(v.toPrecision(d||6)).toString(); return String(v); }
function esc(s){ return String(s===null||s===undefined?'':s).replace(/[&<>"']/g, c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c])); }
const COLORS={b:'#1a73e8',k:'#1e8e3e',r:'#9aa0a6',f:'#d93025',x:'#f29900',p:'#a142f4'};
const NAMES={b:'baseline',k:'kept',r:'reverted',f:'failed',x:'rejected',p:'pruned'};
function drawProgress(div, st, height){
  const n = st.points.x.length, type = n > 5000 ? 'scattergl' : 'scatter';
  const groups = {}; for (const c of Object.keys(NAMES)) groups[c] = {x:[], y:[]};
  for (let i=0;i<n;i++){ const c=st.points.d[i]; if(!groups[c]) continue; groups[c].x.push(st.points.x[i]); groups[c].y.push(st.points.y[i]===null ? 0.97 : st.points.y[i]); }
  const traces = [];
  for (const c of ['r','b','k']) if (groups[c].x.length) traces.push({type, mode:'markers', name:NAMES[c]+' ('+groups[c].x.length+')', x:groups[c].x, y:groups[c].y,
      marker:{color:COLORS[c], size: c==='r' ? (n>2000?3:6) : 10, opacity: c==='r'?0.5:1}});
  if (st.best_line.x.length) traces.push({type:'scatter', mode:'lines', name:'running best', x:st.best_line.x, y:st.best_line.y, line:{shape:'hv', color:COLORS.k}});
  for (const c of ['f','x','p']) if (groups[c].x.length) traces.push({type, mode:'markers', name:NAMES[c]+' ('+groups[c].x.length+')', x:groups[c].x, y:groups[c].y, yaxis:'y2',
      marker:{symbol:'x', color:COLORS[c], size:6}});
  const shapes = st.baseline===null ? [] : [{type:'line', xref:'paper', x0:0, x1:1, y0:st.baseline, y1:st.baseline, line:{dash:'dash', color:COLORS.b, width:1}}];
  Plotly.react(div, traces, {height: height||420, margin:{l:60,r:10,t:10,b:40}, uirevision:'keep', shapes,
      xaxis:{title:{text:'experiment #'}}, yaxis:{title:{text:'objective ('+(st.direction==='minimize'?'lower':'higher')+' is better)'}},
      yaxis2:{overlaying:'y', range:[0,1], visible:false, fixedrange:true}, legend:{orientation:'h'}},
      {displaylogo:false, responsive:true});
}
function drawLineage(div, ln){
  const n = ln.x.length, type = n > 5000 ? 'scattergl' : 'scatter', at = new Map();
  for (let i=0;i<n;i++) at.set(ln.x[i], i);
  const ex = [], ey = [];
  for (let i=0;i<n;i++){ const p = ln.p[i]; if (p===null || !at.has(p)) continue; const j = at.get(p); ex.push(ln.x[j], ln.x[i], null); ey.push(ln.depth[j], ln.depth[i], null); }
  const traces = [{type, mode:'lines', name:'built on', x:ex, y:ey, line:{color:'#bdc1c6', width:1}, hoverinfo:'skip'}];
  const names = Object.assign({u:'running'}, NAMES), colors = Object.assign({u:'#9334e6'}, COLORS);
  for (const c of ['r','f','x','p','u','b','k']){
    const xs = [], ys = [], text = [];
    for (let i=0;i<n;i++) if (ln.d[i]===c){ xs.push(ln.x[i]); ys.push(ln.depth[i]); text.push('#'+ln.x[i]+' '+names[c]+(ln.p[i]===null?'':', built on #'+ln.p[i])); }
    if (xs.length) traces.push({type, mode:'markers', name:names[c]+' ('+xs.length+')', x:xs, y:ys, hovertext:text, hoverinfo:'text',
      marker:{color:colors[c], size:(c==='k'||c==='b')?9:6, symbol:(c==='f'||c==='x'||c==='p')?'x':'circle'}});
  }
  Plotly.react(div, traces, {height:320, margin:{l:60,r:10,t:10,b:40}, uirevision:'keep', xaxis:{title:{text:'experiment #'}},
      yaxis:{title:{text:'depth'}}, legend:{orientation:'h'}}, {displaylogo:false, responsive:true});
}
function headsHTML(ln){
  const heads = ln.heads.map(h => '<span>'+esc(h.name)+' <b>#'+h.id+' '+esc(fmt(h.objective))+'</b></span>').join('');
  return 'search policy <b>'+esc(ln.policy)+'</b>' + (heads ? ' · best per lineage: ' + heads : '');
}
function statsHTML(st){
  const c = st.counts, parts = [['experiments', st.total], ['kept', c.kept||0], ['reverted', c.reverted||0], ['failed', c.failed||0],
    ['rejected', c.rejected||0], ['pruned', c.pruned||0], ['running', c.running||0], ['baseline', fmt(st.baseline)],
    ...(st.front ? [['Pareto front', st.front.length+' members, hypervolume '+fmt(st.hypervolume)],
                    ['members', st.front.map(m => '#'+m.id+' ('+m.values.map((v,k) => st.objectives[k]+' '+fmt(v)).join(', ')+')').join(' · ')]]
                 : [['best', fmt(st.best) + (st.best_id!==null?' (#'+st.best_id+')':'')]]),
    ['improvement', st.improvement_pct===null?'—':st.improvement_pct.toFixed(1)+'%'], ['keep rate', st.keep_rate===null?'—':(100*st.keep_rate).toFixed(1)+'%'],
    ...(st.holdout ? [['holdout', st.holdout+' evaluated (values hidden)']] : []),
    ...(st.cost_usd || st.tokens ? [['LLM spend', '$'+st.cost_usd.toFixed(4)]] : [])];
  return parts.map(([k,v]) => '<span>'+k+' <b'+(k==='experiments'?' id="count"':'')+'>'+esc(v)+'</b></span>').join('');
}
"""


def _shell(title: str, body: str, *, plotly: bool = True) -> str:
    script = "<script src='/static/plotly.min.js'></script>" if plotly else ""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style>{script}<script>{_CLIENT_JS}</script></head><body>{body}</body></html>"
    )


def study_page(name: str, *, multi: bool = False) -> str:
    back = "<a href='/' onclick=\"this.href=withToken('/')\">← all studies</a>" if multi else ""
    body = f"""{back}<h1>{html.escape(name)} <span class='muted' id='live'>live</span></h1>
<div class='stats' id='stats'>loading…</div>
<div id='plot'></div>
<h2>Lineage <span class='muted'>which experiment each was built on</span></h2>
<div class='stats' id='heads'></div>
<div id='lineage'></div>
<h2>Experiments</h2>
<div class='pager'><button id='prev'>◀</button> <span id='range'></span> <button id='next'>▶</button>
 decision <select id='decision'><option value=''>all</option><option>baseline</option><option>kept</option>
 <option>reverted</option><option>failed</option><option>rejected</option><option>pruned</option><option>running</option></select></div>
<table id='table'><thead><tr>
<th data-k='id'>#</th><th data-k='status'>status</th><th data-k='decision'>decision</th>
<th data-k='objective'>objective</th><th data-k='strategy'>strategy</th><th>rationale / reason</th>
<th data-k='duration'>duration</th><th data-k='cost_usd'>cost</th></tr></thead><tbody></tbody></table>
<script>
const STUDY = {json.dumps(name)};
const S = encodeURIComponent(STUDY);
let gen = null, sort = 'id', order = 'desc', offset = 0, total = 0;
const LIMIT = 50;
async function loadTable(){{
  const d = document.getElementById('decision').value;
  const t = await getJSON(`/api/${{S}}/experiments?offset=${{offset}}&limit=${{LIMIT}}&sort=${{sort}}&order=${{order}}&decision=${{d}}`);
  total = t.total;
  document.getElementById('range').textContent = total ? `${{offset+1}}–${{Math.min(offset+LIMIT,total)}} of ${{total}}` : 'none';
  document.querySelector('#table tbody').innerHTML = t.rows.map(r => {{
    const cls = r.decision || 'running', link = withToken(`/study/${{S}}/experiment/${{r.id}}`);
    const text = r.decision==='failed'||r.decision==='rejected'||r.decision==='pruned' ? (r.reason||'') : (r.rationale||'');
    return `<tr class='row'><td class='num'><a href='${{link}}'>${{r.id}}</a></td><td>${{esc(r.status)}}</td><td class='${{cls}}'>${{esc(r.decision||'')}}</td>`+
      `<td class='num'>${{fmt(r.objective)}}</td><td>${{esc(r.strategy||'')}}</td><td>${{esc(text.slice(0,160))}}</td>`+
      `<td class='num'>${{r.duration===null?'':r.duration.toFixed(1)+'s'}}</td><td class='num'>${{r.cost_usd===null?'':'$'+r.cost_usd.toFixed(4)}}</td></tr>`;
  }}).join('');
}}
async function poll(){{
  try {{
    const st = await getJSON(`/api/${{S}}/state` + (gen===null ? '' : `?since=${{gen}}`));
    document.getElementById('live').textContent = 'live · updated ' + new Date().toLocaleTimeString();
    if (!st.unchanged) {{
      gen = st.generation;
      document.getElementById('stats').innerHTML = statsHTML(st);
      drawProgress('plot', st);
      const ln = await getJSON(`/api/${{S}}/lineage`);
      document.getElementById('heads').innerHTML = headsHTML(ln);
      drawLineage('lineage', ln);
      await loadTable();
    }}
  }} catch (e) {{ document.getElementById('live').textContent = 'disconnected (' + e.message + '), retrying'; }}
  setTimeout(poll, 1500);
}}
document.querySelectorAll('#table th[data-k]').forEach(th => th.onclick = () => {{
  const k = th.dataset.k; order = (sort === k && order === 'desc') ? 'asc' : 'desc'; sort = k; offset = 0; loadTable();
}});
document.getElementById('prev').onclick = () => {{ offset = Math.max(0, offset - LIMIT); loadTable(); }};
document.getElementById('next').onclick = () => {{ if (offset + LIMIT < total) {{ offset += LIMIT; loadTable(); }} }};
document.getElementById('decision').onchange = () => {{ offset = 0; loadTable(); }};
poll();
</script>"""
    return _shell(f"autoresearch: {name}", body)


def index_page(names: list[str]) -> str:
    cards = "".join(
        f"<div class='card'><h2><a class='study' data-s='{html.escape(n)}' href='/study/{quote(n)}'>"
        f"{html.escape(n)}</a></h2><div class='stats' id='stats-{i}'>loading…</div><div id='plot-{i}'></div></div>"
        for i, n in enumerate(names)
    )
    body = f"""<h1>autoresearch studies <span class='muted' id='live'>live</span></h1>{cards}
<script>
const STUDIES = {json.dumps(names)};
const GEN = {{}};
document.querySelectorAll('a.study').forEach(a => a.href = withToken(a.getAttribute('href')));
async function poll(){{
  for (let i = 0; i < STUDIES.length; i++) {{
    const S = encodeURIComponent(STUDIES[i]);
    try {{
      const st = await getJSON(`/api/${{S}}/state` + (GEN[i]===undefined ? '' : `?since=${{GEN[i]}}`));
      if (!st.unchanged) {{ GEN[i] = st.generation; document.getElementById('stats-'+i).innerHTML = statsHTML(st);
        drawProgress('plot-'+i, st, 260); }}
    }} catch (e) {{ document.getElementById('live').textContent = 'disconnected, retrying'; }}
  }}
  setTimeout(poll, 2000);
}}
poll();
</script>"""
    return _shell("autoresearch studies", body)


def _diff_html(diff: str) -> str:
    from autoresearch.ui.report.html import highlight_diff  # the report's module loads plotly and matplotlib

    return "<pre class='diff' id='diff'>" + highlight_diff(diff) + "</pre>"


def _kv_table(data: dict[str, Any] | None) -> str:
    if not data:
        return "<p class='muted'>none</p>"
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
        for k, v in data.items()
    )
    return f"<table style='width:auto'>{rows}</table>"


def experiment_page(study: str, e: dict[str, Any]) -> str:
    esc = html.escape
    decision = e.get("decision") or "running"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["started_at"])) if e.get("started_at") else "—"
    facts = [
        ("status", e.get("status")),
        ("decision", decision),
        ("reason", e.get("reason")),
        ("objective", e.get("objective")),
        ("parent", e.get("parent_id")),
        ("proposer", e.get("proposer")),
        ("strategy", e.get("strategy")),
        ("started", when),
        ("duration", e.get("duration")),
        ("exit code", e.get("exit_code")),
        ("commit", e.get("commit_sha")),
        ("cost", e.get("cost_usd")),
        ("tokens in/out", f"{e.get('tokens_in') or 0} / {e.get('tokens_out') or 0}"),
    ]
    fact_rows = "".join(
        f"<tr><th>{esc(k)}</th><td class='{esc(decision) if k == 'decision' else ''}'>{esc(str(v))}</td></tr>"
        for k, v in facts
        if v is not None
    )
    logs = e.get("logs") or {}
    parts = [
        f"<a href='/study/{quote(study)}' onclick=\"this.href=withToken(this.getAttribute('href'))\">"
        f"← {esc(study)}</a>",
        f"<h1 id='title'>Experiment #{e['id']} <span class='{esc(decision)}'>{esc(decision)}</span></h1>",
        f"<table style='width:auto'>{fact_rows}</table>",
        f"<h2>Rationale</h2><pre id='rationale'>{esc(e.get('rationale') or '')}</pre>",
    ]
    if e.get("params"):
        parts.append(f"<h2>Parameters</h2>{_kv_table(e['params'])}")
    if e.get("diff"):
        parts.append(f"<h2>Diff</h2>{_diff_html(e['diff'])}")
    parts.append(f"<h2>Metrics</h2>{_kv_table(e.get('metrics'))}")
    if e.get("holdout"):  # the verdict only: the dashboard never shows a holdout value
        parts.append(f"<h2>Holdout</h2><p id='holdout'>{esc(str(e['holdout']))} (values are never shown here)</p>")
    for name, text in logs.get("tails", {}).items():
        parts.append(f"<h2>{esc(name)} (tail)</h2><pre class='log' id='{esc(name.split('.')[0])}'>{esc(text)}</pre>")
    for name, text in logs.get("llm", {}).items():
        parts.append(f"<h2>{esc(name)}</h2><pre class='llm'>{esc(text)}</pre>")
    if logs.get("other"):
        parts.append(
            f"<p class='muted'>other files in {esc(str(logs.get('dir')))}: {esc(', '.join(logs['other']))}</p>"
        )
    if e.get("extra"):
        parts.append(f"<h2>Extra</h2><pre>{esc(json.dumps(e['extra'], indent=2, default=str))}</pre>")
    return _shell(f"#{e['id']} — {study}", "\n".join(parts), plotly=False)
