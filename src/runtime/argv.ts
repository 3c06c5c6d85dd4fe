/**
 * What the shim must know of an OCI runtime command line (runc's or crun's), read without changing it:
 * the verb, and for the verbs that create a container its bundle, config file and id. Engines call
 * `runtime [global options] <verb> [verb options] <id> [...]`; the exact argv goes to the real runtime.
 */

export interface RuntimeCall {
  /** create, start, state, kill, delete...; undefined when there are only global options (--version). */
  verb?: string;
  /** create and run: the bundle as given (relative to the working directory), undefined for the cwd. */
  bundle?: string;
  /** crun's `--config FILE` (create, run): the config file instead of the bundle's config.json. */
  configFile?: string;
  /** create, run: `--pid-file`, where the runtime writes the container's init pid (unvalidated). */
  pidFile?: string;
  /** create, run, delete: the container id, unvalidated. */
  id?: string;
  /** run -d, exec -d: the container (or the exec'd process) outlives the call. */
  detach: boolean;
  /** crun's run --keep: the container is not deleted when it exits. */
  keep: boolean;
  /** create, run, exec: how many fds after stdio go to the container (--preserve-fds). */
  preserveFds: number;
}

interface OptionTable {
  /** Long options that take a value: `--name value` or `--name=value` (Go's flag also takes `-name`). */
  long: ReadonlySet<string>;
  /** Single-letter options that take a value: `-b DIR`, `-bDIR`, or last in a cluster (crun's argp). */
  short: ReadonlySet<string>;
  /** Both short and long spellings of one option, to one name. */
  alias: Readonly<Record<string, string>>;
}

// runc 1.1 and crun 1.8, from their --help. An unknown option is taken for a flag without a value: a
// wrong guess can only misplace the verb of a command line neither runtime would accept anyway.
const GLOBAL: OptionTable = {
  long: new Set(['log', 'log-format', 'log-level', 'root', 'criu', 'rootless', 'cgroup-manager']),
  short: new Set(),
  alias: {},
};

const CREATE: OptionTable = {
  long: new Set(['bundle', 'console-socket', 'pid-file', 'preserve-fds', 'pidfd-socket', 'config']),
  short: new Set(['b', 'f']),
  alias: { b: 'bundle', f: 'config', d: 'detach' },
};

const EXEC: OptionTable = {
  long: new Set(['console-socket', 'cwd', 'env', 'process', 'pid-file', 'process-label', 'apparmor', 'cap', 'preserve-fds', 'user', 'additional-gids', 'cgroup', 'pidfd-socket']),
  short: new Set(['e', 'p', 'u', 'g', 'c']),
  alias: { d: 'detach' },
};

const DELETE: OptionTable = { long: new Set(), short: new Set(), alias: { f: 'force' } };

interface Scanned {
  options: Map<string, string | true>;
  positionals: string[];
}

/**
 * Options and positionals of `tokens`. `inOrder` stops at the first positional (Go's flag package, and
 * crun's global and exec parsing); otherwise options may follow positionals (crun's create and run).
 */
function scan(tokens: readonly string[], table: OptionTable, inOrder: boolean): Scanned {
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  const set = (name: string, value: string | true) => options.set(table.alias[name] ?? name, value);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i] as string;
    const positional = tok === '-' || !tok.startsWith('-');
    if (tok === '--') {
      positionals.push(...tokens.slice(i + 1));
      break;
    }
    if (positional) {
      if (!inOrder) {
        positionals.push(tok);
        continue;
      }
      positionals.push(...tokens.slice(i));
      break;
    }
    const body = tok.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    // `-root DIR` is Go's spelling of --root (runc); any other `-xyz` is a cluster of letters (crun).
    if (tok.startsWith('--') || table.long.has(name)) {
      if (eq >= 0) set(name, body.slice(eq + 1));
      else if (table.long.has(name) && i + 1 < tokens.length) set(name, tokens[++i] as string);
      else set(name, true);
      continue;
    }
    // A cluster of single letters (-db BUNDLE); a value-taking letter ends it.
    for (let j = 0; j < body.length; j++) {
      const letter = body[j] as string;
      if (!table.short.has(letter)) {
        set(letter, true);
        continue;
      }
      const attached = body.slice(j + 1).replace(/^=/, '');
      if (attached !== '') set(letter, attached);
      else if (i + 1 < tokens.length) set(letter, tokens[++i] as string);
      break;
    }
  }
  return { options, positionals };
}

const text = (v: string | true | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

// A count the runtime itself will reject when it is not a small non-negative integer.
function fdCount(v: string | true | undefined): number {
  const n = typeof v === 'string' && /^\d{1,4}$/.test(v) ? Number(v) : 0;
  return n <= 1024 ? n : 0;
}

/** Reads a runtime command line (everything after the runtime's own name). */
export function parseRuntimeArgv(argv: readonly string[]): RuntimeCall {
  const global = scan(argv, GLOBAL, true);
  const [verb, ...rest] = global.positionals;
  const call: RuntimeCall = { detach: false, keep: false, preserveFds: 0 };
  if (verb === undefined) return call;
  call.verb = verb;
  if (verb === 'create' || verb === 'run') {
    const { options, positionals } = scan(rest, CREATE, false);
    const bundle = text(options.get('bundle'));
    const configFile = text(options.get('config'));
    if (bundle !== undefined) call.bundle = bundle;
    if (configFile !== undefined) call.configFile = configFile;
    const pidFile = text(options.get('pid-file'));
    if (pidFile !== undefined) call.pidFile = pidFile;
    if (positionals[0] !== undefined) call.id = positionals[0];
    call.detach = options.has('detach');
    call.keep = options.has('keep');
    call.preserveFds = fdCount(options.get('preserve-fds'));
  } else if (verb === 'exec') {
    const { options } = scan(rest, EXEC, true);
    call.detach = options.has('detach');
    call.preserveFds = fdCount(options.get('preserve-fds'));
  } else if (verb === 'delete') {
    const id = scan(rest, DELETE, true).positionals[0];
    if (id !== undefined) call.id = id;
  }
  return call;
}

/**
 * The runtime stays in front of the container for the whole call and passes the signals it gets on
 * to it: a foreground run or exec (runc's and crun's signal proxy).
 */
export function passesSignals(call: RuntimeCall): boolean {
  return (call.verb === 'run' || call.verb === 'exec') && !call.detach;
}

/** The shim's own leading options, before the runtime's command line. */
export interface ShimArgs {
  /** --runtime PATH: the real runtime. */
  runtime?: string;
  help: boolean;
  /** The runtime's command line, exactly as given. */
  argv: string[];
}

/**
 * `agentcgroup runtime [--runtime PATH] RUNTIME-ARGS...`: only leading `--runtime` (neither runc nor
 * crun has such an option) and a first `--help`/`-h` are ours; everything from the first other token
 * on belongs to the runtime, including a later --help.
 */
export function splitShimArgs(args: readonly string[]): ShimArgs {
  const out: ShimArgs = { help: false, argv: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const tok = args[i] as string;
    if (tok === '--runtime' && i + 1 < args.length) out.runtime = args[++i] as string;
    else if (tok.startsWith('--runtime=')) out.runtime = tok.slice('--runtime='.length);
    else if (i === 0 && (tok === '--help' || tok === '-h')) out.help = true;
    else break;
  }
  out.argv = args.slice(i);
  return out;
}
