import { describe, it, expect } from 'vitest';
import { parsePasswd, parseGroup, resolveUser } from '../../src/image/user.js';

const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n');
const group = parseGroup('root:x:0:\nwheel:x:10:app\naudio:x:29:root,app\napp:x:1000:\nstaff:x:50:\n');

describe('image users (docker rules)', () => {
  it('defaults to root with its home', () => {
    expect(resolveUser(undefined, passwd, group)).toEqual({ uid: 0, gid: 0, groups: [0, 29], home: '/root', name: 'root' });
  });
  it('resolves a name with its supplementary groups', () => {
    expect(resolveUser('app', passwd, group)).toEqual({ uid: 1000, gid: 1000, groups: [1000, 10, 29], home: '/home/app', name: 'app' });
  });
  it('takes an unknown numeric uid with gid 0 and home /', () => {
    expect(resolveUser('4242', passwd, group)).toEqual({ uid: 4242, gid: 0, groups: [0], home: '/' });
  });
  it('takes user:group by name or number, without supplementary groups', () => {
    expect(resolveUser('app:staff', passwd, group)).toMatchObject({ uid: 1000, gid: 50, groups: [50] });
    expect(resolveUser('1000:7', passwd, group)).toMatchObject({ uid: 1000, gid: 7, groups: [7] });
  });
  it('refuses unknown names in one sentence', () => {
    expect(() => resolveUser('ghost', passwd, group)).toThrow(/no user named "ghost" in the image's \/etc\/passwd/);
    expect(() => resolveUser('app:ghosts', passwd, group)).toThrow(/no group named "ghosts"/);
  });
});
