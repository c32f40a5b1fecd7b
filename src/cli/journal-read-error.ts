// How `memcoop replay` (and `replay --explain`) answer a journal that cannot be read: a bad
// journal or an unreadable path is one line and exit 2; anything else is a bug and is rethrown.
import { InputError } from '../util/validate.ts';

/** Prints the one-line refusal and returns exit status 2, or rethrows what is not a read error. */
export function journalReadFailed(err: unknown, file: string): number {
  if (err instanceof InputError) {
    console.error(`memcoop replay: ${err.message}`);
    return 2;
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    console.error(`memcoop replay: cannot read ${file}: ${(err as Error).message}`);
    return 2;
  }
  throw err;
}
