import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadPolicy } from '../config/policy.js';
import type { Daemon } from '../daemon/daemon.js';
import { METRICS_PORT, parseListenAddress } from '../config/listen.js';
import { AgentcgroupError, describeError } from '../errors.js';
import { hostEnvFrom } from '../host/env.js';
import { requireCarvableHost } from '../host/support.js';
import { adminSocketPath } from '../state/paths.js';
import { stderrIsJournal, withPriority } from '../sys/journal.js';
import { systemdNotifier } from '../sys/notify.js';
import type { CliContext } from './context.js';

export function registerDaemon(program: Command, ctx: CliContext, setExit: (code: number) => void): void {
  program
    .command('daemon')
    .description(
      'run the supervisor in the foreground: follows carved containers, moves each tool call the eBPF tracker sees into its own cgroup, serves the admin socket (root only) and each container\'s exec socket; where the container runtime offers NRI (policy nri.enable, default auto: when /var/run/nri/nri.sock exists or appears), registers as its plugin and carves containers that opt in with no hook process; with policy sched_ext.enable, makes agentcgroup\'s sched_ext scheduler the system\'s scheduler until it stops. Stops on SIGTERM or SIGINT',
    )
    .option('--policy <file>', 'host policy YAML (default /etc/agentcgroup/policy.yaml if present)')
    .option(
      '--metrics-listen <address>',
      `serve GET /metrics on this address and port instead of the policy's metrics.listen, any numeric address (0.0.0.0:${METRICS_PORT} in a pod's own network namespace, where a scraper reaches the pod IP); the policy's own key takes loopback only`,
    )
    .action(async (opts: { policy?: string; metricsListen?: string }) => {
      // Under systemd, stderr is the journal: each line then carries its syslog priority.
      const journal = stderrIsJournal(ctx.env, ctx.fdIdentity);
      const log = {
        info: (l: string) => ctx.stderr(withPriority(`agentcgroup: ${l}\n`, 'info', journal)),
        warn: (l: string) => ctx.stderr(withPriority(`agentcgroup: warning: ${l}\n`, 'warning', journal)),
        error: (l: string) => ctx.stderr(withPriority(`agentcgroup: daemon: ${l}\n`, 'error', journal)),
      };
      if (ctx.uid !== 0) {
        log.error('must run as root (it moves processes between cgroups)');
        setExit(1);
        return;
      }
      const host = hostEnvFrom(ctx.env, ctx.fsOps);
      if (opts.policy !== undefined) host.policyFile = opts.policy;
      let daemon: Daemon;
      let ready: string;
      try {
        requireCarvableHost(host);
        // Loaded here, not at start-up: it brings koffi and libbpf, which no hook should pay for.
        const [{ Daemon }, { hookSpec }, { processView }] = await Promise.all([import('../daemon/daemon.js'), import('../runtime/prepare.js'), import('../runtime/self.js')]);
        // The hooks an NRI runtime runs for us read the policy this daemon reads.
        const policy = loadPolicy(host.policyFile);
        if (opts.metricsListen !== undefined) {
          const at = parseListenAddress(opts.metricsListen, { anyAddress: true });
          if (!at.ok) throw new AgentcgroupError('bad-listen', `--metrics-listen ${at.problem}`);
          policy.metrics.listen = at.address;
        }
        const hookEnv = host.policyFile === undefined ? ctx.env : { ...ctx.env, AGENTCGROUP_POLICY: resolve(host.policyFile) };
        // Their native front, when installed, asks this daemon.
        const hook = () => hookSpec(processView(), hookEnv, adminSocketPath(policy.paths.runDir));
        daemon = new Daemon(policy, host, log, hook);
        ready = await daemon.start();
      } catch (err) {
        log.error(describeError(err));
        setExit(1);
        return;
      }
      // Type=notify: systemd counts the unit started (and starts the container engines ordered after
      // it) once every socket serves and the registry has taken up the containers already there.
      const notifier = await systemdNotifier(ctx.env, log.warn);
      notifier.ready(ready.replace(/^agentcgroup daemon /, ''));
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      notifier.stopping();
      await daemon.stop();
      log.info('daemon stopped');
    });
}
