// The nested Xen scenarios: the QEMU machine, Dom0's share, the DomUs with their roles, the
// workload and memcoop's config inside Dom0. Sizes in MiB where xl and QEMU take MiB.

export type GuestRole = 'hungry' | 'idle' | 'capped';

export interface NestedGuest {
  name: string;
  role: GuestRole;
  /** xl `memory=` (creation size, MiB). */
  memoryMiB: number;
  /** xl `maxmem=` (static-max, MiB). */
  maxmemMiB: number;
}

export type Phase = 'memcoop' | 'static';

export interface Scenario {
  name: string;
  description: string;
  /** QEMU -m: the nested host's RAM. */
  hostMiB: number;
  /** Xen's dom0_mem (fixed: min = max). */
  dom0MiB: number;
  guests: NestedGuest[];
  /** Phases in boot order; each creates the guests anew and destroys them at its end. */
  phases: Phase[];
  /** The hungry guest's workload (a static program from native/build/workloads). */
  workload: string;
  /** Seconds the hungry guest waits after boot before its workload (agents report meanwhile). */
  warmupS: number;
  /** Seconds after the workload before the phase ends (memory flows back meanwhile). */
  settleS: number;
  /**
   * What the capped guest commits (and holds, untouched), MiB: more than its kernel can grow
   * into, so its target goes up and its balloon cannot follow.
   */
  cappedCommitMiB: number;
  /** Dom0 gives up waiting for the workload after this long. */
  workloadTimeoutS: number;
  /** memcoop's config inside Dom0 (YAML). */
  memcoopYaml: string;
}

/** xl's and memcoop's KiB per MiB. */
export const KIB_PER_MIB = 1024;

/** The guest minimum in memcoop's config below; the tests check no guest went under it. */
export const GUEST_MIN_MIB = 128;
/** Dom0's minimum in memcoop's config below (Dom0 is fixed at dom0MiB by Xen's dom0_mem). */
export const DOM0_MIN_MIB = 400;

function memcoopYaml(dom0MiB: number): string {
  return `# memcoop inside the nested Dom0 (testbed/xen/scenario.ts)
host: xen
tickMs: 1000
logLevel: debug
guests:
  default:
    minKiB: ${GUEST_MIN_MIB * KIB_PER_MIB}
supervisor:
  dom0:
    minKiB: ${DOM0_MIN_MIB * KIB_PER_MIB}
    maxKiB: ${dom0MiB * KIB_PER_MIB}
  stuckTicks: 5
  stuckRetryTicks: 20
  # The working room (src/policy/pressure.ts) is off here: its goals follow each guest's used
  # memory, which moves every report, so targets were rewritten nearly every tick and the tier's
  # free-memory check (samples away from any target write) found no quiet sample.
  params:
    rules:
      workingRoom: false
`;
}

// Sizes: 1280 MiB of host RAM less Xen's own and Dom0's 512 MiB left 750 MiB free (xl info,
// measured); guests of 160 + 192 + 192 MiB leave ~200 MiB, and memcoop takes Dom0 toward its
// 400 MiB minimum and the idle guest toward 128 MiB. The workload is jvm: it commits 256 MiB at
// once (memcoop follows Committed_AS, so the guest is grown to it in one step) and touches
// 32-160 MiB, which under the static 160 MiB (about 105 MiB usable after the guest kernel)
// means zram swap.
// A peak far above the creation size would make the static phase take many minutes under TCG.
const BALANCE: Scenario = {
  name: 'balance',
  description: 'three DomUs: one hungry (jvm: commits 256 MiB, touches 32-160), one idle, one capped (booted with mem= at its creation size and committing more: its balloon cannot reach the higher target); memcoop then static in one boot',
  hostMiB: 1280,
  dom0MiB: 512,
  guests: [
    { name: 'hungry', role: 'hungry', memoryMiB: 160, maxmemMiB: 512 },
    { name: 'idle', role: 'idle', memoryMiB: 192, maxmemMiB: 512 },
    { name: 'capped', role: 'capped', memoryMiB: 160, maxmemMiB: 256 },
  ],
  phases: ['memcoop', 'static'],
  workload: '/usr/local/bin/jvm 256 32 160 4 1',
  warmupS: 15,
  settleS: 25,
  cappedCommitMiB: 240,
  workloadTimeoutS: 400,
  memcoopYaml: memcoopYaml(512),
};

const SMOKE: Scenario = {
  ...BALANCE,
  name: 'smoke',
  description: 'one hungry DomU under memcoop only: the boot, the first tick, a target followed by the balloon',
  guests: [{ name: 'hungry', role: 'hungry', memoryMiB: 192, maxmemMiB: 512 }],
  phases: ['memcoop'],
  workload: '/usr/local/bin/jvm 320 32 192 5 1',
  warmupS: 10,
  settleS: 15,
};

export const SCENARIOS: Record<string, Scenario> = { balance: BALANCE, smoke: SMOKE };

export function xlConfig(g: NestedGuest): string {
  return `# ${g.role} guest (testbed/xen/scenario.ts)
name = "${g.name}"
type = "pv"
kernel = "/boot/vmlinux"
ramdisk = "/boot/domu.cpio.gz"
extra = "console=hvc0 quiet memcoop_role=${g.role}${g.role === 'capped' ? ` mem=${g.memoryMiB}M` : ''}"
memory = ${g.memoryMiB}
maxmem = ${g.maxmemMiB}
vcpus = 1
vif = []
disk = []
on_crash = "preserve"
`;
}
