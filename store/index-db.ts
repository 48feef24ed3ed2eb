/**
 * A keyv storage adapter backed by one JSON file. Every change re-reads the file under an
 * inter-process lock, applies itself and replaces the file atomically (temp file, fsync, rename,
 * fsync of the directory), so readers never need a lock and a crash mid-write leaves the old
 * index intact. The file is small: one record per image reference.
 */
import { EventEmitter } from 'node:events';
// Synchronous file calls: the run path's one read of the index must not wait on the thread pool,
// and a write is a few calls on a small file, made under the index lock.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FluxError, errnoCode } from '../src/errors.js';
import { storeIoError } from './errors.js';
import type { Lock } from './lock.js';

interface IndexFile {
  version: 1;
  entries: Record<string, unknown>;
}

export class JsonFileAdapter extends EventEmitter {
  // keyv reads `opts` and `namespace` off every adapter.
  opts = { dialect: 'flux-json-file', url: '' };
  namespace?: string;

  /** `root`: the store, named when a write fails for lack of space or permission. */
  constructor(private readonly file: string, private readonly lock: () => Promise<Lock>, private readonly root: string) {
    super();
  }

  private async load(): Promise<Record<string, unknown>> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return {};
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as IndexFile;
      if (parsed && parsed.version === 1 && typeof parsed.entries === 'object' && parsed.entries !== null) return parsed.entries;
    } catch {
      // fall through
    }
    throw new FluxError('INDEX_DAMAGED', `the image index ${this.file} is damaged.`, {
      hint: 'Remove that file; the images will need to be pulled again (their blobs stay in the store and are reused).',
    });
  }

  private async save(entries: Record<string, unknown>): Promise<void> {
    const dir = dirname(this.file);
    const tmp = join(dir, `.${basename(this.file)}.${process.pid}.${Date.now()}.tmp`);
    const body: IndexFile = { version: 1, entries };
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeFileSync(fd, `${JSON.stringify(body, null, 1)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  /** Applies `change` to the freshest entries under the lock and writes the result if `change` returns true. */
  async update<T>(change: (entries: Record<string, unknown>) => { dirty: boolean; result: T }): Promise<T> {
    const l = await this.lock();
    try {
      const entries = await this.load();
      const { dirty, result } = change(entries);
      if (dirty) await this.save(entries);
      return result;
    } catch (err) {
      // Every index write (a pull's record, tag, rmi) goes through here: a full disk or a
      // read-only store is the user's to fix, so it is said in one sentence, not as a raw errno
      // (the write's errors carry no path).
      throw storeIoError(err, this.root, 'writing the image index');
    } finally {
      l.release();
    }
  }

  async get<Value>(key: string): Promise<Value | undefined> {
    return (await this.load())[key] as Value | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    const all = await this.load();
    return keys.map((k) => all[k] as Value | undefined);
  }

  async has(key: string): Promise<boolean> {
    return Object.hasOwn(await this.load(), key);
  }

  async set(key: string, value: unknown): Promise<boolean> {
    return this.update((e) => {
      e[key] = value;
      return { dirty: true, result: true };
    });
  }

  async delete(key: string): Promise<boolean> {
    return this.update((e) => {
      if (!Object.hasOwn(e, key)) return { dirty: false, result: false };
      delete e[key];
      return { dirty: true, result: true };
    });
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    return this.update((e) => {
      let any = false;
      for (const k of keys) {
        if (Object.hasOwn(e, k)) {
          delete e[k];
          any = true;
        }
      }
      return { dirty: any, result: any };
    });
  }

  async clear(): Promise<void> {
    await this.update((e) => {
      const prefix = this.namespace ? `${this.namespace}:` : '';
      for (const k of Object.keys(e)) if (k.startsWith(prefix)) delete e[k];
      return { dirty: true, result: undefined };
    });
  }

  /** Every raw entry (keys with keyv's namespace prefix, values as keyv stored them). */
  async entries(): Promise<Array<[string, unknown]>> {
    return Object.entries(await this.load());
  }
}
