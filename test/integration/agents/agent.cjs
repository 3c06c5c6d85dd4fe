// A stand-in for a Claude Code-like node framework: an MCP server child started at boot, helper
// processes it runs itself (ripgrep for search, git probes), each Bash call a fresh `bash -c`, and a
// Codex-like `bash -lc`. Usage: node agent.js OUT_DIR. Writes OUT_DIR/ready once every call runs.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const out = process.argv[2];
const mcp = spawn(process.execPath, [join(__dirname, 'mcp-server.cjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
mcp.stdout.once('data', () => {
  spawnSync('rg', ['--files', __dirname], { stdio: 'ignore' });
  spawnSync('git', ['--version'], { stdio: 'ignore' });
  const calls = [
    spawn('bash', ['-c', 'sleep 600; echo call-0'], { stdio: 'ignore' }),
    spawn('bash', ['-lc', 'sleep 600; echo call-1'], { stdio: 'ignore' }),
    // A tool call that runs node, as a node framework's calls often do: identity, not the name, decides.
    spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600e3)', 'call-2'], { stdio: 'ignore' }),
  ];
  writeFileSync(join(out, 'ready.tmp'), String(calls.length));
  renameSync(join(out, 'ready.tmp'), join(out, 'ready'));
});
mcp.stdin.write('{"jsonrpc":"2.0","id":1,"method":"initialize"}\n');
setInterval(() => {}, 3600e3);
