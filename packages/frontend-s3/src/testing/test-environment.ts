import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Environment of a process that talks to the local S3 test server only: dummy credentials,
 * no shared AWS files, and no instance metadata lookups.
 */
export const TEST_ENVIRONMENT: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'smtpq-test-key',
  AWS_SECRET_ACCESS_KEY: 'smtpq-test-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: join(tmpdir(), 'smtpq-no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(tmpdir(), 'smtpq-no-aws-credentials'),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
