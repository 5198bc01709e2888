/**
 * SIGINT and SIGTERM while containers run. Without a handler Node would die
 * at once and leave the containers running and their state behind; so while
 * at least one container runs we catch both, stop every running container,
 * and once the last one is cleaned up, re-raise the signal to die of it as we
 * would have (unless someone else in the process handles it). No handlers are
 * installed while no container runs.
 */

const HOST_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

type Stop = (signal: NodeJS.Signals) => void;

const running = new Set<Stop>();
let caught: NodeJS.Signals | undefined;

function onSignal(signal: NodeJS.Signals): void {
  caught ??= signal;
  for (const stop of running) stop(signal);
}

/**
 * Registers a running container: `stop` is called for every SIGINT or SIGTERM
 * the process gets until the returned release function is called, which the
 * caller does once the container is gone and cleaned up.
 */
export function guardContainer(stop: Stop): () => void {
  if (running.size === 0) for (const s of HOST_SIGNALS) process.on(s, onSignal);
  running.add(stop);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    running.delete(stop);
    if (running.size > 0) return;
    for (const s of HOST_SIGNALS) process.off(s, onSignal);
    const signal = caught;
    caught = undefined;
    // With no listener left, Node restores the default action: the signal ends the process.
    if (signal !== undefined && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
}
