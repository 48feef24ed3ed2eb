import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { current, currentIn } from '../../src/container/container-ops.js';
import type { ContainerState } from '../../src/container/container-state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the state of a container whose monitor just ended', () => {
  it('is read again once the monitor is seen gone, so an exit record written meanwhile gives the code', () => {
    const root = mkdtempSync(join(tmpdir(), 'flux-current-'));
    dirs.push(root);
    const id = 'a'.repeat(64);
    // Read while the command still ran: running, with a monitor that has since exited (no such pid).
    const stale = { id, name: 'timed', status: 'running', created: '2026-12-03T00:00:00.000Z', startedAt: '2026-12-03T00:00:00.000Z', monitorPid: 2_147_483, monitorStart: '1' } as unknown as ContainerState;
    mkdirSync(join(root, id));
    writeFileSync(join(root, id, 'state.json'), JSON.stringify(stale));
    // The monitor wrote the exit record, then exited.
    writeFileSync(join(root, id, 'exit'), JSON.stringify({ exitCode: 124, finishedAt: '2026-12-03T00:00:01.000Z' }));
    expect(current(stale).exitCode).toBeNull();
    expect(currentIn(root, stale)).toMatchObject({ status: 'exited', exitCode: 124 });
  });

  it('says the code is unknown when the monitor died without writing one', () => {
    const root = mkdtempSync(join(tmpdir(), 'flux-current-'));
    dirs.push(root);
    const id = 'b'.repeat(64);
    const stale = { id, name: 'lost', status: 'running', created: '2026-12-03T00:00:00.000Z', monitorPid: 2_147_483, monitorStart: '1' } as unknown as ContainerState;
    mkdirSync(join(root, id));
    writeFileSync(join(root, id, 'state.json'), JSON.stringify(stale));
    expect(currentIn(root, stale)).toMatchObject({ status: 'exited', exitCode: null });
  });
});
