/**
 * ext4's inode flags of a directory (lsattr / chattr), for the tests of the TOPDIR attribute flux
 * gives the store's tmp/ and runs/ (native/topdir.c).
 */
import { closeSync, constants as C, openSync, statfsSync } from 'node:fs';
import { createRequire } from 'node:module';

const EXT_SUPER_MAGIC = 0xef53; // ext2, ext3 and ext4 share it
export const FS_TOPDIR_FL = 0x00020000;
const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;

const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
const ioctl = koffi.load('libc.so.6').func('int ioctl(int fd, unsigned long req, _Inout_ int *flags)') as (fd: number, req: number, flags: number[]) => number;

/** The directory's inode flags (lsattr), through an O_NOFOLLOW descriptor. */
export function inodeFlags(dir: string): number {
  const fd = openSync(dir, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  try {
    const flags = [0];
    if (ioctl(fd, FS_IOC_GETFLAGS, flags) !== 0) throw new Error(`FS_IOC_GETFLAGS ${dir}: errno ${koffi.errno()}`);
    return flags[0] as number;
  } finally {
    closeSync(fd);
  }
}

export function clearTopdir(dir: string): void {
  const fd = openSync(dir, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  try {
    const flags = [0];
    if (ioctl(fd, FS_IOC_GETFLAGS, flags) !== 0) throw new Error(`FS_IOC_GETFLAGS ${dir}: errno ${koffi.errno()}`);
    flags[0] = (flags[0] as number) & ~FS_TOPDIR_FL;
    if (ioctl(fd, FS_IOC_SETFLAGS, flags) !== 0) throw new Error(`FS_IOC_SETFLAGS ${dir}: errno ${koffi.errno()}`);
  } finally {
    closeSync(fd);
  }
}

/** Whether `dir` is on ext2/3/4, the only file systems with the attribute. */
export const isExt = (dir: string): boolean => statfsSync(dir).type === EXT_SUPER_MAGIC;
