#!/usr/bin/env node
// The whole test suite: build, lint and format check, then every vitest file.
// System packages and services the tests need are installed and started by the
// test files' own setup, so this runs on a new machine as it is.
import { spawnSync } from 'node:child_process';

function run(command, args) {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: {
      ...process.env,
      TURBO_TELEMETRY_DISABLED: '1',
      // Tests reach loopback servers only: no cloud SDK may look for a metadata service.
      AWS_EC2_METADATA_DISABLED: 'true',
      METADATA_SERVER_DETECTION: 'none',
    },
  });
  if (result.status !== 0) {
    console.error(`${command} ${args.join(' ')} failed with exit status ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
run('pnpm', ['exec', 'biome', 'check', '.']);
run('pnpm', ['exec', 'vitest', 'run', ...process.argv.slice(2)]);
