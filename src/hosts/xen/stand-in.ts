// The stand-in for the hypervisor: where no Xen runs (the xenstored fixture of the tests and
// benches), nothing can say how much memory the host has free or how large a domain is. This
// models exactly that and nothing more: a host of a configured total, Dom0 of a configured size
// and Committed_AS, and each domain as large as its memory/target says (an ideal balloon that
// lands at once). Every message it produces starts with STAND_IN_LABEL, so no one mistakes its
// numbers for a hypervisor's.
import { parseKiB, DOM0_DOMID, targetPath } from './layout.ts';
import type { DomainMemory, MemorySample } from './domain-memory.ts';

export const STAND_IN_LABEL = 'stand-in for the hypervisor';
/**
 * Domains whose memory/target a sample re-reads besides the new ones: 64 a tick covers 1,000
 * domains in 16 ticks, and costs no more than a host of 64 guests did reading them all.
 */
export const STAND_IN_READS_PER_SAMPLE = 64;

export interface StandInConfig {
  /** The modelled host's memory, KiB. */
  hostTotalKiB: number;
  /** Dom0's size until /local/domain/0/memory/target exists, KiB. */
  dom0KiB: number;
  /** Dom0's Committed_AS: the machine running the fixture is not a Dom0, so its own would mislead. */
  dom0CommittedKiB: number;
}

export class HypervisorStandIn implements DomainMemory {
  readonly kind = 'stand-in';
  readonly description: string;
  /** Last size seen per domain: kept while a domain's target is missing (a restarted, empty xenstored). */
  private readonly last = new Map<number, number>();
  /** Max pages as memcoop set them (recorded only; nothing enforces them here). */
  readonly maxKiB = new Map<number, number>();
  /** Where the next sample's window of re-read domains starts. */
  private cursor = 0;

  constructor(readonly config: StandInConfig) {
    this.description =
      `${STAND_IN_LABEL}: host total ${config.hostTotalKiB} KiB from config, Dom0 ${config.dom0KiB} KiB ` +
      `(Committed_AS ${config.dom0CommittedKiB} KiB) until it has a memory/target, each domain's size = its memory/target`;
  }

  async sizeOf(store: Parameters<DomainMemory['sizeOf']>[0], domid: number): Promise<number | null> {
    const t = parseKiB(await store.read(targetPath(domid)));
    if (t !== null) this.last.set(domid, t);
    else if (domid === DOM0_DOMID && !this.last.has(DOM0_DOMID)) return this.config.dom0KiB;
    return this.last.get(domid) ?? null;
  }

  async sample(store: Parameters<DomainMemory['sample']>[0], domids: readonly number[]): Promise<MemorySample> {
    const all = [DOM0_DOMID, ...domids.filter((d) => d !== DOM0_DOMID)];
    // A real hypervisor answers for every domain in one call; read back, memory/target cost one
    // XenStore request per domain per tick (1,000 a second at 1,000 guests, queued ahead of the
    // guests' reports). So: the targets memcoop wrote are known (targetWritten), and each sample
    // reads Dom0, domains not seen yet, and a rotating window of STAND_IN_READS_PER_SAMPLE others,
    // which is how a target the toolstack wrote (xl mem-set) is noticed within a few ticks.
    const toRead = new Set<number>([DOM0_DOMID]);
    for (const d of all) if (!this.last.has(d)) toRead.add(d);
    for (let k = 0; k < Math.min(STAND_IN_READS_PER_SAMPLE, all.length); k++) toRead.add(all[(this.cursor + k) % all.length]!);
    this.cursor = all.length > 0 ? (this.cursor + STAND_IN_READS_PER_SAMPLE) % all.length : 0;
    // Sizes not re-read are taken after the reads, not before: a target written while they were
    // in flight has landed (the model's balloon is instant), and a sample that still gave the
    // size from before it would tell the supervisor the balloon had not moved.
    const read = await Promise.all(all.map((d) => (toRead.has(d) ? this.sizeOf(store, d) : Promise.resolve(undefined))));
    const got = read.map((s, i) => (s !== undefined ? s : (this.last.get(all[i]!) ?? null)));
    const sizes = new Map<number, number>();
    let used = 0;
    let dom0KiB = this.config.dom0KiB;
    all.forEach((d, i) => {
      const s = got[i];
      if (s === null || s === undefined) return;
      used += s;
      if (d === DOM0_DOMID) dom0KiB = s;
      else sizes.set(d, s);
    });
    // Domains that left are forgotten, so a domid reused later starts from its own target.
    for (const d of [...this.last.keys()]) if (d !== DOM0_DOMID && !sizes.has(d)) this.last.delete(d);
    return {
      freeKiB: Math.max(0, this.config.hostTotalKiB - used),
      dom0KiB,
      dom0CommittedKiB: this.config.dom0CommittedKiB,
      sizes,
    };
  }

  setMaxKiB(domid: number, maxKiB: number): void {
    this.maxKiB.set(domid, maxKiB);
  }

  targetWritten(domid: number, targetKiB: number): void {
    this.last.set(domid, targetKiB);
  }

  close(): void {}
}
