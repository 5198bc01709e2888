// What node agents add to a container's OCI config: the host's network and cgroup limits.
import { describe, expect, it } from 'vitest';
import { InvalidContainerSpecError } from '../../src/scheduler/index.js';
import { ociConfig, validateSpec } from '../../src/scheduler/oci.js';
import type { ContainerSpec } from '../../src/scheduler/types.js';

interface Config {
  linux: { namespaces: { type: string }[]; resources: Record<string, unknown> };
}

const base: ContainerSpec = { rootfs: '/r', command: ['sh'] };
const config = (extra: Partial<ContainerSpec>) => ociConfig({ ...base, ...extra }, 'cairn-x') as Config;

describe('containers for app instances', () => {
  it('network: host leaves out the network namespace; the default keeps it', () => {
    expect(config({ network: 'host' }).linux.namespaces.map((n) => n.type)).not.toContain('network');
    expect(config({}).linux.namespaces.map((n) => n.type)).toContain('network');
    expect(config({ network: 'none' }).linux.namespaces.map((n) => n.type)).toContain('network');
  });

  it('resources become a memory limit and a CFS quota, next to the device rules', () => {
    const r = config({ resources: { cpus: 0.25, memoryBytes: 64 * 2 ** 20 } }).linux.resources;
    expect(r.memory).toEqual({ limit: 64 * 2 ** 20 });
    expect(r.cpu).toEqual({ period: 100_000, quota: 25_000 });
    expect(r.devices).toEqual([{ allow: false, access: 'rwm' }]);
    expect(config({}).linux.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }] });
  });

  it('refuses limits the kernel would refuse or misread', () => {
    for (const resources of [{ cpus: 0 }, { cpus: -1 }, { cpus: 2000 }, { memoryBytes: 1000 }, { memoryBytes: 2 ** 20 + 0.5 }]) {
      expect(() => validateSpec({ ...base, resources }), JSON.stringify(resources)).toThrow(InvalidContainerSpecError);
    }
    expect(() => validateSpec({ ...base, resources: { cpus: 0.1, memoryBytes: 2 ** 20 } })).not.toThrow();
  });
});
