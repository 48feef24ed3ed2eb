/**
 * A registry's upload `Location` may name other storage. flux push sends the blob there, but not
 * the registry's credentials: they go to the registry's own origin only (as with a redirected
 * blob download). Without the rule, a registry (or whoever answers for it) could collect the
 * user's password by naming a host of its choosing.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureInfo, userFixtureDir, type FixtureSummary } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { removeStore, runFlux, tempStore } from '../helpers/user.js';

requireTool('docker-registry');

let reg: Registry;
let relay: http.Server;
let relayBase = '';
let busybox: FixtureSummary;
const relayed: http.IncomingHttpHeaders[] = [];
const stores: string[] = [];

function basic(): string {
  return `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}`;
}

/** Sends a request on to the registry itself and hands back its answer. */
function upstream(method: string, url: string, headers: http.OutgoingHttpHeaders, body?: http.IncomingMessage): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method, headers }, resolve);
    r.on('error', reject);
    if (body) body.pipe(r);
    else r.end();
  });
}

beforeAll(async () => {
  busybox = await fixtureInfo('busybox');
  // Storage on another host: records what it is sent, then stores the blob in the registry.
  relay = http.createServer(async (req, res) => {
    relayed.push(req.headers);
    const u = new URL(req.url ?? '/', 'http://relay');
    const to = new URL(u.searchParams.get('to')!);
    to.searchParams.set('digest', u.searchParams.get('digest') ?? '');
    const up = await upstream(req.method ?? 'PUT', to.toString(), { 'content-type': 'application/octet-stream', 'content-length': req.headers['content-length'], authorization: basic() }, req);
    res.writeHead(up.statusCode ?? 502, { location: up.headers.location ?? '' });
    up.pipe(res);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.2', resolve));
  relayBase = `http://127.0.0.2:${(relay.address() as { port: number }).port}`;
  reg = await startRegistry({
    auth: 'basic',
    // Every upload the registry opens is handed to flux as a Location on the relay's host.
    intercept: async (req, res) => {
      if (req.method !== 'POST' || !/\/blobs\/uploads\/$/.test((req.url ?? '').split('?')[0]!)) return false;
      const up = await upstream('POST', `http://${reg.directHost}${req.url}`, { authorization: req.headers.authorization ?? '', 'content-length': '0' });
      up.resume();
      const loc = new URL(up.headers.location ?? '', `http://${reg.directHost}`);
      res.writeHead(up.statusCode ?? 502, { location: `${relayBase}/upload?to=${encodeURIComponent(loc.toString())}`, 'content-length': '0' });
      res.end();
      return true;
    },
  });
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  relay?.close();
  for (const s of stores) await removeStore(s);
});

describe('flux push and an upload Location on another host', () => {
  it('sends the blobs there without the registry credentials, and the push completes', async () => {
    const s = await tempStore();
    const home = await tempStore();
    stores.push(s, home);
    expect((await runFlux(['pull', `oci:${await userFixtureDir('busybox')}:latest`], { store: s })).code).toBe(0);
    const login = await runFlux(['login', '-u', reg.username!, '--password-stdin', reg.host], { env: { HOME: home }, input: reg.password! });
    expect(login.code, login.stderr).toBe(0);
    const push = await runFlux(['push', `oci:${await userFixtureDir('busybox')}:latest`, `${reg.host}/moved/box:1`], { store: s, env: { HOME: home } });
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout.trim()).toBe(busybox.digest);
    expect(relayed.length).toBe(busybox.layers!.length + 1);
    for (const h of relayed) expect(h.authorization).toBeUndefined();
    // The registry itself did get the credentials (the push needed them).
    expect(reg.proxyRequests.some((r) => r.headers.authorization === basic())).toBe(true);
  });
});
