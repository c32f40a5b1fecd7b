// The guest's initramfs: busybox, the virtio modules, the workloads, the memcoop agent when it
// has been built, and testbed/init.sh as /init. A gzip'd cpio (newc) named by a hash of its
// contents under out/testbed/, so a rebuild never rewrites an image a running guest has open.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { run } from './exec.ts';
import { defaultCacheDir, ensureKernel, type GuestKernel } from './kernel.ts';

const REPO = resolve(import.meta.dirname, '..');
/** Debian's busybox-static: a static busybox that runs with no libraries in the image. */
export const BUSYBOX = '/bin/busybox';
export const INIT_TEMPLATE = join(import.meta.dirname, 'init.sh');
export const WORKLOADS_DIR = join(REPO, 'native', 'build', 'workloads');
/** Built by the agent's `npm run build:agent`. */
export const AGENT_BINARY = join(REPO, 'native', 'build', 'agent', 'memcoop-agent-static');

export interface InitramfsOptions {
  kernel?: GuestKernel;
  cacheDir?: string;
  /** Agent binary to include (default AGENT_BINARY when it exists); null leaves the agent out. */
  agent?: string | null;
  /** The agent's command line inside the guest (written to /etc/memcoop/agent.args). */
  agentArgs?: string[];
}

export interface Initramfs {
  path: string;
  kernel: GuestKernel;
  /** The agent binary baked in, or null with the reason in agentMissing. */
  agent: string | null;
  agentMissing?: string;
  workloads: string[];
}

export async function buildInitramfs(opts: InitramfsOptions = {}): Promise<Initramfs> {
  const kernel = opts.kernel ?? (await ensureKernel());
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} not found: install busybox-static`);
  const workloads = existsSync(WORKLOADS_DIR) ? readdirSync(WORKLOADS_DIR).sort() : [];
  if (workloads.length === 0) throw new Error(`no workloads in ${WORKLOADS_DIR}: run npm run build:workloads`);
  let agent: string | null = null;
  let agentMissing: string | undefined;
  if (opts.agent === null) agentMissing = 'left out by the caller';
  else {
    const candidate = opts.agent ?? AGENT_BINARY;
    if (existsSync(candidate)) agent = candidate;
    else agentMissing = `${candidate} not built (npm run build:agent)`;
  }

  // files: path in the image -> [source file or literal contents, mode]
  const files = new Map<string, { from?: string; text?: string; mode: number }>();
  files.set('init', { from: INIT_TEMPLATE, mode: 0o755 });
  files.set('bin/busybox', { from: BUSYBOX, mode: 0o755 });
  files.set('etc/modules.order', { text: kernel.modules.map((m) => basename(m)).join('\n') + '\n', mode: 0o644 });
  for (const m of kernel.modules) files.set(`lib/modules/${basename(m)}`, { from: m, mode: 0o644 });
  for (const w of workloads) files.set(`workloads/${w}`, { from: join(WORKLOADS_DIR, w), mode: 0o755 });
  if (agent) {
    files.set('bin/memcoop-agent', { from: agent, mode: 0o755 });
    files.set('etc/memcoop/agent.args', { text: (opts.agentArgs ?? []).join(' ') + '\n', mode: 0o644 });
  }

  const hash = createHash('sha256').update(kernel.release);
  for (const [name, f] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    hash.update(`${name}\0${f.mode}\0`).update(f.from ? readFileSync(f.from) : f.text!);
  }
  const path = join(cacheDir, `initramfs-${hash.digest('hex').slice(0, 16)}.cpio.gz`);
  const result = { path, kernel, agent, workloads, ...(agentMissing ? { agentMissing } : {}) };
  if (existsSync(path)) return result;

  const stage = join(cacheDir, `initramfs-stage-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    for (const [name, f] of files) {
      const dest = join(stage, name);
      mkdirSync(join(dest, '..'), { recursive: true });
      if (f.from) copyFileSync(f.from, dest);
      else writeFileSync(dest, f.text!);
      chmodSync(dest, f.mode);
    }
    for (const d of ['dev', 'proc', 'sys', 'tmp', 'run']) mkdirSync(join(stage, d), { recursive: true });
    const tmp = `${stage}.cpio.gz`;
    // -1: the image is rebuilt rarely but read at every boot; gzip -1 is within a few per cent of -9 here.
    await run('sh', ['-c', `find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > '${tmp}'`], { cwd: stage });
    renameSync(tmp, path);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return result;
}
