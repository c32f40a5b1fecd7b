// Where memcoop reads and writes in XenStore. Xen's own keys first, then memcoop's:
//
//   /local/domain/<domid>/name                 toolstack-written; guest text: config lookup only
//   /local/domain/<domid>/memory/static-max    KiB, the domain's ceiling (maxKiB)
//   /local/domain/<domid>/memory/target        KiB, the balloon target; Dom0 writes it, the guest's
//                                              balloon driver follows it. Dom0's own
//                                              (/local/domain/0/memory/target) may not exist until
//                                              memcoop writes one (docs/measurements.md section 3).
//   @introduceDomain, @releaseDomain           special watch paths: a domain came or went
//
//   guest-written, UNTRUSTED (agent-protocol.ts parses them):
//   /local/domain/<domid>/data/memcoop/hello   "protocol=<n> selfAdjust=<0|1>" (at most 64 bytes)
//   /local/domain/<domid>/data/memcoop/meminfo /proc/meminfo lines (at most 2048 bytes)
//
//   Dom0-written, guest-readable, not guest-writable (permissions: modePermissions below):
//   /local/domain/<domid>/memcoop/mode         self | global | held | reclaim
//   /local/domain/<domid>/memcoop/protocol     the protocol version the supervisor speaks
import { DOM0_ID } from '../../vocabulary/writes.ts';
import type { XsPermission } from './xenstore.ts';

export const LOCAL_DOMAIN = '/local/domain';
/** Special watch paths xenstored fires when a domain is introduced or released (xs_wire.h). */
export const INTRODUCE_DOMAIN = '@introduceDomain';
export const RELEASE_DOMAIN = '@releaseDomain';

/** The control domain. */
export const DOM0_DOMID = 0;
/** DOMID_FIRST_RESERVED (xen/include/public/xen.h): domids at or above it are not domains. */
export const DOMID_FIRST_RESERVED = 0x7ff0;

export const domainPath = (domid: number): string => `${LOCAL_DOMAIN}/${domid}`;
export const namePath = (domid: number): string => `${domainPath(domid)}/name`;
export const staticMaxPath = (domid: number): string => `${domainPath(domid)}/memory/static-max`;
export const targetPath = (domid: number): string => `${domainPath(domid)}/memory/target`;

/** The directory the guest's agent writes (the guest owns data/ in a real Xen). */
export const agentDataPath = (domid: number): string => `${domainPath(domid)}/data/memcoop`;
export const helloPath = (domid: number): string => `${agentDataPath(domid)}/hello`;
export const meminfoPath = (domid: number): string => `${agentDataPath(domid)}/meminfo`;

/** The directory memcoop writes for the agent to read. */
export const controlPath = (domid: number): string => `${domainPath(domid)}/memcoop`;
export const modePath = (domid: number): string => `${controlPath(domid)}/mode`;
export const protocolPath = (domid: number): string => `${controlPath(domid)}/protocol`;

/**
 * The mode and protocol keys' permissions: the first entry names the owner (Dom0) and gives
 * every domain not listed 'none'; the guest itself may read. Nobody but Dom0 may write.
 */
export function modePermissions(domid: number): XsPermission[] {
  return [
    { domid: DOM0_DOMID, access: 'none' },
    { domid, access: 'read' },
  ];
}

/** A /local/domain entry as a domid: plain decimal, no sign or leading zero, below the reserved range. */
export function parseDomid(entry: string): number | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(entry)) return null;
  const n = Number(entry);
  return n < DOMID_FIRST_RESERVED ? n : null;
}

/** The supervisor's id for a domain: "dom<domid>", so domain 0 is DOM0_ID ("dom0"). */
export function guestId(domid: number): string {
  return `dom${domid}`;
}

/** The domid behind a supervisor id ("dom5" -> 5, DOM0_ID -> 0), or null for any other text. */
export function domidOf(id: string): number | null {
  if (id === DOM0_ID) return DOM0_DOMID;
  const m = /^dom(0|[1-9][0-9]{0,4})$/.exec(id);
  return m ? parseDomid(m[1]!) : null;
}

/** A KiB value as Xen's tools write it (decimal), or null if it is not one. */
export function parseKiB(text: string | null): number | null {
  if (text === null || !/^(0|[1-9][0-9]{0,14})$/.test(text.trim())) return null;
  return Number(text.trim());
}
