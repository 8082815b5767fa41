// The page shell: inline CSS (no external assets), a self-refresh, the range picker and the shared keys.
import type { Child, FC } from 'hono/jsx';
import { FLAG_LETTER } from './chart';
import { clock, verdictWords } from '../../format';
import { RANGES, type RangeName } from './range';

// Label, feature and model names can be long words without a space (snake_case class names, up to 200 characters):
// main breaks any word that does not fit rather than widen the page past a phone's screen, and the name column of a
// dl takes at most half its width.
// Colours checked for WCAG AA: every text colour here has at least 4.5:1 against its background.
const CSS = `
:root{--ink:#101828;--muted:#475467;--line:#e4e7ec;--bg:#f4f5f7;--card:#fff;--red:#b42318;--amber:#b54708;--grey:#475467;--ok:#067647;--link:#175cd3}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1240px;margin:0 auto;padding:16px 16px 40px;overflow-wrap:anywhere}
a{color:var(--link)}
h1{font-size:20px;margin:0;letter-spacing:-.01em}
h1 a{color:inherit;text-decoration:none}
h2{font-size:15px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:28px 0 10px}
h3{font-size:17px;margin:0}
h4{font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:14px 0 6px}
p{margin:6px 0}
.muted{color:var(--muted)}
.clearing{color:var(--ok)}
.small{font-size:12px}
.top{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:10px 16px}
.top .meta{font-size:13px;color:var(--muted)}
nav.ranges{display:inline-flex;border:1px solid #d0d5dd;border-radius:8px;overflow:hidden;background:#fff}
nav.ranges a{padding:5px 12px;text-decoration:none;color:var(--ink);font-size:14px;border-left:1px solid #d0d5dd}
nav.ranges a:first-child{border-left:0}
nav.ranges a[aria-current=page]{background:var(--ink);color:#fff;font-weight:600}
.banner{margin:14px 0 0;padding:12px 16px;border-radius:10px;font-weight:600;border:1px solid}
.banner.bad{background:#fef3f2;color:var(--red);border-color:#fecdca}
.banner.ok{background:#ecfdf3;color:var(--ok);border-color:#abefc6}
.banner.warn{background:#fffaeb;color:var(--amber);border-color:#fedf89;font-weight:600}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px;margin-bottom:12px;min-width:0}
.models{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,540px),1fr));gap:12px}
.models .card{margin:0}
.model-head{display:flex;flex-wrap:wrap;align-items:center;gap:6px 10px}
.model-head .more{margin-left:auto;font-size:14px}
.version{color:var(--muted);font-weight:500;font-size:14px}
.pill{display:inline-flex;align-items:center;gap:5px;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:700;line-height:20px;white-space:nowrap;border:1px solid}
.pill b{font-weight:800}
a.pill{text-decoration:none}
.p-healthy,.p-drift{background:#ecfdf3;color:var(--ok);border-color:#abefc6}
.p-collapsed{background:#fef3f2;color:var(--red);border-color:#fecdca}
.p-partial_collapse{background:#fffaeb;color:var(--amber);border-color:#fedf89}
.p-no_traffic,.p-insufficient_data,.p-open{background:#f2f4f7;color:#344054;border-color:#d0d5dd}
.p-receiving{background:#eff8ff;color:#175cd3;border-color:#b2ddff}
.p-model_defect{background:#fef3f2;color:var(--red);border-color:#fecdca}
.incident.k-model_defect{border-left-color:#7a271a}
.stats{font-size:13px;color:var(--muted);margin:6px 0 0}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:8px 0 0;padding:0;list-style:none;font-size:13px}
.legend li{display:inline-flex;align-items:center;gap:6px;min-width:0;overflow-wrap:anywhere}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;flex:none;margin-right:6px;vertical-align:-1px}
.legend .swatch{margin:0}
.key-line{display:inline-block;width:18px;height:0;border-top:2px solid var(--ink);vertical-align:middle}
.key-line.dashed{border-top:2px dashed var(--red)}
.chart{margin:10px 0 0;display:grid;grid-template-columns:34px minmax(0,1fr);grid-template-rows:20px 130px 20px}
.chart.tall{grid-template-rows:22px 240px 20px}
.flags{grid-column:2;grid-row:1;position:relative}
.flag{position:absolute;top:0;bottom:0}
.flag::after{content:"";position:absolute;left:0;right:0;bottom:2px;height:3px;border-radius:2px;background:var(--c)}
.flag b{position:absolute;left:50%;top:0;transform:translateX(-50%);min-width:14px;padding:0 3px;border-radius:4px;background:var(--c);color:#fff;font:800 10px/14px system-ui,sans-serif;text-align:center}
.f-collapsed{--c:var(--red)}
.f-partial_collapse{--c:var(--amber)}
.f-no_traffic{--c:var(--grey)}
.f-insufficient_data{--c:#5d6b82}
.yaxis{grid-column:1;grid-row:2;position:relative;font-size:11px;color:var(--muted)}
.yaxis span{position:absolute;right:6px;transform:translateY(-50%);white-space:nowrap}
.yaxis .thr{color:var(--red);font-weight:700}
.plot{grid-column:2;grid-row:2;position:relative;border-bottom:1px solid #98a2b3}
.plot svg{display:block;width:100%;height:100%;overflow:visible}
.no-data{position:absolute;inset:0;display:flex;align-items:center;justify-content:center;margin:0;color:var(--muted);font-size:14px}
.xaxis{grid-column:2;grid-row:3;position:relative;font-size:11px;color:var(--muted)}
.xaxis span{position:absolute;top:3px;transform:translateX(-50%);white-space:nowrap}
.xaxis span:first-child{transform:none}
.xaxis span:last-child{transform:translateX(-100%)}
svg .grid{stroke:#eaecf0;stroke-width:1;vector-effect:non-scaling-stroke}
svg .threshold{stroke:var(--red);stroke-width:1.5;stroke-dasharray:6 4;vector-effect:non-scaling-stroke}
svg .top-halo{fill:none;stroke:#fff;stroke-width:4.5;stroke-linejoin:round;stroke-linecap:round;vector-effect:non-scaling-stroke}
svg .top-share{fill:none;stroke:var(--ink);stroke-width:2;stroke-linejoin:round;stroke-linecap:round;vector-effect:non-scaling-stroke}
svg .empty{fill:#f2f4f7;stroke:#98a2b3;stroke-width:1;stroke-dasharray:2 2;vector-effect:non-scaling-stroke}
svg .outline{fill:none;stroke-width:2;vector-effect:non-scaling-stroke}
svg .v-collapsed .outline{stroke:var(--red)}
svg .v-partial_collapse .outline{stroke:var(--amber);stroke-dasharray:4 2}
svg .v-insufficient_data .outline{stroke:#5d6b82;stroke-dasharray:1 2}
svg .v-insufficient_data rect:not(.outline){fill-opacity:.35}
svg .v-drift .outline{stroke:#175cd3;stroke-dasharray:2 3}
svg .v-open rect,svg .v-receiving rect{fill-opacity:.4}
svg .hit{fill:transparent;stroke:none}
.flag.quiet b{display:none}
svg g.bar:hover rect{fill-opacity:.75}
.key{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px;color:var(--muted);margin:8px 0 0;padding:0;list-style:none}
.key-bar{display:inline-block;width:10px;height:14px;margin-right:5px;vertical-align:-2px;border-radius:2px}
.key-bar.pale{background:#0072B2;opacity:.4}
.key-bar.idle{background:#f2f4f7;border:1px dashed #98a2b3}
.key-bar.drift{background:#fff;border:1px dashed #175cd3}
.key-band{display:inline-block;width:18px;height:10px;background:#e0eaff;border:1px solid #c7d7fe;vertical-align:-1px}
.key-line.ref{border-top:2px dashed #3538cd}
.key .flag-sample{display:inline-block;min-width:16px;padding:0 3px;border-radius:4px;background:var(--c);color:#fff;font:800 10px/15px system-ui,sans-serif;text-align:center;margin-right:5px}
.incident{border-left:5px solid var(--red)}
.incident.k-partial_collapse{border-left-color:var(--amber)}
.incident-head{display:flex;flex-wrap:wrap;align-items:center;gap:6px 10px}
.incident-head .since{margin-left:auto;font-size:14px;color:var(--muted)}
.incident-head .more{font-size:14px}
.history{list-style:none;margin:0;padding:0}
.history li{padding:8px 0;border-bottom:1px solid var(--line)}
.history li:last-child{border-bottom:0}
.history-head{display:flex;flex-wrap:wrap;align-items:center;gap:4px 10px}
.history-head .muted{font-size:13px}
.nobody{color:var(--amber);font-weight:600}
.timeline{list-style:none;margin:0;padding:0}
.timeline li{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 14px;padding:5px 0;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
.timeline li:last-child{border-bottom:0}
.timeline time{font-variant-numeric:tabular-nums;color:var(--muted);font-size:13px}
.timeline .t-opened,.timeline .t-escalated,.timeline .t-resolved,.timeline .t-acknowledged,.timeline .t-rebaseline{font-weight:600}
pre.payload{margin:8px 0 0;padding:10px;background:#f8f9fc;border:1px solid var(--line);border-radius:8px;font-size:12px;max-height:420px;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.runs .run{padding-bottom:4px}
.fchart{margin:6px 0 2px;display:grid;grid-template-columns:44px minmax(0,1fr);grid-template-rows:80px 16px}
.fchart .yaxis,.fchart .plot{grid-row:1}
.fchart .xaxis{grid-row:2}
.fchart .yaxis span.ref{color:#3538cd;font-weight:600}
.fchart .band{fill:#e0eaff}
.fchart .train{stroke:#3538cd;stroke-width:1.5;stroke-dasharray:4 3;vector-effect:non-scaling-stroke}
.fchart .mean{fill:none;stroke:var(--ink);stroke-width:2;stroke-linejoin:round;stroke-linecap:round;vector-effect:non-scaling-stroke}
.windows-table .shares{white-space:normal;min-width:12em}
.windows-table tr:target{background:#fff6c2}
.incident-head .since strong{color:var(--ink)}
.incident-body{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,340px),1fr));gap:4px 28px;margin-top:6px}
.headline{font-size:17px;margin:8px 0 4px}
table{border-collapse:collapse;font-size:14px}
th,td{text-align:left;padding:4px 10px 4px 0;vertical-align:top}
thead th{font-size:12px;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line)}
.shift{margin-top:8px}
.shift td{font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap}
.shift thead th+th{text-align:right}
.meter-bar{display:inline-block;width:72px;height:8px;margin-right:8px;border-radius:4px;background:#eaecf0;overflow:hidden;vertical-align:1px}
.meter-bar span{display:block;height:100%}
@media (max-width:400px){.meter-bar{width:44px}}
.shift th[scope=row]{font-weight:500;overflow-wrap:anywhere}
.findings{margin:0;padding-left:20px}
.findings li{margin:0 0 10px}
.findings p{margin:2px 0}
.confidence{font-size:12px;color:var(--muted);white-space:nowrap}
details{font-size:13px;color:var(--muted)}
summary{cursor:pointer;color:var(--link)}
dl{display:grid;grid-template-columns:fit-content(50%) minmax(0,1fr);gap:2px 12px;margin:4px 0 0}
dt{font-weight:600;color:var(--ink);overflow-wrap:anywhere}
dd{margin:0;overflow-wrap:anywhere}
.table-scroll{overflow-x:auto}
.deliveries{width:100%}
.deliveries td{border-bottom:1px solid var(--line)}
.deliveries .num{text-align:right;font-variant-numeric:tabular-nums}
.deliveries .answer{overflow-wrap:anywhere;max-width:28em}
.state{font-weight:700;white-space:nowrap}
.s-delivered{color:var(--ok)}
.s-retrying{color:var(--amber)}
.s-dead{color:var(--red)}
.s-pending{color:var(--muted)}
.features{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,260px),1fr));gap:12px}
.features .card{margin:0}
.shifted{color:var(--red);font-weight:700}
.windows-table td,.windows-table th{white-space:nowrap;font-variant-numeric:tabular-nums}
footer{margin-top:28px;font-size:13px;color:var(--muted)}
.problem{margin-top:14px;max-width:44em}
.problem h2{font-size:17px;text-transform:none;letter-spacing:0;color:var(--ink);margin:0 0 6px}
.problem form{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin:12px 0}
.problem input,.problem button{font:inherit;padding:6px 12px;border-radius:8px;border:1px solid #d0d5dd}
.problem input{flex:1 1 14em}
.problem button{background:var(--ink);color:#fff;font-weight:600;cursor:pointer}
@media (max-width:640px){
.deliveries thead{display:none}
.deliveries tr{display:grid;grid-template-columns:minmax(0,1fr) auto;grid-template-areas:"state when" "channel channel" "model tries" "answer answer";gap:2px 12px;padding:8px 0;border-bottom:1px solid var(--line)}
.deliveries td{border:0;padding:0;max-width:none}
.deliveries .when{grid-area:when;color:var(--muted);font-size:13px;text-align:right}
.deliveries .state-cell{grid-area:state}
.deliveries .channel{grid-area:channel}
.deliveries .model{grid-area:model;color:var(--muted)}
.deliveries .tries{grid-area:tries;color:var(--muted)}
.deliveries .tries::before{content:"tries "}
.deliveries .answer{grid-area:answer;font-size:13px}
}
@media (max-width:640px){main{padding:12px 10px 32px}.card{padding:12px}.xaxis .minor{display:none}.incident-head .since{margin-left:0;width:100%}.headline{font-size:16px}}
`;

export const VerdictPill: FC<{ verdict: string | null }> = ({ verdict }) => {
  const v = verdict ?? 'open';
  const letter = FLAG_LETTER[v as keyof typeof FLAG_LETTER];
  return (
    <span class={`pill p-${v}`}>
      {letter ? <b aria-hidden="true">{letter}</b> : v === 'healthy' ? <b aria-hidden="true">✓</b> : v === 'receiving' ? <b aria-hidden="true">↗</b> : null}
      {verdictWords(verdict)}
    </span>
  );
};

export const RangeNav: FC<{ range?: RangeName; path: string }> = ({ range, path }) => (
  <nav class="ranges" aria-label="time range">
    {(Object.keys(RANGES) as RangeName[]).map((r) => (
      <a href={`${path}?range=${r}`} aria-current={r === range ? 'page' : undefined}>
        {r}
      </a>
    ))}
  </nav>
);

/** What the marker letters, the line and the dashed line mean; the same on every page. */
export const MarkerKey: FC = () => (
  <ul class="key">
    {(Object.entries(FLAG_LETTER) as [keyof typeof FLAG_LETTER, string][]).map(([v, letter]) => (
      <li class={`f-${v}`}>
        <span class="flag-sample" aria-hidden="true">
          {letter}
        </span>
        {verdictWords(v)}
        {v === 'no_traffic' ? ' (models expecting traffic)' : ''}
      </li>
    ))}
    <li class="k-receiving">
      <span class="key-bar pale" aria-hidden="true" />
      receiving, not judged yet
    </li>
    <li class="k-drift">
      <span class="key-bar drift" aria-hidden="true" />
      healthy, drifting: the mix moved from the model's reference (never paged)
    </li>
    <li class="k-idle">
      <span class="key-bar idle" aria-hidden="true" />
      idle: no traffic
    </li>
    <li>
      <span class="key-line" /> top-label share
    </li>
    <li>
      <span class="key-line dashed" /> collapse line
    </li>
  </ul>
);

export const TopBar: FC<{ range: RangeName; path: string; now: number; refresh: number; back?: boolean }> = ({ range, path, now, refresh, back }) => (
  <header class="top">
    <h1>
      {back ? (
        <a href={`/?range=${range}`}>← labelwatch</a>
      ) : (
        <>
          labelwatch <span class="muted">status</span>
        </>
      )}
    </h1>
    <RangeNav range={range} path={path} />
    <span class="meta">
      updated {clock(now)} UTC · reloads every {refresh} s
    </span>
  </header>
);

/**
 * The headers of every status page, its error pages too. No script may run at all: even a rendering bug could not
 * execute injected markup. Only the token form submits anything, and only to this origin (`forms: 'self'`).
 */
export const securityHeaders = (forms: 'none' | 'self' = 'none'): Record<string, string> => ({
  'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action '${forms}'; frame-ancestors 'none'`,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
});

/** `refreshSeconds`: how often the page reloads itself; error pages do not (a reload would wipe a token being typed). */
export const Page: FC<{ title: string; refreshSeconds?: number; children: Child }> = ({ title, refreshSeconds, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light" />
      <meta name="robots" content="noindex" />
      {/* A reload, not a script: the page needs no JavaScript at all. */}
      {refreshSeconds === undefined ? null : <meta http-equiv="refresh" content={String(refreshSeconds)} />}
      <title>{title}</title>
      {/* The stylesheet is a constant of this file, never data, so it may skip escaping (which would break `>`). */}
      <style dangerouslySetInnerHTML={{ __html: CSS }} />
    </head>
    <body>
      <main>{children}</main>
    </body>
  </html>
);
