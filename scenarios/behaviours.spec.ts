// The scenario suite: every behaviour as a mocha describe, one test per step (lib/behaviour/scenario.ts).
// `npm run scenario -- --grep pod-loss` picks one.
import { behavioursInOrder } from '../behaviours/index.ts';
import { PROFILE } from '../behaviours/support/workload.ts';
import { describeBehaviour } from '../lib/behaviour/scenario.ts';

for (const b of behavioursInOrder()) describeBehaviour(b, PROFILE.name);
