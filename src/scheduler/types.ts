export interface ContainerMount {
  /** A host path (directory or file) that must exist; relative ones are resolved against our cwd. */
  readonly source: string;
  /** An absolute path inside the container. */
  readonly target: string;
  readonly readOnly?: boolean;
}

export interface ContainerSpec {
  /** Part of the container id, `cairn-<name>-<random>`, which is also its hostname. */
  readonly name?: string;
  /** A rootfs directory, e.g. the one buildRootfs() makes; mounted read-only. */
  readonly rootfs: string;
  /** argv of the container's first process (pid 1); looked up in the container's PATH. */
  readonly command: readonly string[];
  /** Added to (and overriding) PATH and HOME. */
  readonly env?: Readonly<Record<string, string>>;
  /** Absolute path inside the container; default `/`. */
  readonly cwd?: string;
  readonly mounts?: readonly ContainerMount[];
  /**
   * `inherit` (default): the container shares our stdin, stdout and stderr, so
   * output streams through as it is written. `pipe`: stdin is /dev/null and
   * stdout/stderr are collected into the result.
   */
  readonly stdio?: 'inherit' | 'pipe';
  /** Aborting kills the container; runContainer then rejects with ContainerAbortedError. */
  readonly signal?: AbortSignal;
  /** Time (ms) to exit after this process gets SIGINT/SIGTERM, before the container is killed; default 5000. */
  readonly stopTimeoutMs?: number;
  /** runc's state directory (`runc --root`); default RUNC_ROOT, /run/cairn/runc. */
  readonly runcRoot?: string;
  /** The runc binary; default: found in PATH, /usr/sbin or /sbin. */
  readonly runc?: string;
  /**
   * `none` (default): a network namespace of its own with only loopback.
   * `host`: the host's network, so a server in the container is reachable on
   * the host's addresses (node agents give each instance its own port).
   */
  readonly network?: 'none' | 'host';
  /** Limits enforced by the kernel (cgroups): CPU time in cores, memory in bytes. */
  readonly resources?: { readonly cpus?: number; readonly memoryBytes?: number };
  /** With `stdio: 'pipe'`: each chunk of output as it arrives, instead of collecting it into the result. */
  readonly onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

export interface ContainerResult {
  /** The container's exit status; 128+N when it was killed by signal N, as a shell reports it. */
  readonly exitCode: number;
  /** The signal's name (e.g. `SIGKILL`) when exitCode is 128+N for a known signal N. */
  readonly signal?: string;
  /** Collected output, with `stdio: 'pipe'` only. */
  readonly stdout?: string;
  readonly stderr?: string;
}
