// memcoop inspect [PATH] --serve PORT [--listen ADDR]: relays inspector events to the Stately
// inspector in a browser (src/inspect/relay.ts): those of PATH (written by --inspect-file, live
// or finished) and those a live `memcoop run|sim|replay --inspect ws://ADDR:PORT` sends.
import { existsSync } from 'node:fs';
import { startRelay } from '../inspect/relay.ts';
import { commandArgs } from './command-args.ts';

const USAGE = `usage: memcoop inspect [PATH] --serve PORT [--listen ADDR]

Serves the Stately inspector's feed on PORT (ADDR: default 127.0.0.1) until SIGINT or SIGTERM:
  - PATH: inspector events written by 'memcoop run|sim|replay --inspect-file PATH', from the
    first line, and each line added while that run goes on;
  - and whatever 'memcoop run|sim|replay --inspect ws://ADDR:PORT' sends while it runs.
Open http://ADDR:PORT in a browser: the page loads the inspector (https://stately.ai/inspect)
and feeds it. From another machine, through an SSH tunnel:
  ssh -L PORT:localhost:PORT root@dom0     then open http://localhost:PORT`;

export async function run(argv: string[]): Promise<number> {
  const v = commandArgs('inspect', USAGE, argv, { serve: { type: 'string' }, listen: { type: 'string' } }, true);
  if (typeof v === 'number') return v;
  const port = Number(v.values.serve);
  if (v.values.serve === undefined || !Number.isInteger(port) || port < 0 || port > 65535 || v.positionals.length > 1) {
    console.error(`memcoop inspect: --serve needs a port number (0-65535)\n\n${USAGE}`);
    return 2;
  }
  const file = v.positionals[0];
  if (file !== undefined && !existsSync(file)) {
    console.error(`memcoop inspect: no file ${file}`);
    return 2;
  }
  let relay;
  try {
    relay = await startRelay({ port, ...(v.values.listen ? { host: v.values.listen } : {}), ...(file !== undefined ? { file } : {}) });
  } catch (err) {
    console.error(`memcoop inspect: cannot serve on port ${port}: ${(err as Error).message}`);
    return 2;
  }
  const addr = v.values.listen ?? '127.0.0.1';
  console.log(`memcoop inspect: open http://${addr}:${relay.port} (runs send to ws://${addr}:${relay.port})${file ? `; relaying ${file}` : ''}`);
  const sig = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await relay.close();
  console.log(`memcoop inspect: ${sig}: stopped after relaying ${relay.count()} events`);
  return 0;
}
