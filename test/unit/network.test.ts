import { expect } from 'chai';
import { overlaps, pickSubnet } from '../../lib/cluster/network.ts';

describe('the lab Docker network subnet', function () {
  it('tells overlapping IPv4 ranges from disjoint ones, and ignores IPv6', function () {
    expect(overlaps('172.18.0.0/16', '172.18.5.0/24')).to.equal(true);
    expect(overlaps('172.18.0.0/16', '172.16.0.0/12')).to.equal(true);
    expect(overlaps('172.18.0.0/16', '172.19.0.0/16')).to.equal(false);
    expect(overlaps('172.18.0.0/16', '172.18.255.255')).to.equal(true);
    expect(overlaps('172.18.0.0/16', 'fc00:f853:ccd:e793::/64')).to.equal(false);
  });

  it('picks the first /16 no Docker network or route uses', function () {
    expect(pickSubnet(['172.17.0.0/16', 'fc00::/64'])).to.equal('172.18.0.0/16');
    // kind's own network on 172.18 and a VPN route inside 172.19: the lab goes to 172.20.
    expect(pickSubnet(['172.17.0.0/16', '172.18.0.0/16', '172.19.3.0/24'])).to.equal('172.20.0.0/16');
  });

  it('finds none when everything overlaps', function () {
    expect(pickSubnet(['172.16.0.0/12'])).to.equal(undefined);
  });
});
