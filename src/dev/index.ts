export { type DevCluster, type DevClusterOptions, startDevCluster } from './cluster.js';
export { PeerProcess, type PeerProcessOptions, PeerStartError } from './peer-process.js';
