/** `flux login` / `flux logout` through the binary, as the unprivileged test user. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat, writeFile, mkdir, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { requireTool } from '../helpers/require.js';
import { isRoot, removeStore, runFlux, tempStore, testUser } from '../helpers/user.js';
import { lookupCredentials } from '../../src/registry/credentials.js';

requireTool('docker-registry');
requireTool('htpasswd');

let basic: Registry;
let token: Registry;
const homes: string[] = [];

/** A fresh home directory owned by the test user. */
async function freshHome(): Promise<string> {
  const h = await tempStore();
  homes.push(h);
  return h;
}

beforeAll(async () => {
  [basic, token] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token' })]);
}, 60_000);
afterAll(async () => {
  await Promise.all([basic?.stop(), token?.stop()]);
  for (const h of homes) await removeStore(h);
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('flux login', () => {
  it('checks basic credentials and writes ~/.docker/config.json with mode 0600', async () => {
    const home = await freshHome();
    const r = await runFlux(['login', '-u', basic.username!, '--password-stdin', basic.host], { env: { HOME: home }, input: `${basic.password}\n` });
    expect(r.stderr).toContain('Login succeeded');
    expect(r.code).toBe(0);
    const file = join(home, '.docker', 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const json = JSON.parse(await readFile(file, 'utf8'));
    expect(json).toEqual({ auths: { [basic.host]: { auth: b64(`${basic.username}:${basic.password}`) } } });
    expect(await lookupCredentials(basic.host, undefined, { HOME: home })).toEqual({ username: basic.username, password: basic.password });
  });

  it('refuses a wrong password with one sentence and saves nothing', async () => {
    const home = await freshHome();
    const r = await runFlux(['login', '-u', basic.username!, '--password-stdin', basic.host], { env: { HOME: home }, input: 'wrong\n' });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(`flux: the registry ${basic.host} refused the user name or password. Check them and run \`flux login ${basic.host}\` again.`);
    await expect(stat(join(home, '.docker', 'config.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('buys a token with the credentials on a token registry, and refuses bad ones', async () => {
    const home = await freshHome();
    const before = token.tokenRequests.length;
    const r = await runFlux(['login', '-u', token.username!, '-p', token.password!, token.host], { env: { HOME: home } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('prefer --password-stdin');
    const seen = token.tokenRequests.slice(before);
    expect(seen.some((t) => t.user === token.username && t.status === 200)).toBe(true);
    const bad = await runFlux(['login', '-u', token.username!, '-p', 'nope', token.host], { env: { HOME: await freshHome() } });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('refused the user name or password');
  });

  it('writes podman\'s auth.json under $XDG_RUNTIME_DIR when it is set', async () => {
    const home = await freshHome();
    const runtime = join(home, 'run');
    await mkdir(runtime, { mode: 0o700 });
    if (isRoot) {
      const u = await testUser();
      await chown(runtime, u.uid, u.gid);
    }
    const r = await runFlux(['login', '-u', basic.username!, '--password-stdin', basic.host], { env: { HOME: home, XDG_RUNTIME_DIR: runtime }, input: basic.password! });
    expect(r.code).toBe(0);
    const file = join(runtime, 'containers', 'auth.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8')).auths[basic.host].auth).toBe(b64(`${basic.username}:${basic.password}`));
  });

  it('keeps the rest of an existing docker config', async () => {
    const home = await freshHome();
    await mkdir(join(home, '.docker'));
    const existing = { auths: { 'other.example': { auth: b64('a:b') } }, credHelpers: { 'gcr.io': 'gcloud' }, psFormat: 'table' };
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify(existing));
    if (isRoot) {
      const u = await testUser();
      await chown(join(home, '.docker'), u.uid, u.gid);
      await chown(join(home, '.docker', 'config.json'), u.uid, u.gid);
    }
    const r = await runFlux(['login', '-u', basic.username!, '--password-stdin', basic.host], { env: { HOME: home }, input: basic.password! });
    expect(r.code).toBe(0);
    const json = JSON.parse(await readFile(join(home, '.docker', 'config.json'), 'utf8'));
    expect(json.auths['other.example']).toEqual(existing.auths['other.example']);
    expect(json.credHelpers).toEqual(existing.credHelpers);
    expect(json.psFormat).toBe('table');
    expect(json.auths[basic.host].auth).toBe(b64(`${basic.username}:${basic.password}`));
  });

  it('refuses conflicting or missing flags without a terminal', async () => {
    const home = await freshHome();
    const both = await runFlux(['login', '-u', 'x', '-p', 'y', '--password-stdin', basic.host], { env: { HOME: home } });
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('--password and --password-stdin exclude each other.');
    const noUser = await runFlux(['login', '--password-stdin', basic.host], { env: { HOME: home }, input: 'x' });
    expect(noUser.code).not.toBe(0);
    expect(noUser.stderr.trim()).toBe('flux: no user name given. Pass it with -u USER.');
    const noPass = await runFlux(['login', '-u', 'x', basic.host], { env: { HOME: home } });
    expect(noPass.stderr.trim()).toBe('flux: no password given and standard input is not a terminal. Pass it with --password-stdin.');
  });

  it('names an unreachable registry and saves nothing', async () => {
    const home = await freshHome();
    const r = await runFlux(['login', '-u', 'x', '--password-stdin', '127.0.0.1:1'], { env: { HOME: home }, input: 'y' });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe('flux: cannot connect to the registry 127.0.0.1:1: connection refused. Check the registry host name and port, and your network connection; nothing was saved.');
  });
});

describe('flux logout', () => {
  it('removes the entry and keeps the file private; a second logout says so', async () => {
    const home = await freshHome();
    expect((await runFlux(['login', '-u', basic.username!, '--password-stdin', basic.host], { env: { HOME: home }, input: basic.password! })).code).toBe(0);
    const out = await runFlux(['logout', basic.host], { env: { HOME: home } });
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`Removed the credentials for ${basic.host}`);
    const file = join(home, '.docker', 'config.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ auths: {} });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const again = await runFlux(['logout', basic.host], { env: { HOME: home } });
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim()).toBe(`flux: you are not logged in to ${basic.host}. Check the registry name (\`flux logout\` forgets only logins flux stored).`);
  });

  it('finds docker.io under docker\'s own key', async () => {
    const home = await freshHome();
    await mkdir(join(home, '.docker'));
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('me:secret') } } }));
    if (isRoot) {
      const u = await testUser();
      await chown(join(home, '.docker'), u.uid, u.gid);
      await chown(join(home, '.docker', 'config.json'), u.uid, u.gid);
    }
    expect(await lookupCredentials('docker.io', 'library/alpine', { HOME: home })).toEqual({ username: 'me', password: 'secret' });
    const out = await runFlux(['logout', 'docker.io'], { env: { HOME: home } });
    expect(out.code).toBe(0);
    expect(JSON.parse(await readFile(join(home, '.docker', 'config.json'), 'utf8')).auths).toEqual({});
  });
});
