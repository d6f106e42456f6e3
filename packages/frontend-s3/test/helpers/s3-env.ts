import { TEST_ENVIRONMENT } from '../../src/testing/test-environment.js';

export { TEST_ENVIRONMENT };

// Every S3 test gets this environment when this module is first imported, so the SDK talks
// to nothing but the local server.
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
