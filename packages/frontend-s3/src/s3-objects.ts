import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { StorageFault } from '@smtpq/store';
import { isNotFound, isPreconditionFailed, S3AnswerError, toStorageFault } from './faults.js';
import { RequestSlots } from './request-slots.js';

/** Conditions of a PutObject or DeleteObject (RFC 9110 13.1.1 and 13.1.2). */
export interface WriteCondition {
  /** `*`: write only if the key is absent. */
  ifNoneMatch?: '*';
  /** Write only if the object's ETag is this one. */
  ifMatch?: string;
}

export type ConditionalResult<T> = T | 'precondition-failed' | 'not-found';

export interface ObjectHead {
  etag: string;
  size: number;
}

export interface ListedObject {
  key: string;
  size: number;
}

export interface ListPage {
  objects: ListedObject[];
  truncated: boolean;
  nextToken: string | undefined;
}

export interface S3ObjectsSettings {
  /** Deadline of one call including the SDK's retries, in ms. */
  operationTimeoutMs: number;
  /** Ask S3 to verify a SHA-256 checksum of every blob write. */
  blobChecksums: boolean;
  /** S3 requests in progress at once; more wait for a free slot before their deadline starts. */
  maxRequests: number;
}

// A record is a few KB; anything far larger under the record prefix is not one of ours.
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

// Whole-call attempts when a record's body fails after its headers arrived, a case the SDK's
// retries do not cover.
const RECORD_READ_ATTEMPTS = 3;

/**
 * The S3 calls the driver makes, on one bucket. Each call has a deadline that covers the SDK's
 * retries. Responses the driver acts on (412, 404) are returned as values, and every other
 * failure is thrown as converted by toStorageFault.
 */
export class S3Objects {
  private readonly slots: RequestSlots;

  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    readonly settings: S3ObjectsSettings,
  ) {
    this.slots = new RequestSlots(settings.maxRequests);
  }

  async put(
    key: string,
    body: Buffer,
    condition: WriteCondition = {},
    checksum = false,
  ): Promise<ConditionalResult<{ etag: string }>> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      IfNoneMatch: condition.ifNoneMatch,
      IfMatch: condition.ifMatch,
      ChecksumAlgorithm: checksum && this.settings.blobChecksums ? 'SHA256' : undefined,
    });
    try {
      const output = await this.withDeadline((abortSignal) =>
        this.client.send(command, { abortSignal }),
      );
      return { etag: requireEtag(output.ETag, 'PutObject', key) };
    } catch (error) {
      if (isPreconditionFailed(error)) return 'precondition-failed';
      if (condition.ifMatch !== undefined && isNotFound(error)) return 'not-found';
      throw toStorageFault(error, `PutObject ${key}`);
    }
  }

  async head(key: string): Promise<ObjectHead | null> {
    const command = new HeadObjectCommand({ Bucket: this.bucket, Key: key });
    try {
      const output = await this.withDeadline((abortSignal) =>
        this.client.send(command, { abortSignal }),
      );
      return {
        etag: requireEtag(output.ETag, 'HeadObject', key),
        size: output.ContentLength ?? 0,
      };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw toStorageFault(error, `HeadObject ${key}`);
    }
  }

  /** Reads a small object whole. */
  async get(key: string): Promise<{ body: Buffer; etag: string } | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withDeadline(async (abortSignal) => {
          const output = await this.client.send(
            new GetObjectCommand({ Bucket: this.bucket, Key: key }),
            { abortSignal },
          );
          if ((output.ContentLength ?? 0) > MAX_RECORD_BYTES) {
            throw new S3AnswerError(
              `S3 object ${key} is ${output.ContentLength} bytes, too large for a record`,
            );
          }
          const body = Buffer.from((await output.Body?.transformToByteArray()) ?? []);
          return { body, etag: requireEtag(output.ETag, 'GetObject', key) };
        });
      } catch (error) {
        if (isNotFound(error)) return null;
        const fault = toStorageFault(error, `GetObject ${key}`);
        // Errors of the SDK's own attempts carry $metadata; one of the body stream does not.
        const bodyFailed = (error as { $metadata?: unknown }).$metadata === undefined;
        const retryable = fault instanceof StorageFault && fault.kind === 'unavailable';
        if (!retryable || !bodyFailed || attempt >= RECORD_READ_ATTEMPTS) throw fault;
      }
    }
  }

  /** Opens an object as a stream; only the request up to the response headers has a deadline. */
  async getStream(key: string): Promise<{ size: number; stream: Readable } | null> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: key });
    try {
      const output = await this.withDeadline((abortSignal) =>
        this.client.send(command, { abortSignal }),
      );
      return { size: output.ContentLength ?? 0, stream: output.Body as Readable };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw toStorageFault(error, `GetObject ${key}`);
    }
  }

  async delete(key: string, ifMatch?: string): Promise<ConditionalResult<'deleted'>> {
    const command = new DeleteObjectCommand({ Bucket: this.bucket, Key: key, IfMatch: ifMatch });
    try {
      await this.withDeadline((abortSignal) => this.client.send(command, { abortSignal }));
      return 'deleted';
    } catch (error) {
      if (isPreconditionFailed(error)) return 'precondition-failed';
      if (isNotFound(error)) return 'not-found';
      throw toStorageFault(error, `DeleteObject ${key}`);
    }
  }

  async listPage(
    prefix: string,
    options: { startAfter?: string; token?: string; maxKeys: number },
  ): Promise<ListPage> {
    const command = new ListObjectsV2Command({
      Bucket: this.bucket,
      Prefix: prefix,
      StartAfter: options.token === undefined ? options.startAfter : undefined,
      ContinuationToken: options.token,
      MaxKeys: options.maxKeys,
    });
    try {
      const output = await this.withDeadline((abortSignal) =>
        this.client.send(command, { abortSignal }),
      );
      return {
        objects: (output.Contents ?? []).map((entry) => ({
          key: entry.Key ?? '',
          size: entry.Size ?? 0,
        })),
        truncated: output.IsTruncated === true,
        nextToken: output.NextContinuationToken,
      };
    } catch (error) {
      throw toStorageFault(error, `ListObjectsV2 ${prefix}`);
    }
  }

  async multipartCreate(key: string): Promise<string> {
    const command = new CreateMultipartUploadCommand({
      Bucket: this.bucket,
      Key: key,
      ChecksumAlgorithm: this.settings.blobChecksums ? 'SHA256' : undefined,
    });
    try {
      const output = await this.withDeadline((abortSignal) =>
        this.client.send(command, { abortSignal }),
      );
      if (output.UploadId === undefined) {
        throw new S3AnswerError(`S3 CreateMultipartUpload ${key} returned no upload id`);
      }
      return output.UploadId;
    } catch (error) {
      throw toStorageFault(error, `CreateMultipartUpload ${key}`);
    }
  }

  async multipartUpload(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Buffer,
  ): Promise<CompletedPart> {
    const command = new UploadPartCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      Body: body,
      ContentLength: body.length,
      ChecksumAlgorithm: this.settings.blobChecksums ? 'SHA256' : undefined,
    });
    try {
      const output = await this.withDeadline((abortSignal) =>
        this.client.send(command, { abortSignal }),
      );
      return {
        PartNumber: partNumber,
        ETag: requireEtag(output.ETag, 'UploadPart', key),
        ChecksumSHA256: output.ChecksumSHA256,
      };
    } catch (error) {
      throw toStorageFault(error, `UploadPart ${key} part ${partNumber}`);
    }
  }

  async multipartComplete(key: string, uploadId: string, parts: CompletedPart[]): Promise<void> {
    const command = new CompleteMultipartUploadCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
    });
    try {
      await this.withDeadline((abortSignal) => this.client.send(command, { abortSignal }));
    } catch (error) {
      throw toStorageFault(error, `CompleteMultipartUpload ${key}`);
    }
  }

  async multipartAbort(key: string, uploadId: string): Promise<void> {
    const command = new AbortMultipartUploadCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
    });
    try {
      await this.withDeadline((abortSignal) => this.client.send(command, { abortSignal }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw toStorageFault(error, `AbortMultipartUpload ${key}`);
    }
  }

  /**
   * Runs one call in a request slot, with a deadline that starts once the slot is free. A
   * streamed response body outlives its slot, because a slow reader must not block other calls.
   */
  private async withDeadline<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return await this.slots.run(async () => {
      const controller = new AbortController();
      const timeoutMs = this.settings.operationTimeoutMs;
      const timer = setTimeout(
        () => controller.abort(new Error(`no response within the deadline of ${timeoutMs} ms`)),
        timeoutMs,
      );
      try {
        return await run(controller.signal);
      } finally {
        clearTimeout(timer);
      }
    });
  }
}

function requireEtag(etag: string | undefined, call: string, key: string): string {
  if (etag === undefined || etag === '') {
    throw new S3AnswerError(
      `S3 ${call} ${key} returned no ETag; this server cannot hold an smtpq store`,
    );
  }
  return etag;
}
