// Which QEMU accelerator can boot a stock Linux guest on this host. KVM only with hardware
// virtualisation (vmx/svm in /proc/cpuinfo) and not under the kvm_pvm module: /dev/kvm backed by
// that software hypervisor boots the Debian kernel extremely slowly and then fails (measured here).
import { existsSync, readFileSync } from 'node:fs';

export interface Accel {
  kind: 'kvm' | 'tcg';
  /** QEMU arguments selecting it. */
  args: string[];
  /** Why this one, for logs and reports. */
  reason: string;
}

/** TCG translation cache (MiB): 128 keeps several guests' code cached without GiBs of host RAM. */
const TCG_TB_SIZE_MIB = 128;

export function chooseAccel(env: NodeJS.ProcessEnv = process.env): Accel {
  const tcg = (reason: string): Accel => ({ kind: 'tcg', args: ['-accel', `tcg,tb-size=${TCG_TB_SIZE_MIB}`, '-cpu', 'max'], reason });
  if (env.MEMCOOP_TESTBED_ACCEL === 'tcg') return tcg('MEMCOOP_TESTBED_ACCEL=tcg');
  const cpuinfo = safeRead('/proc/cpuinfo');
  const hw = /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo);
  if (!hw) return tcg('no vmx/svm in /proc/cpuinfo');
  if (existsSync('/sys/module/kvm_pvm') || /^kvm_pvm\b/m.test(safeRead('/proc/modules'))) return tcg('kvm_pvm (software KVM) is loaded');
  if (!existsSync('/dev/kvm')) return tcg('no /dev/kvm');
  return { kind: 'kvm', args: ['-accel', 'kvm', '-cpu', 'host'], reason: 'vmx/svm and /dev/kvm present' };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
