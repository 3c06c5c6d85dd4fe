import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parseSize } from '../config/size.js';
import { AgentcgroupError, describeError } from '../errors.js';
import type { ReportRecord } from '../report/aggregate.js';
import type { CliContext } from './context.js';

interface PlanOptions {
  memory: string;
  agents: string;
  traces?: string;
  profile?: string;
  baseline?: string;
  memoryDiv: string;
  pickSeed?: string;
  minS: string;
  maxS: string;
  minBash: string;
  risk: string;
  seed: string;
  trials: string;
  json?: boolean;
}

const bad = (what: string): never => {
  throw new AgentcgroupError('bad-plan', what);
};

function number(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) bad(`${flag} ${JSON.stringify(v).slice(0, 40)}: expected a number from ${min} to ${max}`);
  return n;
}

function bytes(flag: string, v: string): number {
  const s = parseSize(v, flag);
  if (s.kind !== 'bytes') bad(`${flag} must be a size in bytes (like 16G or 16Gi), not ${s.kind === 'max' ? 'max' : 'a percentage'}`);
  return (s as { bytes: number }).bytes;
}

export function registerPlan(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('plan')
    .description(
      'how many agents fit in MEMORY and what to set: from recorded traces (--traces) or call logs (--profile), the chance that the agents together need more than the memory, the session each container gets, and a policy.yaml the hook accepts, the plan in its comments (redirect it to a file)',
    )
    .requiredOption('--memory <size>', 'the memory the agents share (16G, 16Gi)')
    .option('--agents <n>', "a count, or auto: the most agents whose chance of needing more than the memory stays at or under --risk", 'auto')
    .option('--traces <file>', 'agent memory traces, one JSON object a line (the format of ../shared/traces)')
    .option('--profile <dir>', 'a call log directory (paths.call_log_dir): each container is an agent, its framework baseline and call peaks')
    .option('--baseline <size>', '--profile: the framework baseline, where the call logs do not say it (records before agentMemory)')
    .option('--memory-div <n>', '--traces: divide recorded MB by this, read as MiB (the replay benchmark uses 8)', '1')
    .option('--pick-seed <n>', "--traces: the replay benchmark's pick: only runs of --min-s to --max-s seconds with --min-bash Bash calls, in its seeded order (agent k runs the k-th)")
    .option('--min-s <s>', '--pick-seed: shortest run, seconds', '60')
    .option('--max-s <s>', '--pick-seed: longest run, seconds', '600')
    .option('--min-bash <n>', '--pick-seed: fewest Bash calls', '3')
    .option('--risk <share>', '--agents auto: the chance of needing more than the memory to accept (0.01 = 1%)', '0.01')
    .option('--seed <n>', 'the sampling seed (the same inputs and seed give the same plan)', '1')
    .option('--trials <n>', 'sampled moments per agent count', '20000')
    .option('--json', 'the plan as JSON, for scripts')
    .action(async (opts: PlanOptions) => {
      try {
        const memory = bytes('--memory', opts.memory);
        if ((opts.traces === undefined) === (opts.profile === undefined)) bad('give one of --traces FILE or --profile DIR');
        const [{ fit, mostAgents, peakOf }, { callLogProfile, traceProfile }, { planPolicy, sessionSize }] = await Promise.all([
          import('../plan/fit.js'),
          import('../plan/profiles.js'),
          import('../plan/render.js'),
        ]);
        let profiles;
        if (opts.traces !== undefined) {
          const { parseTraces, pickTraces } = await import('../plan/traces.js');
          const div = number('--memory-div', opts.memoryDiv, 0.001, 1e6);
          let traces = parseTraces(readFileSync(opts.traces, 'utf8'));
          if (opts.pickSeed !== undefined) {
            // Every run that passes the filter, in the pick's order.
            traces = pickTraces(traces, { seed: Math.floor(number('--pick-seed', opts.pickSeed, 0, 2 ** 31)), minS: number('--min-s', opts.minS, 0, 1e9), maxS: number('--max-s', opts.maxS, 0, 1e9), minBash: number('--min-bash', opts.minBash, 0, 1e9) });
          }
          profiles = traces.map((t) => traceProfile(t, div));
        } else {
          const { callLogs, readCallLogs } = await import('../report/calllog.js');
          const baseline = opts.baseline === undefined ? undefined : bytes('--baseline', opts.baseline);
          const byContainer = new Map<string, ReportRecord[]>();
          const logs = callLogs(opts.profile!);
          const add = (r: ReportRecord) => {
            const list = byContainer.get(r.container);
            if (list) list.push(r);
            else byContainer.set(r.container, [r]);
          };
          await readCallLogs(logs, { add, skipped: () => {} });
          profiles = logs.flatMap((l) => callLogProfile(l.container, byContainer.get(l.container) ?? [], baseline) ?? []);
          if (profiles.length === 0) bad(`no call log in ${opts.profile} says a framework baseline and a call: pass --baseline SIZE`);
        }
        const fitOptions = { memory, tightAt: 0.9, trials: Math.floor(number('--trials', opts.trials, 100, 1e6)), seed: Math.floor(number('--seed', opts.seed, 0, 2 ** 31)) };
        let agents: number;
        let risk: number | undefined;
        let tried;
        if (opts.agents === 'auto') {
          risk = number('--risk', opts.risk, 0, 1);
          const most = mostAgents(profiles, risk, fitOptions);
          agents = most.agents;
          tried = most.tried;
          if (agents === 0) bad(`not even one agent fits ${opts.memory} at risk ${risk}: the largest profile peaks at ${Math.max(...profiles.map(peakOf))} bytes`);
        } else {
          agents = Math.floor(number('--agents', opts.agents, 1, 4096));
          tried = [fit(profiles, agents, fitOptions)];
        }
        const plan = {
          memory,
          agents,
          ...(risk === undefined ? {} : { risk }),
          sessionBytes: sessionSize(profiles, memory),
          chosen: tried.find((f) => f.agents === agents)!,
          tried,
          source: opts.traces ?? opts.profile!,
          profiles: profiles.map((p) => ({ name: p.name, peakBytes: peakOf(p) })),
          trials: fitOptions.trials,
        };
        ctx.stdout(opts.json ? `${JSON.stringify(plan)}\n` : planPolicy(plan));
      } catch (err) {
        ctx.stderr(`agentcgroup: plan: ${describeError(err)}\n`);
        setExit(1);
      }
    });
}
