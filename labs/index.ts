// Every lab's steps in code, by name. Loading this pulls in the cluster client and the scenario
// support; the catalog (catalog.ts) is the light list.
import type { LabDefinition } from '../lib/lab/model.ts';
import type { LabName } from './catalog.ts';
import { naming } from './naming/steps.ts';
import { podLoss } from './pod-loss/steps.ts';

export const DEFINITIONS: Record<LabName, LabDefinition> = {
  naming,
  'pod-loss': podLoss,
};
