// Tests for the reconnecting ELM327 adapter: unplug, failing reopen with back-off, init re-run, hung adapter.
import t from 'tap';
import { backoffDelay, ReconnectingElm327Adapter } from '../../../../hardware/obd/elm327/reconnecting-elm327-adapter.js';
import { Elm327Error } from '../../../../hardware/obd/elm327/elm327-errors.js';
import { realTimers, type Timers } from '../../../../hardware/obd/elm327/timers.js';
import { LinkError, type ByteLink, type ByteLinkOpener } from '../../../../hardware/serial/byte-link.js';
import type { AdapterState } from '../../../../hardware/obd/obd-adapter.js';
import { FakeElm327, type FakeElmOptions } from './fake-elm327.js';

const FAST = { quietMs: 5, recoveryTimeoutMs: 100, commandTimeoutMs: 200, searchTimeoutMs: 500, resetTimeoutMs: 500, resetSettleMs: 5 };
const SCRIPT: FakeElmOptions = { script: { '0100': '7E8064100BE3FA813', '010C': '7E804410C1AF8' } };

/** An opener that fails `plan` says so: true = open a fresh fake, false = fail like a missing /dev node. */
class ScriptedOpener implements ByteLinkOpener {
  readonly description = '/dev/serial/by-id/usb-fake-elm327';
  readonly fakes: FakeElm327[] = [];
  opens = 0;
  constructor(
    private readonly plan: boolean[],
    private readonly fakeOptions: FakeElmOptions = SCRIPT,
  ) {}
  open(): Promise<ByteLink> {
    const ok = this.plan[this.opens] ?? true;
    this.opens++;
    if (!ok) return Promise.reject(new LinkError('LINK_OPEN_FAILED', `cannot open ${this.description}: ENOENT`, { temporary: true }));
    const fake = new FakeElm327(this.fakeOptions);
    this.fakes.push(fake);
    return Promise.resolve(fake);
  }
}

/** Real timers that record every delay asked for (the back-off values). */
function recordingTimers(): Timers & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    setTimeout: (cb, ms) => {
      delays.push(ms);
      return realTimers.setTimeout(cb, ms);
    },
    clearTimeout: (h) => realTimers.clearTimeout(h),
  };
}

function waitForState(adapter: ReconnectingElm327Adapter, state: AdapterState, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (adapter.state === state) return resolve();
    const timer = setTimeout(() => reject(new Error(`state ${state} not reached (at ${adapter.state})`)), timeoutMs);
    const off = adapter.onStateChange((s) => {
      if (s === state) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

t.test('back-off: 0.5 s doubling to 30 s, jitter within ±20 %', (t) => {
  const base = { initialBackoffMs: 500, maxBackoffMs: 30_000, jitter: 0.2 };
  t.same(
    [0, 1, 2, 3, 4, 5, 6, 7, 40].map((n) => backoffDelay(n, { ...base, random: () => 0.5 })),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
  t.equal(backoffDelay(0, { ...base, random: () => 0 }), 400);
  t.equal(backoffDelay(0, { ...base, random: () => 0.999999 }), 600);
  t.end();
});

t.test('unplugged: disconnected, reopen fails twice, then init re-runs and readPids works again', async (t) => {
  const opener = new ScriptedOpener([true, false, false, true]);
  const timers = recordingTimers();
  const adapter = new ReconnectingElm327Adapter(opener, { ...FAST, initialBackoffMs: 20, random: () => 0.5, timers });
  const states: AdapterState[] = [];
  adapter.onStateChange((s) => states.push(s));

  const info = await adapter.connect();
  t.equal(info.protocolNumber, '6');
  t.same((await adapter.readPids([0x0c])).map((r) => r.pid), [0x0c]);
  t.same(await adapter.connect(), info, 'connect() when ready answers at once');

  const inFlight = adapter.readVin();
  opener.fakes[0]!.unplug(new Error('EIO: i/o error'));
  const lost = await inFlight.then(
    () => null,
    (e: unknown) => e,
  );
  t.match(lost, { code: 'ELM_DISCONNECTED', temporary: true }, 'the call in flight rejects');
  await waitForState(adapter, 'disconnected');
  const early = await adapter.readPids([0x0c]).then(
    () => null,
    (e: unknown) => e,
  );
  t.type(early, Elm327Error);
  t.match(early, { code: 'ELM_DISCONNECTED', temporary: true }, 'calls while disconnected reject at once');

  await waitForState(adapter, 'ready');
  t.equal(opener.opens, 4);
  t.equal(opener.fakes.length, 2);
  t.equal(opener.fakes[1]!.count('ATZ'), 1, 'init ran on the new link');
  t.same((await adapter.readPids([0x0c])).map((r) => [r.ecu, r.pid]), [['7E8', 0x0c]]);
  t.same(states, ['connecting', 'ready', 'disconnected', 'connecting', 'disconnected', 'connecting', 'disconnected', 'connecting', 'ready']);
  const backoffs = timers.delays.filter((ms) => ms === 20 || ms === 40 || ms === 80);
  t.same(backoffs, [20, 40, 80], 'doubling back-off between attempts');
  t.equal(adapter.failedAttempts, 0, 'reset after a good init');

  await adapter.close();
  t.equal(adapter.state, 'closed');
  t.match(await adapter.readPids([0x0c]).catch((e: unknown) => e), { code: 'ELM_CLOSED', temporary: false });
  t.match(await adapter.connect().catch((e: unknown) => e), { code: 'ELM_CLOSED' });
});

t.test('connect() while the device is missing rejects with that failure; the supervisor keeps trying', async (t) => {
  const opener = new ScriptedOpener([false, true]);
  const adapter = new ReconnectingElm327Adapter(opener, { ...FAST, initialBackoffMs: 10, random: () => 0.5 });
  const first = await adapter.connect().catch((e: unknown) => e);
  t.match(first, { code: 'LINK_OPEN_FAILED', temporary: true });
  await waitForState(adapter, 'ready');
  t.equal(adapter.info?.can, true);
  await adapter.close();
});

t.test('init failing on a fresh link counts as a failed attempt and is retried on a new link', async (t) => {
  const opener = new ScriptedOpener([true, true], { script: { ...SCRIPT.script, ATZ: { raw: '' } } });
  const adapter = new ReconnectingElm327Adapter(opener, { ...FAST, resetTimeoutMs: 30, recoveryTimeoutMs: 20, initAttempts: 1, initialBackoffMs: 10, random: () => 0.5 });
  const first = await adapter.connect().catch((e: unknown) => e);
  t.match(first, { code: 'ELM_INIT_FAILED' });
  t.equal(opener.fakes[0]!.isOpen, false, 'the link of the failed attempt was closed');
  await new Promise((r) => setTimeout(r, 150));
  t.ok(opener.opens >= 2, 'reopened');
  await adapter.close();
  const opens = opener.opens;
  await new Promise((r) => setTimeout(r, 100));
  t.equal(opener.opens, opens, 'no attempt after close()');
});

t.test('a hung adapter (timeouts in a row) is dropped and reopened', async (t) => {
  const opener = new ScriptedOpener([true, true], { script: { ...SCRIPT.script, '010D': { raw: '' } } });
  const adapter = new ReconnectingElm327Adapter(opener, {
    ...FAST,
    commandTimeoutMs: 40,
    searchTimeoutMs: 40,
    recoveryTimeoutMs: 20,
    recoveryAttempts: 1,
    maxConsecutiveTimeouts: 2,
    initialBackoffMs: 10,
    random: () => 0.5,
  });
  await adapter.connect();
  // Make the first fake ignore everything from now on: each call times out.
  const hung = opener.fakes[0]!;
  hung.write = () => Promise.resolve();
  for (let i = 0; i < 2; i++) t.match(await adapter.readPids([0x0d]).catch((e: unknown) => e), { code: 'ELM_TIMEOUT' });
  await waitForState(adapter, 'disconnected');
  await waitForState(adapter, 'ready');
  t.equal(opener.opens, 2);
  t.same((await adapter.readPids([0x0c])).map((r) => r.pid), [0x0c]);
  await adapter.close();
});

t.test('close() during a back-off ends it at once', async (t) => {
  const opener = new ScriptedOpener([false, false, false]);
  const adapter = new ReconnectingElm327Adapter(opener, { ...FAST, initialBackoffMs: 60_000 });
  await adapter.connect().catch(() => undefined);
  const started = Date.now();
  await adapter.close();
  t.equal(opener.opens, 1);
  t.ok(Date.now() - started < 5_000, 'close did not wait for the back-off');
  t.equal(adapter.state, 'closed');
});
