import { describe, it, expect } from 'vitest';
import { memberResolvConf } from '../../src/container/network-resolv.js';

describe('a user network member\'s resolv.conf', () => {
  it('replaces the host\'s loopback name servers with slirp4netns\'s, keeping the rest', () => {
    expect(memberResolvConf('nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n', false)).toBe('nameserver 10.0.2.3\noptions edns0 trust-ad\nsearch .\n');
    expect(memberResolvConf('# dnsmasq\nnameserver 127.0.1.1\nnameserver ::1\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n', false))
      .toBe('# dnsmasq\nnameserver 10.0.2.3\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n');
    expect(memberResolvConf('nameserver 192.0.2.53\nsearch example.test\n', false)).toBe('nameserver 192.0.2.53\nsearch example.test\n');
  });

  it('names slirp4netns\'s forwarder when the host names no server (the resolver would ask its loopback)', () => {
    expect(memberResolvConf('', false)).toBe('nameserver 10.0.2.3\n');
    expect(memberResolvConf('search example.test\n', false)).toBe('search example.test\nnameserver 10.0.2.3\n');
  });

  it('names no server on an --internal network, which reaches none', () => {
    expect(memberResolvConf('nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.test\n', true)).toBe('# no name server: the network is --internal\nsearch example.test\n');
  });
});
