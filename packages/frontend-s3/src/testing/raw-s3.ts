import {
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { TEST_ENVIRONMENT } from './test-environment.js';

/** A plain S3 client on the test server, to look at what the driver left in the bucket. */
export class RawS3 {
  readonly client: S3Client;

  constructor(
    endpoint: string,
    readonly bucket: string,
  ) {
    // The test credentials are given here so that no credential chain runs in the caller.
    this.client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: TEST_ENVIRONMENT.AWS_ACCESS_KEY_ID as string,
        secretAccessKey: TEST_ENVIRONMENT.AWS_SECRET_ACCESS_KEY as string,
      },
    });
  }

  /** Lists every object key under `prefix`, with its size. */
  async objects(prefix: string): Promise<Array<{ key: string; size: number }>> {
    const found: Array<{ key: string; size: number }> = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const entry of page.Contents ?? []) {
        found.push({ key: entry.Key ?? '', size: entry.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return found;
  }

  /** Keys of multipart uploads started under `prefix` and neither completed nor aborted. */
  async pendingUploads(prefix: string): Promise<string[]> {
    const answer = await this.client.send(
      new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix }),
    );
    return (answer.Uploads ?? []).map((upload) => upload.Key ?? '');
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  close(): void {
    this.client.destroy();
  }
}
