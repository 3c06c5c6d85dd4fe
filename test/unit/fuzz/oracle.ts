/**
 * What every run of a command must satisfy, whatever it was fed: the exit rules, one printable line
 * on stderr and never a stack trace, and for a hook an all-or-nothing effect on the world (a failure
 * leaves the cgroup tree and run state as they were; a carve is complete and poststop undoes it).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { applyAnnotations } from '../../../src/config/annotations.js';
import { loadPolicy } from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/types.js';
import { describeError } from '../../../src/errors.js';
import type { CliRun } from '../../fixtures/cli.js';
import { CTR, type Observation, PID, READY, treeChanges, type World } from '../../fixtures/fuzzworld.js';
import { PRINTABLE } from '../../fixtures/text.js';
import { type AnnotationExpectation, type Expectation, expectAnnotations, expectPolicy, type ModelPolicy, observed } from './policymodel.js';

/** Signs of an error that escaped as a JavaScript exception rather than a sentence for a person. */
const INTERNAL = /\n\s+at |\b(TypeError|RangeError|ReferenceError|SyntaxError|EvalError|AggregateError)\b|\bError: |Cannot read propert|is not a function|is not iterable|Maximum call stack|\[object Object\]/;

/** Problems with a command's stderr: empty, or exactly one printable `agentcgroup: ` line. */
export function stderrProblems(err: string): string[] {
  if (err === '') return [];
  const problems: string[] = [];
  if (!err.endsWith('\n') || err.indexOf('\n') !== err.length - 1) problems.push(`stderr is not one line: ${JSON.stringify(err.slice(0, 300))}`);
  const line = err.replace(/\n$/, '');
  if (!PRINTABLE.test(line)) problems.push(`stderr has unprintable characters: ${JSON.stringify(line.slice(0, 300))}`);
  if (!line.startsWith('agentcgroup: ')) problems.push(`stderr does not start with "agentcgroup: ": ${JSON.stringify(line.slice(0, 300))}`);
  if (INTERNAL.test(err)) problems.push(`stderr looks like an internal error: ${JSON.stringify(err.slice(0, 300))}`);
  return problems;
}

/** A command other than the hook: 0 with nothing on stderr, or `failCode` with one line naming the command. */
export function commandProblems(r: CliRun, prefix: string, failCode: number): string[] {
  const problems = stderrProblems(r.err);
  if (r.err === '' && r.code !== 0) problems.push(`exit ${r.code} with nothing on stderr`);
  if (r.err !== '') {
    if (r.code !== failCode) problems.push(`exit ${r.code} after a failure, expected ${failCode}: ${r.err}`);
    if (!r.err.startsWith(`agentcgroup: ${prefix}: `)) problems.push(`failure line does not name "${prefix}": ${r.err}`);
  }
  return problems;
}

/** What a carve may say and still succeed: one line per annotation the host refused. */
const REFUSAL = /^agentcgroup: warning: annotation [^\n]+; the host's value applies\n/;

/** A hook's stderr split into the refusal lines it starts with and whatever follows them. */
function splitRefusals(err: string): { refusals: string[]; rest: string } {
  const refusals: string[] = [];
  let rest = err;
  for (let m = REFUSAL.exec(rest); m; m = REFUSAL.exec(rest)) {
    refusals.push(m[0]);
    rest = rest.slice(m[0].length);
  }
  return { refusals, rest };
}

const HOOK_FAILURE =
  /^agentcgroup: (createRuntime|poststart|poststop|hook)( for container [\w+.-]+)?: [^\n]+; (the container runs unconstrained|refusing to start the container \(strict policy\)|cleanup incomplete)\n$/;

/** What the world's policy file must load as, by the model of the documented rules. */
export function expectedPolicy(file: string): Expectation {
  return expectPolicy(readFileSync(file, 'utf8'));
}

const show = (v: unknown) => JSON.stringify(v)?.slice(0, 200);

/** Where loadPolicy (the code under test) and the model disagree: valid or not, each value, the key an error names. */
export function policyProblems(file: string, expected: Expectation): string[] {
  let loaded: Policy | undefined;
  let error = '';
  try {
    loaded = loadPolicy(file);
  } catch (err) {
    error = describeError(err);
  }
  if (!loaded) {
    if (expected.valid) return [`loadPolicy refused a valid policy: ${error}`];
    const named = expected.keys.length === 0 || expected.keys.some((k) => error.includes(`: ${k}`));
    return named ? [] : [`the error does not name ${expected.keys.join(' or ')} (${expected.why}): ${error}`];
  }
  if (!expected.valid) return [`loadPolicy accepted an invalid policy (${expected.why})`];
  return valueProblems('loadPolicy', observed(loaded), expected.policy);
}

/** Values that differ between the model's policy and a loaded one, key by key. */
function valueProblems(who: string, got: ModelPolicy, want: ModelPolicy): string[] {
  return [...want]
    .filter(([key, w]) => !isDeepStrictEqual(got.get(key), w))
    .map(([key, w]) => `${key}: ${who} gave ${show(got.get(key))}, the rules say ${show(w)}`);
}

/**
 * Where applyAnnotations (the code under test) and the model disagree over `annotations` on the host
 * policy `host` (`hostModel` is what the model made of the same file): an error or not, the annotation
 * an error names, which annotations the host refused, and every value of the outcome.
 */
export function annotationProblems(host: Policy, hostModel: ModelPolicy, annotations: Record<string, unknown>): string[] {
  const expected = expectAnnotations(hostModel, annotations);
  let result: ReturnType<typeof applyAnnotations>;
  try {
    result = applyAnnotations(host, annotations as Record<string, string>);
  } catch (err) {
    const error = describeError(err);
    if (expected.valid) return [`applyAnnotations refused annotations the rules accept (refusing ${show(expected.refused)}): ${error}`];
    const named = expected.keys.length === 0 || expected.keys.some((k) => error.includes(`annotation ${k}: `));
    return named ? [] : [`the error does not name ${expected.keys.join(' or ')} (${expected.why}): ${error}`];
  }
  if (!expected.valid) return [`applyAnnotations accepted annotations the rules reject (${expected.why})`];
  const problems = refusedProblems(result.refused.map((r) => r.key), expected);
  problems.push(...valueProblems('applyAnnotations', observed(result.policy), expected.policy));
  return problems;
}

function refusedProblems(got: string[], expected: AnnotationExpectation & { valid: true }): string[] {
  const [g, w] = [[...got].sort(), [...expected.refused].sort()];
  return isDeepStrictEqual(g, w) ? [] : [`refused ${show(g)}, the rules refuse ${show(w)}`];
}

const REFUSED_LINE = /^annotation ([\w.-]+): [^\n]+; the host's value applies$/;

/**
 * `policy check --bundle` that said valid: the refusal lines it printed first are one per annotation
 * the model refuses, for the annotations of `configText` over the host policy `host`.
 */
export function bundleCheckProblems(out: string, configText: string, host: Expectation): string[] {
  let annotations: unknown;
  try {
    annotations = (JSON.parse(configText) as { annotations?: unknown }).annotations ?? {};
  } catch {
    return [];
  }
  if (!host.valid || annotations === null || typeof annotations !== 'object') return [];
  const expected = expectAnnotations(host.policy, annotations as Record<string, unknown>);
  if (!expected.valid) return [`policy check --bundle said valid, the rules say not (${expected.why})`];
  const lines = out.split('\n').slice(0, -2);
  const keys = lines.map((l) => REFUSED_LINE.exec(l)?.[1] ?? `(not a refusal line: ${l.slice(0, 120)})`);
  return refusedProblems(keys, expected);
}

const inside = (dir: string, path: string) => {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
};

/** Differences between two observations, by part. */
function changes(a: Observation, b: Observation): string[] {
  const out: string[] = [];
  if (a.kernel !== b.kernel) out.push('the cgroup tree changed');
  out.push(...treeChanges(a.run, b.run).map((c) => `run state: ${c}`));
  out.push(...treeChanges(a.calls, b.calls).map((c) => `call logs: ${c}`));
  if (a.oomScoreAdj !== b.oomScoreAdj) out.push('oom_score_adj changed');
  return out;
}

/** One record, of the container its file names, from a hook stage, with a one-line reason of at most 300 characters. */
function uncarvedProblems(name: string, text: string | undefined): string[] {
  let rec: { id?: unknown; stage?: unknown; reason?: unknown };
  try {
    rec = JSON.parse(text ?? '') as typeof rec;
  } catch {
    return [`${name} is not JSON`];
  }
  const ok = `uncarved/${String(rec.id)}.json` === name && ['createRuntime', 'poststart'].includes(rec.stage as string) && typeof rec.reason === 'string' && rec.reason.length <= 300 && !/[\r\n]/.test(rec.reason);
  return ok ? [] : [`${name} is not an uncarved record: ${JSON.stringify(text).slice(0, 200)}`];
}

/** Our files must be root-only whatever the umask: 0600 files and 0700 directories. */
function modeProblems(o: Observation): string[] {
  return [...o.run, ...o.calls]
    .filter(([, e]) => e.mode !== (e.text === undefined ? 0o700 : 0o600))
    .map(([name, e]) => `${name} has mode ${e.mode.toString(8)}`);
}

export type Outcome = 'carved' | 'refused' | 'untouched';

export interface HookVerdict {
  outcome: Outcome;
  problems: string[];
  err: string;
}

/**
 * Runs `agentcgroup hook [stage] --policy <world policy>` with `stdin` and checks it. After a carve,
 * it also plays the runtime's teardown and poststop, which must leave the world as the runtime alone
 * would have left it. `expected` is what the world's policy file must load as, when the caller has
 * it already.
 */
export async function hookCase(w: World, stage: string[], stdin: string, expected = expectedPolicy(w.policyFile)): Promise<HookVerdict> {
  const dirs = expected.valid ? [expected.policy.get('paths.run_dir'), expected.policy.get('paths.call_log_dir')] : [];
  if (!dirs.every((d) => typeof d === 'string' && inside(w.dir, d))) {
    // Never run: the hook would write the real /run/agentcgroup.
    return { outcome: 'refused', problems: [`generator bug: the policy keeps state outside the world (${show(dirs)})`], err: '' };
  }
  // An unloadable policy is still strict when its text has a strict: true line.
  const { strict } = expected;
  const before = w.observe();
  const r = await w.run(['hook', ...stage, '--policy', w.policyFile], stdin);
  w.kernel.failures.clear();
  const after = w.observe();
  const { refusals, rest } = splitRefusals(r.err);
  const problems = [...refusals.flatMap(stderrProblems), ...stderrProblems(rest)];
  if (r.out !== '') problems.push(`stdout is not empty: ${JSON.stringify(r.out.slice(0, 200))}`);
  problems.push(...modeProblems(after));

  if (rest !== '') {
    if (refusals.length > 0) problems.push(`refusals before a failure: ${JSON.stringify(r.err.slice(0, 300))}`);
    if (!HOOK_FAILURE.test(rest)) problems.push(`not a hook failure line: ${JSON.stringify(rest.slice(0, 300))}`);
    if (r.code !== (strict ? 1 : 0)) problems.push(`exit ${r.code} after a failure under a ${strict ? 'strict' : 'fail-open'} policy`);
    // Failing open leaves one record for the daemon to show (state/uncarved.ts); a strict refusal none.
    const uncarved = strict ? [] : [...after.run].filter(([k]) => /^uncarved\/[^/]+\.json$/.test(k) && !before.run.has(k));
    problems.push(...uncarved.flatMap(([k, e]) => uncarvedProblems(k, e.text)));
    const left = new Set(uncarved.flatMap(([k]) => [`run state: added ${k}`, 'run state: added uncarved']));
    problems.push(...changes(before, after).filter((c) => !left.has(c)).map((c) => `after a failure, ${c}`));
    return { outcome: 'refused', problems, err: r.err };
  }
  if (r.code !== 0) problems.push(`exit ${r.code} with nothing on stderr`);

  const records = [...after.run.keys()].filter((k) => /^containers\/[^/]+\.json$/.test(k) && !before.run.has(k));
  if (records.length === 0) {
    if (refusals.length > 0) problems.push(`refusals without a carve: ${JSON.stringify(r.err.slice(0, 300))}`);
    problems.push(...changes(before, after).map((c) => `without a carve, ${c}`));
    return { outcome: 'untouched', problems, err: '' };
  }
  problems.push(...(await carveProblems(w, before, records)));
  return { outcome: 'carved', problems, err: r.err };
}

async function carveProblems(w: World, before: Observation, records: string[]): Promise<string[]> {
  const problems: string[] = [];
  if (w.kind !== READY) problems.push(`carved on an unsupported host (${w.kind})`);
  if (records.length !== 1) problems.push(`${records.length} container records`);
  if (w.kernel.whereIs(PID) !== `${CTR}/agent`) problems.push(`the container's init is in ${w.kernel.whereIs(PID)}, not ${CTR}/agent`);
  if (!w.kernel.isDir(`${w.cgRoot}/${CTR}/tools`)) problems.push('no tools/ cgroup');
  if (!/frozen 0/.test(w.kernel.readFile(`${w.cgRoot}/${CTR}/cgroup.events`))) problems.push('left frozen');
  const id = records[0]!.slice('containers/'.length, -'.json'.length);
  w.runtimeRemoves();
  const stop = await w.run(['hook', 'poststop', '--policy', w.policyFile], JSON.stringify({ ociVersion: '1.0.2', id, status: 'stopped', bundle: w.bundles.plain }));
  if (stop.code !== 0 || stop.out !== '' || stop.err !== '') problems.push(`poststop after a carve: exit ${stop.code}, ${JSON.stringify(stop.err)}`);
  const end = w.observe();
  if (end.kernel !== w.afterRemoval) problems.push('after poststop, the cgroup tree is not what the runtime left');
  problems.push(...treeChanges(before.run, end.run).map((c) => `after poststop, run state: ${c}`));
  problems.push(...treeChanges(before.calls, end.calls).map((c) => `after poststop, call logs: ${c}`));
  return problems;
}
