import {
  parseTargetAllowList,
  refusedTarget,
  refusedTargetAddress,
  refusedTargetUrl,
  TargetAllowList,
} from './notification-target';

describe('notification targets', () => {
  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://0xa9fea9fe/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[fd00:ec2::254]/',
    'http://metadata.google.internal/',
    'http://metadata/',
    'http://0.0.0.0/',
    'http://[::]/',
    'http://239.1.2.3/',
    'http://255.255.255.255/',
  ])('refuses %s', (url) => {
    expect(refusedTargetUrl(url)).not.toBeNull();
  });

  it.each([
    'https://hooks.slack.com/services/T000/B000/XXXX',
    'http://127.0.0.1:8025/hook',
    'http://localhost/hook',
    'http://[::1]/hook',
    'http://10.0.0.7/hooks',
    'http://192.168.1.20/hooks',
    'http://172.16.0.1/hooks',
    'http://mattermost.internal/hooks',
  ])('allows %s', (url) => {
    expect(refusedTargetUrl(url)).toBeNull();
  });

  it('checks resolved addresses (a name may point anywhere)', () => {
    expect(refusedTargetAddress('169.254.169.254')).not.toBeNull();
    expect(refusedTargetAddress('fe80::abcd')).not.toBeNull();
    expect(refusedTargetAddress('::ffff:169.254.1.1')).not.toBeNull();
    expect(refusedTargetAddress('93.184.216.34')).toBeNull();
    expect(refusedTargetAddress('2001:db8::1')).toBeNull();
  });

  describe('NOTIFY_ALLOWED_HOSTS: the receivers a deployment names', () => {
    const allowed = parseTargetAllowList(' hooks.slack.com, *.chat.example ,10.20.0.0/16,127.0.0.1') as TargetAllowList;

    it('reads names, *.domain, addresses and ranges; names the first bad entry', () => {
      expect(typeof allowed).toBe('object');
      expect(parseTargetAllowList('hooks.slack.com,10.0.0.0/33')).toBe(
        '"10.0.0.0/33" is not an address or a CIDR range',
      );
      expect(parseTargetAllowList('a..b')).toBe('"a..b" is not a host name, a *.domain, an address or a CIDR range');
      expect(parseTargetAllowList('http://x.example')).toMatch(/^"http:\/\/x\.example" is not a host name/);
      expect(parseTargetAllowList('*.')).toMatch(/is not a host name/);
      expect(parseTargetAllowList(' , ')).toBe('name at least one host, or leave it unset');
      const v6 = parseTargetAllowList('[::1],fd12::/16') as TargetAllowList;
      expect(refusedTarget('http://[::1]:8025/hook', v6)).toBeNull();
      expect(refusedTarget('http://[fd12::7]/hook', v6)).toBeNull();
    });

    it.each([
      'https://hooks.slack.com/services/T/B/X',
      'https://HOOKS.SLACK.COM./services/T/B/X',
      'https://mm.chat.example/hooks/1',
      'https://a.b.chat.example/hooks/1',
      'http://10.20.3.4:8065/hooks',
      'http://127.0.0.1:8025/hook',
    ])('posts to %s', (url) => {
      expect(refusedTarget(url, allowed)).toBeNull();
    });

    it.each([
      ['https://chat.example/hooks', 'chat.example'], // *.domain: the names under it, not the domain itself
      ['https://evilchat.example/hooks', 'evilchat.example'],
      ['http://10.21.0.1/hooks', '10.21.0.1'],
      ['http://localhost:6379/', 'localhost'],
      ['http://[::1]:9000/', '[::1]'],
      ['https://hooks.slack.com.evil.example/x', 'hooks.slack.com.evil.example'],
    ])('refuses %s', (url, host) => {
      expect(refusedTarget(url, allowed)).toBe(`${host} is not among the receivers NOTIFY_ALLOWED_HOSTS names`);
    });

    it('keeps the rule for every deployment first, and without a list is that rule alone', () => {
      const metadata = parseTargetAllowList('169.254.0.0/16') as TargetAllowList;
      expect(refusedTarget('http://169.254.169.254/', metadata)).toBe(refusedTargetUrl('http://169.254.169.254/'));
      expect(refusedTarget('http://10.0.0.7/hooks')).toBeNull();
      expect(refusedTarget('http://169.254.169.254/')).not.toBeNull();
    });
  });
});
