// Runs a host tool to completion and returns its output, or throws a one-line error naming the
// tool and the last line it printed (operators see that line, not a stack of child output).
import { spawn, type SpawnOptions } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions extends SpawnOptions {
  /** Exit codes that count as success (default only 0). */
  okCodes?: number[];
  /** Bytes written to the child's stdin, then closed. */
  input?: Buffer | string;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const { okCodes = [0], input, ...spawnOpts } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...spawnOpts });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      const result = { code: code ?? -1, stdout: Buffer.concat(out), stderr };
      if (code !== null && okCodes.includes(code)) resolve(result);
      else reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (${signal ?? `exit ${code}`}): ${lastLine(stderr)}`));
    });
    if (child.stdin) {
      // A child may stop reading before the input ends (xz stops at the end of its stream): the
      // rest of the write then fails with EPIPE, and the child's exit code says how it went.
      child.stdin.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE') reject(new Error(`${cmd}: cannot write its input: ${e.message}`));
      });
      if (input !== undefined) child.stdin.end(input);
      else child.stdin.end();
    }
  });
}

export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.length > 0 ? lines[lines.length - 1]! : '(no output)';
}
