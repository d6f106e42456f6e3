import type { Key } from '@google-cloud/datastore';
import type { DatastoreAccess } from './access.js';
import { KIND } from './layout.js';
import { clientCall, withRetries } from './retry.js';

/**
 * The entity groups that hold (or once held) entities, as entries under one root,
 * `SmtpqDirectory:groups`, so that one ancestor query lists them. A listing then queries the
 * groups that exist rather than all 1025: a small queue costs a few queries, not a thousand.
 *
 * An entry is written before the first entity of its group, and never removed, so a listing
 * that reads the directory after a write completed finds the group of that write. Each
 * process remembers the entries it has seen, so a group costs a lookup once per process.
 */
export class GroupDirectory {
  private readonly known = new Set<string>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly access: DatastoreAccess) {}

  /** Makes sure `group` has its entry before the caller writes an entity into it. */
  async ensure(group: string): Promise<void> {
    if (this.known.has(group)) return;
    let registration = this.pending.get(group);
    if (registration === undefined) {
      registration = this.register(group).finally(() => this.pending.delete(group));
      this.pending.set(group, registration);
    }
    await registration;
  }

  /** Returns every group with an entry, in key order. */
  async groups(): Promise<string[]> {
    const query = this.access.client
      .createQuery(this.access.target.namespace, KIND.directoryEntry)
      .hasAncestor(this.rootKey())
      .select('__key__')
      .order('__key__');

    return withRetries('list entity groups', this.access.policy, async () => {
      const [entities] = await clientCall('list entity groups', () =>
        this.access.client.runQuery(query, { gaxOptions: this.access.callOptions() }),
      );
      const groups = entities.map((entity) => String(entity[this.access.client.KEY].name));
      for (const group of groups) this.known.add(group);
      return groups;
    });
  }

  private async register(group: string): Promise<void> {
    const entryKey = this.entryKey(group);
    await withRetries(`register entity group ${group}`, this.access.policy, async () => {
      const [entry] = await clientCall(`register entity group ${group}`, () =>
        this.access.client.get(entryKey, { gaxOptions: this.access.callOptions() }),
      );
      if (entry === undefined) {
        // An upsert: entries carry nothing, so concurrent registrations agree.
        await clientCall(`register entity group ${group}`, () =>
          this.access.client.save(
            { key: entryKey, method: 'upsert', data: [] },
            this.access.callOptions(),
          ),
        );
      }
    });
    this.known.add(group);
  }

  private rootKey(): Key {
    return this.access.key([KIND.directory, 'groups']);
  }

  private entryKey(group: string): Key {
    return this.access.key([KIND.directory, 'groups', KIND.directoryEntry, group]);
  }
}
