import type { RealtimeSession } from './session.js';

/**
 * The Realtime sessions a server runs (WebSocket relays and WebRTC calls' sideband sessions), so
 * that closing the server ends them all and waits for their last rows. Keyed by the runtime: one
 * registry per running tollgate.
 */
const registries = new WeakMap<object, Set<RealtimeSession>>();

/** The sessions running under `owner` (a runtime). */
export function sessionsOf(owner: object): Set<RealtimeSession> {
  let set = registries.get(owner);
  if (!set) registries.set(owner, (set = new Set()));
  return set;
}

/** Keeps `session` in `owner`'s registry until it is done. */
export function register(owner: object, session: RealtimeSession): void {
  const set = sessionsOf(owner);
  set.add(session);
  void session.done.then(() => set.delete(session));
}
