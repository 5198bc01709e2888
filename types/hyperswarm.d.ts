// The slice of hyperswarm and hyperdht that Cairn uses; neither ships types.
declare module 'hyperdht' {
  import { EventEmitter } from 'node:events';

  export interface KeyPair {
    publicKey: Buffer;
    secretKey: Buffer;
  }
  export interface DHTOptions {
    bootstrap?: { host: string; port: number }[] | string[];
    /** The address the UDP socket binds. */
    host?: string;
    port?: number;
    ephemeral?: boolean;
    firewalled?: boolean;
    keyPair?: KeyPair;
    /** The UDP layer to use (src/peer/udx.ts sizes its receive buffers). */
    udx?: import('udx-native').default;
  }
  export interface DHTServer {
    listen(keyPair: KeyPair): Promise<void>;
    close(): Promise<void>;
  }
  export default class DHT extends EventEmitter {
    constructor(options?: DHTOptions);
    static keyPair(seed?: Uint8Array): KeyPair;
    fullyBootstrapped(): Promise<void>;
    address(): { host: string; port: number };
    destroy(options?: { force?: boolean }): Promise<void>;
    /** `firewall` returns true to refuse a connection at the Noise handshake. */
    createServer(
      options: { firewall?: (remotePublicKey: Buffer) => boolean; shareLocalAddress?: boolean },
      onConnection: (socket: import('hyperswarm').NoiseStream) => void,
    ): DHTServer;
    announce(topic: Uint8Array, keyPair: KeyPair): { finished(): Promise<void> };
    /** A Noise stream to the server with this public key, found through the DHT. */
    connect(publicKey: Uint8Array, options?: { keyPair?: KeyPair }): import('hyperswarm').NoiseStream;
  }
}

declare module 'hyperdht/testnet.js' {
  import type DHT from 'hyperdht';

  interface Testnet {
    nodes: DHT[];
    bootstrap: { host: string; port: number }[];
    destroy(): Promise<void>;
  }
  export default function createTestnet(size?: number, options?: { host?: string; port?: number }): Promise<Testnet>;
}

declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events';
  import type { Duplex } from 'node:stream';
  import type DHT from 'hyperdht';
  import type { KeyPair } from 'hyperdht';

  export interface NoiseStream extends Duplex {
    remotePublicKey: Buffer;
    publicKey: Buffer;
    /** Sends an empty message every ms while idle. */
    setKeepAlive(ms: number): void;
    /** Destroys the stream after ms without receiving anything. */
    setTimeout(ms: number): void;
  }
  export interface PeerInfo {
    publicKey: Buffer;
  }
  export interface Discovery {
    flushed(): Promise<void>;
    destroy(): Promise<void>;
  }
  export interface SwarmOptions {
    keyPair?: KeyPair;
    dht?: DHT;
    /** Return true to refuse the connection, before any application data. */
    firewall?: (remotePublicKey: Buffer) => boolean;
    maxPeers?: number;
  }
  export default class Hyperswarm extends EventEmitter {
    constructor(options?: SwarmOptions);
    readonly keyPair: KeyPair;
    readonly dht: DHT;
    readonly connections: Set<NoiseStream>;
    join(topic: Uint8Array, options?: { server?: boolean; client?: boolean }): Discovery;
    leave(topic: Uint8Array): Promise<void>;
    joinPeer(publicKey: Uint8Array): void;
    leavePeer(publicKey: Uint8Array): void;
    flush(): Promise<void>;
    destroy(): Promise<void>;
    on(event: 'connection', listener: (socket: NoiseStream, info: PeerInfo) => void): this;
  }
}

declare module 'udx-native' {
  import { EventEmitter } from 'node:events';

  export interface UDXSocket extends EventEmitter {
    bind(port?: number, host?: string): void;
    close(): Promise<void>;
    getRecvBufferSize(): number;
    setRecvBufferSize(bytes: number): number;
  }
  export default class UDX {
    createSocket(options?: object): UDXSocket;
  }
}
