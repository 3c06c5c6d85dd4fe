import t from 'tap';
import { request } from 'node:http';
import { serveMetrics } from '../../../src/metrics/http.js';

function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('GET /metrics answers with the text, made per request; anything else is 404', async (t) => {
  let n = 0;
  const listener = await serveMetrics({ host: '127.0.0.1', port: 0 }, () => `agentcgroup_requests ${++n}\n`);
  t.teardown(() => listener.close());
  t.match(listener.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'the port the kernel gave');
  const first = await get(listener.url);
  t.same([first.status, first.type, first.body], [200, 'text/plain; version=0.0.4; charset=utf-8', 'agentcgroup_requests 1\n']);
  t.equal((await get(`${listener.url}?x=1`)).body, 'agentcgroup_requests 2\n', 'a query string is ignored');
  const base = listener.url.replace(/\/metrics$/, '');
  for (const [path, method] of [['/', 'GET'], ['/metrics/', 'GET'], ['/other', 'GET'], ['/metrics', 'POST'], ['/metrics', 'DELETE']] as const) {
    t.equal((await get(`${base}${path}`, method)).status, 404, `${method} ${path}`);
  }
  t.equal(n, 2, 'only GET /metrics reads the cgroups');
});

t.test('a failure while rendering is a 500 with one line, and the listener lives on', async (t) => {
  let fail = true;
  const listener = await serveMetrics({ host: '127.0.0.1', port: 0 }, () => {
    if (fail) throw new Error('cannot read the cgroups');
    return 'ok 1\n';
  });
  t.teardown(() => listener.close());
  t.same(await get(listener.url), { status: 500, type: 'text/plain; charset=utf-8', body: 'cannot read the cgroups\n' });
  fail = false;
  t.equal((await get(listener.url)).status, 200);
});

t.test('a taken port is an error for the caller', async (t) => {
  const a = await serveMetrics({ host: '127.0.0.1', port: 0 }, () => '');
  t.teardown(() => a.close());
  const port = Number(/:(\d+)\//.exec(a.url)![1]);
  await t.rejects(serveMetrics({ host: '127.0.0.1', port }, () => ''), { code: 'EADDRINUSE' });
});
