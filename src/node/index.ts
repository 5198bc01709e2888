// The node agent: runs the app instances the control plane assigns to this node.
export { AgentBusyError, DEFAULT_HEARTBEAT_MS, type NodeAgent, type NodeAgentOptions, startNodeAgent } from './agent.js';
export type { VolumeOpener } from './instance.js';
