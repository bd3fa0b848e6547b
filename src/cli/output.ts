// Writing results to stdout with backpressure, and stopping quietly when the reader goes away
// (`allsource query --all | head`): a closed pipe is the reader's choice, not an error.

/** A result sink: stdout in the CLI, any writable stream in tests. */
export interface Output {
  /** Writes `text`; resolves once the stream can take more. A no-op after the reader has gone. */
  write(text: string): Promise<void>;
  /** Writes `value` as JSON followed by a newline (indented unless `compact`). */
  json(value: unknown, compact?: boolean): Promise<void>;
  /** True once the reader has closed the pipe; long-running commands stop producing then. */
  readonly closed: boolean;
}

/** Wraps a writable stream (default: process.stdout) as an Output. */
export function createOutput(stream: NodeJS.WritableStream = process.stdout): Output {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    closed = true;
    // A closed pipe is the reader's choice; anything else is worth one line on stderr.
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') process.stderr.write(`error: internal: writing output: ${err.message}\n`);
  });
  const write = async (text: string): Promise<void> => {
    if (closed || text.length === 0) return;
    if (stream.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('error', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('error', done);
      stream.on('close', done);
    });
  };
  return {
    write,
    json: (value, compact = false) => write(`${compact ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`),
    get closed() {
      return closed;
    },
  };
}
