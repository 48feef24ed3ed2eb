/** Which registries.conf files flux reads, in what order, how later ones win, and short names. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { containersConfFiles, loadContainersRegistries } from '../../src/registry/containers-conf.js';
import { resolveShortName, splitShortName } from '../../src/registry/short-names.js';

let root: string;
let n = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-containers-unit-'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

async function tree(files: Record<string, string>): Promise<NodeJS.ProcessEnv> {
  const base = join(root, String(n++));
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(dirname(join(base, rel)), { recursive: true });
    await writeFile(join(base, rel), text);
  }
  return { FLUX_CONTAINERS_CONF_DIR: join(base, 'etc'), XDG_CONFIG_HOME: join(base, 'home'), HOME: '/nonexistent' };
}

describe('registries.conf files', () => {
  it("reads the user's main file instead of the system one, then every drop-in by name, a user drop-in shadowing a system one", async () => {
    const env = await tree({
      'etc/registries.conf': 'unqualified-search-registries = ["system.example"]\n',
      'home/containers/registries.conf': 'unqualified-search-registries = ["user.example"]\n',
      'etc/registries.conf.d/10-a.conf': '[aliases]\n"a" = "system.example/a"\n',
      'etc/registries.conf.d/20-b.conf': '[aliases]\n"b" = "system.example/b"\n',
      'home/containers/registries.conf.d/20-b.conf': '[aliases]\n"b" = "user.example/b"\n',
      'home/containers/registries.conf.d/30-c.conf': 'unqualified-search-registries = ["late.example"]\n[aliases]\n"a" = ""\n',
      'etc/registries.conf.d/notes.txt': 'not a drop-in',
    });
    expect(containersConfFiles(env)).toEqual([
      join(env.XDG_CONFIG_HOME!, 'containers/registries.conf'),
      join(env.FLUX_CONTAINERS_CONF_DIR!, 'registries.conf.d/10-a.conf'),
      join(env.XDG_CONFIG_HOME!, 'containers/registries.conf.d/20-b.conf'),
      join(env.XDG_CONFIG_HOME!, 'containers/registries.conf.d/30-c.conf'),
    ]);
    const conf = await loadContainersRegistries(env);
    expect(conf.search).toEqual(['late.example']);
    expect([...conf.aliases]).toEqual([['b', 'user.example/b']]);
  });

  it('replaces a [[registry]] of the same prefix and reads the version 1 tables', async () => {
    const env = await tree({
      'etc/registries.conf': '[registries.search]\nregistries = ["one.example"]\n[registries.insecure]\nregistries = ["lan:5000"]\n[registries.block]\nregistries = ["bad.example"]\n',
      'etc/registries.conf.d/50.conf': '[[registry]]\nlocation = "lan:5000"\ninsecure = false\n[[registry.mirror]]\nlocation = "cache.lan"\n',
    });
    const conf = await loadContainersRegistries(env);
    expect(conf.search).toEqual(['one.example']);
    expect(conf.registries.map((r) => [r.prefix, r.insecure, r.blocked, r.mirrors.map((m) => m.location)])).toEqual([
      ['lan:5000', false, false, ['cache.lan']],
      ['bad.example', false, true, []],
    ]);
  });

  it('is empty without any file, and names a file with a wrong type', async () => {
    expect(await loadContainersRegistries(await tree({}))).toEqual({ registries: [], aliases: new Map(), files: [] });
    const env = await tree({ 'etc/registries.conf': '[[registry]]\nlocation = "x.example"\nblocked = "yes"\n' });
    await expect(loadContainersRegistries(env)).rejects.toThrow(`${join(env.FLUX_CONTAINERS_CONF_DIR!, 'registries.conf')} is invalid: [[registry]] blocked must be true or false.`);
  });
});

describe('the parsed settings kept between runs', () => {
  it('are used while no file changed, and read afresh when one did', async () => {
    const env = await tree({ 'etc/registries.conf': '[aliases]\n"a" = "one.example/a"\n' });
    env.XDG_CACHE_HOME = join(env.FLUX_CONTAINERS_CONF_DIR!, '..', 'cache');
    expect((await loadContainersRegistries(env)).aliases.get('a')).toBe('one.example/a');
    const file = join(env.XDG_CACHE_HOME, 'flux/containers-registries.json');
    const cached = JSON.parse(await readFile(file, 'utf8')) as { value: { aliases: [string, string][] } };
    // What the cache says is what a later run gets, without parsing.
    cached.value.aliases = [['a', 'kept.example/a']];
    await writeFile(file, JSON.stringify(cached));
    expect((await loadContainersRegistries(env)).aliases.get('a')).toBe('kept.example/a');
    await writeFile(join(env.FLUX_CONTAINERS_CONF_DIR!, 'registries.conf'), '[aliases]\n"a" = "two.example/a"\n');
    expect((await loadContainersRegistries(env)).aliases.get('a')).toBe('two.example/a');
  });
});

describe('short names', () => {
  const conf = { search: ['a.example', 'b.example:5000'], searchFile: 'f', registries: [], aliases: new Map([['fedora', 'registry.fedoraproject.org/fedora']]), aliasFiles: new Map([['fedora', 'g']]), files: ['f', 'g'] };

  it('are names without a registry host', () => {
    expect(splitShortName('alpine:3.20')).toEqual({ name: 'alpine', suffix: ':3.20' });
    expect(splitShortName('team/app@sha256:' + 'a'.repeat(64))).toEqual({ name: 'team/app', suffix: '@sha256:' + 'a'.repeat(64) });
    for (const q of ['localhost/app', 'example.com/app', 'host:5000/app:1', 'oci:./dir', 'docker://alpine', 'a'.repeat(64)]) expect(splitShortName(q)).toBeUndefined();
  });

  it('go to their alias, else to each search registry in order', () => {
    expect(resolveShortName('fedora:40', conf)).toEqual({ candidates: ['registry.fedoraproject.org/fedora:40'], via: 'alias', file: 'g' });
    expect(resolveShortName('app:1', conf)).toEqual({ candidates: ['a.example/app:1', 'b.example:5000/app:1'], via: 'search', file: 'f' });
    expect(resolveShortName('example.com/app', conf)).toBeUndefined();
    expect(resolveShortName('app', { ...conf, search: [] })).toBeUndefined();
  });
});
