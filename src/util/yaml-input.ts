// YAML from an operator's file (a daemon config, a scenario): parsed, or refused with the file
// named and the parser's first line, never its multi-line excerpt.
import { parse as parseYaml } from 'yaml';
import { InputError } from './validate.ts';

export function yamlInput(text: string, source: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new InputError(source, `not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}
