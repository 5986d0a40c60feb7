import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two files at a time (the machines have two cores): simulated time moves by events, not by
    // the wall (emulator/core/clock.ts), so a loaded machine changes how long tests take, not
    // what they observe.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
