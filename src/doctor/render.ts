import type { DoctorReport, Probe } from './evaluate.js';

function mark(p: Probe): string {
  if (p.ok) return 'ok';
  return p.need === 'required' ? 'FAIL' : p.need === 'recommended' ? 'warn' : '-';
}

/** A fixed-width table for people, ending with the one-line verdict. */
export function renderTable(report: DoctorReport): string {
  const rows = report.probes.map((p) => [p.title, mark(p), p.found]);
  const w0 = Math.max(5, ...rows.map((r) => r[0]!.length));
  const w1 = Math.max(6, ...rows.map((r) => r[1]!.length));
  const line = (c: string[]) => `${c[0]!.padEnd(w0)}  ${c[1]!.padEnd(w1)}  ${c[2]}`.trimEnd();
  return [line(['PROBE', 'RESULT', 'FOUND']), ...rows.map(line), '', `verdict: ${report.verdict.summary}`, ''].join('\n');
}

export function renderJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
