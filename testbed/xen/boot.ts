// Boots the nested Xen under QEMU TCG (-cpu qemu64: the only CPU model that runs Xen 4.17 and a
// PV Dom0 here) and waits for Dom0 to power off. The serial console (Xen's and Dom0's) is
// timestamped line by line on the host; Dom0 writes its results as a tar onto a second disk.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, createWriteStream, ftruncateSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../exec.ts';
import type { Images } from './images.ts';
import type { Scenario } from './scenario.ts';

/** The results disk: a raw image Dom0 writes a tar onto (journals and logs are a few MiB). */
const RESULTS_DISK_MIB = 128;

export interface BootOptions {
  /** Kill QEMU after this long (a hung boot must not hang CI). */
  timeoutS: number;
  /** 'multi': one host thread per vCPU; 'single': both vCPUs on one host core. */
  tcgThreads: 'multi' | 'single';
  smp: number;
}

export interface SerialLine {
  /** Milliseconds since QEMU was started. */
  ms: number;
  text: string;
}

export interface BootResult {
  dir: string;
  lines: SerialLine[];
  /** ms since QEMU start of each "@@ " marker Dom0 printed (first occurrence). */
  marks: Map<string, number>;
  exitCode: number | null;
  timedOut: boolean;
  totalMs: number;
}

export function xenCommandLine(s: Scenario): string {
  return [
    `dom0_mem=${s.dom0MiB}M,max:${s.dom0MiB}M`,
    'dom0_max_vcpus=2',
    'bootscrub=0',
    'console=com1',
    'com1=115200,8n1',
  ].join(' ');
}

export async function boot(s: Scenario, img: Images, dir: string, opts: BootOptions, log: (m: string) => void): Promise<BootResult> {
  mkdirSync(dir, { recursive: true });
  const disk = join(dir, 'results.img');
  rmSync(disk, { force: true });
  const fd = openSync(disk, 'w');
  ftruncateSync(fd, RESULTS_DISK_MIB * 1048576);
  closeSync(fd);
  // ramfs, not tmpfs: a tmpfs root is capped at half of Dom0's RAM, too small for node and the
  // DomU kernel (measured: "Initramfs unpacking failed: write error").
  const dom0Cmdline = 'console=hvc0 earlyprintk=xen rootfstype=ramfs';
  const args = [
    '-accel', `tcg,thread=${opts.tcgThreads},tb-size=256`,
    '-cpu', 'qemu64',
    '-m', `${s.hostMiB}M`,
    '-smp', String(opts.smp),
    '-no-reboot',
    '-display', 'none',
    '-nodefaults',
    '-serial', 'stdio',
    '-kernel', img.xen,
    '-append', xenCommandLine(s),
    '-initrd', `${img.dom0Kernel} ${dom0Cmdline},${img.dom0Initrd}`,
    '-drive', `if=none,id=results,file=${disk},format=raw,cache=unsafe`,
    '-device', 'virtio-blk-pci,drive=results',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
  ];
  const serial = createWriteStream(join(dir, 'serial.log'));
  const started = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  log(`qemu pid ${child.pid}`);
  const lines: SerialLine[] = [];
  const marks = new Map<string, number>();
  let partial = '';
  child.stdout.on('data', (b: Buffer) => {
    const ms = Date.now() - started;
    partial += b.toString('latin1');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const text = partial.slice(0, nl).replace(/\r$/, '');
      partial = partial.slice(nl + 1);
      lines.push({ ms, text });
      serial.write(`${(ms / 1000).toFixed(2).padStart(8)} ${text}\n`);
      const m = /@@ (.*?) uptime=/.exec(text);
      if (m) {
        if (!marks.has(m[1]!)) marks.set(m[1]!, ms);
        log(`${(ms / 1000).toFixed(1)} s: ${m[1]}`);
      }
    }
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    log(`timeout after ${opts.timeoutS} s: stopping qemu pid ${child.pid}`);
    child.kill('SIGKILL');
  }, opts.timeoutS * 1000);
  // Stop QEMU with us (an interrupted run must not leave it behind).
  const onExit = () => child.kill('SIGKILL');
  const onSignal = (sig: NodeJS.Signals) => {
    child.kill('SIGKILL');
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  clearTimeout(timer);
  process.off('exit', onExit);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  serial.end();
  const totalMs = Date.now() - started;
  if (exitCode !== 0 && !timedOut && stderr.trim()) log(`qemu: ${stderr.trim().split('\n').pop()}`);
  // Unpack Dom0's tar (tar stops at the zero blocks after it).
  const results = join(dir, 'results');
  rmSync(results, { recursive: true, force: true });
  mkdirSync(results, { recursive: true });
  await run('tar', ['-xf', disk, '-C', results]).catch((e: Error) => log(`no results on the disk: ${e.message}`));
  return { dir, lines, marks, exitCode, timedOut, totalMs };
}
