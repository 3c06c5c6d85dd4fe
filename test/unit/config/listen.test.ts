import t from 'tap';
import { parsePolicyYaml } from '../../../src/config/policy.js';
import { applyAnnotations } from '../../../src/config/annotations.js';
import { DEFAULT_POLICY } from '../../../src/config/policy.js';
import { METRICS_PORT, formatListenAddress, parseListenAddress } from '../../../src/config/listen.js';
import { AgentcgroupError } from '../../../src/errors.js';

const SRC = '/etc/agentcgroup/policy.yaml';

function policyError(yaml: string): string {
  try {
    parsePolicyYaml(yaml, SRC);
  } catch (err) {
    if (err instanceof AgentcgroupError) return err.message;
    throw err;
  }
  throw new Error(`accepted: ${yaml}`);
}

t.test('loopback addresses with a port are accepted', async (t) => {
  t.same(parseListenAddress('127.0.0.1:9464'), { ok: true, address: { host: '127.0.0.1', port: 9464 } });
  t.same(parseListenAddress('127.8.9.10:1'), { ok: true, address: { host: '127.8.9.10', port: 1 } }, 'all of 127/8');
  t.same(parseListenAddress('[::1]:65535'), { ok: true, address: { host: '::1', port: 65535 } });
  t.same(parseListenAddress('[0:0:0:0:0:0:0:1]:9464'), { ok: true, address: { host: '::1', port: 9464 } }, 'a long spelling of ::1');
});

t.test('anything else is refused with the reason', async (t) => {
  for (const bad of ['0.0.0.0:9464', '10.0.0.1:9464', '[::]:9464', '[::ffff:127.0.0.1]:9464', '[fe80::1]:9464', '128.0.0.1:80']) {
    const r = parseListenAddress(bad);
    t.ok(!r.ok && /must be a loopback address \(/.test(r.problem), bad);
  }
  for (const bad of ['localhost:9464', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', ':9464', '127.1:9464', '999.0.0.1:80', '::1:9464', '[::1]', '127.0.0.1:94a', ' 127.0.0.1:9464', '127.0.0.1:9464\n']) {
    const r = parseListenAddress(bad);
    t.ok(!r.ok && /must be a loopback address and port like/.test(r.problem), JSON.stringify(bad));
  }
});

t.test('formatListenAddress round-trips', async (t) => {
  for (const text of ['127.0.0.1:9464', '[::1]:80']) {
    const r = parseListenAddress(text);
    t.equal(r.ok && formatListenAddress(r.address), text);
  }
});

t.test('metrics.listen in the host policy: off by default, one line when refused', async (t) => {
  t.equal(DEFAULT_POLICY.metrics.listen, null);
  t.equal(parsePolicyYaml('metrics:\n  listen: off\n', SRC).metrics.listen, null);
  t.same(parsePolicyYaml('metrics:\n  listen: "[::1]:9464"\n', SRC).metrics.listen, { host: '::1', port: 9464 });
  t.equal(
    policyError('metrics:\n  listen: 0.0.0.0:9464\n'),
    `${SRC}: metrics.listen: must be a loopback address (like 127.0.0.1:19464 or [::1]:19464, or off): metrics are served to this host only, got "0.0.0.0:9464"`,
  );
  t.match(policyError('metrics:\n  listen: 9464\n'), /^\/etc\/agentcgroup\/policy\.yaml: metrics\.listen: must be a loopback address and port like 127\.0\.0\.1:19464 or \[::1\]:19464, or off, got 9464$/);
  t.match(policyError('metrics:\n  listen: [::1]:9464\n'), /^\/etc\/agentcgroup\/policy\.yaml: line 2: /, 'an unquoted IPv6 address is a YAML error, on one line');
  t.match(policyError('metrics:\n  listen: "127.0.0.1:9464\\nx"\n'), /got "127\.0\.0\.1:9464\\nx"$/, 'a hostile value is quoted');
});

t.test('a container cannot open a listener', async (t) => {
  t.throws(() => applyAnnotations(DEFAULT_POLICY, { 'io.agentcgroup.metrics.listen': '127.0.0.1:9464' }), /host-only/);
});

t.test('--metrics-listen (anyAddress): any numeric address, for a pod of its own network namespace', async (t) => {
  t.same(parseListenAddress('0.0.0.0:19464', { anyAddress: true }), { ok: true, address: { host: '0.0.0.0', port: 19464 } });
  t.same(parseListenAddress('10.1.2.3:80', { anyAddress: true }), { ok: true, address: { host: '10.1.2.3', port: 80 } });
  t.same(parseListenAddress('[::]:19464', { anyAddress: true }), { ok: true, address: { host: '::', port: 19464 } });
  t.same(parseListenAddress('[0:0:0:0:0:0:0:1]:1', { anyAddress: true }), { ok: true, address: { host: '::1', port: 1 } });
  for (const bad of ['localhost:19464', '0.0.0.0', '0.0.0.0:0', '::1:19464', 'pod:1']) t.notOk(parseListenAddress(bad, { anyAddress: true }).ok, bad);
  t.notOk(parseListenAddress('0.0.0.0:19464').ok, 'without it, loopback only, as the policy key');
});

t.test('the metrics port: not OpenTelemetry\'s 9464, outside the exporters\' 9100-9999, NodePorts and ephemeral ports', async (t) => {
  t.not(METRICS_PORT, 9464);
  t.ok(METRICS_PORT < 9100 || METRICS_PORT > 9999);
  t.ok(METRICS_PORT < 30000);
});
