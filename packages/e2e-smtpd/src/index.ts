export { type CommandResult, runCommand } from './command.js';
export {
  type Frontend,
  type FrontendOptions,
  startFrontend,
} from './frontend.js';
export { listMessages, readBody, type WalkedEnvelope, walkEnvelopes } from './frontend-api.js';
export { type LinkProxy, startLinkProxy } from './link-proxy.js';
export { headerValue, type MaildirMessage, readMaildir, splitMessage } from './maildir.js';
export { type OutageProxy, startOutageProxy } from './outage-proxy.js';
export { debianLibexecDir, queueRestMainPath, repoRoot, smtpqCliPath } from './paths.js';
export {
  type PoolNode,
  type PoolNodeOptions,
  type PoolTiming,
  poolFrontendArgs,
  startPoolNode,
  testPoolTiming,
  writePoolConfig,
} from './pool.js';
export { freePort, portAccepts } from './ports.js';
export { type Stoppable, stopAllStarted, track } from './processes.js';
export {
  ensureQueueRestInstalled,
  type InstalledQueueRest,
  installQueueRest,
  queueRestBuilt,
} from './queue-rest.js';
export { type SinkMessage, type SmtpSink, startSink } from './sink.js';
export {
  SmtpClientSession,
  type SmtpTransaction,
  sendSession,
  type TransactionResult,
} from './smtp-client.js';
export { acceptedMsgid, dotStuff } from './smtp-data.js';
export {
  type QueueChoice,
  type SmtpdInstance,
  type SmtpdOptions,
  startSmtpd,
  waitSmtpdEnd,
} from './smtpd.js';
export { localDomain, relayDomain, renderSmtpdConfig } from './smtpd-config.js';
export { type SmtpdEnvelopeOptions, smtpdEnvelope } from './smtpd-envelope.js';
export { runSmtpq, writeSmtpctlWrapper } from './smtpq-command.js';
export { type MailRequest, type MailResult, type SmtpReply, sendMail } from './swaks.js';
export { ensureSystemPackages, harnessStateDir, stopPackageSmtpd, testUser } from './system.js';
export { waitFor } from './wait.js';
