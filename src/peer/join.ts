/**
 * What a peer needs to serve a cluster, handed to it once as a join file made
 * on a keyring machine (`cairn peer invite`): the topic to announce on, the
 * member keys to let in, and the DHT bootstrap nodes. None of it opens any
 * data; it is kept 0600 because the topic is not for strangers.
 */
import { readFile } from 'node:fs/promises';
import type { KeyPair } from 'hyperdht';
import { hyperdht } from './dht.js';
import { deriveKey } from '../crypto/index.js';
import { UsageError } from '../errors/index.js';

export interface Bootstrap {
  host: string;
  port: number;
}

export interface JoinInfo {
  version: 1;
  /** 64 hex characters. */
  topic: string;
  /** Public keys (hex) allowed to connect. */
  members: string[];
  bootstrap: Bootstrap[];
}

/** The Noise keypair every holder of this cluster's keyring uses towards the peers. */
export function memberKeyPair(masterKey: Uint8Array): KeyPair {
  return hyperdht().keyPair(deriveKey(masterKey, 'cluster/member'));
}

export function clusterTopic(masterKey: Uint8Array): Uint8Array {
  return deriveKey(masterKey, 'cluster/topic');
}

const HEX64 = /^[0-9a-f]{64}$/;

/** `host:port[,host:port…]`; hosts must be loopback or literal addresses the user chose. */
export function parseBootstrap(text: string, source: string): Bootstrap[] {
  const nodes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const match = /^(.+):(\d{1,5})$/.exec(item);
      const port = match ? Number(match[2]) : 0;
      if (!match || port < 1 || port > 65535) throw new UsageError(`${source}: "${item}" is not host:port`);
      return { host: match[1], port };
    });
  if (nodes.length === 0) throw new UsageError(`${source} names no bootstrap node`);
  return nodes;
}

/** CAIRN_BOOTSTRAP=host:port[,…] when set, else the nodes a config or join file names. */
export function bootstrapFrom(configured: Bootstrap[], env: NodeJS.ProcessEnv = process.env): Bootstrap[] {
  return env.CAIRN_BOOTSTRAP ? parseBootstrap(env.CAIRN_BOOTSTRAP, 'CAIRN_BOOTSTRAP') : configured;
}

export function checkJoinInfo(value: unknown, source: string): JoinInfo {
  const v = value as Partial<JoinInfo> | null;
  const bad = (why: string) => new UsageError(`${source} is not a Cairn join file: ${why}`);
  if (typeof v !== 'object' || v === null || v.version !== 1) throw bad('no version 1');
  if (typeof v.topic !== 'string' || !HEX64.test(v.topic)) throw bad('bad topic');
  if (!Array.isArray(v.members) || v.members.length === 0 || !v.members.every((m) => typeof m === 'string' && HEX64.test(m))) {
    throw bad('bad member keys');
  }
  if (!Array.isArray(v.bootstrap) || v.bootstrap.length === 0) throw bad('no bootstrap nodes');
  for (const b of v.bootstrap) {
    if (typeof b?.host !== 'string' || !Number.isInteger(b.port)) throw bad('bad bootstrap node');
  }
  return { version: 1, topic: v.topic, members: v.members, bootstrap: v.bootstrap };
}

export async function readJoinFile(path: string): Promise<JoinInfo> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the join file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`the join file ${path} is not JSON`);
  }
  return checkJoinInfo(parsed, `the join file ${path}`);
}
