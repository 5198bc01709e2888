import { describe, expect, it } from 'vitest';
import { CAPABILITIES, ociConfig } from '../../src/scheduler/oci.js';

interface Config {
  process: {
    terminal: boolean;
    noNewPrivileges: boolean;
    env: string[];
    cwd: string;
    capabilities: Record<string, string[]>;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: { namespaces: { type: string }[] };
}

const config = (extra: object = {}) =>
  ociConfig({ rootfs: '/r', command: ['sh'], ...extra }, 'cairn-test-0123') as Config;

describe('ociConfig', () => {
  it('isolates pid, mount, ipc, uts, cgroup and network, but not users (we run as root)', () => {
    const types = config().linux.namespaces.map((n) => n.type);
    expect(types.sort()).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  });

  it('runs without a TTY, without new privileges, with a read-only root and a tmpfs /tmp', () => {
    const c = config();
    expect(c.process.terminal).toBe(false);
    expect(c.process.noNewPrivileges).toBe(true);
    expect(c.root).toEqual({ path: '/r', readonly: true });
    expect(c.mounts.find((m) => m.destination === '/tmp')?.type).toBe('tmpfs');
    expect(c.hostname).toBe('cairn-test-0123');
  });

  it('grants the reduced capability set, and nothing ambient or inheritable', () => {
    const caps = config().process.capabilities;
    expect(Object.keys(caps).sort()).toEqual(['bounding', 'effective', 'permitted']);
    for (const set of Object.values(caps)) expect(set).toEqual([...CAPABILITIES]);
    expect(CAPABILITIES).not.toContain('CAP_SYS_ADMIN');
    expect(CAPABILITIES).not.toContain('CAP_NET_RAW');
    expect(CAPABILITIES).not.toContain('CAP_MKNOD');
  });

  it('bind-mounts recursively, read-only all the way down when asked, never suid or dev', () => {
    const { mounts } = config({
      mounts: [
        { source: '/host/a', target: '/data' },
        { source: '/host/b', target: '/ro', readOnly: true },
      ],
    });
    expect(mounts.slice(-2)).toEqual([
      { destination: '/data', type: 'bind', source: '/host/a', options: ['rbind', 'rw', 'rnosuid', 'rnodev'] },
      { destination: '/ro', type: 'bind', source: '/host/b', options: ['rbind', 'rro', 'rnosuid', 'rnodev'] },
    ]);
  });

  it('puts the caller’s env over the default PATH and HOME, and defaults cwd to /', () => {
    const c = config({ env: { HOME: '/data', X: 'a=b' } });
    expect(c.process.env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/data',
      'X=a=b',
    ]);
    expect(c.process.cwd).toBe('/');
  });
});
