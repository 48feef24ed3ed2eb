import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ContainerState } from '../../src/container/container-state.js';

// The race of a container that ends while `flux ps` or `flux inspect` looks at it: the state is
// read while the command still runs, then the monitor writes the exit record and exits before the
// reader checks whether the monitor is alive. Only the ordering is staged: the first read of each
// container hands back what a read just before the end saw; every later read is the real one.
const staleOnce = new Map<string, ContainerState>();
vi.mock('../../src/container/container-state.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/container/container-state.js')>();
  return {
    ...real,
    readState: (root: string, id: string) => {
      const stale = staleOnce.get(id);
      staleOnce.delete(id);
      return stale ?? real.readState(root, id);
    },
  };
});

const { Container } = await import('../../src/library/container.js');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A container whose monitor (a pid that does not exist) wrote exit code 3 and is gone. */
function endedContainer(id: string): { root: string; running: ContainerState } {
  const root = mkdtempSync(join(tmpdir(), 'flux-ending-'));
  dirs.push(root);
  const running = {
    id,
    name: 'ending',
    image: 'busybox:latest',
    command: ['sh', '-c', 'exit 3'],
    status: 'running',
    created: '2026-12-03T00:00:00.000Z',
    startedAt: '2026-12-03T00:00:00.000Z',
    monitorPid: 2_147_483,
    monitorStart: '1',
    ports: [],
    autoRemove: false,
  } as unknown as ContainerState;
  mkdirSync(join(root, id));
  writeFileSync(join(root, id, 'state.json'), JSON.stringify(running));
  writeFileSync(join(root, id, 'exit'), JSON.stringify({ exitCode: 3, finishedAt: '2026-12-03T00:00:01.000Z' }));
  return { root, running };
}

describe('a container that ends while it is being looked at', () => {
  for (const [what, look] of [
    ['status()', (c: InstanceType<typeof Container>) => Promise.resolve(c.status()).then((s) => ({ state: s.state, code: s.exitCode }))],
    ['info() (a row of flux ps)', (c: InstanceType<typeof Container>) => Promise.resolve(c.info()).then((s) => ({ state: s.state, code: s.exitCode }))],
    ['inspect()', (c: InstanceType<typeof Container>) => c.inspect().then((s) => {
      const st = s.State as { Status: string; ExitCode: number | null };
      return { state: st.Status, code: st.ExitCode };
    })],
  ] as const) {
    it(`shows its exit code in ${what}, not "exited, code unknown"`, async () => {
      const id = 'c'.repeat(64);
      const { root, running } = endedContainer(id);
      staleOnce.set(id, running);
      expect(await look(new Container(id, 'ending', root))).toEqual({ state: 'exited', code: 3 });
      // The staged read was the one used.
      expect(staleOnce.has(id)).toBe(false);
    });
  }
});
