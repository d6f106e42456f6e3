import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { classifyMongoError } from '../src/faults.js';

describe('classifyMongoError', () => {
  it('retries a busy SQLite database under FerretDB', () => {
    const error = new MongoServerError({
      message: 'database is locked (5) (SQLITE_BUSY)',
      code: 1,
      codeName: 'InternalError',
    });
    expect(classifyMongoError(error)).toEqual({ kind: 'unavailable', retry: true });
  });

  it('leaves other internal errors unclassified', () => {
    const error = new MongoServerError({
      message: 'bad value',
      code: 1,
      codeName: 'InternalError',
    });
    expect(classifyMongoError(error)).toBeNull();
  });
});
