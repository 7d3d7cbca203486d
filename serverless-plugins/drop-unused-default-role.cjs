'use strict';
/**
 * Serverless Framework plugin: removes the provider-wide Lambda role (`IamRoleLambdaExecution`) from
 * the packaged template when nothing in the template refers to it.
 *
 * The framework creates that role for every service and adds each function's event permissions to
 * it (here: read on the ticks stream, SendMessage on the processor's dead-letter queue, logs and
 * X-Ray). serverless-iam-roles-per-function then gives every function a role of its own, built from
 * that role as a template, but leaves the shared one in the stack: a role no function uses, which
 * anyone allowed to pass roles to Lambda could still run code under. Listed after that plugin, this
 * one runs after it in the same lifecycle event and deletes the role only if no resource, output or
 * condition refers to it (a function without a role of its own would, and keeps it).
 */

/** True when `template` holds the role `logicalId` and nothing else in it refers to that role. */
function isUnreferencedRole(template, logicalId) {
  const resources = template.Resources ?? {};
  if (!resources[logicalId]) return false;
  const rest = { ...template, Resources: { ...resources } };
  delete rest.Resources[logicalId];
  const text = JSON.stringify(rest);
  // Ref / Fn::GetAtt / DependsOn hold the id as a whole JSON string; Fn::Sub as ${Id} or ${Id.Attr}.
  return !text.includes(`"${logicalId}"`) && !new RegExp(`\\$\\{${logicalId}[.}]`).test(text);
}

class DropUnusedDefaultRole {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.drop() };
  }

  drop() {
    const provider = this.serverless.getProvider('aws');
    const logicalId = provider.naming.getRoleLogicalId();
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    if (isUnreferencedRole(template, logicalId)) {
      delete template.Resources[logicalId];
      this.serverless.cli.log(`drop-unused-default-role: removed ${logicalId} (no function uses it)`);
    }
  }
}

module.exports = DropUnusedDefaultRole;
module.exports.isUnreferencedRole = isUnreferencedRole;
