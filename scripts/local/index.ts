// The local cloud's public API (see README "Local cloud"): boot, describe, plan from a template.

export {
  type LocalCloud,
  type LocalResources,
  type LocalState,
  RESOURCE_ENV,
  type StartLocalCloudOptions,
  stackNameFor,
  startLocalCloud,
} from './local-cloud.ts';
export { StateDirLockedError } from './state-dir.ts';
export { describeLocalCloud } from './summary.ts';
export {
  type CloudFormationTemplate,
  functionEnvironment,
  LOCAL_ACCOUNT_ID,
  type LocalPlan,
  planLocalResources,
  type TemplateContext,
} from './template.ts';
