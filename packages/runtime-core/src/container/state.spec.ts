import { ALL_STATUSES, can, type Status } from './state';

// One row per status, one column per predicate: the whole table is checked.
const TABLE: Record<Status, Record<keyof typeof can, boolean>> = {
  creating: { start: false, kill: false, delete: false, forceDelete: true, exec: false, pause: false, resume: false, inspect: false },
  created: { start: true, kill: true, delete: true, forceDelete: true, exec: true, pause: true, resume: false, inspect: true },
  running: { start: false, kill: true, delete: false, forceDelete: true, exec: true, pause: true, resume: false, inspect: true },
  paused: { start: false, kill: true, delete: false, forceDelete: true, exec: false, pause: false, resume: true, inspect: true },
  stopped: { start: false, kill: false, delete: true, forceDelete: true, exec: false, pause: false, resume: false, inspect: false },
};

describe('container state machine', () => {
  for (const status of ALL_STATUSES) {
    it(`answers every predicate for ${status}`, () => {
      for (const [verb, fn] of Object.entries(can) as [keyof typeof can, (s: Status) => boolean][]) {
        expect({ verb, allowed: fn(status) }).toEqual({ verb, allowed: TABLE[status][verb] });
      }
    });
  }
});
