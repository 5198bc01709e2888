/**
 * Host ports for instances. Containers share the host's network, so each
 * instance gets ports of its own: the kernel picks free ones (bind to port 0),
 * which also keeps several agents on one machine from colliding. The port is
 * released before the container binds it; another program could take it in
 * between, and the instance then fails its start and gets new ports on the
 * restart.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { PortSpec } from '../scheduler/spec.js';

function freeTcpPort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function freeUdpPort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind(0, address, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** A free host port on `address` for each of the app's ports, by port name. */
export async function allocatePorts(ports: readonly PortSpec[], address: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of ports) out[p.name] = p.protocol === 'udp' ? await freeUdpPort(address) : await freeTcpPort(address);
  return out;
}
