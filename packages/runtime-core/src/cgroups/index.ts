/** Cgroup backends. Only v2 is exported here for now; v1.ts is imported directly by its users. */
export * from './v2';
