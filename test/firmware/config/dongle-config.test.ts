// The dongle config: the shipped example validates, defaults fill in, bad files are typed errors naming the field.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDongleConfig, parseDongleConfig } from '../../../firmware/config/dongle-config.js';

const example = new URL('../../../firmware/config/dongle.example.yaml', import.meta.url).pathname;

t.test('the example file in the repo is valid', (t) => {
  const config = loadDongleConfig(example);
  t.equal(config.obd.baudRate, 38400);
  t.equal(config.uplink.tls?.ca, '/etc/carchain/ca.pem');
  t.equal(config.obd.pids['0C'], 1000);
  t.end();
});

t.test('a minimal config gets every default', (t) => {
  const config = parseDongleConfig({ device: { dataDir: '/d' }, obd: { port: 'sim:driving' }, uplink: { brokerUrl: 'mqtt://127.0.0.1:1883' } });
  t.same(config.gps, { port: null, baudRate: 9600 });
  t.same(config.pairing, { host: '127.0.0.1', port: 8765 });
  t.equal(config.outbox.maxRecords, 100_000);
  t.equal(config.log.level, 'info');
  t.end();
});

t.test('bad configs name the bad fields', (t) => {
  const bad = (doc: unknown, pattern: RegExp) => t.throws(() => parseDongleConfig(doc), { code: 'CONFIG_INVALID', message: pattern });
  bad({ obd: { port: 'x' }, uplink: { brokerUrl: 'mqtt://h' } }, /must have required property 'device'/);
  bad({ device: { dataDir: '/d' }, obd: { port: 'x', baudRate: 1234 }, uplink: { brokerUrl: 'mqtt://h' } }, /\/obd\/baudRate/);
  bad({ device: { dataDir: '/d' }, obd: { port: 'x', pids: { ZZ: 100 } }, uplink: { brokerUrl: 'mqtt://h' } }, /\/obd\/pids/);
  bad({ device: { dataDir: '/d' }, obd: { port: 'x' }, uplink: { brokerUrl: 'http://h' } }, /\/uplink\/brokerUrl/);
  bad({ device: { dataDir: '/d' }, obd: { port: 'x' }, uplink: { brokerUrl: 'mqtt://h' }, typo: 1 }, /additional properties \(typo\)/);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-config-'));
  writeFileSync(join(dir, 'broken.yaml'), 'device: [unclosed');
  t.throws(() => loadDongleConfig(join(dir, 'broken.yaml')), { code: 'CONFIG_INVALID' });
  t.throws(() => loadDongleConfig(join(dir, 'missing.yaml')), { code: 'CONFIG_UNREADABLE' });
  rmSync(dir, { recursive: true });
  t.end();
});
