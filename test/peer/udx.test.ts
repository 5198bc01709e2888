import { readFileSync } from 'node:fs';
import UDX from 'udx-native';
import { describe, expect, it } from 'vitest';
import { RECEIVE_BUFFER_BYTES, roomyUdx } from '../../src/peer/udx.js';

// Linux reports twice what was granted; a grant is capped at net.core.rmem_max.
const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
const granted = (asked: number) => 2 * Math.min(asked, rmemMax);

async function boundBuffer(udx: UDX): Promise<number> {
  const socket = udx.createSocket();
  const listening = new Promise((resolve) => socket.once('listening', resolve));
  socket.bind(0, '127.0.0.1');
  await listening;
  // The resize is a 'listening' listener too, registered first: it has run by now.
  const bytes = socket.getRecvBufferSize();
  await socket.close();
  return bytes;
}

describe('the UDP layer under hyperdht', () => {
  it('binds every socket with the receive buffer a burst of shards needs, as far as the kernel allows', async () => {
    const roomy = await boundBuffer(roomyUdx());
    expect(roomy).toBeGreaterThanOrEqual(granted(RECEIVE_BUFFER_BYTES));
    // libudx's own choice, for contrast: ours is larger wherever the kernel lets it be.
    const plain = await boundBuffer(new UDX());
    if (granted(RECEIVE_BUFFER_BYTES) > plain) expect(roomy).toBeGreaterThan(plain);
    else expect(roomy).toBe(plain);
  });
});
