// `carchain fleet image inject` on a disk image this test makes (sparse file, MBR from tools/fleet/mbr.ts,
// mkfs.vfat at the partition's offset), read back with mtools; and `fleet image build`'s overlay tarball.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
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

t.test('image build: an overlay tarball with the built app, production node_modules, units and configs', async (t) => {
  // The app compiled into this test's own dir, so concurrent builds of ./dist are not disturbed.
  const dist = join(dir, 'dist');
  const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', dist], { cwd: repoRoot, encoding: 'utf8', timeout: 900_000 });
  // Judged by what tsc emitted: a type error elsewhere in the tree still emits, and is the typecheck's business.
  t.ok(existsSync(join(dist, 'tools/cli/carchain.js')), `the app is built (tsc exit ${String(tsc.status)}${tsc.status === 0 ? '' : `: ${tsc.stdout.slice(0, 300)}`})`);
  const out = join(dir, 'gateway-rootfs.tar.gz');
  const built = await runJson<{ out: string; packages: number; bytes: number }>(['fleet', 'image', 'build', '--out', out, '--dist', dist]);
  t.ok(built.packages > 20, `${built.packages} production packages`);
  const entries = new Set(execFileSync('tar', ['-tzf', out], { encoding: 'utf8', maxBuffer: 256 * MiB }).split('\n').map((e) => e.replace(/\/$/, '')));
  for (const entry of [
    'etc/systemd/system/carchain-gateway.service', 'etc/systemd/system/carchain-validator.service', 'etc/carchain/gateway.yaml', 'usr/lib/sysusers.d/carchain.conf',
    'usr/local/bin/carchain', 'opt/carchain/package.json', 'opt/carchain/dist/tools/cli/carchain.js', 'opt/carchain/dist/gateway/node/gateway-node.js',
    'opt/carchain/node_modules/better-sqlite3/package.json', 'opt/carchain/node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'opt/carchain/node_modules/mqtt/package.json',
  ]) t.ok(entries.has(entry), entry);
  for (const devOnly of ['opt/carchain/node_modules/typescript', 'opt/carchain/node_modules/tap', 'opt/carchain/node_modules/eslint']) t.notOk(entries.has(devOnly), `no ${devOnly}`);
  t.notOk([...entries].some((e) => e.startsWith('node_modules/') || e.startsWith('opt/carchain/dist/test/')), 'nothing outside the overlay layout, no tests');

  const file = (entry: string) => execFileSync('tar', ['-xzOf', out, entry], { encoding: 'utf8', maxBuffer: 16 * MiB });
  const unit = file('etc/systemd/system/carchain-gateway.service');
  for (const line of ['User=carchain', 'StateDirectory=carchain-gateway', 'Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ExecStart=/usr/bin/node /opt/carchain/dist/tools/cli/carchain.js gateway start --config /etc/carchain/gateway.yaml']) t.match(unit, line);
  t.match(file('etc/systemd/system/carchain-validator.service'), 'ExecStart=/usr/bin/node /opt/carchain/dist/tools/cli/carchain.js chain start --home /var/lib/carchain-validator');
  t.equal((JSON.parse(file('opt/carchain/package.json')) as { type: string }).type, 'module', 'dist/*.js load as ES modules');

  // The overlay works on its own, away from this checkout's node_modules: the packaged native module
  // opens a database, and the packaged CLI loads every command.
  const root = join(dir, 'root');
  mkdirSync(root);
  execFileSync('tar', ['-xzf', out, '-C', root]);
  const app = join(root, 'opt/carchain');
  const probe = spawnSync(process.execPath, ['-e', "const D = require('better-sqlite3'); const db = new D(':memory:'); console.log(db.prepare('select 6*7 as x').get().x)"], { cwd: app, encoding: 'utf8' });
  t.equal(probe.stdout.trim(), '42', `packaged better-sqlite3 loads: ${probe.stderr}`);
  const packagedCli = spawnSync(process.execPath, [join(app, 'dist/tools/cli/carchain.js'), 'fleet', 'image', '--help'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  t.equal(packagedCli.status, 0, `the packaged CLI runs: ${packagedCli.stderr.slice(0, 500)}`);
  t.match(packagedCli.stdout, /inject/);

  const missing = await runCli(['fleet', 'image', 'build', '--out', join(dir, 'x.tar.gz'), '--dist', join(dir, 'nope')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /DIST_MISSING/);
});
