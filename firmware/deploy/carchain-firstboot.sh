#!/bin/sh
# First boot of a CarChain dongle: moves the identity `carchain fleet image inject` put on the FAT boot partition into place.
#
# FAT has no owners or modes and the keystore refuses a group/world-readable file, so the files are
# copied to where the provisioned dongle.yaml points (the `carchain fleet provision` defaults), with
# their owner and modes, made durable, and only then removed from the boot partition. Idempotent: a
# re-run after an interruption copies again; with the boot directory gone there is nothing to do. The
# unit disables itself at the end. Install: /usr/local/sbin/carchain-firstboot (carchain-firstboot.service).
#
# Environment (defaults are the dongle image's; tests point them into a temp dir):
#   CARCHAIN_BOOT_DIR   the identity on the boot partition     /boot/firmware/carchain
#   CARCHAIN_ROOT       prefix of the two directories below    (empty: /)
#   CARCHAIN_DATA_DIR   keystore.json, pairing.json, device.json  $CARCHAIN_ROOT/var/lib/carchain
#   CARCHAIN_CONF_DIR   dongle.yaml, ca.pem, device.pem, device.key  $CARCHAIN_ROOT/etc/carchain
#   CARCHAIN_OWNER      owner of the secrets (user:group)      carchain:carchain
#   CARCHAIN_SYSTEMCTL  how the unit disables itself           systemctl
set -eu
umask 077

BOOT_DIR=${CARCHAIN_BOOT_DIR:-/boot/firmware/carchain}
ROOT=${CARCHAIN_ROOT:-}
DATA_DIR=${CARCHAIN_DATA_DIR:-$ROOT/var/lib/carchain}
CONF_DIR=${CARCHAIN_CONF_DIR:-$ROOT/etc/carchain}
OWNER=${CARCHAIN_OWNER:-carchain:carchain}
SYSTEMCTL=${CARCHAIN_SYSTEMCTL:-systemctl}
UNIT=carchain-firstboot.service

log() { echo "carchain-firstboot: $*" >&2; }
fail() { log "error: $*"; exit 1; }

disable_self() {
  if command -v "$SYSTEMCTL" >/dev/null 2>&1; then
    "$SYSTEMCTL" disable "$UNIT" || log "warning: could not disable $UNIT"
  else
    log "no $SYSTEMCTL; $UNIT left as it is"
  fi
}

# put SRC DEST MODE [OWNER]: written next to DEST, moded and owned, then renamed over it (never half a
# file, never briefly readable: umask 077). Without OWNER the file stays the script's (root's).
put() {
  tmp="$2.firstboot-tmp"
  rm -f "$tmp"
  cp "$1" "$tmp"
  chmod "$3" "$tmp"
  if [ $# -ge 4 ]; then chown "$4" "$tmp"; fi
  mv -f "$tmp" "$2"
}

if [ ! -d "$BOOT_DIR" ]; then
  log "no $BOOT_DIR: already moved (or never injected)"
  disable_self
  exit 0
fi

for f in keystore.json pairing.json dongle.yaml ca.pem device.pem device.key; do
  [ -f "$BOOT_DIR/$f" ] || fail "$BOOT_DIR/$f is missing: not a complete identity; nothing moved"
done

# A different keystore already in place is another device's identity (or this one's after a re-flash
# of the boot partition with another device): never replace it silently.
if [ -f "$DATA_DIR/keystore.json" ] && ! cmp -s "$BOOT_DIR/keystore.json" "$DATA_DIR/keystore.json"; then
  fail "$DATA_DIR/keystore.json holds another identity than $BOOT_DIR/keystore.json; move one away by hand"
fi

mkdir -p "$DATA_DIR" "$CONF_DIR"
chmod 0700 "$DATA_DIR"
chown "$OWNER" "$DATA_DIR"
chmod 0755 "$CONF_DIR"

put "$BOOT_DIR/keystore.json" "$DATA_DIR/keystore.json" 0600 "$OWNER"
# pairing.json is the dongle's live pairing state once it runs: an existing one (paired since) wins.
if [ ! -f "$DATA_DIR/pairing.json" ]; then
  put "$BOOT_DIR/pairing.json" "$DATA_DIR/pairing.json" 0600 "$OWNER"
fi
# The manifest entry holds the pairing code: as secret as pairing.json.
if [ -f "$BOOT_DIR/device.json" ]; then
  put "$BOOT_DIR/device.json" "$DATA_DIR/device.json" 0600 "$OWNER"
fi
put "$BOOT_DIR/device.key" "$CONF_DIR/device.key" 0600 "$OWNER"
for f in dongle.yaml ca.pem device.pem; do
  put "$BOOT_DIR/$f" "$CONF_DIR/$f" 0644
done

# The copies must survive a power cut before the only other copy is deleted.
sync
rm -rf "$BOOT_DIR"
sync
log "identity moved to $DATA_DIR and $CONF_DIR; $BOOT_DIR removed"
disable_self
