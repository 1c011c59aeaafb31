// Every lab's steps in code, by name. Loading this pulls in the cluster client and the scenario
// support; the catalog (catalog.ts) is the light list.
import type { LabDefinition } from '../lib/lab/model.ts';
import type { LabName } from './catalog.ts';
import { headlessDns } from './headless-dns/steps.ts';
import { naming } from './naming/steps.ts';
import { nodeStop } from './node-stop/steps.ts';
import { ordinals } from './ordinals/steps.ts';
import { partition } from './partition/steps.ts';
import { podLoss } from './pod-loss/steps.ts';
import { pvcRetention } from './pvc-retention/steps.ts';

export const DEFINITIONS: Record<LabName, LabDefinition> = {
  naming,
  'headless-dns': headlessDns,
  'pod-loss': podLoss,
  ordinals,
  'pvc-retention': pvcRetention,
  'node-stop': nodeStop,
  partition,
};
