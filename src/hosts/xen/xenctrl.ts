// Host free memory and domain sizes from libxenctrl, and raising a domain's max pages. Only a
// real Xen answers these; everywhere else openXenCtrl throws XenCtrlUnavailableError, which the
// Xen host takes as its cue to use a stand-in (named as such) for these numbers.
import { loadXenAddon, type NativeXcHandle } from './addon.ts';

/** Xen's page size (XC_PAGE_SIZE, 4 KiB on x86) in KiB. */
const XEN_PAGE_KIB = 4;

export interface XenPhysInfo {
  totalKiB: number;
  freeKiB: number;
}

export interface XenDomainInfo {
  domid: number;
  /** Pages the domain holds now (tot_pages), in KiB. */
  currentKiB: number;
  /** Its max pages (what xc_domain_setmaxmem sets), in KiB. */
  maxKiB: number;
  dying: boolean;
  shutdown: boolean;
}

export interface XenCtrl {
  physinfo(): XenPhysInfo;
  domains(): XenDomainInfo[];
  /** Raise a domain's max pages before raising its target (libxl caps it at creation + 1 MiB). */
  setMaxMemKiB(domid: number, maxKiB: number): void;
  close(): void;
}

/** No hypervisor here (or no addon): `reason` says which, in one sentence. */
export class XenCtrlUnavailableError extends Error {
  readonly code = 'XENCTRL_UNAVAILABLE';
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'XenCtrlUnavailableError';
  }
}

export function isXenCtrlUnavailable(e: unknown): e is XenCtrlUnavailableError {
  return e instanceof XenCtrlUnavailableError;
}

/** Opens libxenctrl; throws XenCtrlUnavailableError off Xen. Calls are synchronous hypercalls. */
export function openXenCtrl(): XenCtrl {
  const load = loadXenAddon();
  if (!load.ok) throw new XenCtrlUnavailableError(load.reason);
  const { XcHandle } = load.addon;
  if (!XcHandle) {
    throw new XenCtrlUnavailableError(
      'The Xen addon was built without libxenctrl: install libxen-dev, then run `npm run build:native`.',
    );
  }
  const h: NativeXcHandle = new XcHandle();
  try {
    h.open();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'XENCTRL_UNAVAILABLE') throw new XenCtrlUnavailableError(String((e as Error).message));
    throw e;
  }
  return {
    physinfo() {
      const p = h.physinfo();
      return { totalKiB: p.totalPages * XEN_PAGE_KIB, freeKiB: p.freePages * XEN_PAGE_KIB };
    },
    domains() {
      return h.domainList(0).map((d) => ({
        domid: d.domid,
        currentKiB: d.totPages * XEN_PAGE_KIB,
        maxKiB: d.maxPages * XEN_PAGE_KIB,
        dying: d.dying,
        shutdown: d.shutdown,
      }));
    },
    setMaxMemKiB(domid, maxKiB) {
      if (!Number.isSafeInteger(domid) || domid < 0) throw new RangeError(`bad domid ${domid}`);
      if (!Number.isSafeInteger(maxKiB) || maxKiB < 0) throw new RangeError(`bad maxKiB ${maxKiB}`);
      h.setMaxMem(domid, maxKiB);
    },
    close() {
      h.close();
    },
  };
}
