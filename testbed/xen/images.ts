// The nested Xen's boot images, built from the Debian packages installed on this machine
// (xen-hypervisor-4.17-amd64, xen-utils-4.17, xenstore-utils, busybox-static) and Debian's
// kernel package (testbed/kernel.ts): the hypervisor as a multiboot ELF, the Dom0 initramfs
// (busybox, the Xen userspace with its libraries, the Xen modules, Node.js and the bundled
// memcoop with its addon, the DomU kernel and initramfs) and the DomU initramfs (busybox, the
// guest agent, the workloads). Cached under out/testbed/xen/.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { run } from '../exec.ts';
import { ensureKernel, resolveModules, type GuestKernel } from '../kernel.ts';
import { Tree } from './initramfs.ts';
import { xlConfig, type Scenario } from './scenario.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const OUT = join(REPO, 'out', 'testbed', 'xen');

/** Debian's hypervisor (xen-hypervisor-4.17-amd64), gzip-compressed multiboot ELF. */
export const XEN_GZ = '/boot/xen-4.17-amd64.gz';
/** xen-utils-4.17's private bin directory (xl looks for libxl-save-helper here). */
const XEN_BIN = '/usr/lib/xen-4.17/bin';
const XEN_TOOLS = ['xl', 'xenstored', 'xenconsoled', 'xen-init-dom0', 'libxl-save-helper', 'xenconsole'];
const XENSTORE_TOOLS = ['xenstore', 'xenstore-read', 'xenstore-write', 'xenstore-ls', 'xenstore-list', 'xenstore-rm', 'xenstore-chmod', 'xenstore-watch', 'xenstore-exists'];
/** xl aborts in pthread_cancel without it (libc loads it at run time: ldd does not name it). */
const LIBGCC_S = '/lib/x86_64-linux-gnu/libgcc_s.so.1';
/** Dom0's modules, loaded in this order; virtio for the results disk. */
export const DOM0_MODULES = ['xen-privcmd', 'xenfs', 'xen-evtchn', 'xen-gntdev', 'xen-gntalloc', 'virtio_pci', 'virtio_blk'];
/** The DomU's: zram for swap (a PV guest here has no disk). */
export const DOMU_MODULES = ['zram'];
const NODE = '/usr/bin/node';

/** The C agent (native/agent, `npm run build:agent`) and the workloads (`npm run build:workloads`). */
export const AGENT_BIN = join(REPO, 'native', 'build', 'agent', 'memcoop-agent-static');
export const WORKLOADS_DIR = join(REPO, 'native', 'build', 'workloads');

export interface Images {
  xen: string;
  dom0Kernel: string;
  dom0Initrd: string;
  kernel: GuestKernel;
  /** Which agent the DomUs run: the C agent, or the shell fallback (testbed/xen/shell-agent.sh). */
  agent: 'c' | 'shell';
}

/** deadlineS: Dom0 writes its results and powers off by itself after this long (its uptime). */
/**
 * Builds into `work` (one directory per run: two runs at once, e.g. a test tier and a manual
 * run, must not rebuild each other's trees or overwrite each other's results disk).
 */
export async function buildImages(s: Scenario, work: string, deadlineS: number, log: (m: string) => void): Promise<Images> {
  const BUNDLE_DIR = join(work, 'bundle');
  const kernel = await ensureKernel({ modules: [...DOM0_MODULES, ...DOMU_MODULES] });
  mkdirSync(work, { recursive: true });
  const xen = join(work, 'xen-4.17.elf');
  writeFileSync(xen, (await run('zcat', [XEN_GZ])).stdout);
  if (!existsSync(join(WORKLOADS_DIR, 'mono'))) await run('npm', ['run', 'build:workloads'], { cwd: REPO });
  log('bundling memcoop');
  await run(process.execPath, [join(REPO, 'scripts', 'bundle.mjs'), '--outdir', BUNDLE_DIR], { cwd: REPO });
  if (!existsSync(join(BUNDLE_DIR, 'memcoop_xen.node'))) {
    throw new Error('the Xen addon is not built: run `npm run build:native` (needs libxen-dev)');
  }
  const agent: Images['agent'] = existsSync(AGENT_BIN) ? 'c' : 'shell';
  log(`building the DomU initramfs (agent: ${agent === 'c' ? AGENT_BIN : 'shell fallback'})`);
  const domu = join(work, 'domu.cpio.gz');
  await buildDomU(kernel, s, agent, domu, work);
  log('building the Dom0 initramfs');
  const dom0 = join(work, `dom0-${s.name}.cpio.gz`);
  await buildDom0(kernel, s, domu, dom0, deadlineS, work, BUNDLE_DIR);
  return { xen, dom0Kernel: kernel.vmlinux, dom0Initrd: dom0, kernel, agent };
}

function modulesOf(k: GuestKernel, names: readonly string[]): string[] {
  return resolveModules(join(k.root, 'lib', 'modules', k.release), names);
}

/** Copies modules with their dependencies and runs depmod on the tree, so busybox modprobe works. */
async function addModules(t: Tree, k: GuestKernel, names: readonly string[]): Promise<void> {
  const base = join(k.root, 'lib', 'modules', k.release);
  for (const m of modulesOf(k, names)) t.copy(m, join('/lib/modules', k.release, m.slice(base.length)), 0o644);
  for (const f of ['modules.builtin', 'modules.order']) t.copy(join(base, f), join('/lib/modules', k.release, f), 0o644);
  await run('depmod', ['-b', t.root, k.release]);
}

async function buildDomU(k: GuestKernel, s: Scenario, agent: Images['agent'], out: string, work: string): Promise<void> {
  const t = new Tree(join(work, 'domu-root'));
  await t.busybox();
  await addModules(t, k, DOMU_MODULES);
  for (const w of ['mono', 'random', 'jvm', 'compute']) {
    if (existsSync(join(WORKLOADS_DIR, w))) t.copy(join(WORKLOADS_DIR, w), `/usr/local/bin/${w}`, 0o755);
  }
  let agentCmd: string;
  if (agent === 'c') {
    t.copy(AGENT_BIN, '/usr/local/bin/memcoop-agent', 0o755);
    agentCmd = '/usr/local/bin/memcoop-agent --transport xenstore';
  } else {
    t.copy(join(import.meta.dirname, 'shell-agent.sh'), '/usr/local/bin/shell-agent', 0o755);
    await t.withLibs('/usr/bin/xenstore-write');
    await t.withLibs('/usr/bin/xenstore-read');
    agentCmd = '/usr/local/bin/shell-agent 1';
  }
  t.write(
    '/etc/guest.env',
    [
      `AGENT_CMD="${agentCmd}"`,
      `WORKLOAD="${s.workload}"`,
      `WARMUP_S=${s.warmupS}`,
      `CAPPED_COMMIT_MIB=${s.cappedCommitMiB}`,
      // zram: lzo-rle is built into Debian's kernel; 512 MiB of swap covers the workload's peak.
      'ZRAM_ALGORITHM=lzo-rle',
      'ZRAM_SIZE=512M',
      '',
    ].join('\n'),
  );
  t.copy(join(import.meta.dirname, 'domu-init.sh'), '/init', 0o755);
  await t.pack(out);
}

async function buildDom0(k: GuestKernel, s: Scenario, domu: string, out: string, deadlineS: number, work: string, BUNDLE_DIR: string): Promise<void> {
  const t = new Tree(join(work, 'dom0-root'));
  await t.busybox();
  await addModules(t, k, DOM0_MODULES);
  for (const tool of XEN_TOOLS) await t.withLibs(join(XEN_BIN, tool));
  for (const tool of XENSTORE_TOOLS) await t.withLibs(join('/usr/bin', tool));
  t.copyLib(LIBGCC_S);
  await t.withLibs(NODE);
  await t.withLibs(join(BUNDLE_DIR, 'memcoop_xen.node'), '/opt/memcoop/memcoop_xen.node');
  t.copy(join(BUNDLE_DIR, 'memcoop.mjs'), '/opt/memcoop/memcoop.mjs', 0o644);
  t.write('/etc/memcoop/memcoop.yaml', s.memcoopYaml);
  t.write('/etc/xen/xl.conf', '# memcoop moves memory, not xl\nautoballoon="off"\n');
  for (const g of s.guests) t.write(`/etc/xen/${g.name}.cfg`, xlConfig(g));
  t.copy(k.vmlinux, '/boot/vmlinux', 0o644);
  t.copy(domu, '/boot/domu.cpio.gz', 0o644);
  const hungry = s.guests.find((g) => g.role === 'hungry');
  t.write(
    '/etc/scenario.env',
    [
      `SCENARIO=${s.name}`,
      `PHASES="${s.phases.join(' ')}"`,
      `GUESTS="${s.guests.map((g) => g.name).join(' ')}"`,
      `HUNGRY=${hungry?.name ?? ''}`,
      `SETTLE_S=${s.settleS}`,
      `WORKLOAD_TIMEOUT_S=${s.workloadTimeoutS}`,
      // xl list / xl info once a second, the daemon's tick.
      'SAMPLE_S=1',
      `DEADLINE_S=${deadlineS}`,
      '',
    ].join('\n'),
  );
  t.copy(join(import.meta.dirname, 'dom0-init.sh'), '/init', 0o755);
  t.write('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  t.write('/etc/group', 'root:x:0:\n');
  await t.pack(out);
}

export function describe(i: Images): string {
  const size = (p: string) => `${basename(p)} ${(statSync(p).size / 1048576).toFixed(1)} MiB`;
  return [size(i.xen), size(i.dom0Kernel), size(i.dom0Initrd)].join(', ');
}

export function readText(p: string): string {
  return readFileSync(p, 'utf8');
}
