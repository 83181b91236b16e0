// Transcript tests for the ELM327 simulator over an in-process link pair, on a manual clock.
import t from 'tap';
import { createLinkPair } from '../../../hardware/serial/memory-link.js';
import { startElm327Simulator, type Elm327SimulatorOptions } from '../../../hardware/sim/elm327-simulator.js';
import { ManualClock } from '../../../hardware/sim/sim-clock.js';
import { ElmTerminal } from './elm-terminal.js';

/** The part of tap's test object the helpers below need. */
interface TestWithTeardown {
  teardown(fn: () => unknown): void;
}

function setup(t: TestWithTeardown, options: Partial<Elm327SimulatorOptions> = {}) {
  const clock = new ManualClock();
  const [host, device] = createLinkPair(['host', 'device']);
  const sim = startElm327Simulator({ link: device, clock, baudRate: 0, ecuLatencyMs: 40, searchDelayMs: 1500, resetDelayMs: 500, ...options });
  const term = new ElmTerminal(host);
  t.teardown(async () => {
    await sim.stop();
    await host.close();
  });
  const send = async (command: string, stepMs = 5): Promise<string> => (await term.send(command, { clock, stepMs })).text;
  /** Sends the usual driver init (echo off, no spaces, headers as asked) and discards the answers. */
  const init = async (...commands: string[]): Promise<void> => {
    for (const command of ['ATE0', ...commands]) await send(command);
  };
  return { clock, host, device, sim, term, send, init };
}

/** Data bytes of a headers-off, spaces-on single-frame line. */
const hexBytes = (line: string): number[] => line.trim().split(/\s+/).map((b) => parseInt(b, 16));
const lines = (text: string): string[] => text.replace(/>$/, '').split('\r').filter((l) => l !== '');

t.test('the usual init sequence, transcript by transcript', async (t) => {
  const { send, clock } = setup(t);
  clock.advance(1000); // ignition is on from t=0 in the driving scenario
  t.equal(await send('ATZ'), 'ATZ\r\rELM327 v1.5\r\r>', 'reset: echo, then the banner');
  t.equal(await send('ATE0'), 'ATE0\rOK\r\r>', 'ATE0 is still echoed itself');
  t.equal(await send('ATL0'), 'OK\r\r>', 'no echo from now on');
  t.equal(await send('ATS0'), 'OK\r\r>');
  t.equal(await send('ATH1'), 'OK\r\r>');
  t.equal(await send('ATSP0'), 'OK\r\r>');
  t.equal(await send('ATDPN'), 'A0\r\r>', 'auto, nothing found yet');
  const before = clock.now();
  t.equal(await send('0100'), 'SEARCHING...\r7E8064100BE3FA813\r7E906410080000011\r\r>', 'engine and transmission answer 0100');
  t.ok(clock.now() - before >= 1500 + 40, 'the search took searchDelayMs plus the ECU latency');
  t.equal(await send('ATDPN'), 'A6\r\r>');
  t.equal(await send('ATDP'), 'AUTO, ISO 15765-4 (CAN 11/500)\r\r>');
  t.match(await send('ATRV'), /^1[0-4]\.\dV\r\r>$/);
  t.equal(await send('ATI'), 'ELM327 v1.5\r\r>');
  t.equal(await send('AT@1'), 'OBDII to RS232 Interpreter\r\r>');
  t.equal(await send('ATAT1'), 'OK\r\r>');
  t.equal(await send('ATST64'), 'OK\r\r>');
  t.equal(await send('ATCAF1'), 'OK\r\r>');
  const again = clock.now();
  t.equal(await send('0100'), '7E8064100BE3FA813\r7E906410080000011\r\r>', 'no second search');
  t.ok(clock.now() - again < 1500);
});

t.test('battery voltage: resting, key on, running', async (t) => {
  const { send, init, clock } = setup(t);
  await init();
  t.equal(await send('ATRV'), '12.3V\r\r>', 'key on, engine not started yet');
  clock.advance(30_000);
  t.equal(await send('ATRV'), '14.2V\r\r>', 'alternator charging');
});

t.test('echo, case, spaces, linefeeds', async (t) => {
  const { send, term, clock } = setup(t);
  t.equal(await send('at i'), 'at i\rELM327 v1.5\r\r>', 'lower case with a space works and is echoed as typed');
  t.equal(await send('A T I'), 'A T I\rELM327 v1.5\r\r>');
  await term.write('\nATI\r\n');
  t.equal(await term.readUntilPrompt({ clock }), 'ATI\rELM327 v1.5\r\r>', 'LF is ignored');
  t.equal(await send('ATL1'), 'ATL1\rOK\r\n\r\n>', 'linefeeds on: CR LF after every line (the ATL1 echo itself predates it)');
  t.equal(await send('ATE0'), 'ATE0\r\nOK\r\n\r\n>', 'the echoed CR gets its LF too');
  t.equal(await send('ATI'), 'ELM327 v1.5\r\n\r\n>');
  t.equal(await send('ATL0'), 'OK\r\r>');
  t.equal(await send('ATD'), 'OK\r\r>', 'ATD restores defaults (echo back on)');
  t.equal(await send('ATI'), 'ATI\rELM327 v1.5\r\r>');
});

t.test('an empty line repeats the last command', async (t) => {
  const { send, init, clock } = setup(t);
  await init();
  clock.advance(60_000);
  await send('010D');
  const repeated = await send('');
  t.match(repeated, /^41 0D [0-9A-F]{2}\r\r>$/);
});

t.test('headers and spaces on and off', async (t) => {
  const { send, init, clock } = setup(t);
  await init('ATSP6');
  clock.advance(60_000);
  t.match(await send('010D'), /^41 0D [0-9A-F]{2}\r\r>$/, 'H0 S1');
  await send('ATH1');
  t.match(await send('010D'), /^7E8 03 41 0D [0-9A-F]{2}\r\r>$/, 'H1 S1: header and PCI byte, no padding');
  await send('ATS0');
  t.match(await send('010D'), /^7E803410D[0-9A-F]{2}\r\r>$/, 'H1 S0');
  await send('ATCAF0');
  t.match(await send('010D'), /^7E803410D[0-9A-F]{2}0{8}\r\r>$/, 'CAF0: all eight bytes, padding included');
  await send('ATH0');
  t.match(await send('010D'), /^03410D[0-9A-F]{2}0{8}\r\r>$/, 'CAF0 H0: PCI still shown');
});

t.test('multi-PID requests: up to 6 PIDs in one request, decoded against the vehicle state', async (t) => {
  const { send, init, clock, sim } = setup(t);
  await init('ATSP6');
  clock.advance(200_000); // accelerating onto the expressway
  const single = lines(await send('010D05'));
  t.equal(single.length, 1, 'two PIDs fit one frame');
  const [, , speed, pid05, coolant] = hexBytes(single[0]!);
  t.equal(pid05, 0x05);
  const snapshot = sim.state.current;
  t.equal(speed, Math.round(snapshot.speedKmh));
  t.equal(coolant! - 40, Math.round(snapshot.coolantTempC));

  const multi = lines(await send('010C0D05'));
  t.equal(multi[0], '008', 'eight payload bytes: an ISO-TP multi-frame answer');
  t.match(multi[1], /^0: 41 0C [0-9A-F]{2} [0-9A-F]{2} 0D [0-9A-F]{2}$/);
  t.match(multi[2], /^1: 05 [0-9A-F]{2} 00 00 00 00 00$/);
  const payload = [...hexBytes(multi[1]!.slice(3)), ...hexBytes(multi[2]!.slice(3))].slice(0, 8);
  t.equal(((payload[2]! << 8) | payload[3]!) / 4, Math.round(sim.state.current.rpm * 4) / 4, 'rpm');

  const six = lines(await send('01040506070C0D'));
  t.equal(six[0], '00E', '6 PIDs, 7 data bytes → 14 payload bytes');
  const unsupportedMixed = lines(await send('010C0A'));
  t.match(unsupportedMixed[0], /^41 0C [0-9A-F]{2} [0-9A-F]{2}$/, 'unsupported PID 0A is left out');
  t.equal(await send('010A'), 'NO DATA\r\r>', 'nobody supports PID 0A');
  t.equal(await send('0104050607080C0D'), '?\r\r>', 'seven PIDs do not fit a CAN single frame');
});

t.test('ISO-TP VIN and calibration ids, headers on and off', async (t) => {
  const { send, init, sim } = setup(t);
  await init('ATSP6', 'ATH1');
  const vin = lines(await send('0902'));
  t.equal(vin.length, 3);
  t.match(vin[0], /^7E8 10 14 49 02 01( [0-9A-F]{2}){3}$/, 'first frame: 10 14 49 02 01 …');
  t.match(vin[1], /^7E8 21( [0-9A-F]{2}){7}$/);
  t.match(vin[2], /^7E8 22( [0-9A-F]{2}){7}$/);
  const bytes = [...hexBytes(vin[0]!).slice(6), ...hexBytes(vin[1]!).slice(2), ...hexBytes(vin[2]!).slice(2)];
  t.equal(Buffer.from(bytes).toString('latin1'), sim.state.vin);

  await send('ATH0');
  const plain = lines(await send('0902'));
  t.same(plain.map((l) => l.slice(0, 3)), ['014', '0: ', '1: ', '2: '], 'ELM-style length line, then numbered frames');
  const data = plain.slice(1).flatMap((l) => hexBytes(l.slice(3)));
  t.equal(Buffer.from(data.slice(3, 20)).toString('latin1'), 'LBVNU79049SB81546');

  await send('ATS0');
  const calids = lines(await send('0904'));
  t.equal(calids[0], '023', 'engine: two calibration ids = 35 bytes');
  t.match(calids[1], /^0:490402/);
  const tcm = calids.indexOf('013');
  t.ok(tcm > 0, 'the transmission answers too, with one id');
  const engineBytes = Buffer.from(calids.slice(1, tcm).map((l) => l.slice(2)).join(''), 'hex');
  t.equal(engineBytes.subarray(3, 19).toString('latin1').replace(/\0+$/, ''), 'JMB*36761500');
});

t.test('DTCs: count byte, pending, permanent, freeze frame, clearing', async (t) => {
  const { send, init, sim } = setup(t, { scenario: 'dtcs-present' });
  await init('ATSP6');
  t.equal(await send('03'), '43 02 03 01 04 20\r43 00\r\r>', 'P0301 + P0420 after the count byte; the TCM reports none');
  t.equal(await send('07'), '47 01 01 71\r47 00\r\r>', 'pending P0171');
  t.equal(await send('0A'), '4A 01 04 20\r4A 00\r\r>', 'permanent P0420');
  t.match(await send('0101'), /^41 01 82 07 65 00\r41 01 00 04 00 00\r\r>$/, 'MIL on, 2 codes');
  t.equal(await send('020200'), '42 02 00 03 01\r\r>', 'freeze frame 0 was caused by P0301');
  t.equal(await send('020C00'), '42 0C 00 21 98\r\r>', 'freeze-frame rpm 2150');
  t.equal(await send('020D000500'), '42 0D 00 3E 05 00 80\r\r>', 'two freeze-frame PIDs: 62 km/h, 88 °C');
  t.equal(await send('020C01'), 'NO DATA\r\r>', 'there is no frame 1');
  t.equal(await send('04'), '44\r44\r\r>', 'clear: both ECUs acknowledge');
  t.equal(await send('03'), '43 00\r43 00\r\r>');
  t.equal(await send('07'), '47 00\r47 00\r\r>');
  t.equal(await send('0A'), '4A 01 04 20\r4A 00\r\r>', 'permanent codes survive mode 04');
  t.equal(await send('020200'), '42 02 00 00 00\r\r>', 'no freeze frame any more');
  t.match(await send('0101'), /^41 01 00 /, 'MIL off');
  t.same(sim.state.dtcs.stored, []);
});

t.test('junk gets ?', async (t) => {
  const { send, init, sim } = setup(t);
  await init();
  t.equal(await send('hello'), '?\r\r>');
  t.equal(await send('ATFOO'), '?\r\r>');
  t.equal(await send('ATSPX'), '?\r\r>');
  t.equal(await send('0'), '?\r\r>');
  t.equal(await send('X'.repeat(200)), '?\r\r>', 'line overflow');
  t.equal(sim.stats().unknownCommands, 5);
});

t.test('engine off: UNABLE TO CONNECT on search, NO DATA on a fixed protocol, 12.2 V', async (t) => {
  const { send, init, clock } = setup(t, { scenario: 'engine-off', noResponseTimeoutMs: undefined });
  await init();
  t.equal(await send('ATRV'), '12.2V\r\r>');
  t.equal(await send('0100', 20), 'SEARCHING...\rUNABLE TO CONNECT\r\r>');
  t.equal(await send('ATDPN'), 'A0\r\r>', 'still searching next time');
  await send('ATSP6');
  const before = clock.now();
  t.equal(await send('010C'), 'NO DATA\r\r>');
  t.ok(clock.now() - before >= 0x32 * 4.096, 'NO DATA comes after the ATST timeout');
  await send('ATST19');
  const shorter = clock.now();
  await send('010C');
  t.ok(clock.now() - shorter < 0x32 * 4.096, 'ATST shortens it');
});

t.test('other protocols fail the way a real adapter does', async (t) => {
  const { send, init } = setup(t);
  await init();
  await send('ATSP3');
  t.equal(await send('0100', 20), 'BUS INIT: ...ERROR\r\r>');
  await send('ATSP8');
  t.equal(await send('0100'), 'CAN ERROR\r\r>');
  await send('ATSP1');
  t.equal(await send('0100'), 'NO DATA\r\r>');
  await send('ATSPA6');
  t.equal(await send('ATDPN'), 'A6\r\r>');
});

t.test('29-bit CAN via ATSP7, physical addressing with ATSH, response-count digit', async (t) => {
  const { send, init } = setup(t);
  await init('ATSP7', 'ATH1');
  t.equal(await send('0100'), '18 DA F1 10 06 41 00 BE 3F A8 13\r18 DA F1 18 06 41 00 80 00 00 11\r\r>');
  t.match(await send('0902'), /^18 DA F1 10 10 14 49 02 01/);
  await send('ATSHDA18F1');
  t.equal(await send('0100'), '18 DA F1 18 06 41 00 80 00 00 11\r\r>', 'only the transmission');
  await send('ATSP6');
  await send('ATSH7E0');
  t.equal(await send('0100'), '7E8 06 41 00 BE 3F A8 13\r\r>', 'only the engine');
  await send('ATSH7DF');
  t.equal(await send('01001'), '7E8 06 41 00 BE 3F A8 13\r\r>', 'stop after one response');
});

t.test('29-bit car: the automatic search finds protocol 7', async (t) => {
  const { send, init } = setup(t, { canIdBits: 29 });
  await init('ATH1');
  t.match(await send('0100', 20), /^SEARCHING\.\.\.\r18 DA F1 10 /);
  t.equal(await send('ATDPN'), 'A7\r\r>');
});

t.test('a byte during a request aborts it with STOPPED; bytes during ATZ are lost', async (t) => {
  const { send, init, term, clock, sim } = setup(t);
  await init('ATSP0');
  await term.write('0100\r');
  clock.advance(100); // searching…
  await term.write('X');
  const text = await term.readUntilPrompt({ clock });
  t.equal(text, 'SEARCHING...\rSTOPPED\r\r>');
  t.equal(await send('ATDPN'), 'A0\r\r>', 'the search was abandoned');
  t.equal(sim.stats().interrupted, 1);

  await term.write('ATZ\r');
  clock.advance(100);
  await term.write('ATE0\r'); // too early: the chip is still resetting
  const banner = await term.readUntilPrompt({ clock, stepMs: 10 });
  t.equal(banner, '\rELM327 v1.5\r\r>');
  t.equal(await send('ATI'), 'ATI\rELM327 v1.5\r\r>', 'echo is still on: ATE0 was lost');
  t.equal(sim.stats().droppedDuringReset, 5);
});

t.test('noisy line: garbage and damaged lines, but every command still gets its prompt', async (t) => {
  const { send, init, clock, sim } = setup(t, { scenario: 'noisy-line', seed: 7 });
  await init('ATSP6');
  clock.advance(60_000);
  let intact = 0;
  let garbage = 0;
  for (let i = 0; i < 60; i++) {
    const text = await send('010D');
    if (/^41 0D [0-9A-F]{2}\r\r>$/.test(text)) intact++;
    if ([...text].some((c) => c.charCodeAt(0) >= 0x80 || c.charCodeAt(0) === 0)) garbage++;
  }
  const stats = sim.stats();
  t.ok(stats.garbageBytes > 0, `garbage bytes injected (${stats.garbageBytes})`);
  t.ok(garbage > 0, 'and seen by the host');
  t.ok(stats.corruptedLines > 0, `lines corrupted (${stats.corruptedLines})`);
  t.ok(intact > 30, `most answers intact (${intact}/60)`);
});

t.test('unplugged mid-session: the link closes with a LinkError after N seconds', async (t) => {
  const clock = new ManualClock();
  const [host, device] = createLinkPair();
  const sim = startElm327Simulator({ link: device, clock, baudRate: 0, scenario: 'unplugged-mid-session' });
  const closed = new Promise<Error | undefined>((resolve) => host.onClose(resolve));
  clock.advance(19_999);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(host.isOpen, true, 'still plugged in before 20 s');
  clock.advance(1);
  const error = await closed;
  t.match(error, { code: 'LINK_CLOSED', temporary: true });
  t.equal(sim.stats().unplugged, true);
  await t.rejects(host.write(new Uint8Array([0x0d])), { code: 'LINK_CLOSED' });
});

t.test('output is paced at the baud rate', async (t) => {
  const { term, clock } = setup(t, { baudRate: 9600 });
  const started = clock.now();
  await term.write('ATI\r');
  // 4 echo bytes + "ELM327 v1.5\r\r>" (14) = 18 bytes × 10 bits / 9600 baud = 18.75 ms
  const text = await term.readUntilPrompt({ clock, stepMs: 0.25 });
  t.equal(text, 'ATI\rELM327 v1.5\r\r>');
  t.ok(clock.now() - started >= 18.75, `not before the bytes could have been sent (${clock.now() - started} ms)`);
});
