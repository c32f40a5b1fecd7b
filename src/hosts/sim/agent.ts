// What a simulated guest's agent sends: /proc/meminfo text, honest or not. The host parses it
// with the real parser (src/vocabulary/meminfo.ts), so a garbage report is rejected where a real
// one would be.
import { MAX_MEMINFO_CHARS } from '../../vocabulary/meminfo.ts';
import { meminfoText, type GuestMemory } from './memory.ts';

export type AgentModel =
  | { kind: 'honest' }
  /** No agent runs in the guest: no hello, no reports. */
  | { kind: 'none' }
  /** Reports Committed_AS multiplied by factor (a guest grabbing memory). */
  | { kind: 'inflated'; factor: number }
  /** Every `every`-th report is garbage; the others are honest. */
  | { kind: 'garbage'; every: number };

export const AGENT_KINDS = ['honest', 'none', 'inflated', 'garbage'] as const;

/** Kinds of bad text a broken or hostile agent sends, in turn; each must fail the strict parser. */
export const GARBAGE_TEXTS: readonly string[] = [
  'MemTotal: lots kB\nMemFree: 12 kB\n',
  '\u0000\u0001\u00ff binary junk',
  'MemTotal:  1048576 kB\nMemFree:  2097152 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nCommitted_AS: 1 kB\n',
  'MemTotal:  1048576 kB\nMemFree:  1024 kB\n',
  'MemTotal: 1 kB\n'.repeat(Math.ceil(MAX_MEMINFO_CHARS / 15) + 1),
];

/** The text the agent sends as its `n`-th report (n from 0). */
export function agentReportText(agent: AgentModel, n: number, allocKiB: number, m: GuestMemory, swapTotalKiB: number, psiSomeAvg10?: number): string | null {
  // The agent's PSI line (docs/agent-protocol.md), after meminfo's lines, when the guest has PSI.
  const psi = psiSomeAvg10 === undefined ? '' : `psi_some_avg10: ${psiSomeAvg10}\n`;
  switch (agent.kind) {
    case 'none':
      return null;
    case 'honest':
      return meminfoText(allocKiB, m, swapTotalKiB) + psi;
    case 'inflated':
      return meminfoText(allocKiB, { ...m, committedKiB: Math.floor(m.committedKiB * agent.factor) }, swapTotalKiB) + psi;
    case 'garbage':
      if ((n + 1) % agent.every === 0) return GARBAGE_TEXTS[Math.floor(n / agent.every) % GARBAGE_TEXTS.length] ?? '';
      return meminfoText(allocKiB, m, swapTotalKiB) + psi;
  }
}
