// How the long-running commands (`core`, `serve`) stop: the first SIGTERM or Ctrl-C closes the
// server gracefully (in-flight requests finish) and exits 0, or 1 if closing failed; a second
// one exits at once.

export function closeOnSignals(command: string, close: () => Promise<void>, doing: string): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(130); // a second signal: stop now
    stopping = true;
    process.stderr.write(`allsource ${command}: ${signal}: ${doing}\n`);
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`error: internal: shutting down: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
