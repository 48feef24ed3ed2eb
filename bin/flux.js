#!/usr/bin/env node
'use strict';
// CommonJS on purpose (bin/package.json): Node 20 starts a CommonJS entry about 10 ms sooner than
// an ES module one, and a warm `flux run` is measured against `node -e 0`.
const { loadCli } = require('./load-bundle.js');

let settled = false;
// If the event loop drains before main settles (a stream that never ended), that is a failure, not success.
process.on('exit', () => {
  if (settled) return;
  process.stderr.write('flux: internal error: stopped before the command finished.\n');
  process.exitCode = 125;
});
const argv = process.argv.slice(2);
loadCli()
  .then(async ({ cli, learn }) => {
    await cli.main(argv);
    // The first run of each kind that got as far as its command teaches the code cache what such
    // a run compiles (125 is flux's own failure; any other status is the command's).
    const kind = cli.runKind?.();
    if (process.exitCode !== 125 && kind) learn(kind);
  })
  .catch((err) => {
    process.stderr.write(`flux: internal error: ${err?.message ?? String(err)}\n`);
    process.exitCode = 125;
  })
  .finally(() => {
    settled = true;
    // Everything the command started has been awaited by now (output to pipes, files and
    // terminals is written synchronously on Linux): exiting here spares Node's teardown, a few ms.
    process.exit();
  });
