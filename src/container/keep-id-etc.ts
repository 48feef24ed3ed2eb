/**
 * Under --userns=keep-id the command runs as the user's own ids, which the image's /etc/passwd
 * and /etc/group seldom know: a line is added for each (whoami, ls -l, ssh and git want a name).
 * The image's own files are read, never written: the result is put over them like /etc/hosts.
 */
import { readLayerFile } from '../sandbox/layer-files.js';
import { parseGroup, parsePasswd } from '../image/user.js';

/** A user name safe in a passwd line (the host's name may hold anything NSS allowed). */
function safeName(name: string): string {
  const n = name.replace(/[^A-Za-z0-9._-]/g, '');
  return n === '' ? 'user' : n;
}

export function keepIdEtcFiles(keep: { uid: number; gid: number }, hostName: string, lowers: string[]): { path: string; content: string }[] {
  const out: { path: string; content: string }[] = [];
  const name = safeName(hostName);
  const passwdText = readLayerFile(lowers, 'etc/passwd') ?? '';
  if (!parsePasswd(passwdText).some((e) => e.uid === keep.uid)) {
    const base = passwdText === '' || passwdText.endsWith('\n') ? passwdText : `${passwdText}\n`;
    // Home is /: it exists in every image; the user's host home is not there.
    out.push({ path: '/etc/passwd', content: `${base}${name}:*:${keep.uid}:${keep.gid}:${name}:/:/bin/sh\n` });
  }
  const groupText = readLayerFile(lowers, 'etc/group') ?? '';
  if (!parseGroup(groupText).some((e) => e.gid === keep.gid)) {
    const base = groupText === '' || groupText.endsWith('\n') ? groupText : `${groupText}\n`;
    out.push({ path: '/etc/group', content: `${base}${name}:x:${keep.gid}:\n` });
  }
  return out.map((f) => ({ ...f, content: f.content.replaceAll('\0', '') }));
}
