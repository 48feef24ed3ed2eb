/**
 * `--pids-limit N` where no cgroup can be had (this machine gives the test user no delegated
 * cgroup v2 subtree): RLIMIT_NPROC in the container's own user namespace holds the container to
 * N processes, its init included, whichever user the command runs as; the host user's own
 * processes are not counted against it; `--memory` and `--cpus` keep their refusal.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { runAs, runFlux, removeStore, tempStore, testUser, userRuntimeDir } from '../helpers/user.js';
import { removeContainers } from '../helpers/containers.js';
import { requireTool } from '../helpers/require.js';

let store: string;
let runtime: string;
let busybox: string;

const flux = (args: string[]) => runFlux(args, { store, env: { XDG_RUNTIME_DIR: runtime } });

/** Starts background sleeps one at a time and says each attempt: the shell ends at the first fork refused. */
const FORKS = 'i=0; while [ $i -lt 10 ]; do i=$((i+1)); echo $i; sleep 60 & done';

beforeAll(async () => {
  requireTool('newuidmap');
  await buildFixtures(['busybox']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  runtime = await userRuntimeDir('flux-pids-runtime-');
  expect((await flux(['pull', '-q', busybox])).code).toBe(0);
  // The case under test: no cgroup flux may manage (else --pids-limit is the cgroup's pids.max).
  const memory = await flux(['run', '--network', 'none', '--memory', '64m', busybox, '--', 'true']);
  expect(memory.stderr).toMatch(/^flux: --memory needs a cgroup flux may manage/);
});

afterAll(async () => {
  if (runtime) {
    await removeContainers(flux);
    await rm(runtime, { recursive: true, force: true });
  }
  if (store) await removeStore(store);
});

describe('--pids-limit without a cgroup', () => {
  it('holds the container to N processes, init included, as root and as another user, and says how with --verbose', async () => {
    // init, sh and two sleeps make 4: the third sleep is the fifth process, refused.
    const asRoot = await flux(['run', '--network', 'none', '--verbose', '--pids-limit', '4', busybox, '--', 'sh', '-c', FORKS]);
    expect(asRoot.stdout).toBe('1\n2\n3\n');
    expect(asRoot.stderr).toContain('flux: --pids-limit 4: no cgroup flux may manage here, so RLIMIT_NPROC in the container\'s user namespace holds it to 4 processes.\n');
    expect(asRoot.stderr).toContain('can\'t fork');
    const asUser = await flux(['run', '--network', 'none', '-u', '1000', '--pids-limit', '4', busybox, '--', 'sh', '-c', FORKS]);
    expect(asUser.stdout).toBe('1\n2\n3\n');
    expect(asUser.stderr).toContain('can\'t fork');
    const more = await flux(['run', '--network', 'none', '--pids-limit', '6', busybox, '--', 'sh', '-c', FORKS]);
    expect(more.stdout).toBe('1\n2\n3\n4\n5\n');
    // No limit asked: all ten start.
    const none = await flux(['run', '--network', 'none', '--pids-limit', '-1', busybox, '--', 'sh', '-c', `${FORKS}; echo all`]);
    expect(none.stdout).toBe('1\n2\n3\n4\n5\n6\n7\n8\n9\n10\nall\n');
  });

  it('leaves the host user\'s own processes alone while a container sits at its limit', async () => {
    const r = await flux(['run', '-d', '--network', 'none', '--pids-limit', '3', busybox, '--', 'sh', '-c', 'sleep 1000 & wait']);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const ps = await flux(['ps', '--format', 'json']);
    expect((JSON.parse(ps.stdout) as { id: string; state: string }[]).find((c) => c.id === id)?.state).toBe('running');
    // The same user on the host starts more processes than the container may have.
    const host = await runAs(await testUser(), 'sh', ['-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait; echo started']);
    expect(host.stdout).toBe('started\n');
    expect(host.code).toBe(0);
    expect((await flux(['rm', '-f', id])).code).toBe(0);
  });

  it('counts the processes flux exec starts against the container\'s limit', async () => {
    // init, sh and sleep: the container is at its limit of 3.
    const r = await flux(['run', '-d', '--network', 'none', '--pids-limit', '3', busybox, '--', 'sh', '-c', 'sleep 1000 & wait']);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const forks = await flux(['exec', id, 'sh', '-c', 'sleep 1 & wait && echo forked']);
    expect(forks.stdout).toBe('');
    expect(forks.stderr).toContain('can\'t fork');
    expect((await flux(['rm', '-f', id])).code).toBe(0);
  });

  it('keeps the refusal of --memory and --cpus, with or without --pids-limit', async () => {
    const both = await flux(['run', '--network', 'none', '--memory', '64m', '--pids-limit', '5', busybox, '--', 'true']);
    expect(both.code).toBe(125);
    expect(both.stderr).toMatch(/^flux: --memory, --pids-limit needs a cgroup flux may manage/);
    const cpus = await flux(['run', '--network', 'none', '--cpus', '1', busybox, '--', 'true']);
    expect(cpus.code).toBe(125);
    expect(cpus.stderr).toMatch(/^flux: --cpus needs a cgroup flux may manage/);
    const one = await flux(['run', '--network', 'none', '--pids-limit', '1', busybox, '--', 'true']);
    expect(one.code).toBe(125);
    expect(one.stderr).toBe('flux: --pids-limit 1 leaves no room for the command: without a cgroup the container\'s init counts as one of its processes. Give --pids-limit 2 or more.\n');
  });
});
