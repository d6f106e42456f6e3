import { encodeBundle, type ServiceInfo } from '@smtpq/protocol';
import { everyByteValue } from '../bytes.js';
import type { BodySpec } from './case-types.js';
import type { CaseVars } from './vars.js';

/** Returns the bytes a BodySpec stands for. */
export function bodyBytes(spec: BodySpec, vars: CaseVars, info: ServiceInfo): Buffer {
  if (typeof spec === 'string') return Buffer.from(vars.fill(spec), 'utf8');

  if ('bytes' in spec) {
    const base = typeof spec.bytes === 'number' ? spec.bytes : info.limits[spec.bytes];
    return everyByteValue(base + (spec.plus ?? 0), spec.seed ?? 0);
  }

  const envelopes = spec.bundle.envelopes.map(([evpid, data]) => ({
    evpid: vars.fill(evpid),
    data: bodyBytes(data, vars, info),
  }));
  return encodeBundle(envelopes, bodyBytes(spec.bundle.body, vars, info));
}
