import { RUNNER } from './common.ts';
import { CHECKOUT, SETUP_NODE, uses } from './pins.ts';
import { expr, type Workflow } from './types.ts';

/** The project's own CI: the README's test command, which includes the generated-files checks and actionlint. */
export const ci: Workflow = {
  file: 'ci.yml',
  name: 'CI',
  on: { push: { branches: ['main'] }, pull_request: {} },
  permissions: {},
  // CI provisions nothing, so a newer push may cancel an older run.
  concurrency: {
    group: 'ci-' + expr('github.event.pull_request.number || github.ref'),
    'cancel-in-progress': true,
  },
  jobs: {
    test: {
      name: 'npm test',
      'runs-on': RUNNER,
      'timeout-minutes': 30,
      permissions: { contents: 'read' },
      steps: [
        { name: 'Check out', uses: uses(CHECKOUT), with: { 'persist-credentials': false } },
        { name: 'Node.js', uses: uses(SETUP_NODE), with: { 'node-version': 24, cache: 'npm' } },
        { name: 'Install', run: 'npm ci' },
        { name: 'Test', run: 'npm test' },
      ],
    },
  },
};
