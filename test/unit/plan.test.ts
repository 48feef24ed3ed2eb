import { describe, it, expect } from 'vitest';
import { containerPlan, encodePlan, namespacePlan, MASKED_PATHS, type SandboxSpec } from '../../src/sandbox/plan.js';
import { capSet, capMask, DEFAULT_CAPS } from '../../src/sandbox/caps.js';

const base: SandboxSpec = {
  userns: true, newNet: true, fullMap: true,
  rootfs: { kind: 'overlay', root: '/s/runs/x/root', upper: '/s/runs/x/upper', work: '/s/runs/x/work', lowers: ['/s/l/top', '/s/l/bottom'], userxattr: true },
  hostname: 'h', etcFiles: [{ path: '/etc/hosts', content: '127.0.0.1\tlocalhost\n' }], volumes: [{ host: '/data', container: '/d', readOnly: true }],
  tmpfs: [{ path: '/t', options: 'mode=1777' }], readOnly: false, privileged: false, caps: new Set(DEFAULT_CAPS), noNewPrivileges: false,
  uid: 0, gid: 0, groups: [0], cwd: '/', env: ['PATH=/bin'], argv: ['sh', '-c', 'true'], path: '/bin', cleanup: '/s/runs/x',
};

/** Both parts of a plan, in the order the helper runs them. */
const buildPlan = (s: SandboxSpec): string[][] => [...namespacePlan(s), ...containerPlan(s, s)];

describe('sandbox plan', () => {
  it('lists namespaces, the overlay (top layer first), mounts, then the process settings', () => {
    const ops = buildPlan(base);
    expect(ops[0]).toEqual(['ns', 'mnt,uts,ipc,cgroup,user,net']);
    expect(ops[1]).toEqual(['overlay', '/s/runs/x/root', '/s/runs/x/upper', '/s/runs/x/work', '1', '2', '/s/l/top', '/s/l/bottom']);
    expect(ops).toContainEqual(['mount', 'bind', '/data', '/d', 'rec,ro']);
    expect(ops).toContainEqual(['mount', 'content', '127.0.0.1\tlocalhost\n', '/etc/hosts', '']);
    expect(ops).toContainEqual(['mount', 'mask', '/proc/keys', '', '']);
    expect(ops).toContainEqual(['mount', 'ro', '/proc/sys', '', '']);
    expect(ops).toContainEqual(['caps', capMask(DEFAULT_CAPS)]);
    expect(ops.at(-2)).toEqual(['argv', '3', 'sh', '-c', 'true']);
    expect(ops.at(-1)).toEqual(['cleanup', '/s/runs/x']);
  });

  it('drops masks and read-only paths with --privileged and keeps every capability', () => {
    const ops = buildPlan({ ...base, privileged: true });
    expect(ops.some((o) => o[1] === 'mask' || o[1] === 'ro')).toBe(false);
    expect(ops).toContainEqual(['caps', 'all']);
    expect(MASKED_PATHS).toContain('/proc/kcore');
  });

  it('asks the helper to make the tap device and to wait for the go only before the command', () => {
    const ops = buildPlan({ ...base, waitGo: true, deferGo: true, tap: 'tap0' });
    expect(ops).toContainEqual(['defer-go']);
    expect(ops).toContainEqual(['tap', 'tap0']);
    const none = buildPlan({ ...base, newNet: false, waitGo: true, deferGo: false, tap: 'tap0' });
    expect(none.some((o) => o[0] === 'tap' || o[0] === 'defer-go')).toBe(false);
  });

  it('splits into the namespace part (the helper\'s arguments) and the container part', () => {
    const spec: SandboxSpec = {
      ...base,
      waitGo: true,
      deferGo: true,
      tap: 'tap0',
      idmap: { kind: 'full', uid: ['/usr/bin/newuidmap', 'PID', '0', '1000', '1'], gid: ['/usr/bin/newgidmap', 'PID', '0', '1000', '1'] },
      netHelper: ['/usr/bin/slirp4netns', '--ready-fd=4', 'PID', 'tap0'],
      runDir: '/s/runs/x',
    };
    const first = namespacePlan(spec);
    const second = containerPlan(spec, spec);
    // The helper refuses an operation in the wrong part; these are the first part's.
    const NAMESPACE_OPS = ['ns', 'maps', 'single-map', 'wait', 'defer-go', 'tap', 'net-helper', 'run-dir'];
    expect(first.map((o) => o[0])).toEqual(['ns', 'maps', 'wait', 'defer-go', 'tap', 'net-helper', 'run-dir']);
    expect(first).toContainEqual(['run-dir', '/s/runs/x']);
    expect(second.filter((o) => NAMESPACE_OPS.includes(o[0] as string))).toEqual([]);
    expect(first).toContainEqual(['net-helper', '4', '/usr/bin/slirp4netns', '--ready-fd=4', 'PID', 'tap0']);
    expect(buildPlan(spec)).toEqual([...first, ...second]);
    // Without a network namespace there is no tap and no network helper.
    const host = namespacePlan({ ...spec, newNet: false });
    expect(host.some((o) => o[0] === 'tap' || o[0] === 'net-helper')).toBe(false);
  });

  it('puts --ulimit limits before the user, unlimited as 2^64-1', () => {
    const ops = containerPlan({ userns: true }, { ...base, rlimits: [{ resource: 7, soft: 100n, hard: 18446744073709551615n }] });
    const i = ops.findIndex((o) => o[0] === 'rlimits');
    expect(ops[i]).toEqual(['rlimits', '1', '7', '100', '18446744073709551615']);
    expect(i).toBeLessThan(ops.findIndex((o) => o[0] === 'user'));
  });

  it('encodes as a length header and NUL-terminated tokens', () => {
    const buf = encodePlan([['ns', 'mnt'], ['argv', '1', 'é']]);
    const nl = buf.indexOf(10);
    const body = buf.subarray(nl + 1);
    expect(Number(buf.subarray(0, nl).toString())).toBe(body.length);
    expect(body.toString()).toBe('ns\0mnt\0argv\x001\0é\0');
    expect(() => encodePlan([['x\0y']])).toThrow();
  });

  it('computes capability sets like docker', () => {
    expect(capMask(DEFAULT_CAPS)).toBe('00000000800405fb');
    expect([...capSet(['NET_ADMIN'], ['CHOWN'])]).toContain('NET_ADMIN');
    expect([...capSet([], ['ALL'])]).toEqual([]);
    expect([...capSet(['cap_sys_admin'], ['ALL'])]).toEqual(['SYS_ADMIN']);
    expect(() => capSet(['BOGUS'], [])).toThrow(/unknown capability "BOGUS"/);
  });
});
