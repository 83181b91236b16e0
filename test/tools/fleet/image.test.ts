// `carchain fleet image inject` on a disk image this test makes (sparse file, MBR from tools/fleet/mbr.ts,
// mkfs.vfat at the partition's offset), read back with mtools; and `fleet image build`'s overlay tarball.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, utimesSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseGatewayConfig } from '../../../gateway/node/gateway-config.js';
import { staleSources } from '../../../tools/fleet/image-build.js';
import { writeMbr, type NewPartition } from '../../../tools/fleet/mbr.js';
import { repoRoot, runCli, runJson, tempDir } from './fleet-cli.js';

t.setTimeout(1_200_000);
const dir = tempDir(t, 'fleet-image');
const MiB = 1 << 20;
const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A sparse disk image with the given MBR; each FAT partition formatted with mkfs.vfat at its offset. */
function makeImage(path: string, sizeMiB: number, partitions: NewPartition[]): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, sizeMiB * MiB);
  writeSync(fd, writeMbr(partitions, 0xcafe), 0, 512, 0);
  closeSync(fd);
  for (const p of partitions.filter((p) => p.type === 0x0c)) {
    execFileSync('mkfs.vfat', ['-F', '32', '-n', 'BOOT', '--offset', String(p.startLba), path, String(p.sectors / 2)], { stdio: 'pipe' });
  }
}

t.test('inject: the device\'s files land in /carchain/ of the FAT boot partition, byte for byte; the base is untouched', async (t) => {
  const caDir = join(dir, 'ca');
  const fleetDir = join(dir, 'fleet');
  t.equal((await runCli(['fleet', 'ca', 'init', '--out', caDir])).code, 0);
  const { devices } = await runJson<{ devices: { label: string; dir: string }[] }>(['fleet', 'provision', '--ca', caDir, '--count', '2', '--prefix', 'pi', '--out', fleetDir]);
  const base = join(dir, 'base.img');
  // A Raspberry-Pi-like layout: a Linux root *before* the boot partition in the table, so "first FAT" matters.
  const boot = { type: 0x0c, startLba: 2048, sectors: 64 * 2048 };
  makeImage(base, 100, [{ type: 0x83, startLba: 2048 + 64 * 2048, sectors: 30 * 2048 }, boot]);
  const offset = boot.startLba * 512;
  writeFileSync(join(dir, 'config.txt'), 'dtoverlay=vc4-kms-v3d\n');
  execFileSync('mcopy', ['-i', `${base}@@${offset}`, join(dir, 'config.txt'), '::/config.txt'], { env });
  const baseHash = sha256(base);

  const out = join(dir, 'device1.img');
  const deviceDir = join(fleetDir, devices[0]!.dir);
  const result = await runJson<{ partition: { number: number; offset: number }; files: string[] }>(['fleet', 'image', 'inject', '--base', base, '--device', deviceDir, '--out', out]);
  t.equal(result.partition.number, 2);
  t.equal(result.partition.offset, offset);
  t.equal(sha256(base), baseHash, 'the base image is not modified');
  const listing = execFileSync('mdir', ['-b', '-i', `${out}@@${offset}`, '::/carchain'], { env, encoding: 'utf8' });
  const names = ['device.json', 'dongle.yaml', 'ca.pem', 'device.pem', 'device.key', 'keystore.json', 'pairing.json'];
  for (const name of names) {
    t.match(listing, `::/carchain/${name}`);
    const copy = join(dir, `out-${name}`);
    execFileSync('mcopy', ['-o', '-i', `${out}@@${offset}`, `::/carchain/${name}`, copy], { env });
    t.same(readFileSync(copy), readFileSync(join(deviceDir, name)), `${name} identical`);
  }
  t.notMatch(listing, 'device.csr', 'the CSR stays with the integrator');
  t.equal(execFileSync('mcopy', ['-i', `${out}@@${offset}`, '::/config.txt', '-'], { env, encoding: 'utf8' }), 'dtoverlay=vc4-kms-v3d\n', 'what was on the boot partition stays');

  // Re-injecting over an image that already has /carchain/ replaces the files.
  const out2 = join(dir, 'device2.img');
  const device2 = join(fleetDir, devices[1]!.dir);
  t.equal((await runCli(['fleet', 'image', 'inject', '--base', out, '--device', device2, '--out', out2])).code, 0);
  const json = execFileSync('mcopy', ['-i', `${out2}@@${offset}`, '::/carchain/device.json', '-'], { env, encoding: 'utf8' });
  t.equal(json, readFileSync(join(device2, 'device.json'), 'utf8'), 'the second device replaced the first');
});

t.test('inject refuses an image without a FAT partition, or without any partition table', async (t) => {
  const deviceDir = join(dir, 'fleet', 'devices', 'pi-0001');
  const linuxOnly = join(dir, 'linux-only.img');
  makeImage(linuxOnly, 8, [{ type: 0x83, startLba: 2048, sectors: 8192 }]);
  const raw = join(dir, 'raw.img');
  writeFileSync(raw, Buffer.alloc(MiB));
  for (const [what, image] of [['no FAT partition', linuxOnly], ['no MBR', raw]] as const) {
    const r = await runCli(['fleet', 'image', 'inject', '--base', image, '--device', deviceDir, '--out', join(dir, 'never.img')]);
    t.equal(r.code, 1, what);
    t.match(r.stderr, /IMAGE_NO_BOOT_PARTITION/, what);
    t.notOk(existsSync(join(dir, 'never.img')), `${what}: no output written`);
  }
  const notDevice = await runCli(['fleet', 'image', 'inject', '--base', linuxOnly, '--device', dir, '--out', join(dir, 'never.img')]);
  t.match(notDevice.stderr, /DEVICE_DIR_INVALID/);
});

/**
 * The built app `image build` packages. Reused, because tsc takes minutes on a busy machine:
 * CARCHAIN_TEST_DIST if set, else the checkout's dist/ (what `npm ci` builds through `prepare`, so CI
 * has it) through image build's default, when it is up to date with the sources; only otherwise is the
 * app compiled into this test's own dir.
 */
function distArgs(): { args: string[]; note: string } {
  const given = process.env.CARCHAIN_TEST_DIST;
  if (given !== undefined) return { args: ['--dist', given], note: `CARCHAIN_TEST_DIST=${given}` };
  const repoDist = join(repoRoot, 'dist');
  if (existsSync(join(repoDist, 'tools/cli/carchain.js')) && staleSources(repoRoot, repoDist).length === 0) return { args: [], note: `reusing ${repoDist}` };
  const dist = join(dir, 'dist');
  const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', dist], { cwd: repoRoot, encoding: 'utf8', timeout: 900_000 });
  // Judged by what tsc emitted: a type error elsewhere in the tree still emits, and is the typecheck's business.
  return { args: ['--dist', dist], note: `${repoDist} is missing or older than the sources: compiled into ${dist} (tsc exit ${String(tsc.status)}${tsc.status === 0 ? '' : `: ${tsc.stdout.slice(0, 300)}`})` };
}

// .tar: gzip (the default .tar.gz) would be most of the build's time; the archive is otherwise the same.
// Started now, so its I/O overlaps the inject tests' key generation; checked by the last test.
const imageOut = join(dir, 'gateway-rootfs.tar');
const dist = distArgs();
const imageBuild = runCli(['fleet', 'image', 'build', '--out', imageOut, ...dist.args, '--json']);

t.test('image build: an overlay tarball with the built app, production node_modules, units and configs', async (t) => {
  t.comment(dist.note);
  const r = await imageBuild;
  t.equal(r.code, 0, `fleet image build: ${r.stderr.slice(0, 1000)}`);
  if (r.code !== 0) return;
  const out = imageOut;
  const built = JSON.parse(r.stdout) as { out: string; packages: number; bytes: number };
  t.ok(built.packages > 20, `${built.packages} production packages`);
  // Extracted once (each tar -x pass decompresses the whole archive) and checked on disk.
  const root = join(dir, 'root');
  mkdirSync(root);
  execFileSync('tar', ['-xf', out, '-C', root]);
  const at = (entry: string) => join(root, entry);
  for (const entry of [
    'etc/systemd/system/carchain-gateway.service', 'etc/systemd/system/carchain-validator.service', 'etc/carchain/gateway.yaml', 'usr/lib/sysusers.d/carchain.conf',
    'usr/local/bin/carchain', 'opt/carchain/package.json', 'opt/carchain/dist/tools/cli/carchain.js', 'opt/carchain/dist/gateway/node/gateway-node.js',
    'opt/carchain/node_modules/better-sqlite3/package.json', 'opt/carchain/node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'opt/carchain/node_modules/mqtt/package.json',
  ]) t.ok(existsSync(at(entry)), entry);
  const onnx = 'opt/carchain/node_modules/onnxruntime-node/bin';
  const napi = readdirSync(at(onnx))[0]!;
  t.same(readdirSync(at(`${onnx}/${napi}`)), [process.platform], 'onnxruntime-node: only this platform\'s binaries');
  t.same(readdirSync(at(`${onnx}/${napi}/${process.platform}`)), [process.arch], '… and architecture\'s');
  for (const devOnly of ['opt/carchain/node_modules/typescript', 'opt/carchain/node_modules/tap', 'opt/carchain/node_modules/eslint']) t.notOk(existsSync(at(devOnly)), `no ${devOnly}`);
  t.same(readdirSync(root).sort(), ['etc', 'opt', 'usr'], 'nothing outside the overlay layout');
  t.same(readdirSync(at('opt/carchain')).sort(), ['dist', 'node_modules', 'package.json']);
  t.notOk(existsSync(at('opt/carchain/dist/test')), 'no tests');

  const file = (entry: string) => readFileSync(at(entry), 'utf8');
  const unit = file('etc/systemd/system/carchain-gateway.service');
  for (const line of ['User=carchain', 'StateDirectory=carchain-gateway', 'Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ExecStart=/usr/bin/node /opt/carchain/dist/tools/cli/carchain.js gateway start --config /etc/carchain/gateway.yaml']) t.match(unit, line);
  t.match(file('etc/systemd/system/carchain-validator.service'), 'ExecStart=/usr/bin/node /opt/carchain/dist/tools/cli/carchain.js chain start --home /var/lib/carchain-validator');
  t.equal((JSON.parse(file('opt/carchain/package.json')) as { type: string }).type, 'module', 'dist/*.js load as ES modules');
  const gatewayConfig = parseGatewayConfig(parseYaml(file('etc/carchain/gateway.yaml')), 'the image\'s gateway.yaml');
  t.equal(gatewayConfig.broker.url, 'mqtts://127.0.0.1:8883', 'the gateway reads the local Mosquitto over TLS');
  t.same(gatewayConfig.broker.tls, { ca: '/etc/carchain/tls/ca.pem', cert: '/etc/carchain/tls/gateway.pem', key: '/etc/carchain/tls/gateway.key' }, 'with the gateway identity from fleet broker-config');

  // The overlay works on its own, away from this checkout's node_modules: the packaged native module
  // opens a database, and the packaged CLI loads every command.
  const app = at('opt/carchain');
  const probe = spawnSync(process.execPath, ['-e', "const D = require('better-sqlite3'); const db = new D(':memory:'); console.log(db.prepare('select 6*7 as x').get().x)"], { cwd: app, encoding: 'utf8' });
  t.equal(probe.stdout.trim(), '42', `packaged better-sqlite3 loads: ${probe.stderr}`);
  const onnxProbe = spawnSync(process.execPath, ['-e', "const ort = require('onnxruntime-node'); console.log(typeof ort.InferenceSession.create)"], { cwd: app, encoding: 'utf8' });
  t.equal(onnxProbe.stdout.trim(), 'function', `packaged onnxruntime-node loads its native binding: ${onnxProbe.stderr.slice(0, 300)}`);
  const packagedCli = spawnSync(process.execPath, [join(app, 'dist/tools/cli/carchain.js'), 'fleet', 'image', '--help'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  t.equal(packagedCli.status, 0, `the packaged CLI runs: ${packagedCli.stderr.slice(0, 500)}`);
  t.match(packagedCli.stdout, /inject/);

  // A dist older than a source: the extracted copy with one .js aged.
  const old = at('opt/carchain/dist');
  const past = new Date(Date.now() - 86_400_000);
  utimesSync(join(old, 'tools/fleet/image-build.js'), past, past);
  const [missing, stale] = await Promise.all([
    runCli(['fleet', 'image', 'build', '--out', join(dir, 'x.tar.gz'), '--dist', join(dir, 'nope')]),
    runCli(['fleet', 'image', 'build', '--out', join(dir, 'y.tar.gz'), '--dist', old]),
  ]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /DIST_MISSING/);
  t.equal(stale.code, 1);
  t.match(stale.stderr, /DIST_STALE: .* is older than \d+ source file/);
  t.ok(staleSources(repoRoot, old).includes('tools/fleet/image-build.ts'), 'the aged file is among the stale ones');
  t.notOk(existsSync(join(dir, 'y.tar.gz')));
});
