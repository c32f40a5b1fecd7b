// A subcommand's options, read the one way every command answers them: strictly (an unknown
// option is refused, naming it, with the command's usage, exit 2) and with -h/--help (the usage,
// exit 0).
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * The parsed options and positionals, or the exit status when the command is already answered
 * (2 after a bad option, 0 after --help).
 */
export function commandArgs<const O extends Options, const P extends boolean = false>(command: string, usage: string, argv: string[], options: O, allowPositionals?: P) {
  let v;
  try {
    v = parseArgs({ args: argv, strict: true, allowPositionals: (allowPositionals ?? false) as P, options: { ...options, ...HELP } });
  } catch (e) {
    console.error(`memcoop ${command}: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if ((v.values as { help?: boolean }).help === true) {
    console.log(usage);
    return 0;
  }
  return v;
}
