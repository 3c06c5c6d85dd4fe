import { type Server, createServer } from 'node:http';
import { type ListenAddress, formatListenAddress } from '../config/listen.js';
import { CONTENT_TYPE } from './prometheus.js';

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * The optional localhost listener: GET /metrics answers with `render()`, anything else is 404. The
 * text is made per request, from the cgroups as they are then: the daemon keeps nothing warm.
 */
export function serveMetrics(at: ListenAddress, render: () => string): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: GET /metrics\n');
      return;
    }
    let body: string;
    try {
      body = render();
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve({
        // The port the kernel gave when asked for 0 (tests do).
        url: `http://${formatListenAddress(bound && typeof bound === 'object' ? { host: at.host, port: bound.port } : at)}/metrics`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
