// A tap plugin in place of @tapjs/typescript (.taprc): test files load through tsx (esbuild, with a
// cache) instead of ts-node, which transpiled every imported module anew in each test process: about
// 5 s against 2 s to start a test file here, over some 140 files. A plugin from the registry would be
// @tapjs/tsx, which pins an older @tapjs/core than tap 21's.
exports.importLoader = 'tsx/esm';
exports.loader = 'tsx/esm';
exports.testFileExtensions = ['ts'];
