/**
 * The libc operations Node lacks, injected so that the store stays free of native code and of
 * any knowledge of namespaces (umoci does the same with its unpack driver). src/native/ffi.ts
 * implements it with koffi; tests may pass a fake.
 */
export interface LayerFs {
  /** mknod(2): `mode` carries the file type bits (S_IFCHR, S_IFBLK, S_IFIFO) and permissions. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** lsetxattr(2): never follows a symlink at `path`. */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** lgetxattr(2): undefined when the attribute is absent. */
  lgetxattr(path: string, name: string): Buffer | undefined;
}

/** Thrown by LayerFs implementations so callers can branch on `code` like a Node system error. */
export class LayerFsError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string;

  constructor(syscall: string, path: string, errno: number, code: string) {
    super(`${syscall} ${path}: ${code}`);
    this.name = 'LayerFsError';
    this.syscall = syscall;
    this.path = path;
    this.errno = errno;
    this.code = code;
  }
}
