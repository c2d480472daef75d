// rust-reconnect.mjs - one Rust iroh 1.0 endpoint (npm @number0/iroh 1.1.0, from
// $IROH_INTEROP_DIR as shared/interop installs it) dials a ticket twice with the same
// endpoint, so the second connection can resume with a ticket from the first. Used by
// TestInteropRust in package tls13. Prints one JSON line per connection attempt.
//
//   node rust-reconnect.mjs TICKET ALPN SECRET_HEX

import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const [ticketStr, alpn, secret] = process.argv.slice(2);
const dir = process.env.IROH_INTEROP_DIR || path.join(os.tmpdir(), 'iroh-interop');
const iroh = createRequire(path.join(dir, 'package.json'))('@number0/iroh/index.js');
const out = (o) => new Promise((r) => process.stdout.write(JSON.stringify(o) + '\n', r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const within = (p, ms, what) => Promise.race([p, sleep(ms).then(() => { throw new Error(`${what}: timeout`); })]);

const b = iroh.Endpoint.builder();
iroh.presetMinimal(b);
b.alpns([[...Buffer.from(alpn)]]);
b.relayMode(iroh.RelayMode.disabled());
b.bindAddr('127.0.0.1:0');
b.secretKey([...Buffer.from(secret, 'hex')]);
const ep = await b.bind();
const addr = iroh.EndpointTicket.fromString(ticketStr).endpointAddr();
for (const n of [1, 2]) {
  try {
    const conn = await within(ep.connect(addr, [...Buffer.from(alpn)]), 10000, 'connect');
    await out({ conn: n, ok: true, remote: conn.remoteId().toString() });
    await sleep(1000); // let the tickets arrive
    conn.close(0n, [...Buffer.from('bye')]);
    await sleep(200);
  } catch (e) {
    await out({ conn: n, ok: false, error: String((e && e.message) || e).split('\n')[0] });
  }
}
await ep.close().catch(() => {});
process.exit(0);
