// Child process of the orphan tests: uploads a blob through the built driver, stalls after
// the given number of bytes and waits to be killed, as a frontend that dies mid-upload.
// Usage: node upload-and-stall.mjs URL KEY BYTES
import { openMongoDriver } from '../../dist/index.js';

const [url, key, bytesText] = process.argv.slice(2);
const bytes = Number(bytesText);
const driver = await openMongoDriver(url);

async function* stallingSource() {
  const part = Buffer.alloc(64 * 1024, 0x5a);
  for (let sent = 0; sent < bytes; sent += part.length) yield part;
  process.stdout.write('stalled\n');
  // Keeps the process alive until the test kills it.
  await new Promise(() => setInterval(() => {}, 60_000));
}

await driver.blobPut(key, stallingSource());
