/** A parsed `mongodb://` or `mongodb+srv://` store URL. */
export interface MongoStoreUrl {
  /** The URL as the MongoDB client takes it, credentials and options included. */
  clientUrl: string;
  /** Database that holds the store's collections: the URL's path. */
  database: string;
  /** Query options of the URL, names in lower case, for deciding which defaults apply. */
  options: Map<string, string>;
  /** The URL for messages and logs: the password replaced by `***`. */
  redacted: string;
}

const URL_SHAPE = /^(mongodb(?:\+srv)?):\/\/([^/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/;

// MongoDB rejects these characters in database names on every platform.
const INVALID_DATABASE_CHARACTERS = /[/\\. "$\0]/;

// Database names are at most 64 bytes (MongoDB "Naming Restrictions").
const MAX_DATABASE_BYTES = 63;

/**
 * Parses a store URL `mongodb://[user:password@]host[:port][,host...]/database[?options]`.
 * The options are the MongoDB connection string options and go to the client as they are.
 * Throws an Error naming the part that is wrong and what to write instead.
 */
export function parseMongoStoreUrl(url: string): MongoStoreUrl {
  const match = URL_SHAPE.exec(url);
  if (match === null) {
    throw new Error(
      `invalid MongoDB store URL ${JSON.stringify(redactUrl(url))}: ` +
        'expected mongodb://HOST:PORT/DATABASE or mongodb+srv://HOST/DATABASE',
    );
  }

  const [, , , path = '', query = ''] = match;
  const redacted = redactUrl(url);

  let database: string;
  try {
    database = decodeURIComponent(path);
  } catch {
    throw new Error(`invalid MongoDB store URL ${redacted}: the database name is not URL-encoded`);
  }
  if (database === '') {
    throw new Error(
      `MongoDB store URL ${redacted} names no database: add it as the path, as in ` +
        'mongodb://127.0.0.1:27017/smtpq',
    );
  }
  if (
    INVALID_DATABASE_CHARACTERS.test(database) ||
    Buffer.byteLength(database) > MAX_DATABASE_BYTES
  ) {
    throw new Error(
      `invalid database name ${JSON.stringify(database)} in MongoDB store URL ${redacted}: ` +
        `use at most ${MAX_DATABASE_BYTES} bytes without / \\ . " $ or spaces`,
    );
  }

  const options = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(query)) options.set(name.toLowerCase(), value);

  return { clientUrl: url, database, options, redacted };
}

/** Returns the URL with the password of its user information replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:/@?#]*):[^@/?#]*@/i, '$1:***@');
}
