import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { parsePublishAll, parseMode, createNetwork } from '../../src/sandbox/network.js';
import { checkHostPort, freeHostPort, parseExposedPorts } from '../../src/sandbox/ports.js';
import { FluxError } from '../../src/errors.js';

function sentence(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FluxError);
    const e = err as FluxError;
    return `${e.message} ${e.hint ?? ''}`.trim();
  }
  throw new Error('no error');
}

/** The one forward a `-p` value without a range names. */
function parsePublish(spec: string): ReturnType<typeof parsePublishAll>[number] {
  const all = parsePublishAll(spec);
  expect(all).toHaveLength(1);
  return all[0]!;
}

describe('parsePublish (-p)', () => {
  it('takes HOSTPORT:CONTAINERPORT on all addresses, tcp by default', () => {
    expect(parsePublish('8080:80')).toEqual({ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  });

  it('takes an address and a protocol', () => {
    expect(parsePublish('127.0.0.1:5353:53/udp')).toEqual({ hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, protocol: 'udp' });
    expect(parsePublish('127.0.0.1:8080:80/TCP').protocol).toBe('tcp');
    expect(parsePublish(':8080:80').hostIp).toBe('0.0.0.0');
    expect(parsePublish('80')).toEqual({ hostIp: '0.0.0.0', hostPort: 0, containerPort: 80, protocol: 'tcp' });
    expect(parsePublish('127.0.0.1::53/udp')).toEqual({ hostIp: '127.0.0.1', hostPort: 0, containerPort: 53, protocol: 'udp' });
  });

  it('expands ranges of equal length', () => {
    expect(parsePublishAll('8000-8002:80-82').map((f) => `${f.hostPort}:${f.containerPort}`)).toEqual(['8000:80', '8001:81', '8002:82']);
    expect(sentence(() => parsePublishAll('8000-8002:80-81'))).toMatch(/ranges differ in length/);
  });

  it.each([
    ['x:80', /host port "x" is not a number/],
    ['8080:0', /container port 0 is not between 1 and 65535/],
    ['70000:80', /host port 70000 is not between/],
    ['8080:80/sctp', /protocol "sctp" is not tcp or udp/],
    ['localhost:8080:80', /"localhost" is not an IPv4 address/],
    ['1:2:3:4', /too many ":"/],
    ['90-80:90-80', /runs backwards/],
  ])('refuses %s with one sentence and the syntax', (spec, why) => {
    const s = sentence(() => parsePublish(spec));
    expect(s).toMatch(why);
    expect(s).toMatch(/^invalid port mapping ".*": .*\. Use -p \[\[IP:\]\[HOSTPORT\]:\]CONTAINERPORT/);
  });
});

describe('parseExposedPorts (image ExposedPorts for -P)', () => {
  it('reads port/proto keys, defaults to tcp, skips what it cannot forward', () => {
    expect(parseExposedPorts(['80/tcp', '53/udp', '443', '9/sctp', 'junk', '8000-8001/tcp'])).toEqual([
      { containerPort: 80, protocol: 'tcp' },
      { containerPort: 53, protocol: 'udp' },
      { containerPort: 443, protocol: 'tcp' },
      { containerPort: 8000, protocol: 'tcp' },
      { containerPort: 8001, protocol: 'tcp' },
    ]);
  });
});

describe('host port checks', () => {
  it('finds a free port and sees it taken once bound', async () => {
    const port = await freeHostPort('127.0.0.1', 'tcp');
    expect(port).toBeGreaterThan(0);
    await expect(checkHostPort({ hostIp: '127.0.0.1', hostPort: port, protocol: 'tcp' })).resolves.toBeUndefined();
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    try {
      const err = await checkHostPort({ hostIp: '127.0.0.1', hostPort: port, protocol: 'tcp' }).catch((e: FluxError) => e);
      expect(err).toBeInstanceOf(FluxError);
      expect(`${(err as FluxError).message} ${(err as FluxError).hint}`).toBe(`host port ${port} is already in use. Pick another with -p.`);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it('names an address that is not this machine\'s', async () => {
    const err = await checkHostPort({ hostIp: '192.0.2.254', hostPort: 8080, protocol: 'tcp' }).catch((e: FluxError) => e);
    expect((err as FluxError).code).toBe('PORT_BAD_ADDRESS');
  });
});

describe('--network values', () => {
  it('splits the mode from its options', () => {
    const m = parseMode('slirp4netns:allow_host_loopback=true,mtu=1500');
    expect(m.name).toBe('slirp4netns');
    expect([...m.options]).toEqual([['allow_host_loopback', 'true'], ['mtu', '1500']]);
    expect(parseMode('').name).toBe('slirp4netns');
    expect(parseMode('private').name).toBe('slirp4netns');
    expect(sentence(() => parseMode('slirp4netns:allow_host_loopback'))).toMatch(/is not KEY=VALUE/);
  });

  const req = { publish: [], publishAll: false, exposedPorts: [], hostname: 'box' };

  it('none: a new namespace with no nameserver, and no -p', async () => {
    const net = await createNetwork({ ...req, mode: 'none' });
    expect(net.newNamespace).toBe(true);
    expect(net.resolvConf).not.toMatch(/nameserver/);
    expect(net.hosts).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
    expect(net.hosts).toMatch(/\tbox$/m);
    await net.attach(1);
    expect(net.published()).toEqual([]);
    await net.detach();
    const err = await createNetwork({ ...req, mode: 'none', publish: [parsePublish('8080:80')] }).catch((e: FluxError) => e);
    expect((err as FluxError).message).toMatch(/-p cannot be used here: --network none has no network/);
  });

  it('host: the host namespace and files', async () => {
    const net = await createNetwork({ ...req, mode: 'host' });
    expect(net.newNamespace).toBe(false);
    expect(net.resolvConf).toBeUndefined();
    expect(net.hosts).toBeUndefined();
  });

  it('refuses unknown modes and options with the list of good ones', async () => {
    const bad = async (mode: string): Promise<string> => {
      const e = (await createNetwork({ ...req, mode }).catch((x: FluxError) => x)) as FluxError;
      expect(e).toBeInstanceOf(FluxError);
      expect(e.exitCode).toBe(125);
      return `${e.message} ${e.hint}`;
    };
    expect(await bad('bridge')).toBe('unknown network mode "bridge". Use --network slirp4netns (the default), pasta, none, host, or the name of a network (flux network ls).');
    expect(await bad('slirp4netns:colour=blue')).toMatch(/^--network slirp4netns has no option "colour"\. Use one of its options: allow_host_loopback/);
    expect(await bad('slirp4netns:allow_host_loopback=maybe')).toMatch(/is not true or false/);
    expect(await bad('slirp4netns:mtu=9')).toMatch(/mtu=9 is not between 68 and 65521/);
    expect(await bad('slirp4netns:port_handler=rootlesskit')).toMatch(/port_handler=rootlesskit is not supported/);
    expect(await bad('none:x=1')).toMatch(/--network none takes no options/);
  });

  it('refuses the same host port twice, and UDP forwards without host loopback', async () => {
    const port = await freeHostPort('127.0.0.1', 'tcp');
    const twice = (await createNetwork({ ...req, mode: 'slirp4netns', publish: [parsePublish(`127.0.0.1:${port}:80`), parsePublish(`${port}:81`)] }).catch((e: FluxError) => e)) as FluxError;
    expect(`${twice.message} ${twice.hint}`).toBe(`host port ${port}/tcp is given twice with -p. Give each host port once.`);
    const udpPort = await freeHostPort('127.0.0.1', 'udp');
    const udp = (await createNetwork({ ...req, mode: 'slirp4netns:allow_host_loopback=false', publish: [parsePublish(`127.0.0.1:${udpPort}:53/udp`)] }).catch((e: FluxError) => e)) as FluxError;
    expect(udp.code).toBe('UDP_NEEDS_LOOPBACK');
  });
});
