import { describe, it, expect } from 'vitest';
import { chooseSubnet, parseSubnet, subnetText } from '../../src/container/network-subnet.js';

const s = (t: string) => parseSubnet(t)!;

describe('user network subnets', () => {
  it('picks the first 10.89.N.0/24 that no network and no host route overlaps', () => {
    expect(subnetText(chooseSubnet(undefined, [], []))).toBe('10.89.0.0/24');
    const taken = [{ name: 'a', subnet: s('10.89.0.0/24') }];
    expect(subnetText(chooseSubnet(undefined, taken, [s('10.89.1.0/25')]))).toBe('10.89.2.0/24');
    expect(() => chooseSubnet(undefined, [], [s('10.0.0.0/8')])).toThrow('every subnet 10.89.0.0/24 to 10.89.255.0/24 is in use.');
  });

  it('refuses an asked subnet that collides, or is no CIDR, in one sentence', () => {
    expect(() => chooseSubnet('10.89.0.128/25', [{ name: 'a', subnet: s('10.89.0.0/24') }], [])).toThrow('--subnet 10.89.0.128/25 overlaps the subnet of the network a.');
    expect(() => chooseSubnet('192.168.1.0/24', [], [s('192.168.0.0/16')])).toThrow('--subnet 192.168.1.0/24 overlaps the host\'s route to 192.168.0.0/16.');
    expect(() => chooseSubnet('10.89.300.0/24', [], [])).toThrow('is not an IPv4 CIDR');
    expect(subnetText(chooseSubnet('10.90.0.7/16', [], []))).toBe('10.90.0.0/16');
  });

  it('refuses a subnet overlapping slirp4netns\'s 10.0.2.0/24 on a network with outbound traffic', () => {
    expect(() => chooseSubnet('10.0.2.0/24', [], [])).toThrow('--subnet 10.0.2.0/24 overlaps 10.0.2.0/24, which slirp4netns uses for the network\'s outbound traffic.');
    expect(() => chooseSubnet('10.0.0.0/16', [], [])).toThrow('--subnet 10.0.0.0/16 overlaps 10.0.2.0/24');
    expect(() => chooseSubnet('10.0.2.96/28', [], [])).toThrow('overlaps 10.0.2.0/24');
    expect(subnetText(chooseSubnet('10.0.3.0/24', [], []))).toBe('10.0.3.0/24');
    // An --internal network has no slirp4netns: the range is free there.
    expect(subnetText(chooseSubnet('10.0.2.0/24', [], [], false))).toBe('10.0.2.0/24');
  });
});
