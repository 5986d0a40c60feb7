/** Every generated workflow, in the order they are written. */
import { ci } from './ci.ts';
import type { Workflow } from './types.ts';
import { verifyNightly } from './verify-nightly.ts';
import { verifyOnDemand } from './verify-on-demand.ts';
import { verifyPullRequest } from './verify-pull-request.ts';

export const WORKFLOWS: Workflow[] = [verifyPullRequest, verifyOnDemand, verifyNightly, ci];
