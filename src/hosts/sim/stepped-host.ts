// The SimHost as the daemon sees it: the same Host, except that the events a simulator step
// produces are held until the runner delivers them (at the same virtual instant, before anything
// else happens), and the targets and modes the supervisor writes are queued until the runner
// applies them (at the same instant, right after the supervisor has issued them, in the order it
// issued them; as a real host's writes complete after the supervisor's handler has returned).
// That keeps the simulator's own work apart from the supervisor's (streams and machines handling
// what the step produced, deciding, issuing writes), so the runner and bench:sim can time them
// separately; nothing the supervisor sees changes.
import { Subject, type Observable } from 'rxjs';
import type { Host, HostEvent } from '../host.ts';
import type { SimHost } from './sim-host.ts';
import type { Mode } from '../../vocabulary/mode.ts';

export class SteppedHost implements Host {
  readonly kind = 'sim';
  private readonly subject = new Subject<HostEvent>();
  readonly events$: Observable<HostEvent> = this.subject.asObservable();
  private held: HostEvent[] = [];

  constructor(readonly sim: SimHost) {
    sim.events$.subscribe((e) => this.held.push(e));
  }

  async start(): Promise<void> {
    await this.sim.start();
    this.deliver();
  }

  /** Advances the simulator by dtMs; its events wait for deliver(). */
  step(dtMs: number): void {
    this.sim.step(dtMs);
  }

  /** Hands the held events to the daemon, in the order the simulator produced them. */
  deliver(): number {
    const events = this.held;
    this.held = [];
    for (const e of events) this.subject.next(e);
    return events.length;
  }

  setTarget(id: string, targetKiB: number): Promise<void> {
    return this.queue(() => this.sim.setTarget(id, targetKiB));
  }

  setMode(id: string, mode: Mode, protocol: number): Promise<void> {
    return this.queue(() => this.sim.setMode(id, mode, protocol));
  }

  /** Applies the queued writes to the simulator, in order; each write's promise settles with it. */
  applyWrites(): number {
    const writes = this.writes;
    this.writes = [];
    for (const w of writes) w();
    return writes.length;
  }

  private writes: (() => void)[] = [];

  private queue(write: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.writes.push(() => {
        write().then(resolve, reject);
      });
    });
  }

  async close(): Promise<void> {
    this.held = [];
    this.writes = [];
    this.subject.complete();
    await this.sim.close();
  }
}
