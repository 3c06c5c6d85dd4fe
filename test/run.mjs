// `npm test`: prepares the test guests (cached), runs both tiers through tap, and ends with tap's own
// totals as one line `N passed, N failed`. Exits non-zero when anything failed or tap gave no totals.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// The kernel of every guest of test/vm/tiers.json (AGENTCGROUP_GUESTS: only those, by kernel or label),
// each prepared once into its own cache, however many guests boot it.
const { guests } = JSON.parse(readFileSync('test/vm/tiers.json', 'utf8'));
const chosen = (process.env.AGENTCGROUP_GUESTS ?? '').split(/[\s,]+/).filter((n) => n !== '');
const kernels = new Set(guests.filter((g) => chosen.length === 0 || chosen.includes(g.kernel) || chosen.includes(g.label)).map((g) => g.kernel));
for (const kernel of kernels) {
  const prep = spawnSync('bash', ['test/vm/prepare.sh'], { stdio: 'inherit', env: { ...process.env, AGENTCGROUP_VM_KERNEL: kernel } });
  if (prep.status !== 0) console.error(`test: preparing the ${kernel} guest failed; its integration tests will count as failed`);
}

const tap = spawn('node_modules/.bin/tap', ['-R', 'tap', ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit'] });
let summary;
let buffered = '';
// CI keeps only the end of the output, so the failures are named again just above the totals:
// each `not ok` with the subtests it sits in (tap indents a nested subtest by four spaces), and the
// start of what its YAML block says (the leak, the actual value), not where in the test file it is.
const open = [];
const failures = [];
const DETAIL_CHARS = 600;
let diag; // right after a `not ok`: { index in failures, lines, open: inside its YAML block, done: past its detail }
tap.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  buffered += chunk.toString();
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const line of lines) {
    // A YAML block starts on the line right after its `not ok`, or there is none.
    if (diag && !diag.open && !/^\s*---$/.test(line)) diag = undefined;
    if (diag && !diag.open) {
      diag.open = true;
      continue;
    }
    if (diag) {
      if (/^\s*\.\.\.$/.test(line)) {
        const text = diag.lines.join(' ').replace(/\s+/g, ' ').trim();
        if (text !== '' && diag.index >= 0) failures[diag.index] += ` -- ${text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS)}...` : text}`;
        diag = undefined;
      } else if (/^\s*(at|stack|source):/.test(line)) diag.done = true;
      else if (!diag.done) diag.lines.push(line.trim());
      continue;
    }
    // The top-level summary is the one unindented `# { total: ... }` line tap prints last.
    const m = /^# \{ total: (\d+)(.*)\}$/.exec(line);
    if (m) summary = { total: Number(m[1]), rest: m[2] };
    const sub = /^( *)# Subtest: (.*)$/.exec(line);
    if (sub) open[sub[1].length / 4] = sub[2];
    const bad = /^( *)not ok \d+ - (.*?)(?: # time=.*)?$/.exec(line);
    if (bad) {
      const depth = bad[1].length / 4;
      open.length = depth + 1;
      // A failed subtest also reports as `not ok` one level up; name only the innermost failure.
      const path = [...open.slice(0, depth), bad[2]].join(' > ');
      const innermost = !failures.some((f) => f.startsWith(`${path} > `));
      if (innermost) failures.push(path);
      // Its YAML block (if any) follows at once; an outer subtest's is about the subtests, not needed.
      diag = { index: innermost ? failures.length - 1 : -1, lines: [], open: false, done: false };
    }
  }
});
tap.on('close', (code) => {
  if (!summary) {
    console.log('0 passed, 1 failed');
    process.exitCode = code || 1;
    return;
  }
  for (const f of failures.slice(0, 50)) console.log(`failed: ${f}`);
  if (failures.length > 50) console.log(`failed: ... and ${failures.length - 50} more`);
  const count = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(summary.rest)?.[1] ?? 0);
  const skipped = count('skip') + count('todo');
  console.log(`${count('pass')} passed, ${count('fail')} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = code ?? 1;
});
