export {
  type Config,
  ConfigError,
  DEFAULT_CONFIG,
  DEFAULT_POOL_CONFIG,
  loadConfig,
  type PoolConfig,
} from './config.js';
export { envelopeProblem } from './envelope-check.js';
export {
  encodeFrame,
  IMSG_HEADER_SIZE,
  type ImsgFrame,
  ImsgFrameError,
  type ImsgLayout,
  ImsgReader,
  MAX_IMSGSIZE,
} from './imsg.js';
export { chooseLayout, detectLayout, type LayoutChoice, layoutOfVersion } from './layout.js';
export {
  decodeRequest,
  ENVELOPE_BUFFER_BYTES,
  PROC_QUEUE,
  PROC_QUEUE_API_VERSION,
  type QueueReply,
  type QueueRequest,
} from './queue-proc.js';
export { type DiscoverOutcome, SmtpctlMissingError, smtpctlDiscover } from './smtpctl.js';
