import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const { isUnreferencedRole } = require('../../../serverless-plugins/drop-unused-default-role.cjs') as {
  isUnreferencedRole: (template: unknown, logicalId: string) => boolean;
};

const ROLE = 'IamRoleLambdaExecution';
const role = { Type: 'AWS::IAM::Role', Properties: { RoleName: 'x' } };
const fn = (Role: unknown) => ({ Type: 'AWS::Lambda::Function', Properties: { Role } });
/** A template with the shared role, a function on a role of its own, and `extra` resources. */
const template = (extra: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) => ({
  Resources: {
    [ROLE]: role,
    OwnRole: role,
    // Its own role's id contains the shared one's: that is no reference to it.
    ProcessTicksIamRoleLambdaExecution: role,
    F: fn({ 'Fn::GetAtt': ['ProcessTicksIamRoleLambdaExecution', 'Arn'] }),
    ...extra,
  },
  ...rest,
});

describe('drop-unused-default-role plugin: isUnreferencedRole', () => {
  it('is true when no resource, output or condition refers to the role', () => {
    expect(isUnreferencedRole(template(), ROLE)).toBe(true);
  });

  it('is false when the template has no such role', () => {
    expect(isUnreferencedRole({ Resources: { OwnRole: role } }, ROLE)).toBe(false);
    expect(isUnreferencedRole({}, ROLE)).toBe(false);
  });

  it.each([
    ['Fn::GetAtt (a function on the shared role)', template({ G: fn({ 'Fn::GetAtt': [ROLE, 'Arn'] }) })],
    ['Ref', template({ P: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: ROLE }] } } })],
    ['DependsOn as a string', template({ M: { Type: 'AWS::Lambda::EventSourceMapping', DependsOn: ROLE } })],
    [
      'DependsOn in a list',
      template({ M: { Type: 'AWS::Lambda::EventSourceMapping', DependsOn: ['F', ROLE] } }),
    ],
    ['Fn::Sub with the id and an attribute', template({ G: fn({ 'Fn::Sub': `\${${ROLE}.Arn}` }) })],
    ['Fn::Sub with the id alone', template({ G: fn({ 'Fn::Sub': `arn:aws:iam::1:role/\${${ROLE}}` }) })],
    ['an output', template({}, { Outputs: { R: { Value: { 'Fn::GetAtt': [ROLE, 'Arn'] } } } })],
  ])('is false when something refers to it: %s', (_, t) => {
    expect(isUnreferencedRole(t, ROLE)).toBe(false);
  });

  it('does not change the template it inspects', () => {
    const t = template();
    const before = JSON.stringify(t);
    isUnreferencedRole(t, ROLE);
    expect(JSON.stringify(t)).toBe(before);
  });
});
