// The layering of src/: every import points down. Each file belongs to its folder under src/ (files
// directly in src/, like errors.ts, are the bottom layer '.'); a folder may import its own files and
// folders below it in LAYERS, never one above, and the folders form no cycle. A new folder gets its
// place in LAYERS when it is made.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Bottom first. */
const LAYERS = [
  '.', // errors.ts, layout.ts, limits.ts, text.ts: shared by everything, import nothing of ours
  'sys',
  'nri', // the NRI protocol (ttrpc, the multiplexer, the plugin): imports nothing of ours; only the daemon loads it
  'sea',
  'oci',
  'cgroup',
  'bpf',
  'config',
  'state',
  'host',
  'carve',
  'policy',
  'exec',
  'metrics',
  'report', // the call logs read back (agentcgroup report, tune)
  'plan', // how many agents fit (agentcgroup plan): profiles from traces or call logs
  'lifecycle',
  'hook',
  'daemon',
  'runtime',
  'doctor',
  'demo',
  'cli',
] as const;

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const SOURCE = /\.(ts|mts|cts|mjs|cjs|js)$/;

interface Import {
  /** The importing file, relative to the checkout (src/...). */
  file: string;
  line: number;
  specifier: string;
}

/** Static `import ... from`, `import '...'`, `export ... from` and dynamic `import('...')`; comments and strings are not imports. */
function importsOf(file: string, text: string): Import[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => ({
    file,
    line: text.slice(0, f.pos).split('\n').length,
    specifier: f.fileName,
  }));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(path);
    return SOURCE.test(d.name) && !d.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The folder under src/ a path belongs to ('.' for a file directly in src/), or undefined outside src/. */
function folderOf(path: string): string | undefined {
  const rel = relative(SRC, path);
  if (rel.startsWith('..') || rel === '') return undefined;
  const parts = rel.split(sep);
  return parts.length === 1 ? '.' : parts[0];
}

const where = (i: Import) => `${i.file}:${i.line} imports '${i.specifier}'`;

interface Edge {
  from: string;
  to: string;
  imp: Import;
}

/** Every relative import of src/ as a folder edge; problems found on the way (imports leaving src/, unresolvable ones). */
function folderEdges(files: { path: string; text: string }[]): { edges: Edge[]; problems: string[] } {
  const edges: Edge[] = [];
  const problems: string[] = [];
  for (const { path, text } of files) {
    const from = folderOf(path) ?? '.';
    for (const imp of importsOf(relative(resolve(SRC, '..'), path), text)) {
      if (!imp.specifier.startsWith('.')) continue; // node: builtins and packages
      const target = resolve(dirname(path), imp.specifier);
      const to = folderOf(target);
      if (to === undefined) {
        problems.push(`${where(imp)}: outside src/`);
        continue;
      }
      const candidates = [target, target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), target.replace(/\.cjs$/, '.cts')];
      if (!candidates.some((c) => existsSync(c))) problems.push(`${where(imp)}: no such file`);
      if (from !== to) edges.push({ from, to, imp });
    }
  }
  return { edges, problems };
}

/** Imports that point up (or at a folder not in LAYERS), one line each. */
function upward(edges: Edge[], layers: readonly string[]): string[] {
  const rank = (f: string) => layers.indexOf(f);
  const out: string[] = [];
  for (const { from, to, imp } of edges) {
    if (rank(from) < 0 || rank(to) < 0) out.push(`${where(imp)}: ${rank(from) < 0 ? from : to}/ is not in LAYERS`);
    else if (rank(to) > rank(from)) out.push(`${where(imp)}: ${from}/ imports ${to}/, which is above it`);
  }
  return out;
}

/** Cycles between folders (strongly connected components of more than one folder), each with the imports that close it. */
function cycles(edges: Edge[]): string[] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
  // Tarjan's algorithm.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) components.push(c.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => {
    const path = shortestCycle(c, next);
    const steps = path.slice(1).map((to, i) => {
      const from = path[i]!;
      const imps = edges.filter((e) => e.from === from && e.to === to).map((e) => `    ${where(e.imp)}`);
      return `  ${from}/ -> ${to}/:\n${imps.join('\n')}`;
    });
    return `cycle ${path.join(' -> ')} (in a knot of ${c.join(', ')}):\n${steps.join('\n')}`;
  });
}

/** The shortest closed path through a strongly connected set of folders, as folders, first one repeated at the end. */
function shortestCycle(component: string[], next: Map<string, Set<string>>): string[] {
  let best: string[] | undefined;
  for (const start of component) {
    const came = new Map<string, string>();
    const queue = [start];
    let found = false;
    while (queue.length > 0 && !found) {
      const v = queue.shift()!;
      for (const w of [...(next.get(v) ?? [])].sort()) {
        if (!component.includes(w)) continue;
        if (w === start) {
          came.set(start, v);
          found = true;
          break;
        }
        if (!came.has(w)) {
          came.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = came.get(start)!; v !== start; v = came.get(v)!) path.unshift(v);
    path.unshift(start);
    if (!best || path.length < best.length) best = path;
  }
  return best!;
}

const files = sourceFiles(SRC).map((path) => ({ path, text: readFileSync(path, 'utf8') }));
const { edges, problems } = folderEdges(files);

t.test('every import in src/ resolves to a file in src/ or is a package', async (t) => {
  t.ok(files.length > 50, `read ${files.length} source files`);
  t.strictSame(problems, []);
});

t.test('every folder of src/ has its place in LAYERS, once', async (t) => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  t.strictSame(folders.filter((f) => !LAYERS.includes(f as (typeof LAYERS)[number])), [], 'folders missing from LAYERS');
  t.strictSame(LAYERS.filter((l) => l !== '.' && !folders.includes(l)), [], 'LAYERS naming no folder');
  t.equal(new Set(LAYERS).size, LAYERS.length, 'no folder twice');
});

t.test('no folder imports a folder above it', async (t) => {
  t.strictSame(upward(edges, LAYERS), []);
});

t.test('no cycle between folders', async (t) => {
  t.strictSame(cycles(edges), []);
});

t.test('the check itself: every kind of import is seen, and an upward one or a cycle is reported', async (t) => {
  const text = [
    "import { a } from '../cgroup/a.js';",
    "import type { B } from '../carve/b.js';",
    'import {',
    '  c,',
    "} from './c.js';",
    "export { d } from '../daemon/d.js';",
    "export * from '../hook/e.js';",
    "// import { x } from '../cli/commented.js';",
    "const s = \"import { y } from '../cli/string.js'\";",
    "const m = await import('../cli/dynamic.js');",
  ].join('\n');
  t.strictSame(
    importsOf('src/x/f.ts', text).map((i) => `${i.line} ${i.specifier}`),
    ['1 ../cgroup/a.js', '2 ../carve/b.js', '5 ./c.js', '6 ../daemon/d.js', '7 ../hook/e.js', '10 ../cli/dynamic.js'],
  );
  const imp = (file: string, specifier: string): Import => ({ file, line: 1, specifier });
  const up = [{ from: 'cgroup', to: 'daemon', imp: imp('src/cgroup/x.ts', '../daemon/y.js') }];
  t.strictSame(upward(up, LAYERS), ["src/cgroup/x.ts:1 imports '../daemon/y.js': cgroup/ imports daemon/, which is above it"]);
  t.match(upward([{ from: 'cli', to: 'nowhere', imp: imp('src/cli/x.ts', '../nowhere/y.js') }], LAYERS)[0], /nowhere\/ is not in LAYERS/);
  const loop = [...up, { from: 'daemon', to: 'cgroup', imp: imp('src/daemon/y.ts', '../cgroup/x.js') }];
  t.strictSame(cycles(loop), [
    "cycle cgroup -> daemon -> cgroup (in a knot of cgroup, daemon):\n  cgroup/ -> daemon/:\n    src/cgroup/x.ts:1 imports '../daemon/y.js'\n  daemon/ -> cgroup/:\n    src/daemon/y.ts:1 imports '../cgroup/x.js'",
  ]);
});
