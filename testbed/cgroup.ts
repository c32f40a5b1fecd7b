// A memory cgroup (v2) holding one run's QEMU processes, limited to the pool the guests share,
// so that the host's memory, not only the balloons, bounds the run. Optional: where cgroup v2
// is not mounted or not writable the testbed runs without it and says why.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export type PoolCgroup = { ok: true; path: string; limitKiB: number } | { ok: false; reason: string };

export function createPoolCgroup(name: string, limitKiB: number): PoolCgroup {
  const controllers = join(CGROUP_ROOT, 'cgroup.controllers');
  if (!existsSync(controllers)) return { ok: false, reason: 'cgroup v2 is not mounted at /sys/fs/cgroup' };
  if (!readFileSync(controllers, 'utf8').split(/\s+/).includes('memory')) return { ok: false, reason: 'the memory controller is not enabled in cgroup v2' };
  const path = join(CGROUP_ROOT, name);
  try {
    mkdirSync(path);
    writeFileSync(join(path, 'memory.max'), `${limitKiB * 1024}\n`);
  } catch (e) {
    return { ok: false, reason: `cannot create ${path}: ${(e as Error).message}` };
  }
  return { ok: true, path, limitKiB };
}

export function addToCgroup(cg: PoolCgroup, pid: number): void {
  if (cg.ok) writeFileSync(join(cg.path, 'cgroup.procs'), `${pid}\n`);
}

/** Removes the cgroup once its processes have exited (rmdir fails while any remain). */
export function removeCgroup(cg: PoolCgroup): void {
  if (!cg.ok) return;
  try {
    rmdirSync(cg.path);
  } catch {
    /* a process still exiting: the empty cgroup is harmless and named for its run */
  }
}
