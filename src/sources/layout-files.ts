/** The files of an OCI image layout, whether a directory or a tar archive of one. */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { errnoCode } from '../errors.js';
import type { TarIndex } from './tar-index.js';

export interface LayoutFiles {
  /** The whole file, or undefined when it does not exist. */
  read(name: string): Promise<Buffer | undefined>;
  open(name: string, offset: number): Promise<Readable | undefined>;
  size(name: string): Promise<number | undefined>;
}

export function dirFiles(dir: string): LayoutFiles {
  return {
    async read(name) {
      try {
        return await readFile(join(dir, name));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return undefined;
        throw err;
      }
    },
    async open(name, offset) {
      const p = join(dir, name);
      if ((await this.size(name)) === undefined) return undefined;
      return createReadStream(p, { start: offset });
    },
    async size(name) {
      try {
        const st = await stat(join(dir, name));
        return st.isFile() ? st.size : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

export function tarFiles(tar: TarIndex): LayoutFiles {
  return {
    read: async (name) => tar.read(name),
    open: async (name, offset) => tar.stream(name, offset),
    size: async (name) => tar.size(name),
  };
}
