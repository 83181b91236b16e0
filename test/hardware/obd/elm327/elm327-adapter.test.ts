// Tests for the ELM327 ObdAdapter against a scripted fake: init on clones, ignition off, multi-PID, DTCs, VIN.
import t from 'tap';
import { Elm327Adapter, type Elm327AdapterOptions } from '../../../../hardware/obd/elm327/elm327-adapter.js';
import { Elm327Error } from '../../../../hardware/obd/elm327/elm327-errors.js';
import { decodeDtcs } from '../../../../hardware/obd/j1979/dtc.js';
import { decodePid } from '../../../../hardware/obd/j1979/mode01.js';
import type { AdapterState } from '../../../../hardware/obd/obd-adapter.js';
import { FakeElm327, type FakeElmOptions } from './fake-elm327.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
const FAST: Elm327AdapterOptions = { quietMs: 5, recoveryTimeoutMs: 200, commandTimeoutMs: 300, searchTimeoutMs: 1000, resetTimeoutMs: 1000, resetSettleMs: 10 };
const BITMAP_0100 = '7E8064100BE3FA813';

function setup(fakeOptions: FakeElmOptions, options: Elm327AdapterOptions = {}) {
  const fake = new FakeElm327(fakeOptions);
  const adapter = new Elm327Adapter(fake, { ...FAST, ...options });
  const states: AdapterState[] = [];
  adapter.onStateChange((s) => states.push(s));
  return { fake, adapter, states };
}

async function rejection(promise: Promise<unknown>): Promise<Elm327Error> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof Elm327Error)) throw new Error(`expected an Elm327Error, got ${String(error)}`);
  return error;
}

t.test('init on a clone that keeps echoing after ATE0, answers in small chunks', async (t) => {
  const { fake, adapter, states } = setup({ cloneEcho: true, chunkSize: 3, banner: 'ELM327 v2.1', script: { '0100': BITMAP_0100 } });
  const info = await adapter.connect();
  t.same(info, { adapter: 'ELM327 v2.1', protocol: 'ISO 15765-4 CAN (11 bit ID, 500 kbaud)', protocolNumber: '6', voltage: 12.6, can: true });
  t.same(states, ['connecting', 'ready']);
  t.same(fake.received, ['ATZ', 'ATE0', 'ATL0', 'ATS0', 'ATH1', 'ATSP0', '0100', 'ATDPN', 'ATRV']);
  t.equal(fake.violations, 0);
  t.equal(adapter.state, 'ready');
  await adapter.close();
  t.equal(adapter.state, 'closed');
  t.same(states, ['connecting', 'ready', 'closed']);
});

t.test('a slow banner, a lost first ATZ, SEARCHING... with a long first 0100', async (t) => {
  const { fake, adapter } = setup(
    {
      resetDelayMs: 400,
      script: { ATZ: [{ raw: '\xfc\xfe' }, '\rELM327 v1.5'], '0100': { text: `SEARCHING...\r${BITMAP_0100}`, delayMs: 500 } },
    },
    { commandTimeoutMs: 100, searchTimeoutMs: 1500, resetTimeoutMs: 800, recoveryTimeoutMs: 100 },
  );
  const info = await adapter.connect();
  t.equal(info.adapter, 'ELM327 v1.5');
  t.equal(info.protocolNumber, '6');
  t.equal(fake.count('ATZ'), 2, 'the first ATZ got only noise and no prompt: retried');
});

t.test('ATS0 / ATH1 unsupported (an ELM327 v1.0 clone): init carries on, answers are read header-less', async (t) => {
  const { adapter } = setup({
    script: { ATS0: '?', ATH1: '?', '0100': '41 00 BE 3F A8 13', '010C0D': '41 0C 1A F8 0D 32' },
  });
  await adapter.connect();
  const readings = await adapter.readPids([0x0c, 0x0d]);
  t.same(
    readings.map((r) => [r.ecu, r.pid, hex(r.data)]),
    [
      ['#0', 0x0c, '1AF8'],
      ['#0', 0x0d, '32'],
    ],
  );
});

t.test('UNABLE TO CONNECT on the first 0100 is the ignition-off state; later calls search again', async (t) => {
  const { fake, adapter, states } = setup({ script: { '0100': 'SEARCHING...\rUNABLE TO CONNECT' } });
  const info = await adapter.connect();
  t.same(info, { adapter: 'ELM327 v1.5', protocol: 'unknown', protocolNumber: '0', voltage: 12.6, can: false });
  t.equal(adapter.state, 'ignition-off');
  t.equal(fake.count('0100'), 1, 'no pointless re-search during init');
  const e = await rejection(adapter.readPids([0x0c]));
  t.equal(e.code, 'ELM_UNABLE_TO_CONNECT');
  t.equal(e.temporary, true);
  t.equal(fake.count('0100'), 2, 'the call searched once more');
  t.equal(await adapter.batteryVoltage(), 12.6, 'the adapter itself stays usable');

  fake.setReply('0100', BITMAP_0100);
  fake.setReply('010C', '7E804410C1AF8');
  const readings = await adapter.readPids([0x0c]);
  t.same(readings.map((r) => [r.ecu, hex(r.payload)]), [['7E8', '410C1AF8']]);
  t.equal(adapter.state, 'ready');
  t.equal(adapter.info?.protocolNumber, '6');
  t.same(states, ['connecting', 'ignition-off', 'ready']);

  fake.setReply('010C', 'UNABLE TO CONNECT');
  t.equal((await rejection(adapter.readPids([0x0c]))).code, 'ELM_UNABLE_TO_CONNECT');
  t.equal(adapter.state, 'ignition-off', 'an UNABLE TO CONNECT later is the same state');
});

t.test('multi-PID on CAN: 6 per request, a multi-frame answer split per PID', async (t) => {
  const { fake, adapter } = setup({
    script: {
      '0100': BITMAP_0100,
      // 41 0C 1A F8 0D 32 05 7B 11 20 0F 44 10 01 F4 = 15 bytes: a first frame and two consecutive frames
      '010C0D05110F10': '7E8100F410C1AF80D32\r7E821057B11200F4410\r7E82201F40000000000',
      '0104': '7E8034104800000000000',
    },
  });
  await adapter.connect();
  const readings = await adapter.readPids([0x0c, 0x0d, 0x05, 0x11, 0x0f, 0x10, 0x04, 0x0c]);
  t.same(fake.received.slice(-2), ['010C0D05110F10', '0104'], 'two requests for seven PIDs');
  t.same(
    readings.map((r) => [r.pid, hex(r.payload), hex(r.data)]),
    [
      [0x0c, '410C1AF8', '1AF8'],
      [0x0d, '410D32', '32'],
      [0x05, '41057B', '7B'],
      [0x11, '411120', '20'],
      [0x0f, '410F44', '44'],
      [0x10, '411001F4', '01F4'],
      [0x04, '410480', '80'],
    ],
  );
  t.equal(decodePid(0x0c, readings[0]!.data).value, 1726, 'the data feeds the J1979 decoder');
  t.equal(decodePid(0x0d, readings[1]!.data).value, 50);
});

t.test('multi-PID: two ECUs answer; a PID missing from the answer is asked alone', async (t) => {
  const { fake, adapter } = setup({
    script: {
      '0100': BITMAP_0100,
      '010C0D05': '7E806410C1AF80D32\r7E903410D30',
      '0105': 'NO DATA',
    },
  });
  await adapter.connect();
  const readings = await adapter.readPids([0x0c, 0x0d, 0x05]);
  t.same(
    readings.map((r) => [r.ecu, r.pid, hex(r.data)]),
    [
      ['7E8', 0x0c, '1AF8'],
      ['7E8', 0x0d, '32'],
      ['7E9', 0x0d, '30'],
    ],
  );
  t.equal(fake.count('0105'), 1);
});

t.test('multi-PID answered with NO DATA: fall back to single PIDs, and stay there', async (t) => {
  const { fake, adapter } = setup({
    script: { '0100': BITMAP_0100, '010C0D': 'NO DATA', '010C': '7E804410C1AF8', '010D': '7E803410D32' },
  });
  await adapter.connect();
  const first = await adapter.readPids([0x0c, 0x0d]);
  t.same(first.map((r) => [r.pid, hex(r.data)]), [
    [0x0c, '1AF8'],
    [0x0d, '32'],
  ]);
  const second = await adapter.readPids([0x0c, 0x0d]);
  t.same(second.map((r) => r.pid), [0x0c, 0x0d]);
  t.equal(fake.count('010C0D'), 1, 'multi-PID was not tried again on this link');
  t.equal(fake.count('010C'), 2);
});

t.test('multi-PID: NO DATA for every PID is an empty result, not an error, and multi stays on', async (t) => {
  const { fake, adapter } = setup({ script: { '0100': BITMAP_0100, '010C0D': 'NO DATA', '010C': 'NO DATA', '010D': 'NO DATA', '010C0D2': 'NO DATA' } });
  await adapter.connect();
  t.same(await adapter.readPids([0x0c, 0x0d]), []);
  await adapter.readPids([0x0c, 0x0d]);
  t.equal(fake.count('010C0D'), 2, 'nothing answered singly either: no reason to give up multi-PID');
});

t.test('line noise: a damaged multi-PID answer is asked again, a lost PID costs only itself', async (t) => {
  const garbled = '7E8 06 41 0C 1A ~~ 0D';
  const { fake, adapter } = setup({
    script: { '0100': BITMAP_0100, '010C0D': [garbled, '7E806410C1AF80D32', garbled, garbled, '7E806410C1AF80D32'], '010C': garbled, '010D': '7E803410D32' },
  });
  await adapter.connect();
  t.same((await adapter.readPids([0x0c, 0x0d])).map((r) => r.pid), [0x0c, 0x0d], 'second try worked');
  t.equal(fake.count('010C0D'), 2);
  t.same((await adapter.readPids([0x0c, 0x0d])).map((r) => r.pid), [0x0d], 'twice damaged: singles; 010C lost, 010D read');
  t.same((await adapter.readPids([0x0c, 0x0d])).map((r) => r.pid), [0x0c, 0x0d], 'noise did not switch multi-PID off');
  t.equal(fake.count('010C0D'), 5);
  fake.setReply('010D', garbled);
  fake.setReply('010C0D', garbled);
  t.equal((await rejection(adapter.readPids([0x0c, 0x0d]))).code, 'ELM_GARBLED', 'nothing readable at all: the call rejects');
});

t.test('PIDs with a disputed length are asked alone; a legacy protocol never groups', async (t) => {
  const can = setup({ script: { '0100': BITMAP_0100, '010C': '7E804410C1AF8' } });
  await can.adapter.connect();
  t.same((await can.adapter.readPids([0x0c])).map((r) => r.pid), [0x0c], 'one PID: a plain request');

  const legacy = setup({
    script: { '0100': '486B104100BE3FA813C4', ATDPN: 'A3', '010C': '486B10410C1AF8C4', '010D': '486B10410D32C4' },
  });
  const info = await legacy.adapter.connect();
  t.equal(info.can, false);
  t.equal(info.protocol, 'ISO 9141-2 (5 baud init)');
  const readings = await legacy.adapter.readPids([0x0c, 0x0d]);
  t.same(readings.map((r) => [r.ecu, r.pid, hex(r.data)]), [
    ['486B10', 0x0c, '1AF8'],
    ['486B10', 0x0d, '32'],
  ]);
  t.same(legacy.fake.received.slice(-2), ['010C', '010D']);
});

t.test('supportedPids follows the bitmaps and leaves the bitmap PIDs out', async (t) => {
  const { fake, adapter } = setup({
    script: {
      '0100': ['7E8064100BE3FA813', '7E8064100BE3FA813\r7E90641008000000'],
      // 0120: PIDs 0x21, 0x2F, 0x33 and nothing beyond (0x40 bit clear)
      '0120': '7E8064120800220' + '00',
    },
  });
  await adapter.connect();
  const pids = await adapter.supportedPids();
  t.same(pids, [0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x13, 0x15, 0x1c, 0x1f, 0x21, 0x2f, 0x33]);
  t.notOk(pids.includes(0x20));
  t.same(fake.received.slice(-2), ['0100', '0120']);
});

t.test('DTCs: stored / pending / permanent, per ECU, ready for decodeDtcs', async (t) => {
  const { fake, adapter } = setup({
    script: {
      '0100': BITMAP_0100,
      '03': '7E8064302013302340000\r7E9024300',
      '07': 'NO DATA',
      '0A': '7E8044A01010100000000',
    },
  });
  await adapter.connect();
  const stored = await adapter.readDtcs('stored');
  t.same(stored.map((r) => [r.ecu, hex(r.payload), r.can]), [
    ['7E8', '430201330234', true],
    ['7E9', '4300', true],
  ]);
  t.same(decodeDtcs(stored[0]!.data, { can: true }), ['P0133', 'P0234']);
  t.same(decodeDtcs(stored[1]!.data, { can: true }), []);
  t.same(await adapter.readDtcs('pending'), []);
  t.same((await adapter.readDtcs('permanent')).map((r) => decodeDtcs(r.data, { can: r.can })), [['P0101']]);
  t.same(fake.received.slice(-3), ['03', '07', '0A']);
});

t.test('VIN (3 frames) and calibration ids', async (t) => {
  const { adapter } = setup({
    script: {
      '0100': BITMAP_0100,
      '0902': '7E81014490201314434\r7E82147503030523535\r7E82242313233343536',
      '0904': [
        '7E81013490401' + Buffer.from('JMB*3676').toString('hex') + '\r7E821' + Buffer.from('1500').toString('hex') + '00000000000000',
      ].join(''),
    },
  });
  await adapter.connect();
  t.equal(await adapter.readVin(), '1D4GP00R55B123456');
  t.same(await adapter.readCalibrationIds(), ['JMB*36761500']);
});

t.test('freeze frame: grouped on CAN three items at a time, with the frame number', async (t) => {
  const { fake, adapter } = setup({
    script: { '0100': BITMAP_0100, '020C000D00': '7E81008420C001AF80D\r7E82100320000000000', '020200': '7E80542020001330000' },
  });
  await adapter.connect();
  const readings = await adapter.readFreezeFrame([0x0c, 0x0d], 0);
  t.same(readings.map((r) => [r.pid, r.frame, hex(r.payload), hex(r.data)]), [
    [0x0c, 0, '420C001AF8', '1AF8'],
    [0x0d, 0, '420D0032', '32'],
  ]);
  const dtc = await adapter.readFreezeFrame([0x02], 0);
  t.same(dtc.map((r) => hex(r.data)), ['0133']);
  t.ok(fake.received.includes('020C000D00'));
});

t.test('battery voltage: ATRV, null when a clone cannot measure it', async (t) => {
  const { fake, adapter } = setup({ script: { '0100': BITMAP_0100 } });
  await adapter.connect();
  fake.setReply('ATRV', '11.9V');
  t.equal(await adapter.batteryVoltage(), 11.9);
  t.equal(adapter.info?.voltage, 11.9);
  fake.setReply('ATRV', '?');
  t.equal(await adapter.batteryVoltage(), null);
});

t.test('LV RESET: the next call runs the init sequence again', async (t) => {
  const { fake, adapter } = setup({ script: { '0100': BITMAP_0100, '010D': ['LV RESET', '7E803410D32'] } });
  await adapter.connect();
  t.equal((await rejection(adapter.readPids([0x0d]))).code, 'ELM_ADAPTER_RESET');
  const readings = await adapter.readPids([0x0d]);
  t.equal(readings.length, 1);
  t.equal(fake.count('ATZ'), 2);
});

t.test('calls before connect() connect first; bad arguments are refused', async (t) => {
  const { fake, adapter } = setup({ script: { '0100': BITMAP_0100, '010D': '7E803410D32' } });
  const [a, b] = await Promise.all([adapter.readPids([0x0d]), adapter.readPids([0x0d])]);
  t.equal(a.length + b.length, 2);
  t.equal(fake.count('ATZ'), 1, 'concurrent calls share one init');
  for (const bad of [[256], [-1], [1.5]]) t.equal((await rejection(adapter.readPids(bad))).code, 'ELM_INVALID_ARGUMENT');
  t.equal((await rejection(adapter.readFreezeFrame([0x0c], 300))).code, 'ELM_INVALID_ARGUMENT');
  t.equal((await rejection(adapter.readDtcs('history' as 'stored'))).code, 'ELM_INVALID_ARGUMENT');
  t.throws(() => new Elm327Adapter(new FakeElm327(), { protocol: 'X' }), { code: 'ELM_INVALID_ARGUMENT' });
});

t.test('unplugged: state disconnected, calls reject with a temporary ELM_DISCONNECTED; closed: ELM_CLOSED', async (t) => {
  const { fake, adapter, states } = setup({ script: { '0100': BITMAP_0100, '0902': { text: '', delayMs: 1000 } } });
  await adapter.connect();
  const pending = adapter.readVin();
  setTimeout(() => fake.unplug(new Error('EIO')), 20);
  const e = await rejection(pending);
  t.equal(e.code, 'ELM_DISCONNECTED');
  t.equal(e.temporary, true);
  t.equal(adapter.state, 'disconnected');
  t.equal((await rejection(adapter.readPids([0x0c]))).code, 'ELM_DISCONNECTED');
  t.equal((await rejection(adapter.connect())).code, 'ELM_DISCONNECTED');
  await adapter.close();
  t.equal((await rejection(adapter.readPids([0x0c]))).code, 'ELM_CLOSED');
  t.same(states, ['connecting', 'ready', 'disconnected', 'closed']);
});

t.test('an adapter that never answers ATZ: connect rejects with a temporary ELM_INIT_FAILED', async (t) => {
  const { adapter } = setup({ script: { ATZ: { raw: '' } } }, { resetTimeoutMs: 50, recoveryTimeoutMs: 30, initAttempts: 2 });
  const e = await rejection(adapter.connect());
  t.equal(e.code, 'ELM_INIT_FAILED');
  t.equal(e.temporary, true);
  await adapter.close();
});
