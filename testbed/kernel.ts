// The guest kernel: Debian's own linux-image package, fetched with apt, unpacked once and cached
// under out/testbed/kernel-<version>/ . Gives the uncompressed vmlinux (QEMU boots it through its
// PVH note, about twice as fast as the bzImage under TCG, measured here) and the virtio modules a
// guest needs, with their dependencies in load order. See docs/testbed.md.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run, lastLine } from './exec.ts';

/** The meta package whose dependency names the current kernel package (Debian 12: linux-image-6.1.0-N-amd64). */
export const KERNEL_META_PACKAGE = 'linux-image-amd64';

/** Modules a guest loads: virtio transport, balloon, serial ports (agent, control), swap disk, memory hot-plug. */
export const GUEST_MODULES = ['virtio_pci', 'virtio_balloon', 'virtio_console', 'virtio_blk', 'virtio_mem'] as const;

/** xz stream magic: the bzImage's payload starts here (Debian builds with CONFIG_KERNEL_XZ). */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export interface GuestKernel {
  /** Package name, e.g. linux-image-6.1.0-57-amd64. */
  package: string;
  /** Kernel release (the lib/modules directory name), e.g. 6.1.0-57-amd64. */
  release: string;
  /** Cache directory holding everything below. */
  dir: string;
  /** Uncompressed ELF kernel, for QEMU -kernel (PVH) and Xen PV domains. */
  vmlinux: string;
  /** The compressed bzImage as shipped. */
  bzImage: string;
  /** Root of the unpacked package (holds lib/modules/<release>/ with a modules.dep). */
  root: string;
  /** Absolute .ko paths of GUEST_MODULES and their dependencies, dependencies first. */
  modules: string[];
}

export interface KernelOptions {
  /** Cache root (default <repo>/out/testbed). */
  cacheDir?: string;
  /** A package name to use instead of what linux-image-amd64 depends on. */
  package?: string;
  /** Module names to resolve (default GUEST_MODULES). */
  modules?: readonly string[];
}

export function defaultCacheDir(): string {
  return resolve(import.meta.dirname, '..', 'out', 'testbed');
}

/** Resolves, downloads, unpacks and caches the guest kernel; a second call returns the cache. */
export async function ensureKernel(opts: KernelOptions = {}): Promise<GuestKernel> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const wanted = opts.modules ?? GUEST_MODULES;
  const pkg = opts.package ?? (await resolveKernelPackage());
  const release = pkg.replace(/^linux-image-/, '');
  const dir = join(cacheDir, `kernel-${release}`);
  if (!existsSync(join(dir, 'kernel.json'))) await buildCache(pkg, release, dir);
  const root = join(dir, 'root');
  return {
    package: pkg,
    release,
    dir,
    vmlinux: join(dir, 'vmlinux'),
    bzImage: join(root, 'boot', `vmlinuz-${release}`),
    root,
    modules: resolveModules(join(root, 'lib', 'modules', release), wanted),
  };
}

/** The package linux-image-amd64 depends on; runs apt-get update once if apt knows nothing yet. */
export async function resolveKernelPackage(): Promise<string> {
  const found = await dependsOf(KERNEL_META_PACKAGE);
  if (found) return found;
  await run('apt-get', ['update', '-qq']).catch((e: Error) => {
    throw new Error(`cannot reach the Debian repository to find the guest kernel (apt-get update: ${e.message})`);
  });
  const again = await dependsOf(KERNEL_META_PACKAGE);
  if (!again) throw new Error(`apt knows no ${KERNEL_META_PACKAGE} package even after apt-get update`);
  return again;
}

async function dependsOf(meta: string): Promise<string | undefined> {
  const r = await run('apt-cache', ['depends', meta], { okCodes: [0, 100] });
  const m = /Depends:\s*(linux-image-\S+)/.exec(r.stdout.toString('utf8'));
  return m?.[1];
}

async function buildCache(pkg: string, release: string, dir: string): Promise<void> {
  // Built in a private directory and renamed into place, so that two processes preparing the
  // same kernel at once (two engineers' test tiers) never see a half-built cache.
  mkdirSync(join(dir, '..'), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  mkdirSync(tmp, { recursive: true });
  try {
    await run('apt-get', ['download', pkg], { cwd: tmp }).catch((e: Error) => {
      throw new Error(`cannot download ${pkg} from the Debian repository: ${lastLine(e.message)}`);
    });
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
    const root = join(tmp, 'root');
    await run('dpkg-deb', ['-x', join(tmp, deb), root]);
    rmSync(join(tmp, deb));
    // The .deb ships no modules.dep; depmod -b runs on this unpacked copy, never on the host's.
    await run('depmod', ['-b', root, release]);
    await extractVmlinux(join(root, 'boot', `vmlinuz-${release}`), join(tmp, 'vmlinux'));
    writeFileSync(join(tmp, 'kernel.json'), JSON.stringify({ package: pkg, release }) + '\n');
    try {
      renameSync(tmp, dir);
    } catch {
      if (!existsSync(join(dir, 'kernel.json'))) throw new Error(`cannot move the kernel cache into ${dir}`);
    }
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
  }
}

/** Decompresses the xz payload of a bzImage into an ELF vmlinux. */
export async function extractVmlinux(bzImage: string, out: string): Promise<void> {
  const image = readFileSync(bzImage);
  let at = image.indexOf(XZ_MAGIC);
  while (at >= 0) {
    const fd = openSync(out, 'w');
    try {
      // xz exits 1 complaining about the bytes after the stream (the bzImage's tail); the ELF is whole.
      await run('xz', ['-dc'], { input: image.subarray(at), stdio: ['pipe', fd, 'pipe'], okCodes: [0, 1] });
    } finally {
      closeSync(fd);
    }
    const head = Buffer.alloc(4);
    const rfd = openSync(out, 'r');
    try {
      readSync(rfd, head, 0, 4, 0);
    } finally {
      closeSync(rfd);
    }
    if (head.equals(ELF_MAGIC)) return;
    at = image.indexOf(XZ_MAGIC, at + 1);
  }
  throw new Error(`no xz-compressed ELF kernel found in ${bzImage}`);
}

/** Reads modules.dep and returns the wanted modules with their dependencies, dependencies first. */
export function resolveModules(modulesDir: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const mod = line.slice(0, colon);
    deps.set(mod, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
    byName.set(moduleName(mod), mod);
  }
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (mod: string): void => {
    if (seen.has(mod)) return;
    seen.add(mod);
    for (const d of deps.get(mod) ?? []) visit(d);
    order.push(mod);
  };
  for (const name of wanted) {
    const mod = byName.get(name.replace(/-/g, '_'));
    if (!mod) throw new Error(`kernel module ${name} not found in ${modulesDir}/modules.dep`);
    visit(mod);
  }
  return order.map((m) => join(modulesDir, m));
}

function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_');
}
