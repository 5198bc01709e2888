/**
 * One app instance on this node: its volumes opened and FUSE-mounted here
 * (served by this process, bind-mounted into the container), host ports
 * picked, the container run under runc with the host's network, its health
 * checked, and its crashes restarted with exponential backoff. stop() kills
 * the container, commits the volumes, unmounts and releases their leases.
 *
 * This process serves the mounts, so it never touches them itself: the
 * container does the I/O (docs/SCHEDULER.md, "Node agents").
 */
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Mounted, mountVolume } from '../../fuse/index.js';
import type { Assignment } from '../control/api.js';
import type { Logger } from '../log/index.js';
import type { InstanceStatus } from '../scheduler/model.js';
import { ContainerAbortedError, runContainer } from '../scheduler/index.js';
import { portEnvName } from '../scheduler/spec.js';
import type { Volume } from '../volume/index.js';
import { checkHealth } from './health.js';
import type { OutputQueue } from './output.js';
import { allocatePorts } from './ports.js';

/** Opens a volume by name from the catalog (the CLI wires it to its session). */
export type VolumeOpener = (
  name: string,
  options: { readOnly: boolean; takeover: boolean; journalRoot: string },
) => Promise<Volume>;

export interface InstanceContext {
  address: string;
  rootfs: string;
  runcRoot: string;
  mountRoot: string;
  journalRoot: string;
  openVolume: VolumeOpener;
  output: OutputQueue;
  log: Logger;
  /** Something the control plane waits for happened (the instance became healthy): report it now. */
  changed: () => void;
}

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** A container that ran this long before it ended was not crash-looping: the backoff starts over. */
const STABLE_RUN_MS = 10_000;
const HEALTH_INTERVAL_MS = 1000;
const FIRST_HEALTH_INTERVAL_MS = 200;

export const backoffMs = (failures: number) => Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, failures - 1));

interface Attached {
  name: string;
  volume: Volume;
  mounted: Mounted;
  dir: string;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Instance {
  readonly assignment: Assignment;
  readonly #ctx: InstanceContext;
  readonly #abort = new AbortController();
  #state: InstanceStatus['state'] = 'starting';
  #healthy = false;
  #ports: Record<string, number> = {};
  #restarts = 0;
  #exitCode?: number;
  #error?: string;
  #attached: Attached[] = [];
  readonly #done: Promise<void>;

  constructor(assignment: Assignment, ctx: InstanceContext) {
    this.assignment = assignment;
    this.#ctx = ctx;
    this.#done = this.#supervise();
  }

  get id(): string {
    return this.assignment.id;
  }

  status(): { id: string } & InstanceStatus {
    const s: { id: string } & InstanceStatus = {
      id: this.id,
      state: this.#state,
      healthy: this.#healthy,
      ports: this.#ports,
      restarts: this.#restarts,
      volumes: this.#attached.map((a) => ({ name: a.name, epoch: a.volume.fs.readOnly ? 0 : a.volume.epoch })),
    };
    if (this.#exitCode !== undefined) s.exitCode = this.#exitCode;
    if (this.#error !== undefined) s.error = this.#error;
    return s;
  }

  /** Stops the container, commits and unmounts the volumes; resolves when all is released. */
  async stop(): Promise<void> {
    this.#state = 'stopping';
    this.#abort.abort(new Error('stopped by the node agent'));
    await this.#done;
  }

  get #stopping(): boolean {
    return this.#abort.signal.aborted;
  }

  async #supervise(): Promise<void> {
    const { output, log } = this.#ctx;
    let failures = 0;
    try {
      while (!this.#stopping) {
        const started = Date.now();
        this.#state = 'starting';
        try {
          await this.#attach();
          this.#ports = await allocatePorts(this.assignment.spec.ports, this.#ctx.address);
          this.#state = 'running';
          const result = await this.#run();
          this.#exitCode = result.exitCode;
          this.#error = `the container exited with ${result.signal ?? `code ${result.exitCode}`}`;
        } catch (err) {
          if (this.#stopping && err instanceof ContainerAbortedError) break;
          this.#error = message(err);
          // A volume that failed may be half-attached, or fenced: start over with fresh mounts.
          await this.#detach();
        }
        if (this.#stopping) break;
        failures = Date.now() - started >= STABLE_RUN_MS ? 1 : failures + 1;
        this.#restarts++;
        this.#state = 'backoff';
        this.#healthy = false;
        const wait = backoffMs(failures);
        output.note(this.id, `${this.#error}; restarting in ${wait / 1000} s`);
        log.warn({ instance: this.id, error: this.#error, backoffMs: wait }, 'instance ended; restarting');
        await sleep(wait, undefined, { signal: this.#abort.signal }).catch(() => undefined);
      }
    } finally {
      this.#state = 'stopping';
      this.#healthy = false;
      await this.#detach();
    }
  }

  async #run() {
    const { spec } = this.assignment;
    const env: Record<string, string> = { ...spec.env };
    spec.ports.forEach((p, i) => {
      env[portEnvName(p.name)] = String(this.#ports[p.name]);
      if (i === 0) env.PORT = String(this.#ports[p.name]);
    });
    const health = this.#watchHealth();
    try {
      return await runContainer({
        name: this.id,
        rootfs: this.#ctx.rootfs,
        command: spec.command,
        env,
        mounts: this.#attached.map((a, i) => ({ source: a.dir, target: spec.volumes[i].path, readOnly: spec.volumes[i].readOnly })),
        stdio: 'pipe',
        onOutput: (stream, chunk) => this.#ctx.output.write(this.id, stream, chunk),
        signal: this.#abort.signal,
        runcRoot: this.#ctx.runcRoot,
        network: 'host',
        resources: { cpus: spec.resources.cpu, memoryBytes: spec.resources.memoryBytes },
      });
    } finally {
      health.abort();
      this.#healthy = false;
    }
  }

  /** Health checks while the container runs; without a check an instance is healthy while it runs. */
  #watchHealth(): AbortController {
    const stop = new AbortController();
    const check = this.assignment.spec.health;
    if (!check) {
      this.#healthy = true;
      this.#ctx.changed();
      return stop;
    }
    void (async () => {
      let passed = false;
      while (!stop.signal.aborted) {
        const ok = await checkHealth(this.assignment.spec, check, this.#ctx.address, this.#ports);
        if (stop.signal.aborted) break;
        if (ok && !this.#healthy) this.#ctx.changed();
        this.#healthy = ok;
        passed ||= ok;
        // Until the first pass, check often: a failover or rollout waits for it.
        await sleep(passed ? HEALTH_INTERVAL_MS : FIRST_HEALTH_INTERVAL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    })();
    return stop;
  }

  /** Opens and mounts every volume not yet attached (in spec order). */
  async #attach(): Promise<void> {
    const { spec, takeover } = this.assignment;
    for (let i = this.#attached.length; i < spec.volumes.length; i++) {
      const v = spec.volumes[i];
      const dir = join(this.#ctx.mountRoot, this.id, String(i));
      await mkdir(dir, { recursive: true });
      const volume = await this.#ctx.openVolume(v.name, { readOnly: v.readOnly, takeover, journalRoot: this.#ctx.journalRoot });
      try {
        const mounted = await mountVolume(volume.fs, dir, { readOnly: v.readOnly });
        this.#attached.push({ name: v.name, volume, mounted, dir });
        this.#ctx.log.info({ instance: this.id, volume: v.name, epoch: volume.epoch, readOnly: v.readOnly }, 'volume mounted');
      } catch (err) {
        await volume.close().catch(() => undefined);
        throw err;
      }
    }
  }

  /** Commits, unmounts and closes every attached volume (last first); failures are logged, not thrown. */
  async #detach(): Promise<void> {
    for (const a of this.#attached.reverse()) {
      try {
        if (!a.volume.fs.readOnly) await a.volume.commit();
      } catch (err) {
        this.#ctx.log.warn({ instance: this.id, volume: a.name, err: message(err) }, 'final commit failed');
      }
      try {
        await a.mounted.unmount();
        // rmdir, never rm -r: if the unmount did not happen, this fails instead of deleting the volume's files.
        await rmdir(a.dir);
      } catch (err) {
        this.#ctx.log.warn({ instance: this.id, volume: a.name, err: message(err) }, 'unmount failed');
      }
      await a.volume.close().catch((err: unknown) => this.#ctx.log.warn({ volume: a.name, err: message(err) }, 'close failed'));
    }
    this.#attached = [];
    await rmdir(join(this.#ctx.mountRoot, this.id)).catch(() => undefined);
  }
}
