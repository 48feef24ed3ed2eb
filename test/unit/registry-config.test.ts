import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoopbackHost, loadRegistriesConfig, registriesConfigPath, registryEndpoints } from '../../src/registry/config.js';
import { errorFromNetwork, errorFromResponse } from '../../src/registry/errors.js';
import { parseRetryAfter, withRetry } from '../../src/registry/http.js';
import { parseReference } from '../../src/image/reference.js';
import { RegistryError } from '../../src/registry/errors.js';

describe('plain HTTP only where it cannot be intercepted', () => {
  it.each([
    ['127.0.0.1:5000', true], ['127.1.2.3', true], ['localhost:5000', true], ['[::1]:5000', true], ['::1', true],
    ['10.0.0.1:5000', false], ['registry.example', false], ['128.0.0.1', false], ['localhost.example.com', false], ['docker.io', false],
  ])('%s loopback=%s', (h, want) => {
    expect(isLoopbackHost(h)).toBe(want);
  });
});

describe('registries.json', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flux-regcfg-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('lives under XDG_CONFIG_HOME', () => {
    expect(registriesConfigPath({ XDG_CONFIG_HOME: '/c', HOME: '/h' })).toBe('/c/flux/registries.json');
    expect(registriesConfigPath({ HOME: '/h' })).toBe('/h/.config/flux/registries.json');
  });

  it('puts mirrors before the origin and marks insecure hosts', async () => {
    const f = join(dir, 'ok.json');
    await writeFile(f, JSON.stringify({ mirrors: { 'docker.io': ['127.0.0.1:5000', 'https://mirror.example'] }, insecure: ['myhost:5000'] }));
    const config = loadRegistriesConfig(f);
    expect(registryEndpoints(parseReference('alpine'), { config })).toEqual([
      { host: '127.0.0.1:5000', authHost: '127.0.0.1:5000', insecure: true, mirror: true },
      { host: 'mirror.example', authHost: 'mirror.example', insecure: false, mirror: true },
      { host: 'registry-1.docker.io', authHost: 'docker.io', insecure: false, mirror: false },
    ]);
    expect(registryEndpoints(parseReference('myhost:5000/app'), { config })).toEqual([{ host: 'myhost:5000', authHost: 'myhost:5000', insecure: true, mirror: false }]);
    expect(registryEndpoints(parseReference('quay.io/app'), { config, insecure: true })[0]!.insecure).toBe(true);
    expect(loadRegistriesConfig(join(dir, 'missing.json'))).toEqual({ mirrors: {}, insecure: [] });
  });

  it('names what is wrong in a bad file', async () => {
    const f = join(dir, 'bad.json');
    await writeFile(f, JSON.stringify({ mirrors: { 'docker.io': 'not-a-list' } }));
    expect(() => loadRegistriesConfig(f)).toThrow(`${f} is invalid: "mirrors.docker.io" must be a list of HOST[:PORT].`);
    await writeFile(f, '{');
    expect(() => loadRegistriesConfig(f)).toThrow(`${f} is invalid: it is not JSON.`);
  });
});

describe('errors and retries', () => {
  const ctx = { registry: 'r.example', what: 'r.example/app:1', kind: 'manifest' as const };
  it('keeps the registry\'s codes', () => {
    expect(errorFromResponse(404, Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'), ctx).code).toBe('MANIFEST_UNKNOWN');
    expect(errorFromResponse(404, Buffer.from('{"errors":[{"code":"NAME_UNKNOWN"}]}'), ctx).message).toBe('the repository of r.example/app:1 does not exist on r.example.');
    expect(errorFromResponse(404, undefined, ctx).message).toBe('the image r.example/app:1 was not found on r.example: no such tag or digest.');
    expect(errorFromResponse(503, undefined, ctx).retryable).toBe(true);
    expect(errorFromResponse(401, undefined, ctx).retryable).toBe(false);
    expect(errorFromResponse(500, Buffer.from('{"errors":[{"code":"UNKNOWN","message":"disk full"}]}'), ctx).message).toBe('the registry r.example answered HTTP 500 for r.example/app:1: disk full.');
  });

  it('names DNS, refused and TLS failures', () => {
    const mk = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect(errorFromNetwork(mk('ENOTFOUND'), { registry: 'r', host: 'r.example' }).message).toBe('cannot resolve the registry host r.example.');
    expect(errorFromNetwork(mk('ENOTFOUND'), { registry: 'r', host: 'r.example' }).hint).toContain('--pull=never');
    expect(errorFromNetwork(mk('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), { registry: 'r', host: 'r.example' }).code).toBe('TLS');
  });

  it('parses Retry-After', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('retries what is worth it, three times, and not a 404', async () => {
    let calls = 0;
    const delays: number[] = [];
    await expect(withRetry(async () => {
      calls++;
      throw new RegistryError('X', 'x', { retryable: true });
    }, { baseDelayMs: 1, onRetry: (i) => delays.push(i.delayMs) })).rejects.toThrow('x');
    expect(calls).toBe(3);
    expect(delays).toEqual([1, 2]);
    calls = 0;
    await expect(withRetry(async () => {
      calls++;
      throw errorFromResponse(404, undefined, ctx);
    }, { baseDelayMs: 1 })).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    expect(calls).toBe(1);
    calls = 0;
    expect(await withRetry(async () => {
      if (++calls < 2) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
      return 'ok';
    }, { baseDelayMs: 1 })).toBe('ok');
  });
});
