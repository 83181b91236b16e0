// A gateway image as a root-filesystem overlay tarball: the built app, its production dependencies, systemd units, default configs.
//
// Layout (extract at / on a Debian-like system with Node 20 at /usr/bin/node):
//   /opt/carchain/{package.json,dist/,node_modules/}   the app, run as ESM from dist/
//   /usr/local/bin/carchain                             wrapper around dist/tools/cli/carchain.js
//   /etc/systemd/system/carchain-{gateway,validator}.service
//   /usr/lib/sysusers.d/carchain.conf                   the `carchain` system user the units run as
//   /etc/carchain/gateway.yaml                          default gateway config (validated against its schema)
// Dependencies are the ones `npm ls --omit=dev` names, copied from this checkout's node_modules (so
// native modules are the ones built here, for this architecture); nothing is fetched.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseGatewayConfig } from '../../gateway/node/gateway-config.js';
import { FleetError } from './fleet-errors.js';

const run = promisify(execFile);

export const APP_DIR = 'opt/carchain';
const CLI = `/${APP_DIR}/dist/tools/cli/carchain.js`;

export interface ImageBuildOptions {
  out: string;
  /** The repository (package.json, node_modules). */
  repoRoot: string;
  /** The compiled app (`npm run build` output); <repoRoot>/dist by default. */
  dist?: string;
}

/**
 * Sources of the build (tsconfig.build.json's include minus exclude) whose .js in `dist` is missing or
 * older than the .ts: an image from such a dist would ship yesterday's app, or a mix that does not load.
 * Empty where there are no sources (an installed package: dist is all there is).
 */
export function staleSources(repoRoot: string, dist: string): string[] {
  const tsconfig = join(repoRoot, 'tsconfig.build.json');
  if (!existsSync(tsconfig)) return [];
  const { include = [], exclude = [] } = JSON.parse(readFileSync(tsconfig, 'utf8')) as { include?: string[]; exclude?: string[] };
  const excluded = new Set(exclude.map((e) => join(repoRoot, e)));
  const stale: string[] = [];
  const walk = (path: string): void => {
    if (excluded.has(path) || !existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path)) if (name !== 'node_modules') walk(join(path, name));
    } else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) {
      const js = join(dist, relative(repoRoot, path)).replace(/\.ts$/, '.js');
      if (!existsSync(js) || statSync(js).mtimeMs < statSync(path).mtimeMs) stale.push(relative(repoRoot, path));
    }
  };
  for (const root of include) walk(join(repoRoot, root));
  return stale.sort();
}

export interface ImageBuildResult {
  out: string;
  packages: number;
  bytes: number;
}

const HARDENING = [
  'NoNewPrivileges=yes',
  'ProtectSystem=strict',
  'ProtectHome=yes',
  'PrivateTmp=yes',
  'PrivateDevices=yes',
  'ProtectKernelTunables=yes',
  'ProtectKernelModules=yes',
  'ProtectControlGroups=yes',
  'RestrictNamespaces=yes',
  'RestrictSUIDSGID=yes',
  'LockPersonality=yes',
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
  'CapabilityBoundingSet=',
  // No MemoryDenyWriteExecute: V8's JIT needs writable+executable pages.
];

export const GATEWAY_UNIT = `# CarChain gateway: MQTT ingest → KV store → Merkle batches → anchoring. Config: /etc/carchain/gateway.yaml.
[Unit]
Description=CarChain Edge gateway
After=network-online.target mosquitto.service carchain-validator.service
Wants=network-online.target

[Service]
Type=simple
ExecStart=/usr/bin/node ${CLI} gateway start --config /etc/carchain/gateway.yaml
User=carchain
Group=carchain
StateDirectory=carchain-gateway
StateDirectoryMode=0700
ConfigurationDirectory=carchain
Restart=on-failure
RestartSec=2
# SIGTERM lets the gateway finish in-flight writes and seal what it acknowledged.
KillSignal=SIGTERM
TimeoutStopSec=30
LimitNOFILE=65536
${HARDENING.join('\n')}

[Install]
WantedBy=multi-user.target
`;

export const VALIDATOR_UNIT = `# CarChain validator (Tendermint-style BFT). Its home comes from \`carchain chain init\`, copied to /var/lib/carchain-validator.
[Unit]
Description=CarChain Edge chain validator
After=network-online.target
Wants=network-online.target
# Not started until a validator home is in place (config.yaml, genesis.json, validator-key.json).
ConditionPathExists=/var/lib/carchain-validator/config.yaml

[Service]
Type=simple
ExecStart=/usr/bin/node ${CLI} chain start --home /var/lib/carchain-validator
User=carchain
Group=carchain
StateDirectory=carchain-validator
StateDirectoryMode=0700
Restart=on-failure
RestartSec=2
TimeoutStopSec=30
LimitNOFILE=65536
${HARDENING.join('\n')}

[Install]
WantedBy=multi-user.target
`;

export const DEFAULT_GATEWAY_YAML = `# Default gateway config of the image (GATEWAY_CONFIG_SCHEMA in gateway/node/gateway-config.ts; docs/gateway.md).
gateway:
  id: gw-1
  dataDir: /var/lib/carchain-gateway     # StateDirectory of carchain-gateway.service

broker:                                 # = the gateway-broker.yaml \`carchain fleet broker-config\` writes
  url: mqtts://127.0.0.1:8883            # the local Mosquitto's mutual-TLS listener (its certificate names 127.0.0.1)
  shareGroup: carchain-gateways
  tls:                                   # the gateway identity from fleet broker-config's gateway/ (key 0600, owned by carchain)
    ca: /etc/carchain/tls/ca.pem
    cert: /etc/carchain/tls/gateway.pem
    key: /etc/carchain/tls/gateway.key

kv:
  backend: sqlite

chain:
  mode: remote
  rpc: [http://127.0.0.1:26657]           # carchain-validator.service on this host
  keyFile: /var/lib/carchain-gateway/gateway-key.json

api:
  host: 127.0.0.1
  port: 8080

log:
  level: info
`;

const SYSUSERS = 'u carchain - "CarChain Edge services" /var/lib/carchain-gateway\n';
const WRAPPER = `#!/bin/sh\nexec /usr/bin/node ${CLI} "$@"\n`;

/** Directories of the production dependency tree, relative to the repo, outermost only. */
export function productionPackages(repoRoot: string): string[] {
  const r = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new FleetError('IMAGE_TOOL_FAILED', `npm ls: ${r.error.message}`, { cause: r.error });
  const missing = /missing: (\S+)/.exec(r.stderr ?? '');
  if (missing) throw new FleetError('DEPS_MISSING', `production dependency ${missing[1]} is not installed in ${repoRoot}/node_modules; run npm ci first`);
  const dirs = r.stdout.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => relative(repoRoot, line)).filter((p) => p.startsWith(`node_modules${sep}`));
  if (dirs.length === 0) throw new FleetError('DEPS_MISSING', `npm ls --omit=dev listed no installed packages in ${repoRoot} (exit ${String(r.status)}): ${r.stderr.trim().slice(0, 500)}`);
  for (const dir of dirs) if (!existsSync(join(repoRoot, dir))) throw new FleetError('DEPS_MISSING', `${dir} is listed by npm ls but not on disk`);
  // A package's own nested node_modules come with it; listing them again would archive them twice.
  const set = new Set(dirs);
  return [...set].filter((dir) => {
    for (let parent = dirname(dir); parent !== '.' && parent !== 'node_modules'; parent = dirname(parent)) if (set.has(parent)) return false;
    return true;
  }).sort();
}

/**
 * Prebuilt native binaries of other platforms and architectures (the `bin/napi-v6/<platform>/<arch>`
 * layout of onnxruntime-node: ~250 of its 290 MiB are macOS and Windows builds). The image runs where it
 * was built (its other native modules are compiled here), so only this platform's binaries can load.
 */
export function foreignBinaryExcludes(platform: string = process.platform, arch: string = process.arch): string[] {
  const platforms = ['darwin', 'linux', 'win32', 'freebsd', 'openbsd', 'sunos', 'aix'].filter((p) => p !== platform);
  const arches = ['x64', 'arm64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64', 'loong64'].filter((a) => a !== arch);
  return [...platforms.map((p) => `--exclude=bin/napi-v*/${p}`), ...arches.map((a) => `--exclude=bin/napi-v*/${platform}/${a}`)];
}

export async function buildGatewayImage(o: ImageBuildOptions): Promise<ImageBuildResult> {
  if (!/\.(tar\.gz|tgz|tar)$/.test(o.out)) throw new FleetError('USAGE', `--out must end in .tar.gz, .tgz or .tar, got ${o.out}`);
  // .tar: uncompressed, for a pipeline that compresses (or copies) it itself; gzip is most of the build time.
  const compress = o.out.endsWith('.tar') ? [] : ['--gzip'];
  const repoRoot = resolve(o.repoRoot);
  const dist = resolve(o.dist ?? join(repoRoot, 'dist'));
  if (!existsSync(join(dist, 'tools', 'cli', 'carchain.js'))) throw new FleetError('DIST_MISSING', `${dist} holds no built app (tools/cli/carchain.js); run \`npm run build\` first`);
  const stale = staleSources(repoRoot, dist);
  if (stale.length > 0) {
    throw new FleetError('DIST_STALE', `${dist} is older than ${stale.length} source file(s) (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', …' : ''}); run \`npm run build\` first`);
  }
  parseGatewayConfig(parseYaml(DEFAULT_GATEWAY_YAML), 'the image\'s default gateway.yaml');
  const packages = productionPackages(repoRoot);

  const stage = mkdtempSync(join(tmpdir(), 'carchain-image-'));
  const tmpOut = `${o.out}.tmp-${process.pid}`;
  try {
    const put = (path: string, text: string, mode = 0o644) => {
      mkdirSync(dirname(join(stage, path)), { recursive: true });
      writeFileSync(join(stage, path), text, { mode });
      chmodSync(join(stage, path), mode);
    };
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
    // The app's package.json minus scripts and dev tooling; "type": "module" is what makes dist/*.js load as ESM.
    put(`${APP_DIR}/package.json`, `${JSON.stringify({ name: pkg.name, version: pkg.version, type: pkg.type, license: pkg.license, engines: pkg.engines, dependencies: pkg.dependencies }, null, 2)}\n`);
    cpSync(dist, join(stage, APP_DIR, 'dist'), { recursive: true });
    mkdirSync(join(stage, APP_DIR, 'node_modules'), { recursive: true });
    put('usr/local/bin/carchain', WRAPPER, 0o755);
    put('etc/systemd/system/carchain-gateway.service', GATEWAY_UNIT);
    put('etc/systemd/system/carchain-validator.service', VALIDATOR_UNIT);
    put('usr/lib/sysusers.d/carchain.conf', SYSUSERS);
    put('etc/carchain/gateway.yaml', DEFAULT_GATEWAY_YAML);
    // Inside the stage but outside the archived trees (opt, usr, etc).
    const list = join(stage, 'packages.list');
    writeFileSync(list, `${packages.join('\n')}\n`);
    try {
      await run('tar', [
        '--create', ...compress, '--file', tmpOut, '--owner=0', '--group=0', '--numeric-owner', '--sort=name',
        ...foreignBinaryExcludes(),
        '-C', stage, 'opt', 'usr', 'etc',
        // S: symlink targets inside packages (e.g. .bin links) stay as they are.
        '-C', repoRoot, '--transform', `s,^node_modules/,${APP_DIR}/node_modules/,S`, '--files-from', list,
      ], { maxBuffer: 16 << 20 });
    } catch (cause) {
      throw new FleetError('IMAGE_TOOL_FAILED', `tar: ${(cause as { stderr?: string }).stderr?.trim() || (cause as Error).message}`, { cause });
    }
    renameSync(tmpOut, o.out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
    rmSync(tmpOut, { force: true });
  }
  return { out: o.out, packages: packages.length, bytes: statSync(o.out).size };
}
