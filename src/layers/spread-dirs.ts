/**
 * Gives the store's tmp/, where each layer is unpacked into a fresh directory, and runs/, where
 * each run makes its upper dir, ext4's TOPDIR attribute through the helper (`flux-helper
 * topdir`, native/topdir.c): each of their new directories then lands in a block group of its
 * own instead of theirs. On an ext4 without a journal a group where a store, a layer or the last
 * run's files were just removed makes every new file cost some 0.2–0.9 ms of kernel time
 * instead of 0.025 (docs/performance.md, "File creation on ext4 without a journal").
 *
 * The helper, not koffi: loading koffi costs ≈ 9 ms of this process's main thread, a spawn
 * ≈ 1–2 ms, and the helper runs while the registry answers. Every process that unpacks asks
 * (once), so stores made before this (or copied) get it too, and a run never pays for it; a filesystem
 * without the attribute, or a helper that is missing, leaves the directories as they were: it
 * only ever costs speed.
 */
import { spawn } from 'node:child_process';
import { helperPath } from '../native/helper.js';

const asked = new Map<string, Promise<void>>();

/**
 * Asks once per process for the same directories: a cold pull asks as soon as its first request
 * is out (the helper then runs while the registry answers), and the unpack session, which waits
 * for it before its first layer directory, gets the same answer instead of a helper of its own.
 */
export function spreadSubdirs(dirs: string[]): Promise<void> {
  const key = dirs.join('\0');
  let p = asked.get(key);
  if (!p) {
    p = askHelper(dirs);
    asked.set(key, p);
  }
  return p;
}

function askHelper(dirs: string[]): Promise<void> {
  return new Promise((resolve) => {
    try {
      const child = spawn(helperPath(), ['topdir', ...dirs], { stdio: 'ignore' });
      child.on('error', () => resolve());
      child.on('close', () => resolve());
    } catch {
      resolve();
    }
  });
}
