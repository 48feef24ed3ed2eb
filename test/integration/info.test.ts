/** flux info as the unprivileged users: what it finds, and the fix it names for what is missing. */
import { afterAll, describe, expect, it } from 'vitest';
import { NOSUB_USER, USER_PATH, removeStore, runFlux, tempStore } from '../helpers/user.js';

interface Info {
  node: string;
  kernel: { release: string; arch: string };
  user: { name: string; uid: number; realRoot: boolean };
  userNamespaces: { allowed: boolean; reason: string | null };
  subuid: { start: number; count: number }[];
  subgid: { start: number; count: number }[];
  newuidmap: string | null;
  newgidmap: string | null;
  overlay: { used: string; setting: string };
  network: { slirp4netns: string | null; pasta: string | null; devNetTun: boolean };
  cgroup: { version: number | null; limits: { memory: boolean; cpus: boolean; pidsLimit: boolean } };
  pidsLimit: 'cgroup' | 'rlimit' | null;
  store: { path: string; exists: boolean; sizeBytes: number };
  runtimeDir: string | null;
  missing: { what: string; effect: string; fix: string }[];
}

const stores: string[] = [];
afterAll(async () => {
  for (const s of stores) await removeStore(s);
});

async function info(opts: { env?: Record<string, string>; user?: string } = {}): Promise<Info> {
  const store = await tempStore(opts.user);
  stores.push(store);
  const r = await runFlux(['info', '--format', 'json'], { store, ...opts });
  expect(r.code, r.stderr).toBe(0);
  const i = JSON.parse(r.stdout) as Info;
  expect(i.store.path).toBe(store);
  return i;
}

describe('flux info', () => {
  it('reports the machine as the test user sees it', async () => {
    const i = await info();
    expect(i.node).toBe(process.version);
    expect(i.kernel.release).toMatch(/^\d+\.\d+/);
    expect(i.user.realRoot).toBe(false);
    expect(i.userNamespaces).toEqual({ allowed: true, reason: null });
    expect(i.subuid.length).toBeGreaterThan(0);
    expect(i.subgid.length).toBeGreaterThan(0);
    expect(i.newuidmap).toMatch(/newuidmap$/);
    expect(['native', 'fuse', 'copy']).toContain(i.overlay.used);
    expect(i.network.slirp4netns).toMatch(/slirp4netns$/);
    expect(i.store.exists).toBe(true);
    expect(i.runtimeDir).not.toBeNull();
    expect(i.missing.map((m) => m.what)).not.toContain('slirp4netns');
    // Every limit flux cannot apply is named with its fix; rootless, --pids-limit always applies
    // (a cgroup's pids controller, else RLIMIT_NPROC), so it is never among them.
    expect(i.pidsLimit).toBe(i.cgroup.limits.pidsLimit ? 'cgroup' : 'rlimit');
    const unlimited = !i.cgroup.limits.memory || !i.cgroup.limits.cpus;
    const cgroupMissing = i.missing.find((m) => m.what === 'a delegated cgroup');
    expect(cgroupMissing !== undefined).toBe(unlimited);
    expect(cgroupMissing?.effect ?? '').not.toContain('--pids-limit');
    const text = await runFlux(['info'], { store: stores[0]! });
    expect(text.stdout).toMatch(i.pidsLimit === 'cgroup' ? /--pids-limit: yes\n/ : /--pids-limit: yes \(RLIMIT_NPROC in the user namespace\)\n/);
  });

  it('names slirp4netns and pasta, with their fixes, when PATH lacks them', async () => {
    const i = await info({ env: { PATH: '/nonexistent' } });
    expect(i.network.slirp4netns).toBeNull();
    expect(i.network.pasta).toBeNull();
    const slirp = i.missing.find((m) => m.what === 'slirp4netns');
    expect(slirp?.fix).toContain('apt-get install slirp4netns');
    expect(i.missing.find((m) => m.what === 'pasta')?.fix).toContain('passt');
    const text = await runFlux(['info'], { env: { PATH: '/nonexistent' }, store: stores[0]! });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/slirp4netns: +missing/);
    expect(text.stdout).toContain('fix: sudo apt-get install slirp4netns');
  });

  it('names the missing subordinate ids of a user without them, and the usermod that adds them', async () => {
    const i = await info({ user: NOSUB_USER, env: { PATH: USER_PATH } });
    expect(i.subuid).toEqual([]);
    const sub = i.missing.find((m) => m.what.startsWith('subordinate ids'));
    expect(sub?.fix).toContain(`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${NOSUB_USER}`);
  });

  it('refuses an unknown format in one sentence', async () => {
    const r = await runFlux(['info', '--format', 'yaml']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expect(r.stderr).toContain('--format json');
  });
});
