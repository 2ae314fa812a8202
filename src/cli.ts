#!/usr/bin/env node
import { buildProgram } from './cli/program.js';

// Output piped into a reader that stops early (`tollgate history | head`): end quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

await buildProgram().parseAsync();
