import type { Entity } from '@google-cloud/datastore';
import { asBuffer, type EntityData } from './access.js';

/**
 * The head entity of a blob: which upload contains its bytes, and how they are cut. A blob of
 * at most one chunk keeps its bytes in the head itself (`inline`), so it costs one entity.
 */
export interface BlobHead {
  upload: string;
  size: number;
  chunkSize: number;
  chunks: number;
  /** Time the upload began, in ms since the epoch. */
  createdAt: number;
  inline: Buffer | null;
}

export function headData(head: BlobHead): EntityData {
  const data: EntityData = [
    { name: 'upload', value: head.upload, excludeFromIndexes: true },
    { name: 'size', value: head.size, excludeFromIndexes: true },
    { name: 'chunkSize', value: head.chunkSize, excludeFromIndexes: true },
    { name: 'chunks', value: head.chunks, excludeFromIndexes: true },
    { name: 'createdAt', value: head.createdAt, excludeFromIndexes: true },
  ];
  if (head.inline !== null)
    data.push({ name: 'data', value: head.inline, excludeFromIndexes: true });
  return data;
}

export function headOf(entity: Entity | undefined): BlobHead | null {
  if (entity === undefined) return null;
  return {
    upload: String(entity.upload),
    size: Number(entity.size),
    chunkSize: Number(entity.chunkSize),
    chunks: Number(entity.chunks),
    createdAt: Number(entity.createdAt),
    inline: entity.data === undefined || entity.data === null ? null : asBuffer(entity.data),
  };
}
