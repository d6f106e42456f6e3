export { AWKWARD_TEXT, everyByteValue } from './bytes.js';
export { crashCases } from './driver/crash-cases.js';
export { type DriverSuiteOptions, driverCases, runDriverSuite } from './driver/driver-suite.js';
export { FAULT_MODES, FaultDriver, type FaultMode } from './driver/fault-driver.js';
export type { DriverCase, DriverFactory, DriverHandle } from './driver/harness.js';
export { poolCases } from './driver/pool-cases.js';
export { queueCases } from './driver/queue-cases.js';
export { scanCases } from './driver/scan-cases.js';
export { storageCases } from './driver/storage-cases.js';
export { CaseSkipped, ConformanceFailure } from './failure.js';
export type {
  BodySpec,
  CodeCase,
  DataCase,
  Expectation,
  Need,
  RequestStep,
  Step,
  SuiteCase,
} from './http/case-types.js';
export { HTTP_CASES } from './http/cases/index.js';
export { DEFAULT_SETTINGS, type HttpSuiteOptions, runHttpSuite } from './http/run-http-suite.js';
export {
  type CaseOutcome,
  formatOutcome,
  formatSummary,
  type SuiteCounts,
} from './results.js';
