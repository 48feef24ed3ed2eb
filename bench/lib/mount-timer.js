/**
 * Runs inside `unshare --user --map-root-user --mount`: assembles an overlay root from unpacked
 * layers the way a run does (fresh upper and work dirs, userxattr, untrusted layers) and prints
 * the times as JSON: { mkdirMs[], mountMs[], umountMs[] }.
 *   node mount-timer.js APP_DIR SCRATCH RUNS LOWER_TOP [LOWER…]
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [app, scratch, runsArg, ...lowers] = process.argv.slice(2);
const require = createRequire(join(app, 'package.json'));
const koffi = require('koffi');
const libc = koffi.load('libc.so.6');
const mount = libc.func('int mount(const char *src, const char *target, const char *type, unsigned long flags, const char *data)');
const umount2 = libc.func('int umount2(const char *target, int flags)');

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const out = { mkdirMs: [], mountMs: [], umountMs: [] };
const root = join(scratch, 'root');
mkdirSync(root, { recursive: true });
for (let i = 0; i < Number(runsArg) + 1; i++) {
  const run = join(scratch, `run-${i}`);
  let t = process.hrtime.bigint();
  mkdirSync(join(run, 'upper'), { recursive: true });
  mkdirSync(join(run, 'work'));
  const mk = ms(t);
  t = process.hrtime.bigint();
  const rc = mount('overlay', root, 'overlay', 0, `lowerdir=${lowers.join(':')},upperdir=${run}/upper,workdir=${run}/work,userxattr`);
  const mt = ms(t);
  if (rc !== 0) {
    process.stderr.write(`overlay mount failed (errno ${koffi.errno()})\n`);
    process.exit(1);
  }
  t = process.hrtime.bigint();
  umount2(root, 0);
  const um = ms(t);
  rmSync(run, { recursive: true, force: true });
  if (i === 0) continue; // warm-up: first lookups fill the dentry cache
  out.mkdirMs.push(mk);
  out.mountMs.push(mt);
  out.umountMs.push(um);
}
process.stdout.write(JSON.stringify(out));
