// Generates tests/vectors/shs1.json with the npm package secret-handshake (an independent
// Secret Handshake v1 implementation), driven with fixed keys. See README.md beside this file.
//
// Usage: node make_shs1_vectors.js > shs1.json   (with secret-handshake installed where node
// resolves it, e.g. NODE_PATH=/tmp/shsvec/node_modules).
'use strict'
const nodeCrypto = require('crypto')
const shsPackage = require('secret-handshake/package.json')
const stateless = require('secret-handshake/crypto')
const protocol = require('secret-handshake/protocol')
const pull = require('pull-stream')
const cl = require('chloride')

const hex = (buf) => Buffer.from(buf).toString('hex')
const copy = (buf) => Buffer.from(buf)
// Every input is SHA-256 of a label, so anyone can re-derive them.
const fixed = (label) => nodeCrypto.createHash('sha256').update('actorkit shs1 vector ' + label).digest()

// Runs the handshake step by step through secret-handshake's own state functions (crypto.js),
// in the order its protocol.js calls them, recording every message and derived secret.
function stepwise (name) {
  const appKey = fixed(name + ' network key')
  const client = cl.crypto_sign_seed_keypair(fixed(name + ' client long-term seed'))
  const server = cl.crypto_sign_seed_keypair(fixed(name + ' server long-term seed'))
  const clientEphSeed = fixed(name + ' client ephemeral seed')
  const serverEphSeed = fixed(name + ' server ephemeral seed')

  let c = stateless.initialize({ app_key: appKey, local: client, remote: { publicKey: server.publicKey }, random: clientEphSeed })
  let s = stateless.initialize({ app_key: appKey, local: server, random: serverEphSeed })
  const clientEph = { sk: copy(c.local.kx_sk), pk: copy(c.local.kx_pk) }
  const serverEph = { sk: copy(s.local.kx_sk), pk: copy(s.local.kx_pk) }

  const msg1 = stateless.createChallenge(c)
  s = stateless.verifyChallenge(s, msg1)
  if (!s) throw new Error('server rejected msg1')
  const msg2 = stateless.createChallenge(s)
  c = stateless.clientVerifyChallenge(c, msg2)
  if (!c) throw new Error('client rejected msg2')
  const msg3 = stateless.clientCreateAuth(c)
  s = stateless.serverVerifyAuth(s, msg3)
  if (!s) throw new Error('server rejected msg3')
  const msg4 = stateless.serverCreateAccept(s)
  c = stateless.clientVerifyAccept(c, msg4)
  if (!c) throw new Error('client rejected msg4')

  const shared = {
    ab: hex(c.secret), // ephemeral-ephemeral DH
    ab_sha256: hex(c.shash),
    aB: hex(c.a_bob), // client ephemeral x server long-term
    Ab: hex(c.b_alice), // client long-term x server ephemeral
    box_key_msg3: hex(c.secret2), // sha256(K || ab || aB)
    box_key_msg4: hex(c.secret3) // sha256(K || ab || aB || Ab)
  }
  for (const [key, value] of Object.entries({ ab: s.secret, aB: s.a_bob, Ab: s.b_alice, box_key_msg4: s.secret3 })) {
    if (hex(value) !== shared[key]) throw new Error('client and server disagree on ' + key)
  }
  const clientHello = hex(c.local.hello) // sigA || A, the plaintext of msg3
  c = stateless.clean(c)
  s = stateless.clean(s)
  if (hex(c.secret) !== hex(s.secret)) throw new Error('final secrets differ')

  return {
    name,
    inputs: {
      network_key: hex(appKey),
      client_seed: hex(client.secretKey.slice(0, 32)),
      client_public: hex(client.publicKey),
      server_seed: hex(server.secretKey.slice(0, 32)),
      server_public: hex(server.publicKey),
      client_ephemeral_seed: hex(clientEphSeed),
      client_ephemeral_secret: hex(clientEph.sk),
      client_ephemeral_public: hex(clientEph.pk),
      server_ephemeral_seed: hex(serverEphSeed),
      server_ephemeral_secret: hex(serverEph.sk),
      server_ephemeral_public: hex(serverEph.pk)
    },
    messages: { msg1: hex(msg1), msg2: hex(msg2), msg3: hex(msg3), msg4: hex(msg4) },
    client_hello: clientHello,
    shared,
    // What secret-handshake hands its box-stream after clean(): secret = sha256(box_key_msg4).
    session: {
      secret: hex(c.secret),
      client_encrypt_key: hex(c.encryptKey),
      client_decrypt_key: hex(c.decryptKey),
      client_encrypt_nonce: hex(s.local.app_mac.slice(0, 24)),
      server_encrypt_key: hex(s.encryptKey),
      server_decrypt_key: hex(s.decryptKey),
      server_encrypt_nonce: hex(c.local.app_mac.slice(0, 24))
    }
  }
}

// Runs secret-handshake's full stream protocol (protocol.js over pull-streams) with the same
// ephemeral seeds, capturing the bytes each side writes, so the step-by-step record above is
// checked against what the package really sends.
function onTheWire (vector) {
  return new Promise((resolve, reject) => {
    const seeds = [Buffer.from(vector.inputs.client_ephemeral_seed, 'hex'), Buffer.from(vector.inputs.server_ephemeral_seed, 'hex')]
    const shs = protocol(Object.assign({}, stateless, {
      initialize (state) {
        state.random = seeds.shift() // the client's stream is created first, then the server's
        return stateless.initialize(state)
      }
    }))
    const appKey = Buffer.from(vector.inputs.network_key, 'hex')
    const client = cl.crypto_sign_seed_keypair(Buffer.from(vector.inputs.client_seed, 'hex'))
    const server = cl.crypto_sign_seed_keypair(Buffer.from(vector.inputs.server_seed, 'hex'))
    const wire = { c2s: [], s2c: [] }
    const tap = (list) => pull.through((chunk) => { list.push(Buffer.from(chunk)) })
    let done = 0
    let clientKeys
    const finish = (err) => {
      if (err) return reject(err)
      if (++done < 2) return
      resolve({ c2s: Buffer.concat(wire.c2s), s2c: Buffer.concat(wire.s2c), clientKeys })
    }
    const clientStream = shs.createClient(client, appKey, 1000)(server.publicKey, (err, stream) => {
      if (!err) clientKeys = stream.crypto
      finish(err)
    })
    const serverStream = shs.createServer(server, (id, cb) => cb(null, true), appKey, 1000)((err) => finish(err))
    pull(clientStream, tap(wire.c2s), serverStream, tap(wire.s2c), clientStream)
  })
}

async function main () {
  const vectors = []
  for (const name of ['case-1', 'case-2', 'case-3']) {
    const vector = stepwise(name)
    const wire = await onTheWire(vector)
    const m = vector.messages
    if (wire.c2s.slice(0, 176).toString('hex') !== m.msg1 + m.msg3) throw new Error('client wire bytes differ')
    if (wire.s2c.slice(0, 144).toString('hex') !== m.msg2 + m.msg4) throw new Error('server wire bytes differ')
    if (hex(wire.clientKeys.encryptKey) !== vector.session.client_encrypt_key) throw new Error('stream keys differ')
    vectors.push(vector)
  }
  const out = {
    description: 'Secret Handshake v1 test vectors recorded from an independent implementation; hex strings.',
    generator: {
      package: shsPackage.name + '@' + shsPackage.version,
      crypto: 'chloride@' + require('chloride/package.json').version + (process.env.CHLORIDE_JS ? ' (libsodium-wrappers, JS/wasm)' : ' (sodium-native, native libsodium)'),
      script: 'tests/vectors/make_shs1_vectors.js'
    },
    notes: [
      'Inputs are SHA-256("actorkit shs1 vector <case> <label>"); long-term keys are Ed25519 seeds.',
      'Ephemerals come from secret-handshake: an Ed25519 key from the ephemeral seed, converted to X25519 (crypto_sign_ed25519_{sk,pk}_to_curve25519); *_ephemeral_secret is that X25519 scalar.',
      'hmac = crypto_auth (HMAC-SHA-512-256) keyed with network_key; box = crypto_secretbox with a zero nonce.',
      'msg1..msg4 were also checked against the bytes secret-handshake writes when it runs its full stream protocol with the same keys.'
    ],
    vectors
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n')
}

main().catch((err) => { console.error(err); process.exit(1) })
