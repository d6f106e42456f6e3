import type { SuiteCase } from '../case-types.js';
import { bodyCodeCases } from '../code/bodies.js';
import { poolCodeCases } from '../code/pool.js';
import { raceCases } from '../code/races.js';
import { walkCodeCases } from '../code/walks.js';
import { authCases } from './auth.js';
import { bodyCases } from './bodies.js';
import { bundleCases } from './bundle.js';
import { envelopeCases } from './envelopes.js';
import { idempotencyCases } from './idempotency.js';
import { idCases } from './ids.js';
import { messageCases } from './messages.js';
import { poolCases } from './pool.js';
import { serviceCases } from './service.js';
import { walkCases } from './walk.js';

/** Every case of the HTTP suite, in the order they run: data cases first, then code cases. */
export const HTTP_CASES: readonly SuiteCase[] = [
  ...serviceCases,
  ...authCases,
  ...messageCases,
  ...bodyCases,
  ...envelopeCases,
  ...idCases,
  ...idempotencyCases,
  ...bundleCases,
  ...walkCases,
  ...poolCases,
  ...bodyCodeCases,
  ...raceCases,
  ...walkCodeCases,
  ...poolCodeCases,
];
