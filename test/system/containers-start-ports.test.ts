/**
 * Detached containers, as the unprivileged test user: the port forwards -P and `-p PORT` picked
 * show in ps, inspect, status() and `flux port` (default network and a user network); --timeout
 * stops the command with the image's StopSignal; a stop while the container is still starting
 * ends it once it runs, and leaves nothing behind. No timing is asserted: waits are polls.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { buildFixtures, userFixtureDir } from '../helpers/fixtures.js';
import { busyboxWith } from '../helpers/image-layer.js';
import { appDir, runAs, runFlux, removeStore, tempStore, testUser, userRuntimeDir } from '../helpers/user.js';
import { removeContainers, until, processesWith } from '../helpers/containers.js';
import { requireTool } from '../helpers/require.js';

let store: string;
let runtime: string;
let busybox: string;
let layout: string;
/** busybox that exposes 80/tcp and stops with SIGUSR1. */
let image: string;

const flux = (args: string[]) => runFlux(args, { store, env: { XDG_RUNTIME_DIR: runtime } });

beforeAll(async () => {
  requireTool('newuidmap');
  requireTool('slirp4netns');
  requireTool('nsenter');
  requireTool('ip');
  await buildFixtures(['busybox']);
  store = await tempStore();
  busybox = `oci:${await userFixtureDir('busybox')}`;
  runtime = await userRuntimeDir('flux-sp-runtime-');
  layout = await busyboxWith([], (c) => {
    c.config = { ...c.config, ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGUSR1' };
  });
  image = `oci:${layout}`;
  for (const ref of [busybox, image]) expect((await flux(['pull', '-q', ref])).code).toBe(0);
});

afterAll(async () => {
  if (runtime) {
    await removeContainers(flux);
    await flux(['network', 'rm', '-f', 'sp1']);
    await rm(runtime, { recursive: true, force: true });
  }
  if (store) await removeStore(store);
  if (layout) await rm(layout, { recursive: true, force: true });
});

/** Every place a container's ports show: ps --format json, inspect, `flux port` and the library's status(). */
async function portsShown(name: string): Promise<{ ps: string[]; inspect: string[]; port: string; one: string; status: string[] }> {
  const ps = (JSON.parse((await flux(['ps', '--format', 'json'])).stdout) as { name: string; ports: string[] }[]).find((r) => r.name === name)!.ports;
  const inspect = (JSON.parse((await flux(['inspect', name])).stdout) as { Ports: string[] }[])[0]!.Ports;
  const port = (await flux(['port', name])).stdout;
  const one = (await flux(['port', name, '80'])).stdout;
  const dir = await appDir();
  const script = `
    import { Flux } from '${join(dir, 'dist/src/index.js')}';
    const flux = new Flux({ store: ${JSON.stringify(store)}, runtimeDir: ${JSON.stringify(join(runtime, 'flux'))} });
    console.log(JSON.stringify((await flux.container(${JSON.stringify(name)})).status().ports));
  `;
  const r = await runAs(await testUser(), process.execPath, ['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  return { ps, inspect, port, one, status: JSON.parse(r.stdout) as string[] };
}

describe('the port forwards a detached container has', () => {
  it('-P on the default network: the host port picked shows in ps, inspect, status() and flux port', async () => {
    const r = await flux(['run', '-d', '--name', 'pub-default', '-P', image, '--', 'sh', '-c', 'mkdir -p /w && echo via-P > /w/index.html && exec httpd -f -p 80 -h /w']);
    expect(r.code).toBe(0);
    const said = /flux: published 0\.0\.0\.0:(\d+) -> 80\/tcp/.exec(r.stderr);
    expect(said).not.toBeNull();
    const made = `0.0.0.0:${said![1]}->80/tcp`;
    const shown = await portsShown('pub-default');
    expect(shown).toEqual({ ps: [made], inspect: [made], port: `80/tcp -> 0.0.0.0:${said![1]}\n`, one: `0.0.0.0:${said![1]}\n`, status: [made] });
    const body = await until('httpd on the port shown', () => fetch(`http://127.0.0.1:${said![1]}/index.html`).then((res) => res.text(), () => ''), (b) => b !== '');
    expect(body).toBe('via-P\n');
    const none = await flux(['port', 'pub-default', '81']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('flux: the container pub-default has no host port for 81/tcp. See its forwards with flux port pub-default.\n');
    expect((await flux(['rm', '-f', 'pub-default'])).code).toBe(0);
  });

  it('-p 80 on a user network: the host port picked shows, not the 80 given', async () => {
    expect((await flux(['network', 'create', 'sp1'])).code).toBe(0);
    const r = await flux(['run', '-d', '--name', 'pub-net', '--network', 'sp1', '-p', '80', busybox, '--', 'sleep', '1000']);
    expect(r.code).toBe(0);
    const said = /flux: published 0\.0\.0\.0:(\d+) -> 80\/tcp/.exec(r.stderr);
    expect(said).not.toBeNull();
    const made = `0.0.0.0:${said![1]}->80/tcp`;
    const shown = await portsShown('pub-net');
    expect(shown).toEqual({ ps: [made], inspect: [made], port: `80/tcp -> 0.0.0.0:${said![1]}\n`, one: `0.0.0.0:${said![1]}\n`, status: [made] });
    expect((await flux(['rm', '-f', 'pub-net'])).code).toBe(0);
    expect((await flux(['network', 'rm', 'sp1'])).code).toBe(0);
  });
});

describe('stopping a detached container', () => {
  it('--timeout sends the image\'s StopSignal, as a foreground run does', async () => {
    const script = 'trap "echo got usr1; exit 3" USR1; trap "echo got term; exit 4" TERM; echo ready; while :; do sleep 0.1; done';
    const fg = await flux(['run', '--network', 'none', '--timeout', '1', image, '--', 'sh', '-c', script]);
    expect(fg.stdout).toBe('ready\ngot usr1\n');
    const r = await flux(['run', '-d', '--network', 'none', '--name', 'timed', '--timeout', '1', image, '--', 'sh', '-c', script]);
    expect(r.code).toBe(0);
    expect((await flux(['wait', 'timed'])).stdout).toBe('124\n');
    expect((await flux(['logs', 'timed'])).stdout).toBe('ready\ngot usr1\n');
    expect((await flux(['rm', 'timed'])).code).toBe(0);
    // --stop-signal still wins over the image's.
    const given = await flux(['run', '-d', '--network', 'none', '--name', 'timed-term', '--timeout', '1', '--stop-signal', 'TERM', image, '--', 'sh', '-c', script]);
    expect(given.code).toBe(0);
    expect((await flux(['wait', 'timed-term'])).stdout).toBe('124\n');
    expect((await flux(['logs', 'timed-term'])).stdout).toBe('ready\ngot term\n');
    expect((await flux(['rm', 'timed-term'])).code).toBe(0);
  });

  /**
   * Starts `flux run -d --name NAME` and, as soon as its state says created (the starting flux's
   * pid is the one recorded then), acts on it through the library, loaded beforehand. The state
   * says created for a few ms only: on a busy machine this process may first read it once the
   * container already runs. Such an attempt is not the case under test, so it is removed and
   * the start made again under a new name (NAME-2, …), up to 20 times; the result names the
   * attempt that acted while the container was starting (or the last one, which then fails).
   */
  async function actWhileStarting(base: string, token: string, act: 'stop' | 'remove'): Promise<{ name: string; seen: string; code: number | null; run: number | null; signal: string | null; out: string; state: string }> {
    const dir = await appDir();
    const containers = join(runtime, 'flux', 'containers');
    const script = `
      import { Flux } from '${join(dir, 'dist/src/index.js')}';
      import { spawn } from 'node:child_process';
      import { readdirSync, readFileSync } from 'node:fs';
      const flux = new Flux({ store: ${JSON.stringify(store)}, runtimeDir: ${JSON.stringify(join(runtime, 'flux'))} });
      for (let attempt = 1; ; attempt++) {
        const name = attempt === 1 ? '${base}' : '${base}-' + attempt;
        const child = spawn(process.execPath, [${JSON.stringify(join(dir, 'bin/flux.js'))}, 'run', '-d', '--network', 'none', '--name', name, ${JSON.stringify(busybox)}, '--', 'sh', '-c', 'trap "exit 9" TERM; sleep ${token} & wait'],
          { env: { ...process.env, FLUX_STORE: ${JSON.stringify(store)}, XDG_RUNTIME_DIR: ${JSON.stringify(runtime)} }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.on('data', (c) => (out += c));
        const ended = new Promise((r) => child.on('close', (code, signal) => r({ code, signal })));
        const status = () => {
          let ids = [];
          try {
            ids = readdirSync(${JSON.stringify(containers)}).filter((n) => /^[0-9a-f]{64}$/.test(n));
          } catch {}
          for (const id of ids) {
            try {
              const s = JSON.parse(readFileSync(${JSON.stringify(containers)} + '/' + id + '/state.json', 'utf8'));
              if (s.name === name) return s.status;
            } catch {}
          }
          return undefined;
        };
        let seen;
        while ((seen = status()) === undefined && child.exitCode === null) await new Promise((r) => setImmediate(r));
        if (seen === 'running' && attempt < 20) {
          await (await flux.container(name)).remove({ force: true });
          await ended;
          continue;
        }
        const c = await flux.container(name);
        const code = '${act}' === 'stop' ? await c.stop({ timeout: 10 }) : (await c.remove({ force: true }), null);
        const run = await ended;
        const left = (await flux.containers({ all: true })).find((x) => x.name === name);
        console.log(JSON.stringify({ name, seen, code, run: run.code, signal: run.signal, out: out.trim(), state: left ? left.status().state : 'removed' }));
        break;
      }
    `;
    const r = await runAs(await testUser(), process.execPath, ['--input-type=module', '-e', script], { env: { XDG_RUNTIME_DIR: runtime } });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as { name: string; seen: string; code: number | null; run: number | null; signal: string | null; out: string; state: string };
  }

  it('a stop while the container is still starting ends it once it runs: the start succeeds, nothing is left', async () => {
    const token = String(randomInt(100000, 999999));
    const got = await actWhileStarting('early', token, 'stop');
    // The stop came while the state still named the starting flux.
    expect(got.seen).toBe('created');
    expect(got).toMatchObject({ code: 9, run: 0, signal: null, state: 'exited' });
    expect(got.out).toMatch(/^[0-9a-f]{64}$/);
    expect(processesWith(token)).toEqual([]);
    const events = (JSON.parse((await flux(['events', '--format', 'json'])).stdout) as { name: string; event: string }[]).filter((e) => e.name === got.name).map((e) => e.event);
    expect(events).toEqual(['created', 'started', 'signalled', 'exited']);
    expect((await flux(['rm', got.name])).code).toBe(0);
  });

  it('rm -f while the container is still starting: the start succeeds, then the container is killed and removed', async () => {
    const token = String(randomInt(100000, 999999));
    const got = await actWhileStarting('early-rm', token, 'remove');
    expect(got.seen).toBe('created');
    expect(got).toMatchObject({ run: 0, signal: null, state: 'removed' });
    expect(got.out).toMatch(/^[0-9a-f]{64}$/);
    expect(processesWith(token)).toEqual([]);
    // Its state is gone (another test's container, if one failed before its own rm, is not this one's).
    expect(readdirSync(join(runtime, 'flux', 'containers')).filter((n) => n === got.out)).toEqual([]);
  });
});
