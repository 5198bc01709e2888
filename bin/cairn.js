#!/usr/bin/env node
// The `cairn` command runs the compiled CLI; `npm run setup` (or `npm test`,
// `npm run demo`) builds it.
import { existsSync } from 'node:fs';

// A mount's journal writes must not queue behind its stores' fsyncs in libuv's
// default pool of 4 threads. Read when the pool first starts, so set it first.
process.env.UV_THREADPOOL_SIZE ??= '16';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`cairn: not built yet; run \`npm run setup\` in ${new URL('..', import.meta.url).pathname}\n`);
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
