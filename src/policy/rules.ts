// Switches for memcoop's rules beyond the paper (params.rules), so that the ablation
// (`memcoop sim --sweep --ablation`, docs/sweep.md) can measure what each one gains or costs.
// Every rule is on unless the params say false; the paper's policy (paper.ts) has none of them.
import type { PolicyParams, PolicyRules } from './types.ts';

export const RULE_NAMES = ['commitCap', 'minStep', 'deadband', 'promptSelfSteps', 'workingRoom', 'shortHold', 'idleFirst', 'keepTickTarget', 'reserveFirst', 'idleYield'] as const;
export type RuleName = (typeof RULE_NAMES)[number];

/** Every rule switched off: what memcoop's policy is without anything beyond the paper. */
export const NO_RULES: Readonly<Required<PolicyRules>> = Object.freeze({
  commitCap: false,
  minStep: false,
  deadband: false,
  promptSelfSteps: false,
  workingRoom: false,
  shortHold: false,
  idleFirst: false,
  keepTickTarget: false,
  reserveFirst: false,
  idleYield: false,
});

/** Whether a rule is on in these params (absent: on). */
export function ruleOn(params: Pick<PolicyParams, 'rules'>, rule: RuleName): boolean {
  return params.rules?.[rule] !== false;
}
