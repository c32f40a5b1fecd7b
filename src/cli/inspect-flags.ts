// --inspect URL and --inspect-file PATH, shared by `memcoop run`, `sim` and `replay`: taken out of
// the command's arguments, opened before the command runs and closed (everything queued sent)
// after it, whatever it returns.
import type { InspectionEvent, Observer } from 'xstate';

export const INSPECT_HELP = `  --inspect URL       send the actor system's inspection events (the supervisor and every guest
                      machine) to a Stately WebSocket inspector at URL (ws://host:port; e.g. one
                      started with 'memcoop inspect --serve PORT')
  --inspect-file PATH write the same events to PATH as JSON lines ('memcoop inspect PATH
                      --serve PORT' relays them to an inspector later or from another machine)`;

const FLAGS = { '--inspect': 'url', '--inspect-file': 'file' } as const;

/** The flags' values and the remaining arguments, or a usage error. */
export function takeInspectFlags(argv: readonly string[]): { rest: string[]; url?: string; file?: string } | string {
  const rest: string[] = [];
  const out: { url?: string; file?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = FLAGS[name as keyof typeof FLAGS];
    if (key === undefined) {
      rest.push(a);
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) return `${name} needs a value`;
    out[key] = value;
  }
  return { rest, ...out };
}

/** Runs `body` with the inspection the flags ask for (none: `inspect` is undefined and nothing is made). */
export async function withInspection(
  command: string,
  argv: readonly string[],
  body: (rest: string[], inspect: Observer<InspectionEvent> | undefined) => Promise<number>,
): Promise<number> {
  const flags = takeInspectFlags(argv);
  if (typeof flags === 'string') {
    console.error(`memcoop ${command}: ${flags}`);
    return 2;
  }
  if (flags.url === undefined && flags.file === undefined) return body(flags.rest, undefined);
  const { openInspection } = await import('../inspect/inspection.ts');
  let inspection;
  try {
    inspection = await openInspection({
      ...(flags.url !== undefined ? { url: flags.url } : {}),
      ...(flags.file !== undefined ? { file: flags.file } : {}),
    });
  } catch (err) {
    console.error(`memcoop ${command}: ${(err as Error).message}`);
    return 2;
  }
  try {
    return await body(flags.rest, inspection.observer);
  } finally {
    await inspection.close();
  }
}
