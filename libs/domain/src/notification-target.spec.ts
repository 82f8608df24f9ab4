import { refusedTargetAddress, refusedTargetUrl } from './notification-target';

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
});
