import { describe, it, expect } from 'vitest';
import { Command } from 'commander';
import { addRunOptions, runOptionsFromCli } from '../../src/flags/run-flags.js';
import { commandLine, envEntry, parseEnvFile, mergeEnv, parseVolume, checkWorkdir } from '../../src/container/process-spec.js';
import { parseMemory, parseCpus } from '../../src/sandbox/limits.js';

describe('run options', () => {
  it('parses docker-style flags into RunOptions', () => {
    const cmd = addRunOptions(new Command('run').exitOverride()).argument('<image>').argument('[command...]').passThroughOptions();
    let seen: ReturnType<typeof runOptionsFromCli> | undefined;
    cmd.action((_i: string, _c: string[], o: Parameters<typeof runOptionsFromCli>[0]) => {
      seen = runOptionsFromCli(o);
    });
    cmd.parse(['-e', 'A=1', '-e', 'B', '-v', '/tmp:/t:ro', '-it', '--cap-drop', 'ALL', '--pull', 'never', '-p', '8080:80', 'img', 'sh'], { from: 'user' });
    expect(seen).toMatchObject({ env: ['A=1', 'B'], volume: ['/tmp:/t:ro'], interactive: true, tty: true, capDrop: ['ALL'], pull: 'never', publish: ['8080:80'] });
  });

  it('follows docker for Entrypoint and Cmd', () => {
    const cfg = { Entrypoint: ['/ep'], Cmd: ['a', 'b'] };
    expect(commandLine(cfg, [], undefined)).toEqual(['/ep', 'a', 'b']);
    expect(commandLine(cfg, ['x'], undefined)).toEqual(['/ep', 'x']);
    expect(commandLine(cfg, [], 'sh')).toEqual(['sh']);
    expect(commandLine(cfg, ['-c', 'true'], 'sh')).toEqual(['sh', '-c', 'true']);
    expect(commandLine(cfg, [], '')).toEqual([]);
  });

  it('handles -e, --env-file and precedence', () => {
    expect(envEntry('K', { K: 'host' })).toBe('K=host');
    expect(envEntry('K', {})).toBeUndefined();
    expect(() => envEntry('=x', {})).toThrow(/name is empty/);
    expect(parseEnvFile('# c\n\nA=1\nB\r\n', { B: '2' })).toEqual(['A=1', 'B=2']);
    expect(mergeEnv(['PATH=/a', 'X=1'], ['X=2'])).toEqual(['PATH=/a', 'X=2']);
  });

  it('validates volumes and working directories', () => {
    expect(parseVolume('/tmp:/data:ro')).toEqual({ host: '/tmp', container: '/data', readOnly: true });
    expect(() => parseVolume('/tmp')).toThrow(/invalid volume/);
    expect(() => parseVolume('/tmp:rel')).toThrow(/not absolute/);
    expect(() => parseVolume('name:/x')).toThrow(/named volumes are not supported/);
    expect(() => parseVolume('/tmp:/x:rx')).toThrow(/invalid volume option/);
    expect(parseVolume('/tmp:/data:ro,Z')).toEqual({ host: '/tmp', container: '/data', readOnly: true, relabel: 'Z' });
    expect(parseVolume('/tmp:/data:U')).toEqual({ host: '/tmp', container: '/data', readOnly: false, chown: true });
    expect(checkWorkdir('/srv/../app')).toBe('/app');
    expect(() => checkWorkdir('rel')).toThrow(/not absolute/);
    expect(() => checkWorkdir('/proc/self/fd/5')).toThrow(/file-descriptor path/);
  });

  it('parses resource limits', () => {
    expect(parseMemory('512m')).toBe(512 * 1024 * 1024);
    expect(() => parseMemory('1k')).toThrow(/invalid --memory value "1k"/);
    expect(parseCpus('1.5')).toBe(1.5);
    expect(() => parseCpus('0')).toThrow();
  });
});
