import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/require.js';
import { appDir, fluxBin, isRoot, NOSUB_USER, removeStore, runAs, runFlux, tempStore, testUser } from '../helpers/user.js';

describe('test user', () => {
  it('fluxtest exists with subordinate id ranges; fluxnosub has none', async () => {
    const u = await testUser();
    expect(u.uid).toBeGreaterThan(0);
    if (!isRoot) return;
    expect(u.name).toBe('fluxtest');
    const subuid = (await runAs('root', 'cat', ['/etc/subuid'])).stdout;
    expect(subuid).toMatch(new RegExp(`^(fluxtest|${u.uid}):\\d+:65536$`, 'm'));
    const nosub = await testUser(NOSUB_USER);
    expect(subuid).not.toMatch(new RegExp(`^(fluxnosub|${nosub.uid}):`, 'm'));
    for (const dev of ['/dev/fuse', '/dev/net/tun']) {
      if (existsSync(dev)) expect(statSync(dev).mode & 0o666).toBe(0o666);
    }
  });

  it('runAs runs a command as the user with a clean environment', async () => {
    const u = await testUser();
    const r = await runAs(u, 'sh', ['-c', 'id -u; echo "$HOME|$USER|$PATH|${VITEST:-unset}|$EXTRA"; cat'], { env: { EXTRA: 'x' }, input: 'from stdin' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${u.uid}\n${u.home}|${u.name}|/usr/local/bin:/usr/bin:/bin|unset|x\nfrom stdin`);
  });

  it('runAs reports exit codes, signals and timeouts', async () => {
    expect((await runAs(await testUser(), 'sh', ['-c', 'exit 7'])).code).toBe(7);
    expect((await runAs(await testUser(), 'sh', ['-c', 'kill -TERM $$'])).code).toBe(128 + 15);
    const slow = await runAs(await testUser(), 'sleep', ['30'], { timeoutMs: 300 });
    expect(slow.timedOut).toBe(true);
    expect(slow.code).toBe(124);
  });

  it('tty: the command gets a terminal, quoting survives, and the exit status is kept', async () => {
    requireTool('script');
    const r = await runAs(await testUser(), 'sh', ['-c', "test -t 0 && test -t 1 && echo \"tty it's $1\"; exit 3", 'sh', 'a b'], { tty: true });
    expect(r.stdout).toContain("tty it's a b");
    expect(r.code).toBe(3);
    const plain = await runAs(await testUser(), 'sh', ['-c', 'test -t 1 || echo no-tty']);
    expect(plain.stdout).toBe('no-tty\n');
  });

  it('tempStore is owned by the user, writable by it, and removable even with foreign-owned files', async () => {
    const u = await testUser();
    const store = await tempStore();
    expect(statSync(store).uid).toBe(u.uid);
    const r = await runAs(u, 'sh', ['-c', `mkdir -p ${store}/blobs && echo ok > ${store}/blobs/f && chmod 000 ${store}/blobs`]);
    expect(r.code).toBe(0);
    if (isRoot) await writeFile(join(store, 'root-owned'), '');
    await removeStore(store);
    expect(existsSync(store)).toBe(false);
  });

  it('the app dir is readable by the user and runFlux runs bin/flux.js as that user', async () => {
    const dir = await appDir();
    const u = await testUser();
    expect((await runAs(u, 'test', ['-r', join(dir, 'package.json')])).code).toBe(0);
    expect(await fluxBin()).toBe(join(dir, 'bin/flux.js'));
    if (!requireTool('built flux', () => existsSync(join(dir, 'dist/src/cli/main.js')), 'run npm run build')) return;
    const r = await runFlux(['--help']);
    expect(r.stdout + r.stderr).toMatch(/flux/);
  });
});
