// A stand-in for containerd `version` in `dir`: `--version` says that version, and `--config FILE
// config dump` echoes FILE, so the check install-config makes with containerd passes. (The real 1.6 on
// CI's PATH ignores a version 3 file's plugin settings; the real 2.1 reads one: test/fixtures/containerd/nodes.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function containerdStub(dir: string, version: string): void {
  const script = `#!/bin/sh\n[ "$1" = --version ] && echo "containerd github.com/containerd/containerd/v2 v${version} 0000000" && exit 0\n[ "$1" = --config ] && exec /bin/cat "$2"\nexit 1\n`;
  writeFileSync(join(dir, 'containerd'), script, { mode: 0o755 });
}
