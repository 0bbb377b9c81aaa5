// Structured events: what a JobManager or TaskManager did that tests, the chaos checkers and operators need to
// see (grants, revokes, recoveries, registrations, deployments, fencing refusals). Processes print them as JSON
// lines on stdout (one object per line); library code only calls an injected EventSink.

export interface VigilEvent {
  /** What happened, kebab-case, e.g. "granted", "task-running", "command-rejected". */
  readonly event: string;
  readonly [field: string]: unknown;
}

export type EventSink = (event: VigilEvent) => void;

export const ignoreEvents: EventSink = () => {};

/** Keeps events in memory; for unit tests. */
export class RecordedEvents {
  readonly all: VigilEvent[] = [];
  readonly sink: EventSink = (e) => {
    this.all.push(e);
  };

  of(event: string): VigilEvent[] {
    return this.all.filter((e) => e.event === event);
  }
}
