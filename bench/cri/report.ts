/**
 * The CRI start benchmark's table, pure: per mode the time from RunPodSandbox to StartContainer's
 * answer (a pod with one container, as kubelet starts it) and of the container's part alone
 * (CreateContainer + StartContainer), each as min / median / max over the rounds, and the medians as
 * ratios to bare, measured side by side in the same run.
 */
import { median } from '../replay/stats.js';

export const MODES = ['bare', 'bare, plugin registered', 'NRI', 'shim'] as const;
export type Mode = (typeof MODES)[number];

export interface Sample {
  mode: Mode;
  /** RunPodSandbox sent to StartContainer answered, ms. */
  podMs: number;
  /** CreateContainer sent to StartContainer answered, ms. */
  containerMs: number;
}

const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(0) : '-');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-');

function spread(values: number[]): string {
  if (values.length === 0) return '-';
  return `${fmt(Math.min(...values))} / ${fmt(median(values))} / ${fmt(Math.max(...values))}`;
}

export function report(samples: readonly Sample[]): string[] {
  const of = (mode: Mode) => samples.filter((s) => s.mode === mode);
  const bare = of('bare');
  const base = { pod: median(bare.map((s) => s.podMs)), container: median(bare.map((s) => s.containerMs)) };
  const lines = [
    '| mode | n | pod + container ms (min / median / max) | vs bare | container alone ms (min / median / max) | vs bare |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const mode of MODES) {
    const s = of(mode);
    if (s.length === 0) continue;
    const pod = s.map((x) => x.podMs);
    const container = s.map((x) => x.containerMs);
    lines.push(`| ${mode} | ${s.length} | ${spread(pod)} | ${ratio(median(pod), base.pod)} | ${spread(container)} | ${ratio(median(container), base.container)} |`);
  }
  return lines;
}
