/**
 * The replay's results as one hand-written SVG: agents lost, p95 slowdown and waste against the number
 * of agents, one line per mode (a colour per mode; dashed as kubelet runs it, oom.group; dotted with the
 * priority mix; dash-dot with the reclaim rung). Pure: rows in, markup out.
 */
import { type Mode, type Variant, variantName } from './options.js';
import type { Row } from './report.js';

const COLORS: Record<Mode, string> = { a: '#7f7f7f', b: '#1f77b4', c: '#ff7f0e', d: '#2ca02c' };
/** Modes often measure the same: a small sideways offset keeps every line visible. */
const NUDGE: Record<Mode, number> = { a: -4.5, b: -1.5, c: 1.5, d: 4.5 };
const dash = (v: Variant) => (v.reclaim ? ' stroke-dasharray="8 3 2 3"' : v.priorities ? ' stroke-dasharray="1 3"' : v.oomGroup ? ' stroke-dasharray="6 3"' : '');
const nudge = (v: Variant) => NUDGE[v.mode] + (v.oomGroup ? 1 : 0) + (v.priorities ? 1 : 0) + (v.reclaim ? 1 : 0);
const W = 300;
const H = 230;
const M = { left: 48, right: 12, top: 28, bottom: 40 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f = (n: number) => (Math.round(n * 10) / 10).toString();

interface Panel {
  title: string;
  value: (r: Row) => number;
  yMax: number;
  ticks: number[];
  label: (v: number) => string;
  /** A dashed reference line (a target). */
  ref?: { at: number; text: string };
}

function panel(p: Panel, rows: readonly Row[], counts: readonly number[], dx: number): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const xAt = (n: number) => dx + M.left + (counts.length === 1 ? pw / 2 : (counts.indexOf(n) / (counts.length - 1)) * pw);
  const yAt = (v: number) => M.top + ph - (Math.min(Math.max(v, 0), p.yMax) / p.yMax) * ph;
  const out: string[] = [];
  out.push(`<text x="${f(dx + M.left + pw / 2)}" y="16" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  for (const t of p.ticks) {
    out.push(`<line x1="${f(dx + M.left)}" x2="${f(dx + M.left + pw)}" y1="${f(yAt(t))}" y2="${f(yAt(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f(dx + M.left - 6)}" y="${f(yAt(t) + 4)}" text-anchor="end">${esc(p.label(t))}</text>`);
  }
  for (const n of counts) out.push(`<text x="${f(xAt(n))}" y="${f(M.top + ph + 16)}" text-anchor="middle">${n}</text>`);
  out.push(`<text x="${f(dx + M.left + pw / 2)}" y="${f(H - 6)}" text-anchor="middle">agents</text>`);
  out.push(`<line x1="${f(dx + M.left)}" x2="${f(dx + M.left)}" y1="${M.top}" y2="${f(M.top + ph)}" stroke="#333"/>`);
  out.push(`<line x1="${f(dx + M.left)}" x2="${f(dx + M.left + pw)}" y1="${f(M.top + ph)}" y2="${f(M.top + ph)}" stroke="#333"/>`);
  if (p.ref) {
    const y = yAt(p.ref.at);
    out.push(`<line x1="${f(dx + M.left)}" x2="${f(dx + M.left + pw)}" y1="${f(y)}" y2="${f(y)}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${f(dx + M.left + pw - 2)}" y="${f(y - 4)}" text-anchor="end" fill="#d62728">${esc(p.ref.text)}</text>`);
  }
  for (const v of variantsOf(rows)) {
    const pts = rows
      .filter((r) => r.variant.key === v.key && counts.includes(r.agents) && Number.isFinite(p.value(r)))
      .sort((a, b) => a.agents - b.agents)
      .map((r) => [xAt(r.agents) + nudge(v), yAt(p.value(r))] as const);
    if (pts.length === 0) continue;
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${COLORS[v.mode]}" stroke-width="2"${dash(v)} points="${pts.map(([px, py]) => `${f(px)},${f(py)}`).join(' ')}"/>`);
    for (const [px, py] of pts) out.push(`<circle cx="${f(px)}" cy="${f(py)}" r="3" fill="${COLORS[v.mode]}"/>`);
  }
  return out.join('\n');
}

/** The modes the rows hold, in the order they first appear. */
function variantsOf(rows: readonly Row[]): Variant[] {
  const seen = new Map<string, Variant>();
  for (const r of rows) if (!seen.has(r.variant.key)) seen.set(r.variant.key, r.variant);
  return [...seen.values()];
}

export function plot(rows: readonly Row[], counts: readonly number[], caption: string): string {
  const worst = Math.max(1.5, ...rows.map((r) => r.vsAlone.p95).filter(Number.isFinite));
  const top = Math.ceil(worst * 2) / 2;
  const slowTicks: number[] = [];
  for (let t = 0; t <= top + 1e-9; t += top <= 3 ? 0.5 : Math.ceil(top / 6)) slowTicks.push(t);
  const panels: Panel[] = [
    { title: 'agents lost (framework died)', value: (r) => r.agentsLost / r.agents, yMax: 1, ticks: [0, 0.25, 0.5, 0.75, 1], label: (v) => `${Math.round(v * 100)}%` },
    { title: 'p95 tool-call time ×alone', value: (r) => r.vsAlone.p95, yMax: top, ticks: slowTicks, label: (v) => `${v}x`, ref: { at: 1.1, text: 'target 1.10x' } },
    { title: 'reserved memory unused (avg)', value: (r) => r.waste, yMax: 1, ticks: [0, 0.25, 0.5, 0.75, 1], label: (v) => `${Math.round(v * 100)}%` },
  ];
  const width = W * panels.length;
  const shown = variantsOf(rows);
  const perLine = 3;
  const legendRows = Math.ceil(shown.length / perLine);
  const height = H + 30 + legendRows * 16;
  const legend = shown
    .map((v, i) => {
      const lx = 20 + (i % perLine) * 300;
      const ly = H + 8 + Math.floor(i / perLine) * 16;
      return `<line x1="${lx}" x2="${lx + 22}" y1="${ly + 2}" y2="${ly + 2}" stroke="${COLORS[v.mode]}" stroke-width="2"${dash(v)}/><text x="${lx + 28}" y="${ly + 6}">${esc(variantName(v))}</text>`;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...panels.map((p, i) => panel(p, rows, counts, i * W)),
    legend,
    `<text x="20" y="${height - 6}" fill="#555">${esc(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
