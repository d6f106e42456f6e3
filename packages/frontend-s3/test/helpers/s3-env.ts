import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Environment of every S3 test, set when this module is first imported: dummy credentials,
 * no shared AWS files, and no instance metadata lookups, so the SDK talks to nothing but the
 * local server.
 */
export const TEST_ENVIRONMENT: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'smtpq-test-key',
  AWS_SECRET_ACCESS_KEY: 'smtpq-test-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: join(tmpdir(), 'smtpq-no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(tmpdir(), 'smtpq-no-aws-credentials'),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

for (const [name, value] of Object.entries(TEST_ENVIRONMENT)) process.env[name] = value;
for (const name of [
  'AWS_PROFILE',
  'AWS_SESSION_TOKEN',
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
]) {
  delete process.env[name];
}
for (const name of [
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
]) {
  delete process.env[name];
}
