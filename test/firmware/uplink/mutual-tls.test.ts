// Tests for the uplink over mqtts:// with mutual TLS, against a private Mosquitto that requires a client certificate.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { MqttUplink } from '../../../firmware/uplink/mqtt-uplink.js';
import { deviceTopics } from '../../../firmware/mqtt-topics.js';
import { startMosquitto } from './fixtures/mosquitto.js';
import { dtcRecord, keyProviderFor, poolAddresses } from './fixtures/test-identity.js';
import { collectUplinks } from './fixtures/uplink-collector.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'carchain-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI. */
function makePki(): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; strangerCert: string; strangerKey: string } {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=carchain test CA');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const leaf = (name: string, cn: string, caCert: string, caKey: string, ext?: string) => {
    openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', ...(ext ? ['-extfile', ext] : []));
  };
  leaf('server', '127.0.0.1', f('ca.crt'), f('ca.key'), f('server.ext'));
  leaf('client', 'dongle-tls', f('ca.crt'), f('ca.key'));
  // A certificate from a CA the broker does not trust.
  openssl('req', '-x509', ...ec, '-keyout', f('other-ca.key'), '-out', f('other-ca.crt'), '-days', '2', '-subj', '/CN=other CA');
  leaf('stranger', 'dongle-tls', f('other-ca.crt'), f('other-ca.key'));
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key'), strangerCert: f('stranger.crt'), strangerKey: f('stranger.key') };
}

t.test('mqtts:// with a client certificate delivers; without one, or with an untrusted one, it never connects', async (t) => {
  const pki = makePki();
  const broker = await startMosquitto({
    dir,
    listenerLines: [`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, 'require_certificate true', 'use_identity_as_username true', 'allow_anonymous false'],
  });
  t.teardown(() => broker.stop());
  const url = `mqtts://127.0.0.1:${broker.port}`;
  const read = (path: string) => readFileSync(path);
  const deviceId = 'dongle-tls';
  const collector = await collectUplinks(url, deviceTopics(deviceId).uplink, { ca: read(pki.ca), cert: read(pki.clientCert), key: read(pki.clientKey), clientId: 'tls-gateway' });
  t.teardown(() => collector.close());

  const outbox = SqliteOutbox.open({ path: join(dir, 'outbox.sqlite') });
  t.teardown(() => outbox.close());
  const { ids } = outbox.enqueue([dtcRecord(poolAddresses[0]!, 40, 1), dtcRecord(poolAddresses[0]!, 40, 2)]);

  const withCert = new MqttUplink({ url, deviceId, outbox, keys: keyProviderFor([0]), tls: { ca: read(pki.ca), cert: read(pki.clientCert), key: read(pki.clientKey) } });
  await withCert.start();
  await withCert.whenConnected(5000);
  for (let i = 0; i < 100 && outbox.stats().records > 0; i++) await sleep(50);
  t.equal(outbox.stats().records, 0, 'delivered over mutual TLS');
  t.same(await collector.waitForAll(ids, 5000), [], 'the stand-in gateway received both');
  await withCert.stop();

  for (const [what, tls] of [
    ['no client certificate', { ca: read(pki.ca) }],
    ['a client certificate from an untrusted CA', { ca: read(pki.ca), cert: read(pki.strangerCert), key: read(pki.strangerKey) }],
  ] as const) {
    outbox.enqueue([dtcRecord(poolAddresses[0]!, 41, what.length)]);
    const uplink = new MqttUplink({ url, deviceId, outbox, keys: keyProviderFor([0]), tls, reconnect: { initialMs: 50, maxMs: 100 } });
    await uplink.start();
    await sleep(600);
    t.equal(uplink.stats().connected, false, `${what}: refused`);
    t.ok(uplink.stats().reconnectAttempts > 0, `${what}: keeps retrying with backoff`);
    t.equal(outbox.stats().records, 1, `${what}: the record waits in the outbox`);
    await uplink.stop();
    outbox.remove(outbox.peekBatch({ maxRecords: 9, maxBytes: 1 << 20 }).map((e) => e.id));
  }
});
