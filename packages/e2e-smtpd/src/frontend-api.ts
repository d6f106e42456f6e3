/** One envelope of a walk, decoded. */
export interface WalkedEnvelope {
  evpid: string;
  data: Buffer;
}

/** Reads the whole walk of a frontend (`GET /v1/walk` page by page). */
export async function walkEnvelopes(frontendUrl: string): Promise<WalkedEnvelope[]> {
  const envelopes: WalkedEnvelope[] = [];
  let cursor: string | null = null;

  for (;;) {
    const query =
      cursor === null ? 'limit=1000' : `limit=1000&cursor=${encodeURIComponent(cursor)}`;
    const page = (await getJson(`${frontendUrl}/v1/walk?${query}`)) as {
      envelopes: Array<{ evpid: string; data: string }>;
      next: string | null;
      end: boolean;
    };
    for (const envelope of page.envelopes) {
      envelopes.push({ evpid: envelope.evpid, data: Buffer.from(envelope.data, 'base64') });
    }
    if (page.end) {
      return envelopes;
    }
    cursor = page.next;
  }
}

/** Lists every message of a frontend, open and committed (`GET /v1/messages`). */
export async function listMessages(
  frontendUrl: string,
): Promise<Array<{ msgid: string; state: string }>> {
  const messages: Array<{ msgid: string; state: string }> = [];
  let cursor: string | null = null;

  for (;;) {
    const query =
      cursor === null ? 'limit=1000' : `limit=1000&cursor=${encodeURIComponent(cursor)}`;
    const page = (await getJson(`${frontendUrl}/v1/messages?${query}`)) as {
      messages: Array<{ msgid: string; state: string }>;
      next: string | null;
      end: boolean;
    };
    messages.push(...page.messages.map(({ msgid, state }) => ({ msgid, state })));
    if (page.end) {
      return messages;
    }
    cursor = page.next;
  }
}

/** Reads the stored body of a message (`GET /v1/messages/{msgid}/body`). */
export async function readBody(frontendUrl: string, msgid: string): Promise<Buffer> {
  const response = await fetch(`${frontendUrl}/v1/messages/${msgid}/body`);
  if (response.status !== 200) {
    throw new Error(`GET body of ${msgid} returned ${response.status}: ${await response.text()}`);
  }
  return Buffer.from(await response.arrayBuffer());
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (response.status !== 200) {
    throw new Error(`GET ${url} returned ${response.status}: ${await response.text()}`);
  }
  return response.json();
}
