// What the supervisor needs from a hypervisor, and nothing about how a particular one does it.
// Implementations: sim/ (embedded simulated host), xen/ (libxenstore addon), kvm/ (QMP).
import type { Observable } from 'rxjs';
import type { HostEvent } from '../vocabulary/events.ts';
import type { Mode } from '../vocabulary/mode.ts';

export type { HostEvent } from '../vocabulary/events.ts';

export interface Host {
  readonly kind: string;
  /** Every input this host produces, each stamped with the shell clock's `at`. Hot. */
  readonly events$: Observable<HostEvent>;
  /** Start producing events (discovery first, then watches or polling). */
  start(): Promise<void>;
  /** Ask the guest's balloon to move to targetKiB. Resolves once the request is written. */
  setTarget(id: string, targetKiB: number, opts?: TargetWriteOptions): Promise<void>;
  /** Tell the guest's agent its mode (the supervisor's half of the handshake, and every change). */
  setMode(id: string, mode: Mode, protocol: number): Promise<void>;
  close(): Promise<void>;
  /** What the host refused or redid so far, for the metrics (a host without it reports none). */
  counters?(): HostCounters;
}

export interface TargetWriteOptions {
  /**
   * A prompt self step's write: a guest is waiting for this memory now. A host whose store is
   * busy with a tick's writes may let it go first (Xen: tick-lane.ts); the others ignore it.
   */
  prompt?: boolean;
}

export interface HostCounters {
  /** Agent reports (or hellos) refused as malformed or out of bounds. */
  refusedReports: number;
  /** Times the connection to the hypervisor's store (XenStore, QMP) was reopened. */
  reconnects: number;
}
