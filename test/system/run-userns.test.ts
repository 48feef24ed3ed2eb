/**
 * runInUserNamespace: what the unpacker and `flux prune` use to act as root over the user's
 * subordinate ids (chown to sub-uids, delete sub-uid-owned trees).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { appDir, runAs, testUser, isRoot } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';

let dir: string;

beforeAll(async () => {
  requireTool('newuidmap');
  dir = await appDir();
});

const script = (body: string) => `import { runInUserNamespace } from '${join(dir, 'dist/src/userns/userns.js')}';\n${body}`;

describe('runInUserNamespace', () => {
  it('runs argv as uid 0 with the subordinate range mapped, and chown to a sub-uid works', async () => {
    const u = await testUser();
    const r = await runAs(u, process.execPath, ['--input-type=module', '-e', script(`
      const r = await runInUserNamespace(['sh', '-c', 'id -u; cat /proc/self/uid_map | wc -l; d=$(mktemp -d); touch $d/f; chown 1000:1000 $d/f; stat -c %u $d/f; rm -rf $d']);
      console.log('code', r.code);
    `)]);
    expect(r.stderr).toBe('');
    const out = r.stdout.trim().split('\n').map((l) => l.trim());
    expect(out).toEqual(['0', '2', '1000', 'code 0']);
  });

  it('rejects with a FluxError for a missing command and passes exit codes on', async () => {
    const u = await testUser();
    const r = await runAs(u, process.execPath, ['--input-type=module', '-e', script(`
      console.log((await runInUserNamespace(['sh', '-c', 'exit 4'])).code);
      try { await runInUserNamespace(['no-such-binary']); } catch (e) { console.log(e.name, e.exitCode, e.message); }
    `)]);
    expect(r.stdout.trim().split('\n')).toEqual(['4', 'FluxError 127 no-such-binary: No such file or directory.']);
  });

  it.skipIf(!isRoot)('uses a single-id map with one warning for a user without ranges', async () => {
    const u = await testUser('fluxnosub');
    const r = await runAs(u, process.execPath, ['--input-type=module', '-e', script(`
      await runInUserNamespace(['sh', '-c', 'id -u; cat /proc/self/uid_map']);
      await runInUserNamespace(['true']);
    `)]);
    expect(r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual(['0', `0 ${u.uid} 1`]);
    expect(r.stderr.match(/warning: no subordinate ids/g)).toHaveLength(1);
  });
});
