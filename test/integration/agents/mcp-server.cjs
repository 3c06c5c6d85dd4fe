// A long-lived MCP server child (stdio JSON-RPC): answers each request line with an empty result.
'use strict';
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
    const id = JSON.parse(buf.slice(0, i)).id;
    buf = buf.slice(i + 1);
    process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, result: {} })}\n`);
  }
});
