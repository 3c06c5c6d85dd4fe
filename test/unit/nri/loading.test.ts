// Hooks and the runtime shim start once per container and per runtime verb: they must not load
// src/nri/ or protobuf, which only the daemon needs. esbuild's metafile of the production bundle says
// which module imports which, statically or by import(); what `agentcgroup hook` and the shim
// evaluate at start-up is the static closure of their entry modules (index.ts takes main.ts or
// runtime/shim.ts by import(), and modules reached only through import() are evaluated only when
// called).
import t from 'tap';
import { buildSync } from 'esbuild';

interface Edge {
  path: string;
  kind: string;
}
type Graph = Map<string, Edge[]>;

function bundleGraph(): Graph {
  const result = buildSync({
    entryPoints: ['src/cli/index.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['koffi'],
    write: false,
    outfile: 'out.cjs',
    metafile: true,
    logLevel: 'silent',
  });
  return new Map(Object.entries(result.metafile.inputs).map(([path, input]) => [path, input.imports.map((i) => ({ path: i.path, kind: i.kind }))]));
}

/** Every module evaluated when `entries` are: static imports (and require) followed, import() not. */
function staticClosure(graph: Graph, entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const m = todo.pop()!;
    if (seen.has(m)) continue;
    seen.add(m);
    for (const e of graph.get(m) ?? []) if (e.kind !== 'dynamic-import') todo.push(e.path);
  }
  return seen;
}

const daemonOnly = (m: string) => m.startsWith('src/nri/') || m.includes('node_modules/@bufbuild/');

const graph = bundleGraph();
const STARTS = {
  'agentcgroup hook (and every other command)': ['src/cli/index.ts', 'src/cli/main.ts'],
  'the runtime shim': ['src/cli/index.ts', 'src/runtime/shim.ts'],
};

t.test('what hooks and the shim load at start-up holds nothing of src/nri/ or protobuf', async (t) => {
  for (const [who, entries] of Object.entries(STARTS)) {
    for (const e of entries) t.ok(graph.has(e), `${e} is in the bundle`);
    const loaded = staticClosure(graph, entries);
    t.strictSame([...loaded].filter(daemonOnly), [], who);
  }
});

t.test('the check sees the difference: the hook path loads the carve code, not the daemon', async (t) => {
  const hook = staticClosure(graph, STARTS['agentcgroup hook (and every other command)']);
  t.ok(hook.has('src/carve/container.ts'), 'the hook path loads the carve, src/carve/container.ts');
  t.ok(graph.has('src/daemon/daemon.ts'), 'the daemon is in the bundle');
  t.notOk(hook.has('src/daemon/daemon.ts'), 'but is loaded only by import(), when `agentcgroup daemon` runs');
  // A static import of src/nri/ from the CLI would be found.
  const tampered: Graph = new Map(graph);
  tampered.set('src/cli/main.ts', [...(graph.get('src/cli/main.ts') ?? []), { path: 'src/nri/index.ts', kind: 'import-statement' }]);
  tampered.set('src/nri/index.ts', [{ path: 'node_modules/@bufbuild/protobuf/dist/cjs/index.js', kind: 'import-statement' }]);
  t.strictSame([...staticClosure(tampered, STARTS['agentcgroup hook (and every other command)'])].filter(daemonOnly).sort(), ['node_modules/@bufbuild/protobuf/dist/cjs/index.js', 'src/nri/index.ts']);
});

t.test('the daemon itself loads src/nri/ and protobuf only by import(), when its NRI link starts', async (t) => {
  const daemon = staticClosure(graph, ['src/daemon/daemon.ts']);
  t.ok(daemon.has('src/daemon/nrilink.ts'), 'the link is part of the daemon');
  t.strictSame([...daemon].filter(daemonOnly), [], 'nothing of src/nri/ or protobuf until then');
  t.notOk(daemon.has('src/daemon/nriagent.ts'), 'nor the handler, which imports them');
  const dynamic = (graph.get('src/daemon/nrilink.ts') ?? []).filter((e) => e.kind === 'dynamic-import').map((e) => e.path).sort();
  t.strictSame(dynamic, ['src/daemon/nriagent.ts', 'src/nri/index.ts'], 'both by import()');
});
