export { CONNECT_GRACE_MS, PeerLink, PeerNetwork, REQUEST_TIMEOUT_MS } from './client.js';
export { PeerError } from './errors.js';
export { FRAME_VERSION, FrameError, MAX_FRAME_BYTES, Op } from './frame.js';
export { type Bootstrap, type JoinInfo, bootstrapFrom, checkJoinInfo, clusterTopic, memberKeyPair, parseBootstrap, readJoinFile } from './join.js';
export { PeerServer, SCRUB_PAGE, auditDigest } from './server.js';
export { type PeerState, loadOrCreateState, peerKeyPair, statePath, storeDir } from './state.js';
