import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSubIds, mapArgs, mappedCount, idMapsFor, mapFailure, usernsRefused } from '../../src/userns/idmap.js';

const user = { name: 'alice', uid: 1000, gid: 1000 };

describe('subordinate id ranges', () => {
  it('matches lines by name or uid, skips comments and junk', () => {
    const text = '# c\nbob:200000:65536\nalice:100000:65536\n1000:300000:10\nalice:bad:1\nalice:5:0\n';
    expect(parseSubIds(text, user)).toEqual([{ start: 100000, count: 65536 }, { start: 300000, count: 10 }]);
  });

  it('builds newuidmap arguments: 0 → the user, then the ranges from 1', () => {
    expect(mapArgs(1000, [{ start: 100000, count: 65536 }, { start: 300000, count: 10 }])).toEqual(
      ['0', '1000', '1', '1', '100000', '65536', '65537', '300000', '10']);
    expect(mappedCount([{ start: 100000, count: 65536 }])).toBe(65537);
  });

  it('falls back to a single-id map without ranges', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idmap-'));
    writeFileSync(join(dir, 'subuid'), 'bob:1:2\n');
    writeFileSync(join(dir, 'subgid'), 'alice:100000:65536\n');
    const m = idMapsFor(user, { subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') });
    expect(m.single).toBe(true);
    expect(m.uidRanges).toEqual([]);
  });

  it('names the fix for newuidmap failures and refused namespaces', () => {
    const e = mapFailure('newuidmap', 'newuidmap: write to uid_map failed: Operation not permitted\n', user);
    expect(e.message).toContain('could not write the id map');
    expect(e.hint).toContain('chmod u+s /usr/bin/newuidmap');
    const r = mapFailure('newuidmap', 'newuidmap: uid range [0-65537) -> [100000-165537) not allowed\n', user);
    expect(r.hint).toContain('usermod --add-subuids');
    const u = usernsRefused(1);
    expect(u.hint).toContain('kernel.apparmor_restrict_unprivileged_userns=0');
    expect(u.hint).toContain('kernel.unprivileged_userns_clone=1');
    expect(usernsRefused(28).message).toContain('user.max_user_namespaces');
  });
});
