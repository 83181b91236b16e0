// Tests for the ELM327 command channel against a scripted fake: one in flight, timeouts, lost prompt, typed errors.
import t from 'tap';
import { Elm327Link } from '../../../../hardware/obd/elm327/elm327-link.js';
import { Elm327Error, type Elm327ErrorCode } from '../../../../hardware/obd/elm327/elm327-errors.js';
import type { ByteLink } from '../../../../hardware/serial/byte-link.js';
import { FakeElm327, type FakeElmOptions } from './fake-elm327.js';

/** Wraps a link and logs writes and prompts in order, to check the one-in-flight rule from the outside. */
function recording(inner: ByteLink): { link: ByteLink; events: string[] } {
  const events: string[] = [];
  inner.onData((chunk) => {
    for (const b of chunk) if (b === 0x3e) events.push('>');
  });
  const link: ByteLink = {
    get isOpen() {
      return inner.isOpen;
    },
    write(data) {
      events.push(`write ${JSON.stringify(Buffer.from(data).toString('latin1'))}`);
      return inner.write(data);
    },
    onData: (l) => inner.onData(l),
    onClose: (l) => inner.onClose(l),
    close: () => inner.close(),
  };
  return { link, events };
}

function setup(options: FakeElmOptions, linkOptions: ConstructorParameters<typeof Elm327Link>[1] = {}) {
  const fake = new FakeElm327(options);
  const { link, events } = recording(fake);
  const elm = new Elm327Link(link, { quietMs: 10, recoveryTimeoutMs: 200, commandTimeoutMs: 500, searchTimeoutMs: 1000, ...linkOptions });
  return { fake, elm, events };
}

type Tap = Pick<typeof t, 'type' | 'equal'>;

async function code(t: Tap, promise: Promise<unknown>, expected: Elm327ErrorCode, temporary?: boolean): Promise<Elm327Error> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  t.type(error, Elm327Error, `rejects with an Elm327Error (${expected})`);
  const e = error as Elm327Error;
  t.equal(e.code, expected);
  if (temporary !== undefined) t.equal(e.temporary, temporary, `${expected} temporary=${temporary}`);
  return e;
}

t.test('the first command waits for a prompt; the second is not written before the first answer’s >', async (t) => {
  const { fake, elm, events } = setup({ script: { ATI: { text: 'ELM327 v1.5', delayMs: 80 }, ATRV: '12.4V' } });
  const [a, b] = await Promise.all([elm.send('ATI'), elm.send('ATRV')]);
  t.same(a.lines, ['ELM327 v1.5']);
  t.same(b.lines, ['12.4V']);
  t.equal(fake.violations, 0);
  t.same(events, ['write "\\r"', '>', 'write "ATI\\r"', '>', 'write "ATRV\\r"', '>'], 'sync prompt first, then strictly one at a time');
  t.same(fake.received, ['ATI', 'ATRV']);
  await elm.close();
});

t.test('answers chunked byte by byte, with echo and line feeds, are read whole', async (t) => {
  const { elm } = setup({ chunkSize: 1, script: { '010C': '41 0C 1A F8\r\n' } });
  const r = await elm.send('010C');
  t.same(r.lines, ['41 0C 1A F8']);
  t.equal(r.echoDropped, true, 'the fake echoes (no ATE0 was sent)');
  await elm.close();
});

t.test('every error answer is a typed Elm327Error with a sensible temporary flag', async (t) => {
  const cases: [string, Elm327ErrorCode, boolean][] = [
    ['NO DATA', 'ELM_NO_DATA', true],
    ['?', 'ELM_UNKNOWN_COMMAND', false],
    ['SEARCHING...\rUNABLE TO CONNECT', 'ELM_UNABLE_TO_CONNECT', true],
    ['BUS INIT: ...ERROR', 'ELM_BUS_ERROR', true],
    ['BUS BUSY', 'ELM_BUS_ERROR', true],
    ['CAN ERROR', 'ELM_BUS_ERROR', true],
    ['FB ERROR', 'ELM_BUS_ERROR', true],
    ['DATA ERROR', 'ELM_DATA_ERROR', true],
    ['7E8 03 41 0D <RX ERROR', 'ELM_DATA_ERROR', true],
    ['41 0D 32\rBUFFER FULL', 'ELM_BUFFER_FULL', true],
    ['41 0D\rSTOPPED', 'ELM_STOPPED', true],
    ['LV RESET', 'ELM_ADAPTER_RESET', true],
    ['ERR94', 'ELM_ADAPTER_ERROR', true],
    ['ACT ALERT', 'ELM_ACTIVITY_ALERT', true],
    ['ELM327 v1.5', 'ELM_GARBLED', true],
  ];
  const script: Record<string, string> = {};
  cases.forEach(([answer], i) => (script[`01${(i + 0x10).toString(16).toUpperCase()}`] = answer));
  const { elm } = setup({ script });
  for (const [i, [answer, expected, temporary]] of cases.entries()) {
    const command = `01${(i + 0x10).toString(16).toUpperCase()}`;
    const e = await code(t, elm.send(command), expected, temporary);
    t.equal(e.command, command);
    t.match(e.message, answer === 'ELM327 v1.5' ? /unreadable/ : /adapter answered/, answer);
  }
  t.same((await elm.send('ATI')).lines, ['ELM327 v1.5'], 'the link still works after all of them');
  await elm.close();
});

t.test('a data line with a damaged sibling still resolves, the damage listed', async (t) => {
  const { elm } = setup({ script: { '0100': '7E8 06 41 00 BE 3F A8 13\r7E9 06 41 00 98 <DATA ERROR' } });
  const r = await elm.send('0100');
  t.same(r.lines, ['7E8 06 41 00 BE 3F A8 13']);
  t.match(r.errors, [{ kind: 'DATA_ERROR' }]);
  await elm.close();
});

t.test('garbage bytes and an empty answer are ELM_GARBLED; the link carries on', async (t) => {
  const { elm } = setup({ script: { '0105': { raw: '\xff\xfe\x80\r\r>' }, '0106': '' } });
  await code(t, elm.send('0105'), 'ELM_GARBLED', true);
  await code(t, elm.send('0106'), 'ELM_GARBLED', true);
  t.same((await elm.send('ATRV')).lines, ['12.6V']);
  await elm.close();
});

t.test('a lost prompt: timeout, then \\r recovery before the next command', async (t) => {
  const { fake, elm, events } = setup({ script: { '010D': { text: '41 0D 32', prompt: false } } }, { commandTimeoutMs: 60, searchTimeoutMs: 60 });
  const e = await code(t, elm.send('010D'), 'ELM_TIMEOUT', true);
  t.equal(e.mayHaveSucceeded, true);
  t.match(e.message, /41 0D 32/, 'what arrived is in the message');
  t.equal(elm.consecutiveTimeouts, 1);
  t.same((await elm.send('ATRV')).lines, ['12.6V']);
  t.equal(elm.consecutiveTimeouts, 0);
  const i = events.indexOf('write "010D\\r"');
  t.same(events.slice(i), ['write "010D\\r"', 'write "\\r"', '>', 'write "ATRV\\r"', '>']);
  t.equal(fake.violations, 0);
  await elm.close();
});

t.test('a late answer to a timed-out command is drained, not taken for the next one', async (t) => {
  // No echo, no partial line: the recovery CR gets a prompt at once, and the old answer comes after it.
  // Only the quiet period after the recovered prompt keeps that late answer away from ATRV.
  const { fake, elm } = setup(
    { script: { '010C': { raw: '' }, ATRV: { text: '12.6V', delayMs: 40 } } },
    { commandTimeoutMs: 50, searchTimeoutMs: 50, quietMs: 60 },
  );
  await elm.send('ATE0');
  setTimeout(() => fake.emit('41 0C 1A F8\r\r>'), 70);
  await code(t, elm.send('010C'), 'ELM_TIMEOUT');
  const r = await elm.send('ATRV');
  t.same(r.lines, ['12.6V']);
  t.equal(fake.violations, 0);
  await elm.close();
});

t.test('a bare CR that makes the ELM repeat the last command: the repeated answer is drained', async (t) => {
  const { fake, elm } = setup(
    { bareCrRepeats: true, script: { '010C': [{ text: '41 0C 1A F8', prompt: false }, { text: '41 0C 1A F8', delayMs: 20 }] } },
    { commandTimeoutMs: 50, searchTimeoutMs: 50 },
  );
  await code(t, elm.send('010C'), 'ELM_TIMEOUT');
  t.same((await elm.send('ATRV')).lines, ['12.6V']);
  t.equal(fake.count('010C'), 2, 'the recovery CR repeated 010C');
  await elm.close();
});

t.test('an adapter still answering after the timeout: a partial answer is waited for, then stopped by a CR', async (t) => {
  const patient = setup({ script: { '0100': { text: '41 00 BE 3F A8 13', delayMs: 150 } } }, { commandTimeoutMs: 50, searchTimeoutMs: 50, recoveryTimeoutMs: 300 });
  await code(t, patient.elm.send('0100'), 'ELM_TIMEOUT');
  t.same((await patient.elm.send('ATRV')).lines, ['12.6V']);
  t.equal(patient.fake.violations, 0, 'echo bytes were pending: the late prompt was awaited, nothing interrupted');
  await patient.elm.close();

  const hung = setup({ script: { '0100': { text: '41 00 BE 3F A8 13', delayMs: 400 } } }, { commandTimeoutMs: 50, searchTimeoutMs: 50, recoveryTimeoutMs: 100 });
  await code(t, hung.elm.send('0100'), 'ELM_TIMEOUT');
  t.same((await hung.elm.send('ATRV')).lines, ['12.6V']);
  t.equal(hung.fake.violations, 1, 'only the deliberate interrupt (the ELM answers STOPPED)');
  await hung.elm.close();
});

t.test('an adapter that never prompts: every command times out, none hangs', async (t) => {
  const fake = new FakeElm327();
  const silent: ByteLink = { isOpen: true, write: () => Promise.resolve(), onData: (l) => fake.onData(l), onClose: (l) => fake.onClose(l), close: () => fake.close() };
  const elm = new Elm327Link(silent, { recoveryTimeoutMs: 30, recoveryAttempts: 2, quietMs: 5 });
  const [a, b] = await Promise.allSettled([elm.send('ATI'), elm.send('ATRV')]);
  for (const r of [a, b]) t.match(r, { status: 'rejected', reason: { code: 'ELM_TIMEOUT', temporary: true } });
  t.equal(elm.consecutiveTimeouts, 2);
  await elm.close();
});

t.test('the first OBD command while a protocol search may run gets the long timeout', async (t) => {
  const slow = { text: 'SEARCHING...\r41 00 BE 3F A8 13', delayMs: 150 };
  const { elm } = setup({ script: { '0100': slow, ATSP0: 'OK' } }, { commandTimeoutMs: 60, searchTimeoutMs: 1000 });
  const first = await elm.send('0100');
  t.same(first.info, ['SEARCHING...']);
  t.same(first.lines, ['41 00 BE 3F A8 13']);
  await code(t, elm.send('0100'), 'ELM_TIMEOUT', true);
  await elm.send('ATSP0');
  t.same((await elm.send('0100')).lines, ['41 00 BE 3F A8 13'], 'ATSP makes the next one long again');
  await elm.close();
});

t.test('unsolicited bytes while idle make the link resync before writing', async (t) => {
  const { fake, elm, events } = setup({});
  await elm.send('ATRV');
  fake.emit('ACT ALERT\r');
  await new Promise((r) => setTimeout(r, 20));
  t.same((await elm.send('ATRV')).lines, ['12.6V']);
  const second = events.lastIndexOf('write "ATRV\\r"');
  t.equal(events[second - 2], 'write "\\r"', 'a \\r was sent to get a fresh prompt');
  await elm.close();
});

t.test('line noise while idle does not cost a resync', async (t) => {
  const { fake, elm, events } = setup({});
  await elm.send('ATRV');
  fake.emit(Uint8Array.of(0xff, 0x00, 0x81, 0x0d, 0xfe));
  await new Promise((r) => setTimeout(r, 20));
  t.same((await elm.send('ATRV')).lines, ['12.6V']);
  t.same(events.slice(-4), ['write "ATRV\\r"', '>', 'write "ATRV\\r"', '>'], 'written straight away');
  await elm.close();
});

t.test('when the link drops, the command in flight and queued ones reject with ELM_DISCONNECTED', async (t) => {
  const { fake, elm } = setup({ script: { '0902': { text: '', delayMs: 1000 } } });
  await elm.send('ATRV');
  let ended: Elm327Error | null = null;
  elm.onEnd((e) => (ended = e));
  const inFlight = elm.send('0902');
  const queued = elm.send('0904');
  setTimeout(() => fake.unplug(new Error('EIO')), 30);
  await code(t, inFlight, 'ELM_DISCONNECTED', true);
  const q = await code(t, queued, 'ELM_DISCONNECTED', true);
  t.match(q.message, /EIO/);
  await code(t, elm.send('ATRV'), 'ELM_DISCONNECTED', true);
  t.equal(elm.isOpen, false);
  t.match(ended, { code: 'ELM_DISCONNECTED' });
  let late: Elm327Error | null = null;
  elm.onEnd((e) => (late = e));
  await new Promise((r) => setImmediate(r));
  t.match(late, { code: 'ELM_DISCONNECTED' }, 'a listener added after the end still hears it');
});

t.test('a failed write ends the link (the device is gone even if the port did not say so)', async (t) => {
  const { fake, elm } = setup({});
  await elm.send('ATRV');
  fake.write = () => Promise.reject(new Error('EIO: i/o error, write'));
  const queued = elm.send('ATI');
  await code(t, elm.send('ATRV'), 'ELM_DISCONNECTED', true);
  await code(t, queued, 'ELM_DISCONNECTED', true);
  t.equal(elm.isOpen, false);
  t.equal(fake.isOpen, false, 'the underlying link was closed');
});

t.test('a link that dies during prompt recovery fails the waiting command too', async (t) => {
  const { fake, elm } = setup({});
  fake.write = () => Promise.reject(new Error('EIO'));
  await code(t, elm.send('ATI'), 'ELM_DISCONNECTED', true);
  const other = setup({ script: { ATI: { raw: '' } } }, { recoveryTimeoutMs: 1000, commandTimeoutMs: 30 });
  await code(t, other.elm.send('ATI'), 'ELM_TIMEOUT');
  const waiting = other.elm.send('ATRV'); // in recovery: the fake never prompts (ATRV not reached)
  other.fake.write = () => new Promise(() => undefined);
  setTimeout(() => other.fake.unplug(new Error('EIO')), 50);
  await code(t, waiting, 'ELM_DISCONNECTED', true);
});

t.test('after close(), pending and later commands reject with a permanent ELM_CLOSED', async (t) => {
  const { elm } = setup({ script: { '0902': { text: '', delayMs: 1000 } } });
  const pending = elm.send('0902');
  await new Promise((r) => setTimeout(r, 30));
  await elm.close();
  await code(t, pending, 'ELM_CLOSED', false);
  await code(t, elm.send('ATRV'), 'ELM_CLOSED', false);
  await elm.close();
});

t.test('cancellation: a queued command is never written; one in flight rejects at once', async (t) => {
  const { fake, elm } = setup({ script: { '0902': { text: '49 02 01', delayMs: 100 } } });
  const controller = new AbortController();
  const inFlight = elm.send('0902', { signal: controller.signal });
  const queuedController = new AbortController();
  const queued = elm.send('ATI', { signal: queuedController.signal });
  queuedController.abort();
  await code(t, queued, 'ELM_CANCELLED', false);
  await new Promise((r) => setTimeout(r, 30));
  controller.abort();
  const e = await code(t, inFlight, 'ELM_CANCELLED');
  t.equal(e.mayHaveSucceeded, true);
  await code(t, elm.send('ATI', { signal: AbortSignal.abort() }), 'ELM_CANCELLED');
  t.same((await elm.send('ATRV')).lines, ['12.6V'], 'the next command waits for the cancelled one’s prompt');
  t.notOk(fake.received.includes('ATI'));
  t.equal(fake.violations, 0);
  await elm.close();
});

t.test('invalid commands are refused before they reach the adapter', async (t) => {
  const { elm } = setup({});
  await code(t, elm.send(''), 'ELM_INVALID_ARGUMENT', false);
  await code(t, elm.send('ATZ\rATE0'), 'ELM_INVALID_ARGUMENT', false);
  await elm.close();
});

t.test('a link that is already closed ends the ELM link at once', async (t) => {
  const fake = new FakeElm327();
  fake.unplug();
  const elm = new Elm327Link(fake);
  t.equal(elm.isOpen, false);
  await code(t, elm.send('ATI'), 'ELM_DISCONNECTED', true);
});
