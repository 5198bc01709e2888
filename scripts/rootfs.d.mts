// Types for scripts/rootfs.mjs, which stays plain JS so setup can run it before node_modules exists.
export declare const DEFAULT_BUSYBOX: string;
export declare function buildRootfs(dir: string, options?: { busybox?: string }): { dir: string; built: boolean };
