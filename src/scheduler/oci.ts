/**
 * The OCI runtime config (config.json) for one container. Pure: no I/O, so
 * every choice here can be read and tested in one place; docs/CONTAINERS.md
 * explains them.
 */
import { posix } from 'node:path';
import { InvalidContainerSpecError } from './errors.js';
import type { ContainerMount, ContainerSpec } from './types.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Docker's default set minus MKNOD (the device cgroup refuses new device
 * nodes anyway), NET_RAW (no network to craft packets for; the classic
 * spoofing tool), SETFCAP and SETPCAP (granting file or inherited
 * capabilities is not something a workload needs) and AUDIT_WRITE (no audit
 * daemon to write to). What is left lets root in the container own and modify
 * any file in its volumes (CHOWN, DAC_OVERRIDE, FOWNER, FSETID), drop to
 * another user (SETUID, SETGID), signal its processes (KILL), chroot, and
 * bind low ports on loopback.
 */
export const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
] as const;

// runc's own defaults (`runc spec`): kernel interfaces that leak host details
// or let root in the container reconfigure the host kernel.
const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

// Kernel file systems every program expects, and a writable /tmp on the
// otherwise read-only rootfs. No /sys/fs/cgroup: nothing here manages cgroups.
const SYSTEM_MOUNTS = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  {
    destination: '/dev',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
  },
  {
    destination: '/dev/pts',
    type: 'devpts',
    source: 'devpts',
    options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
  },
  {
    destination: '/dev/shm',
    type: 'tmpfs',
    source: 'shm',
    options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
  },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
];

/** A normalized absolute path inside the container. */
function checkContainerPath(what: string, path: string): void {
  if (!path.startsWith('/') || posix.normalize(path) !== path || (path.length > 1 && path.endsWith('/'))) {
    throw new InvalidContainerSpecError(`${what} must be a normalized absolute path, not ${JSON.stringify(path)}`);
  }
}

const hasNul = (s: string) => s.includes('\0');

/** Rejects what runc would refuse (or misread) with InvalidContainerSpecError, before anything starts. */
export function validateSpec(spec: ContainerSpec): void {
  if (spec.command.length === 0 || spec.command.some(hasNul) || spec.command[0] === '') {
    throw new InvalidContainerSpecError('the command must be a non-empty argv without NUL bytes');
  }
  // It becomes part of the hostname: hostname characters (a subset of runc's
  // id characters), and short enough that `cairn-NAME-<12 hex>` fits in 64.
  if (spec.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9-]{0,39}$/.test(spec.name)) {
    throw new InvalidContainerSpecError(
      `container name ${JSON.stringify(spec.name)}: use 1-40 letters, digits and dashes, starting with a letter or digit`,
    );
  }
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    if (key === '' || key.includes('=') || hasNul(key) || hasNul(value)) {
      throw new InvalidContainerSpecError(`bad environment variable ${JSON.stringify(key)}`);
    }
  }
  if (spec.cwd !== undefined) checkContainerPath('cwd', spec.cwd);
  const { cpus, memoryBytes } = spec.resources ?? {};
  const badCpus = cpus !== undefined && !(cpus > 0 && cpus <= 1024);
  const badMemory = memoryBytes !== undefined && !(Number.isSafeInteger(memoryBytes) && memoryBytes >= 2 ** 20);
  if (badCpus || badMemory) {
    throw new InvalidContainerSpecError('resources: cpus must be in (0, 1024], memoryBytes a whole number >= 1 MiB');
  }
  for (const m of spec.mounts ?? []) {
    checkContainerPath('a mount target', m.target);
    if (m.target === '/') throw new InvalidContainerSpecError('cannot mount over the container root');
  }
}

function bindMount(m: ContainerMount) {
  // rbind takes the source's submounts along, so every flag is the recursive
  // kind (rro, rnosuid, rnodev; kernel >= 5.12): a read-only mount stays
  // read-only all the way down, and no host file becomes a way to gain
  // privileges or reach a device.
  return {
    destination: m.target,
    type: 'bind',
    source: m.source,
    options: ['rbind', m.readOnly ? 'rro' : 'rw', 'rnosuid', 'rnodev'],
  };
}

// CFS: a container may use `cpus` times this period of CPU time per period.
const CPU_PERIOD_US = 100_000;

function limits(resources: ContainerSpec['resources']) {
  return {
    ...(resources?.memoryBytes ? { memory: { limit: resources.memoryBytes } } : {}),
    ...(resources?.cpus ? { cpu: { period: CPU_PERIOD_US, quota: Math.ceil(resources.cpus * CPU_PERIOD_US) } } : {}),
  };
}

/** The config.json for `spec` (validated, host paths absolute), running as root with its rootfs read-only. */
export function ociConfig(spec: ContainerSpec, hostname: string): object {
  const env = { PATH: DEFAULT_PATH, HOME: '/root', ...spec.env };
  const caps = [...CAPABILITIES];
  return {
    ociVersion: '1.0.2',
    process: {
      // No TTY: output stays a plain byte stream the caller can pipe.
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: spec.command,
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      cwd: spec.cwd ?? '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: spec.rootfs, readonly: true },
    hostname,
    mounts: [...SYSTEM_MOUNTS, ...(spec.mounts ?? []).map(bindMount)],
    linux: {
      // A new network namespace holds only loopback: containers reach their
      // volumes through mounts. Apps run by node agents share the host's
      // network instead, so the router reaches them on their ports.
      namespaces: ['pid', ...(spec.network === 'host' ? [] : ['network']), 'ipc', 'uts', 'mount', 'cgroup'].map(
        (type) => ({ type }),
      ),
      // Deny all devices; runc still allows the standard ones (null, zero, random, tty...).
      resources: { devices: [{ allow: false, access: 'rwm' }], ...limits(spec.resources) },
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}
