/**
 * `flux completion bash` sourced in a real bash as the test user, its completion function called
 * as bash calls it (COMP_WORDS/COMP_CWORD, and COMP_LINE/COMP_POINT where bash splits a word at
 * ':'): subcommands, flags, fixed flag values and the images in the user's store, which the
 * function asks of that user's `flux __complete images`.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userFixtureDir } from '../helpers/fixtures.js';
import { fluxBin, removeStore, runAs, runFlux, tempStore, testUser, userRuntimeDir, USER_PATH } from '../helpers/user.js';
import { requireTool } from '../helpers/require.js';
import { buildProgram } from '../../src/cli/main.js';

requireTool('bash');

let store: string;
let binDir: string;
let script: string;
let image: string;

beforeAll(async () => {
  store = await tempStore();
  image = `oci:${await userFixtureDir('busybox')}`;
  const pulled = await runFlux(['pull', '-q', image], { store, timeoutMs: 120_000 });
  expect(pulled.stderr).toBe('');
  expect(pulled.code).toBe(0);
  // `flux` on the user's PATH, as an installed one would be.
  binDir = await mkdtemp(join(tmpdir(), 'flux-completion-bin-'));
  await writeFile(join(binDir, 'flux'), `#!/bin/sh\nexec ${process.execPath} ${await fluxBin()} "$@"\n`, { mode: 0o755 });
  await chmod(binDir, 0o755);
  const r = await runFlux(['completion', 'bash'], { store });
  expect(r.code).toBe(0);
  script = join(binDir, 'flux.bash');
  await writeFile(script, r.stdout, { mode: 0o644 });
}, 180_000);

afterAll(async () => {
  if (store) await removeStore(store);
  if (binDir) await rm(binDir, { recursive: true, force: true });
});

/** The replies of _flux for the words (the last one is being completed), in a real bash. */
async function complete(words: string[], line?: { text: string; bashWords: string[] }, env: Record<string, string> = {}): Promise<string[]> {
  const setup = line
    ? 'COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))'
    : 'COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))';
  const args = line ? [line.text, ...line.bashWords] : words;
  const r = await runAs(await testUser(), 'bash', ['--norc', '-c', `source ${script}; ${setup}; _flux; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', ...args], {
    store,
    env: { PATH: `${binDir}:${USER_PATH}`, ...env },
    timeoutMs: 60_000,
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('flux completion bash', () => {
  it('completes a subcommand', async () => {
    expect(await complete(['flux', 'ru'])).toEqual(['run']);
  }, 60_000);

  it('completes a flag and its fixed values', async () => {
    // A runtime dir of its own: no user network there (they are offered with the modes, below).
    const runtime = await userRuntimeDir('flux-completion-modes-');
    try {
      expect(await complete(['flux', 'run', '--network', ''], undefined, { XDG_RUNTIME_DIR: runtime })).toEqual(['slirp4netns', 'pasta', 'none', 'host']);
    } finally {
      await rm(runtime, { recursive: true, force: true });
    }
    expect(await complete(['flux', 'run', '--net'])).toEqual(['--network', '--network-alias']);
    expect(await complete(['flux', 'run', '--network=p'])).toEqual(['--network=pasta']);
    expect(await complete(['flux', 'pull', '--pull', 'a'])).toEqual([]);
    expect(await complete(['flux', 'matrix', '--pull', 'a'])).toEqual(['always']);
    expect(await complete(['flux', 'completion', 'f'])).toEqual(['fish']);
  }, 60_000);

  it('completes the subcommands of flux network and flux container, and their own flags', async () => {
    expect((await complete(['flux', 'network', ''])).sort()).toEqual(['create', 'inspect', 'ls', 'prune', 'rm']);
    expect(await complete(['flux', 'network', 'cr'])).toEqual(['create']);
    expect((await complete(['flux', 'network', 'create', '--'])).sort()).toEqual(['--help', '--internal', '--subnet']);
    expect(await complete(['flux', 'network', 'ls', '--format', ''])).toEqual(['json', 'table']);
    expect(await complete(['flux', 'container', ''])).toEqual(['prune']);
  }, 60_000);

  it('completes --format with the values of each command', async () => {
    expect(await complete(['flux', 'ps', '--format', ''])).toEqual(['json', 'table']);
    expect(await complete(['flux', 'save', '--format', 'o'])).toEqual(['oci-archive']);
    expect(await complete(['flux', 'info', '--format', ''])).toEqual(['json']);
  }, 60_000);

  it('completes an image from the store by its prefix', async () => {
    const prefix = image.slice(0, image.length - 3);
    expect(await complete(['flux', 'run', '--network', 'none', prefix])).toEqual([image]);
    expect(await complete(['flux', 'rmi', prefix])).toEqual([image]);
    // `flux IMAGE` is a run: the first word may be an image.
    expect(await complete(['flux', prefix])).toEqual([image]);
    // After the image come the container's command and flags, not flux's.
    expect(await complete(['flux', 'run', image, '--net'])).toEqual([]);
  }, 60_000);

  it('completes the names and short IDs of the user\'s containers', async () => {
    const runtime = await userRuntimeDir('flux-completion-rt-');
    const env = { XDG_RUNTIME_DIR: runtime };
    try {
      const started = await runFlux(['run', '-d', '--name', 'completion-probe', '--network', 'none', image, '--', 'sleep', '600'], { store, env, timeoutMs: 60_000 });
      expect(started.code, started.stderr).toBe(0);
      const id = started.stdout.trim();
      expect(await complete(['flux', 'stop', 'completion-p'], undefined, env)).toEqual(['completion-probe']);
      expect(await complete(['flux', 'logs', id.slice(0, 6)], undefined, env)).toEqual([id.slice(0, 12)]);
      // exec: the container first, then its command (not completed from containers).
      expect(await complete(['flux', 'exec', 'completion-probe', 'comp'], undefined, env)).toEqual([]);
    } finally {
      await runFlux(['rm', '-f', 'completion-probe'], { store, env });
      await rm(runtime, { recursive: true, force: true });
    }
  }, 120_000);

  it('completes the names of the user\'s networks, as --network values beside the modes and as network rm/inspect operands', async () => {
    requireTool('nsenter');
    requireTool('ip');
    const runtime = await userRuntimeDir('flux-completion-net-');
    const env = { XDG_RUNTIME_DIR: runtime };
    try {
      const made = await runFlux(['network', 'create', 'completion-net'], { store, env, timeoutMs: 60_000 });
      expect(made.code, made.stderr).toBe(0);
      expect(await complete(['flux', 'run', '--network', ''], undefined, env)).toEqual(['slirp4netns', 'pasta', 'none', 'host', 'completion-net']);
      expect(await complete(['flux', 'run', '--network=comp'], undefined, env)).toEqual(['--network=completion-net']);
      expect(await complete(['flux', 'matrix', '--network', 'comp'], undefined, env)).toEqual(['completion-net']);
      expect(await complete(['flux', 'network', 'rm', 'comp'], undefined, env)).toEqual(['completion-net']);
      expect(await complete(['flux', 'network', 'inspect', 'completion-net', 'comp'], undefined, env)).toEqual(['completion-net']);
      // Names of networks, not of containers or images, and nothing for create's new name.
      expect(await complete(['flux', 'network', 'create', 'comp'], undefined, env)).toEqual([]);
    } finally {
      await runFlux(['network', 'rm', '-f', 'completion-net'], { store, env });
      await rm(runtime, { recursive: true, force: true });
    }
  }, 120_000);

  it('completes a reference bash split at its colons, replacing only bash\'s last word', async () => {
    const prefix = image.slice(0, image.length - 3);
    const bashWords = ['flux', 'run', 'oci', ':', prefix.slice('oci:'.length)];
    expect(await complete([], { text: `flux run ${prefix}`, bashWords })).toEqual([image.slice('oci:'.length)]);
  }, 60_000);

  it('offers every flag `flux run` defines, from the definitions themselves', async () => {
    const defined = buildProgram('run').commands.find((c) => c.name() === 'run')!.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => !!f);
    expect(defined.length).toBeGreaterThan(20);
    const offered = await complete(['flux', 'run', '-']);
    expect(offered.sort()).toEqual([...defined, '--help', '-h'].sort());
  }, 60_000);
});

describe('flux completion zsh and fish', () => {
  it('hold the same flags and value sets', async () => {
    const zsh = await runFlux(['completion', 'zsh'], { store });
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef flux\n/);
    expect(zsh.stdout).toContain("'--network=[");
    expect(zsh.stdout).toContain(':value:_flux_network_modes');
    expect(zsh.stdout).toContain("_flux_network_modes() {\n  compadd -- 'slirp4netns' 'pasta' 'none' 'host'\n  _flux_networks\n}");
    expect(zsh.stdout).toContain("'*:network:_flux_networks'");
    const fish = await runFlux(['completion', 'fish'], { store });
    expect(fish.code).toBe(0);
    expect(fish.stdout).toContain("complete -c flux -n '__fish_seen_subcommand_from run' -l network -r -f -a 'slirp4netns pasta none host (__flux_networks)'");
    expect(fish.stdout).toContain("complete -c flux -n '__fish_seen_subcommand_from network; and __fish_seen_subcommand_from rm' -a '(__flux_networks)'");
    // Subcommands of subcommands, with their own flags.
    expect(zsh.stdout).toMatch(/'network'\)\n {6}if \(\( CURRENT == 2 \)\); then[\s\S]*subcommands=\('create:[^']*' 'ls:/);
    expect(zsh.stdout).toMatch(/ {8}'create'\) _arguments -s '--subnet=\[/);
    expect(fish.stdout).toContain("complete -c flux -n '__fish_seen_subcommand_from network; and not __fish_seen_subcommand_from create ls inspect rm prune' -a 'create ls inspect rm prune'");
    expect(fish.stdout).toContain("complete -c flux -n '__fish_seen_subcommand_from network; and __fish_seen_subcommand_from create' -l subnet -r -f");
    expect(fish.stdout).not.toContain("-n '__fish_use_subcommand' -a 'network create'");
    const bad = await runFlux(['completion', 'tcsh'], { store });
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('bash, zsh, fish');
  }, 60_000);
});
