// `memcoop run --host sim`: the daemon against the embedded simulated host in real time (or
// --speed times faster), so the control socket, status, explain and the metrics can be tried and
// tested without a hypervisor. The simulator's steps are driven from a wall-clock timer; the
// daemon runs on the simulator's virtual clock (as `memcoop sim` does), so its inputs and
// journal carry virtual time and a replay reproduces the run.
import { loadScenario, type Scenario } from '../sim/scenario.ts';
import { SimHost } from '../hosts/sim/sim-host.ts';
import type { HostCounters } from '../hosts/host.ts';
import type { Logger } from '../log/logger.ts';
import type { SupervisorConfig } from '../vocabulary/config.ts';
import { DEFAULT_PARAMS } from '../policy/decide.ts';
import { supervisorConfigFor } from '../sim/runner.ts';
import { SteppedHost } from '../hosts/sim/stepped-host.ts';
import { VirtualClock } from '../sim/virtual-clock.ts';

/** The scenario `run --host sim` plays unless told another: the paper's four guests. */
export const DEFAULT_RUN_SCENARIO = 'paper-4vm';
/** Most simulator steps taken in one timer turn: a stalled process catches up gradually, not in one burst. */
const MAX_STEPS_PER_TURN = 50;

/** The stepped simulator, with the counters the metrics read. */
class LiveSimHost extends SteppedHost {
  counters(): HostCounters {
    let refused = 0;
    for (const n of this.sim.rejectedReports.values()) refused += n;
    return { refusedReports: refused, reconnects: 0 };
  }
}

export interface LiveSim {
  host: LiveSimHost;
  scenario: Scenario;
  config: SupervisorConfig;
  clock: VirtualClock;
  /** Starts the wall-clock driver; call once the daemon is started. */
  drive(): void;
  stop(): void;
}

export function liveSim(scenarioName: string, speed: number, logger: Logger): LiveSim {
  const scenario = loadScenario(scenarioName);
  const config = supervisorConfigFor(scenario, { ...DEFAULT_PARAMS, ...scenario.params });
  const clock = new VirtualClock();
  const host = new LiveSimHost(new SimHost(scenario.sim, { logger }));
  let timer: NodeJS.Timeout | null = null;
  return {
    host,
    scenario,
    config,
    clock,
    drive() {
      host.applyWrites();
      const wallStart = Date.now();
      const turn = () => {
        const due = (Date.now() - wallStart) * speed;
        for (let k = 0; k < MAX_STEPS_PER_TURN && host.sim.now + scenario.stepMs <= due; k++) {
          clock.advanceTo(host.sim.now + scenario.stepMs);
          host.step(scenario.stepMs);
          host.deliver();
          clock.runDue();
          host.applyWrites();
        }
      };
      timer = setInterval(turn, Math.max(1, Math.floor(scenario.stepMs / speed)));
    },
    stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}
