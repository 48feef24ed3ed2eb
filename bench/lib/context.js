/**
 * What every section needs, as the unprivileged user: how to run flux, podman, skopeo, and
 * where the registry and the scratch space are.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { timed } from './proc.js';

export const USER_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';

export function makeContext(cfg) {
  const baseEnv = { HOME: process.env.HOME ?? '/', PATH: USER_PATH, LANG: 'C.UTF-8', USER: process.env.USER ?? '', LOGNAME: process.env.USER ?? '' };
  const podmanEnv = {
    ...baseEnv,
    CONTAINERS_CONF: join(cfg.podmanDir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(cfg.podmanDir, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(cfg.podmanDir, 'registries.conf'),
  };
  const bin = join(cfg.app, 'bin/flux.js');
  const ctx = {
    ...cfg,
    baseEnv,
    podmanEnv,
    fluxBin: bin,
    ref: (name) => `${cfg.registry}/${name}:latest`,
    /** A fresh, empty directory under the scratch space (the previous one of that name removed). */
    freshDir(name) {
      const d = join(cfg.work, name);
      removeTree(d, podmanEnv);
      mkdirSync(d, { recursive: true, mode: 0o700 });
      return d;
    },
    flux(args, { store, env = {}, rss, nodeArgs = [] } = {}) {
      return timed(process.execPath, [...nodeArgs, bin, ...args], { env: { ...baseEnv, FLUX_STORE: store, ...env }, cwd: cfg.app, rss });
    },
    podman(args, { rss } = {}) {
      return timed('podman', args, { env: podmanEnv, cwd: cfg.work, rss });
    },
    run(cmd, args, { env = {}, rss } = {}) {
      return timed(cmd, args, { env: { ...baseEnv, ...env }, cwd: cfg.work, rss });
    },
  };
  return ctx;
}

/**
 * Unpacked layers hold directories of the user's subordinate ids that the user itself cannot
 * open: those go through `podman unshare` (the user's full id map), else they are set aside.
 */
function removeTree(dir, env) {
  try {
    rmSync(dir, { recursive: true, force: true });
    return;
  } catch {
    /* below */
  }
  spawnSync('podman', ['unshare', 'rm', '-rf', dir], { env, stdio: 'ignore' });
  if (existsSync(dir)) renameSync(dir, `${dir}.old-${process.hrtime.bigint()}`);
}
