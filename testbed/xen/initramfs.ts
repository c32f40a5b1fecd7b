// Building a busybox initramfs on the host: a staging tree, host binaries copied with every
// shared library ldd names, then `find | cpio -o -H newc | gzip`. Used for the nested Xen's Dom0
// and its DomUs (testbed/xen/images.ts).
import { chmodSync, copyFileSync, existsSync, mkdirSync, readlinkSync, lstatSync, rmSync, symlinkSync, writeFileSync, createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { run } from '../exec.ts';

/** Debian's static busybox (package busybox-static). */
export const BUSYBOX = '/bin/busybox';

export class Tree {
  constructor(readonly root: string) {
    rmSync(root, { recursive: true, force: true });
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'lib', 'lib64', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'var', 'root']) {
      mkdirSync(join(root, d), { recursive: true });
    }
  }

  path(p: string): string {
    return join(this.root, p);
  }

  /** Copies a host file to the same path (or `to`) in the tree, following symlinks. */
  copy(from: string, to = from, mode?: number): void {
    const dest = this.path(to);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(from, dest);
    if (mode !== undefined) chmodSync(dest, mode);
    else if ((lstatSync(from).mode & 0o111) !== 0) chmodSync(dest, 0o755);
  }

  write(to: string, text: string, mode = 0o644): void {
    const dest = this.path(to);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, text);
    chmodSync(dest, mode);
  }

  link(target: string, at: string): void {
    const dest = this.path(at);
    mkdirSync(dirname(dest), { recursive: true });
    if (existsSync(dest) || isLink(dest)) rmSync(dest);
    symlinkSync(target, dest);
  }

  /** busybox as /bin/busybox with a link for each applet it has. */
  async busybox(): Promise<void> {
    this.copy(BUSYBOX, '/bin/busybox', 0o755);
    const r = await run(BUSYBOX, ['--list-full']);
    for (const applet of r.stdout.toString('utf8').split('\n').filter(Boolean)) {
      const at = '/' + applet;
      if (!existsSync(this.path(at))) this.link('/bin/busybox', at);
    }
  }

  /** Copies a dynamically linked host binary (or library) and every library ldd names. */
  async withLibs(binary: string, to = binary): Promise<void> {
    this.copy(binary, to);
    for (const lib of await lddLibs(binary)) this.copyLib(lib);
  }

  /** A library at its path, and its symlink chain (libfoo.so.4 -> libfoo.so.4.17.0) kept. */
  copyLib(lib: string): void {
    if (existsSync(this.path(lib))) return;
    if (isLink(lib)) {
      const target = readlinkSync(lib);
      const abs = target.startsWith('/') ? target : join(dirname(lib), target);
      this.copyLib(abs);
      this.link(target, lib);
    } else {
      this.copy(lib, lib, 0o755);
    }
  }

  /** The tree as a gzip-compressed newc cpio archive. */
  async pack(out: string): Promise<void> {
    mkdirSync(dirname(out), { recursive: true });
    await new Promise<void>((resolve, reject) => {
      const sh = spawn('sh', ['-c', 'find . -print0 | cpio --null -o -H newc --quiet -R 0:0 | gzip -1'], {
        cwd: this.root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const file = createWriteStream(out);
      sh.stdout.pipe(file);
      let err = '';
      sh.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
      sh.on('error', reject);
      file.on('finish', () => (sh.exitCode === 0 || sh.exitCode === null ? resolve() : reject(new Error(`cpio: ${err}`))));
      sh.on('close', (code) => {
        if (code !== 0) reject(new Error(`packing ${this.root} failed: ${err.trim()}`));
      });
    });
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Absolute paths of the shared libraries (and loader) a binary needs, from ldd. */
export async function lddLibs(binary: string): Promise<string[]> {
  const r = await run('ldd', [binary], { okCodes: [0, 1] });
  const out: string[] = [];
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}
