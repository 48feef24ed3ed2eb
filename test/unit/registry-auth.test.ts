import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseChallenges } from '../../src/registry/challenge.js';
import { authFileForWriting, authFilesForReading, lookupCredentials } from '../../src/registry/credentials.js';
import { FluxError } from '../../src/errors.js';

describe('WWW-Authenticate', () => {
  it('parses a Bearer challenge', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
    ]);
  });
  it('parses Basic, unquoted values, escapes and several challenges', () => {
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges('Bearer realm=http://x/token, error="invalid_token"')).toEqual([{ scheme: 'bearer', params: { realm: 'http://x/token', error: 'invalid_token' } }]);
    expect(parseChallenges('Bearer realm="a\\"b"')[0]!.params.realm).toBe('a"b');
    expect(parseChallenges(['Basic realm="r"', 'Bearer realm="t"']).map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(parseChallenges('Bearer realm="r",scope="repository:a:pull repository:b:pull"')[0]!.params.scope).toBe('repository:a:pull repository:b:pull');
    expect(parseChallenges(undefined)).toEqual([]);
  });
});

describe('credential files', () => {
  let dir: string;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flux-creds-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reads in podman\'s order and writes where podman or docker users expect', () => {
    expect(authFilesForReading({ HOME: '/h', REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/u' })).toEqual(['/a.json']);
    expect(authFilesForReading({ HOME: '/h', XDG_RUNTIME_DIR: '/run/u' })).toEqual(['/run/u/containers/auth.json', '/h/.config/containers/auth.json', '/h/.docker/config.json']);
    expect(authFilesForReading({ HOME: '/h' })).toEqual(['/h/.config/containers/auth.json', '/h/.docker/config.json']);
    expect(authFileForWriting({ HOME: '/h', XDG_RUNTIME_DIR: '/run/u' })).toBe('/run/u/containers/auth.json');
    expect(authFileForWriting({ HOME: '/h' })).toBe('/h/.docker/config.json');
    expect(authFileForWriting({ HOME: '/h', REGISTRY_AUTH_FILE: '/a.json' })).toBe('/a.json');
  });

  it('finds entries by host, docker.io aliases and repository scope; earlier files win', async () => {
    const home = join(dir, 'h1');
    const run = join(dir, 'r1');
    await mkdir(join(home, '.docker'), { recursive: true });
    await mkdir(join(run, 'containers'), { recursive: true });
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hub:pw') },
        'quay.io': { auth: b64('quay:pw') },
        'quay.io/team/app': { auth: b64('robot:pw') },
        'http://legacy.example:5000': { auth: b64('legacy:pw') },
      },
    }));
    await writeFile(join(run, 'containers', 'auth.json'), JSON.stringify({ auths: { 'quay.io': { auth: b64('first:pw') } } }));
    const env = { HOME: home };
    expect(await lookupCredentials('docker.io', 'library/alpine', env)).toEqual({ username: 'hub', password: 'pw' });
    expect(await lookupCredentials('index.docker.io', undefined, env)).toEqual({ username: 'hub', password: 'pw' });
    expect(await lookupCredentials('quay.io', 'team/app', env)).toEqual({ username: 'robot', password: 'pw' });
    expect(await lookupCredentials('quay.io', 'team/other', env)).toEqual({ username: 'quay', password: 'pw' });
    expect(await lookupCredentials('legacy.example:5000', undefined, env)).toEqual({ username: 'legacy', password: 'pw' });
    expect(await lookupCredentials('nowhere.example', undefined, env)).toBeUndefined();
    expect(await lookupCredentials('quay.io', 'x/y', { ...env, XDG_RUNTIME_DIR: run })).toEqual({ username: 'first', password: 'pw' });
  });

  it('asks credHelpers and credsStore, passing docker.io as docker does', async () => {
    const home = join(dir, 'h2');
    const bin = join(dir, 'bin');
    await mkdir(join(home, '.docker'), { recursive: true });
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'docker-credential-fake'), '#!/bin/sh\nread host\ncase "$host" in\n  https://index.docker.io/v1/) echo \'{"Username":"hubuser","Secret":"hubpw"}\';;\n  store.example) echo \'{"Username":"su","Secret":"sp"}\';;\n  broken.example) echo "boom" >&2; exit 3;;\n  *) echo "credentials not found in native keychain"; exit 1;;\nesac\n');
    await chmod(join(bin, 'docker-credential-fake'), 0o755);
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ credHelpers: { 'docker.io': 'fake', 'broken.example': 'fake', 'missing.example': 'absent' }, credsStore: 'fake' }));
    const env = { HOME: home, PATH: `${bin}:/usr/bin:/bin` };
    expect(await lookupCredentials('docker.io', 'library/alpine', env)).toEqual({ username: 'hubuser', password: 'hubpw' });
    expect(await lookupCredentials('store.example', undefined, env)).toEqual({ username: 'su', password: 'sp' });
    expect(await lookupCredentials('unknown.example', undefined, env)).toBeUndefined();
    await expect(lookupCredentials('broken.example', undefined, env)).rejects.toThrow(/docker-credential-fake failed for broken.example: boom/);
    await expect(lookupCredentials('missing.example', undefined, env)).rejects.toThrow(/docker-credential-absent .* is not installed/);
  });

  it('names a malformed file', async () => {
    const f = join(dir, 'bad.json');
    await writeFile(f, '{"auths":');
    const err = await lookupCredentials('x.example', undefined, { REGISTRY_AUTH_FILE: f }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FluxError);
    expect((err as FluxError).message).toBe(`the credentials file ${f} is not valid JSON.`);
  });
});
