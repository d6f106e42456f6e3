/** Location of a Datastore store: a project, an optional named database and a namespace. */
export interface DatastoreTarget {
  projectId: string;
  /** Named database of Firestore in Datastore mode; '' is the project's default database. */
  databaseId: string;
  /** Namespace of every entity of the store; '' is the default namespace. */
  namespace: string;
}

const EXPECTED_FORMS =
  'expected datastore://PROJECT or datastore://PROJECT/NAMESPACE, optionally with ?database=ID';

/** Google Cloud project ids: 6 to 30 lower-case letters, digits and hyphens, a letter first. */
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Datastore namespaces: up to 100 letters, digits, `.`, `_` and `-`, never `__...__`. */
const NAMESPACE = /^[0-9A-Za-z._-]{0,100}$/;
/** Firestore database ids: 4 to 63 lower-case letters, digits and hyphens, a letter first. */
const DATABASE_ID = /^[a-z][a-z0-9-]{2,61}[a-z0-9]$/;

/**
 * Parses `datastore://PROJECT/NAMESPACE?database=ID`. The namespace and the database are
 * optional. Throws an Error naming the URL and what is wrong with it.
 */
export function parseDatastoreStoreUrl(url: string): DatastoreTarget {
  const invalid = (reason: string) =>
    new Error(`invalid datastore store URL ${JSON.stringify(url)}: ${reason}`);

  const match = /^datastore:\/\/([^/?#]*)(?:\/([^/?#]*))?(?:\?([^#]*))?$/i.exec(url);
  if (match === null) throw invalid(EXPECTED_FORMS);

  const projectId = match[1] ?? '';
  if (!PROJECT_ID.test(projectId)) {
    throw invalid(
      `project id ${JSON.stringify(projectId)} is not 6 to 30 lower-case letters, digits and hyphens starting with a letter`,
    );
  }

  const namespace = match[2] ?? '';
  if (!NAMESPACE.test(namespace) || /^__.*__$/.test(namespace)) {
    throw invalid(
      `namespace ${JSON.stringify(namespace)} is not up to 100 letters, digits, '.', '_' and '-' (and __name__ is reserved)`,
    );
  }

  let databaseId = '';
  for (const [name, value] of new URLSearchParams(match[3] ?? '')) {
    if (name !== 'database')
      throw invalid(`unknown parameter ${JSON.stringify(name)}; ${EXPECTED_FORMS}`);
    if (!DATABASE_ID.test(value)) {
      throw invalid(
        `database id ${JSON.stringify(value)} is not 4 to 63 lower-case letters, digits and hyphens`,
      );
    }
    databaseId = value;
  }
  return { projectId, databaseId, namespace };
}
