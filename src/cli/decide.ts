// `memcoop decide [FILE]`: the policy once, as a command. JSON in (FILE, or stdin), JSON out.
import { readFile } from 'node:fs/promises';
import { decide } from '../policy/decide.ts';
import { InputError } from '../util/validate.ts';
import { readDecideInput } from './decide-input.ts';

/** Input larger than this is refused: 100,000 guests at ~300 bytes each fits well inside. */
const MAX_INPUT_BYTES = 64 * 1024 * 1024;

export const HELP = `usage: memcoop decide [--trace] [FILE]

Runs memcoop's policy (Zhang et al. 2011: Dom0 first, self adjustment while memory is
abundant, the equal idle-memory price balance when it is scarce) once and prints the decision.
Reads JSON from FILE, or from standard input when no FILE is given:

  {"params": {"tau", "eps", "reserveKiB", "upRatio", "downRatio",   (optional, each optional)
              "rules": {"<rule>": false, ...}},      (memcoop's rules beyond the paper, each on
                                                      unless false: commitCap, minStep, deadband,
                                                      promptSelfSteps, workingRoom, shortHold,
                                                      idleFirst, keepTickTarget, reserveFirst,
                                                      idleYield)
   "host":   {"freeKiB"},
   "dom0":   {"currentKiB", "committedKiB", "minKiB", "maxKiB"},   (optional: a KVM host has none)
   "guests": [{"id", "minKiB", "maxKiB", "currentKiB", "committedKiB", "freeKiB",
               "swapTotalKiB", "swapFreeKiB", "shares" (default 1), "agent" (default true),
               optional, absent means unknown (never 0):
               "psiSomeAvg10" (PSI memory some avg10, hundredths of a per cent),
               "swapInsKiB" (swapped in since the previous report), "availableKiB" (MemAvailable),
               "pendingIncreaseKiB" / "pendingDecreaseKiB" (a target written and not yet reached,
               above / below currentKiB: not granted twice)}]}

Prints:

  {"state": "abundant"|"scarce", "overcommitted": bool, "price": number|null,
   "dom0": {"goalKiB", "targetKiB", "reclaimKiB"},
   "guests": [{"id", "mode": "self"|"global"|"held", "goalKiB", "targetKiB"}]}

goal: where the policy wants the domain; target: this tick's step toward it.
--trace: the decision also carries "trace", the policy's own figures behind it (the regime
and the inequality that chose it, Dom0's need and how it was served, the price and each
guest's price terms, the bound that held each goal, each step and what bounded it, what the
two-phase rule held back); the same figures 'memcoop explain' renders (src/policy/trace.ts).
Memory is in KiB. Exit status 2 on bad input, naming the field.`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_INPUT_BYTES) throw new InputError('input', `larger than ${MAX_INPUT_BYTES} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const trace = argv.includes('--trace');
  argv = argv.filter((a) => a !== '--trace');
  const unknown = argv.find((a) => a.startsWith('-') && a !== '-');
  if (unknown !== undefined || argv.length > 1) {
    console.error(`memcoop decide: ${unknown !== undefined ? `unknown option ${unknown}` : 'at most one FILE'}\n\n${HELP}`);
    return 2;
  }
  const file = argv[0];
  let text: string;
  try {
    if (file === undefined || file === '-') {
      text = await readStdin();
    } else {
      text = await readFile(file, 'utf8');
      if (text.length > MAX_INPUT_BYTES) throw new InputError('input', `larger than ${MAX_INPUT_BYTES} bytes`);
    }
  } catch (e) {
    console.error(`memcoop decide: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    console.error(`memcoop decide: input is not JSON: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  try {
    const input = readDecideInput(parsed);
    console.log(JSON.stringify(decide(trace ? { ...input, trace: true } : input), null, 2));
    return 0;
  } catch (e) {
    if (e instanceof InputError) {
      console.error(`memcoop decide: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
