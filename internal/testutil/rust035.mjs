// rust035.mjs - one real Rust iroh 0.35 node (npm iroh035 = @number0/iroh 0.35.0, its official
// N-API bindings, with docs, blobs and gossip), driven by JSON lines on stdin, for iroh-go's
// interop tests (internal/testutil.StartRust035). Run it inside a loopback-only network
// namespace (testutil.InLoopbackNamespace): 0.35's port mapper probes the LAN otherwise.
//
//   node rust035.mjs [--log trace|debug|info|warn|error]
//
// It binds 127.0.0.1 only (no IPv6, no node discovery; 0.35 cannot switch off its default
// relays, but the namespace has no route to them) and prints
//   {"event":"ready","nodeId":HEX,"addrs":["127.0.0.1:PORT"]}
// then answers each request line {"id":N,"op":OP,...} with {"id":N,"ok":true,...} or
// {"id":N,"ok":false,"error":TEXT}. Bytes travel as base64. Ops:
//
//   connect {nodeId, addrs, alpn, data}  dial a node on ALPN, open a bi stream, send data,
//                                        finish, read the reply to its end -> {reply, ms}
//   create {}                            a new document -> {doc, author}
//   set {doc, key, value}                set key as the default author -> {hash}
//   share {doc, mode: Read|Write}        a 0.35 DocTicket with our 127.0.0.1 address -> {ticket}
//   join {ticket}                        import and sync a 0.35 DocTicket -> {doc}
//   sync {doc, nodeId, addrs}            start syncing doc with that node
//   entries {doc}                        latest entry per author and key, with content where
//                                        this node has it -> {entries:[{author,key,hash,len,
//                                        content|null}]}
//   events {doc}                         the live events seen on doc so far -> {events}
//   gossipSubscribe {topic, bootstrap:[{nodeId, addrs}]}
//                                        join a gossip topic (hex) on /iroh-gossip/0, learning the
//                                        bootstrap nodes' addresses first
//   gossipBroadcast {topic, data, neighbors}  broadcast data (to the neighbours only if neighbors)
//   gossipEvents {topic}                 the topic's events so far -> {events:[{neighborUp:ID} |
//                                        {neighborDown:ID} | {joined:[ID]} | {received:{content,
//                                        deliveredFrom}} | {lagged:true} | {error}]}
//   gossipClose {topic}                  leave the topic
//
// Exits when stdin ends (after shutting the node down).
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'
import os from 'node:os'
import path from 'node:path'

const die = (msg) => { process.stderr.write(`rust035: ${msg}\n`); process.exit(2) }
const emit = (o) => process.stdout.write(JSON.stringify(o, (k, v) => typeof v === 'bigint' ? v.toString() : v) + '\n')
const b64 = (a) => Buffer.from(a).toString('base64')
const arr = (s) => Array.from(Buffer.from(s || '', 'base64'))

const args = process.argv.slice(2)
let log = null
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--log') log = args[++i]
  else if (args[i] === '-h' || args[i] === '--help') die('usage: node rust035.mjs [--log LEVEL] (requests as JSON lines on stdin; see the file)')
  else die(`unknown argument ${args[i]}`)
}

const ifs = Object.entries(os.networkInterfaces()).filter(([, a]) => a.some((x) => !x.internal)).map(([n]) => n)
if (ifs.length && !process.env.RUST035_ALLOW_HOST_NETWORK) die(`non-loopback interfaces (${ifs}): run inside a loopback-only namespace`)

const dir = process.env.IROH_INTEROP_DIR || path.join(os.tmpdir(), 'iroh-interop')
const req = createRequire(path.join(dir, 'package.json'))
let I
try {
  const v = req('iroh035/package.json').version
  if (v !== '0.35.0') die(`expected iroh035 = @number0/iroh 0.35.0 in ${dir}, found ${v}`)
  I = req('iroh035/index.js') // by file: the package's "main" field is wrong
} catch (e) {
  die(`cannot load iroh035 from ${dir} (run shared/interop/install.sh): ${e.message}`)
}
if (log) {
  const levels = { trace: 'Trace', debug: 'Debug', info: 'Info', warn: 'Warn', error: 'Error' }
  if (!levels[log]) die(`--log: unknown level ${log}`)
  I.setLogLevel(levels[log])
}

const node = await I.Iroh.memory({ enableDocs: true, ipv4Addr: '127.0.0.1:0', ipv6Addr: '[::1]:0', nodeDiscovery: 'None' })
const nodeId = await node.net.nodeId()
const me = await node.net.nodeAddr()
const addrs = (me.addresses || []).filter((a) => a.startsWith('127.'))
const author = await node.authors.default()

const docs = new Map() // id -> {doc, events}
async function track (doc) {
  const d = { doc, events: [] }
  docs.set(doc.id(), d)
  await doc.subscribe((err, ev) => {
    if (err) { d.events.push({ error: String(err) }); return }
    const e = {}
    for (const [k, v] of Object.entries(ev)) if (v != null && v !== false) e[k] = v
    if (Object.keys(e).length) d.events.push(e)
  })
  return d
}
const getDoc = (id) => { const d = docs.get(id); if (!d) throw new Error(`unknown doc ${id}`); return d }

async function readAll (recv) {
  const chunks = []
  for (;;) {
    const buf = Buffer.alloc(65536)
    const n = await recv.read(buf)
    if (n == null || n === 0n || n === 0) break
    chunks.push(Buffer.from(buf.subarray(0, Number(n))))
  }
  return Buffer.concat(chunks)
}

const topics = new Map() // hex topic -> {sender, events}
const getTopic = (t) => { const x = topics.get(t); if (!x) throw new Error(`unknown topic ${t}`); return x }

const ops = {
  async gossipSubscribe ({ topic, bootstrap }) {
    if (!/^[0-9a-f]{64}$/.test(topic || '')) throw new Error('topic: want 64 hex digits')
    if (topics.has(topic)) throw new Error(`already subscribed to ${topic}`)
    const boot = []
    for (const b of bootstrap || []) {
      if (b.addrs && b.addrs.length) await node.net.addNodeAddr({ nodeId: b.nodeId, addresses: b.addrs })
      boot.push(b.nodeId)
    }
    const t = { events: [] }
    topics.set(topic, t)
    t.sender = await node.gossip.subscribe(Array.from(Buffer.from(topic, 'hex')), boot, (err, ev) => {
      if (err) { t.events.push({ error: String(err) }); return }
      if (ev.received) t.events.push({ received: { content: b64(ev.received.content), deliveredFrom: ev.received.deliveredFrom } })
      else if (ev.neighborUp) t.events.push({ neighborUp: ev.neighborUp })
      else if (ev.neighborDown) t.events.push({ neighborDown: ev.neighborDown })
      else if (ev.joined) t.events.push({ joined: ev.joined })
      else if (ev.lagged) t.events.push({ lagged: true })
    })
    return {}
  },
  async gossipBroadcast ({ topic, data, neighbors }) {
    const t = getTopic(topic)
    if (neighbors) await t.sender.broadcastNeighbors(arr(data))
    else await t.sender.broadcast(arr(data))
    return {}
  },
  async gossipEvents ({ topic }) {
    return { events: getTopic(topic).events }
  },
  async gossipClose ({ topic }) {
    const t = getTopic(topic)
    topics.delete(topic)
    await t.sender.close()
    return {}
  },
  async connect ({ nodeId: peer, addrs: peerAddrs, alpn, data }) {
    const t0 = performance.now()
    const conn = await node.node.endpoint().connect({ nodeId: peer, addresses: peerAddrs }, Buffer.from(alpn))
    const bi = await conn.openBi()
    await bi.send.writeAll(Buffer.from(data || '', 'base64'))
    await bi.send.finish()
    const reply = await bi.recv.readToEnd(1 << 24)
    const ms = performance.now() - t0
    conn.close(0n, Buffer.from('done'))
    return { reply: b64(reply), ms, remote: conn.remoteNodeId().toString() }
  },
  async create () {
    const doc = await node.docs.create()
    await track(doc)
    return { doc: doc.id(), author: author.toString() }
  },
  async set ({ doc, key, value }) {
    const h = await getDoc(doc).doc.setBytes(author, arr(key), arr(value))
    return { hash: h.toString() }
  },
  async share ({ doc, mode }) {
    const t = await getDoc(doc).doc.share(mode || 'Write', 'Addresses')
    // Keep the loopback address only: 0.35 also lists the namespace's ::1.
    const nodes = t.nodes.map((n) => ({ nodeId: n.nodeId, addresses: (n.addresses || []).filter((a) => a.startsWith('127.')) }))
    return { ticket: t.toString(), nodes }
  },
  async join ({ ticket }) {
    const t = I.DocTicket.fromString(ticket)
    const d = { events: [] }
    const doc = await node.docs.joinAndSubscribe(t, (err, ev) => {
      if (err) { d.events.push({ error: String(err) }); return }
      const e = {}
      for (const [k, v] of Object.entries(ev)) if (v != null && v !== false) e[k] = v
      if (Object.keys(e).length) d.events.push(e)
    })
    d.doc = doc
    docs.set(doc.id(), d)
    return { doc: doc.id() }
  },
  async sync ({ doc, nodeId: peer, addrs: peerAddrs }) {
    await getDoc(doc).doc.startSync([{ nodeId: peer, addresses: peerAddrs }])
    return {}
  },
  async entries ({ doc }) {
    const es = await getDoc(doc).doc.getMany(I.Query.all({}))
    const out = []
    for (const e of es) {
      let content = null
      try {
        const st = await node.blobs.status(e.hash)
        if (st.type === 'Complete') content = b64(await node.blobs.readToBytes(e.hash))
      } catch {}
      out.push({ author: e.author, key: b64(e.key), hash: e.hash, len: e.len, content })
    }
    return { entries: out }
  },
  async events ({ doc }) {
    return { events: getDoc(doc).events }
  }
}

emit({ event: 'ready', nodeId, addrs, author: author.toString(), iroh: '0.35.0' })

let pending = Promise.resolve()
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  let r
  try { r = JSON.parse(line) } catch { return emit({ ok: false, error: `bad request line: ${line.slice(0, 80)}` }) }
  // Requests run one after another, in order.
  pending = pending.then(async () => {
    const op = ops[r.op]
    if (!op) return emit({ id: r.id, ok: false, error: `unknown op ${r.op}` })
    try {
      emit({ id: r.id, ok: true, ...(await op(r)) })
    } catch (e) {
      emit({ id: r.id, ok: false, error: String(e && e.message || e) })
    }
  })
})
rl.on('close', async () => {
  await pending
  const t = setTimeout(() => process.exit(0), 3000)
  try { await node.node.shutdown() } catch {}
  clearTimeout(t)
  process.exit(0)
})
