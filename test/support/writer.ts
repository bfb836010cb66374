/**
 * A child process for durability tests: performs journalled requests on a database and
 * prints one line per request after its transaction committed: "<seq> <action>".
 * usage: writer.ts DB PHONE COUNT [PER_SECOND] (COUNT 0 = until killed; PER_SECOND 0 = flat out)
 */
import { Core } from '../../src/core/core.ts';
import { cryptoRandom, systemClock } from '../../src/core/system.ts';
import { deriveKeys } from '../../src/domain/crypto.ts';
import { openDb } from '../../src/store/db.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { TEST_SECRET } from './core-fixture.ts';

const [dbPath, phone, countArg] = process.argv.slice(2);
if (!dbPath || !phone) {
  process.stderr.write('usage: writer.ts DB PHONE COUNT\n');
  process.exit(2);
}
const count = Number(countArg ?? '0');
const perSecond = Number(process.argv[5] ?? '0');
const pause = perSecond > 0 ? new Int32Array(new SharedArrayBuffer(4)) : null;
const db = openDb(dbPath);
const core = new Core({ store: new SqliteStore(db), clock: systemClock, random: cryptoRandom, keys: deriveKeys(TEST_SECRET), timeZone: 'Asia/Almaty' });
let out = '';
for (let i = 0; count === 0 || i < count; i++) {
  const action = i % 3 === 0 ? 'status' : i % 3 === 1 ? 'arm' : 'disarm';
  if (action === 'disarm') {
    const r = await core.operatorRequest({ action: 'disarm', objectCode: '1234', operator: `writer-${process.pid}` });
    out = `${r.seq} disarm\n`;
  } else {
    const r = await core.request({ channel: 'sms', phone, action: action as 'status' | 'arm' });
    out = `${r.seq} ${action}\n`;
  }
  // Synchronous write: the line leaves the process only after the commit above.
  process.stdout.write(out);
  if (pause) Atomics.wait(pause, 0, 0, 1000 / perSecond);
}
db.close();
