/**
 * The UDP layer under hyperdht, with receive buffers big enough for the
 * shards a volume asks for at once. libudx asks the kernel for 1 MiB; reading
 * a few stripes ahead from six peers sends several MiB at the reader's one
 * socket together, the kernel dropped the overflow (about 25,000 datagrams
 * per 128 MiB read), and each loss cost the stream a retransmission: the
 * more gets ran at once, the slower they went (40 MB/s at 16 stripes in
 * flight, 105 MB/s with these buffers). Peers receive puts the same way.
 * The kernel caps the size at net.core.rmem_max (docs/PEERS.md).
 */
import UDX from 'udx-native';

export const RECEIVE_BUFFER_BYTES = 8 * 2 ** 20;

export function roomyUdx(): UDX {
  const udx = new UDX();
  const create = udx.createSocket.bind(udx);
  udx.createSocket = (options) => {
    const socket = create(options);
    socket.once('listening', () => {
      try {
        socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
      } catch {
        // Closed before it was bound: nothing to size.
      }
    });
    return socket;
  };
  return udx;
}
