/**
 * How a bench's tollgate child ends: on SIGTERM, SIGINT or its parent's IPC channel closing, it
 * closes the server (giving requests in flight up to `graceMs`, ms) once, then exits 0 — so a
 * `--cpu-prof` run writes its profile and the parent's cleanup never leaves a child behind.
 */
export function stopOnSignals(server: { close(graceMs: number): Promise<unknown> }, graceMs = 1_000): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close(graceMs);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());
}
