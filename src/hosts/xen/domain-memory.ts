// Where the Xen host gets host free memory and domain sizes, and how it raises a domain's max
// pages: libxenctrl on a real Xen (this file), or, where no hypervisor runs (the xenstored
// fixture), the stand-in of stand-in.ts. The host picks one at start and says which in its log.
import { readFile } from 'node:fs/promises';
import { parseMeminfo } from '../../vocabulary/meminfo.ts';
import { DOM0_DOMID } from './layout.ts';
import type { XenCtrl } from './xenctrl.ts';
import type { XsOps } from './xenstore.ts';

export interface MemorySample {
  /** Host memory not given to any domain, KiB. */
  freeKiB: number;
  /** Dom0's allocation and its Committed_AS, KiB. */
  dom0KiB: number;
  dom0CommittedKiB: number;
  /** Allocation of each asked-for domain that exists, KiB. */
  sizes: Map<number, number>;
}

export interface DomainMemory {
  readonly kind: 'libxenctrl' | 'stand-in';
  /** One line for the log and test output. */
  readonly description: string;
  sample(store: Pick<XsOps, 'read'>, domids: readonly number[]): Promise<MemorySample>;
  /** One domain's allocation now, or null if it is not there. */
  sizeOf(store: Pick<XsOps, 'read'>, domid: number): Promise<number | null>;
  /** Set the domain's max pages (xc_domain_setmaxmem), KiB. */
  setMaxKiB(domid: number, maxKiB: number): void;
  /** memcoop wrote this target (the stand-in's model of a domain's size follows it at once). */
  targetWritten?(domid: number, targetKiB: number): void;
  close(): void;
}

/** Dom0's own /proc/meminfo: memcoop runs in Dom0, so this machine's Committed_AS is Dom0's. */
const PROC_MEMINFO = '/proc/meminfo';

async function ownCommittedKiB(): Promise<number> {
  const m = parseMeminfo(await readFile(PROC_MEMINFO, 'utf8'));
  const c = m.kib.get('Committed_AS');
  if (c === undefined) throw new Error(`${PROC_MEMINFO} has no Committed_AS`);
  return c;
}

/** The real thing: xc_physinfo and xc_domain_getinfolist through the addon. Only on a real Xen. */
export function xenctrlMemory(xc: XenCtrl): DomainMemory {
  const sizes = (): Map<number, number> => {
    const m = new Map<number, number>();
    for (const d of xc.domains()) if (!d.dying) m.set(d.domid, d.currentKiB);
    return m;
  };
  return {
    kind: 'libxenctrl',
    description: 'libxenctrl: host free memory from xc_physinfo, domain sizes from xc_domain_getinfolist',
    async sample(_store, domids) {
      const all = sizes();
      const out = new Map<number, number>();
      for (const d of domids) {
        const s = all.get(d);
        if (s !== undefined) out.set(d, s);
      }
      return {
        freeKiB: xc.physinfo().freeKiB,
        dom0KiB: all.get(DOM0_DOMID) ?? 0,
        dom0CommittedKiB: await ownCommittedKiB(),
        sizes: out,
      };
    },
    async sizeOf(_store, domid) {
      return sizes().get(domid) ?? null;
    },
    setMaxKiB(domid, maxKiB) {
      xc.setMaxMemKiB(domid, maxKiB);
    },
    close() {
      xc.close();
    },
  };
}
