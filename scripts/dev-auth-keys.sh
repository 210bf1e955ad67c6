#!/usr/bin/env bash
# Makes a local development signing key and the JWKS the services verify tokens with, for
# machines without an identity provider. `loadgen token` signs with the key; the services read
# the JWKS (AUTH_JWKS_FILE). Idempotent: an existing key is kept.
#
#   scripts/dev-auth-keys.sh [DIR]      # default: .dev/auth (ignored by git)
#
# Writes DIR/signing-key.pem (ES256, PKCS#8, private: never share it), DIR/jwks.json and
# DIR/env (the AUTH_* settings of the services and of `loadgen token`, for `source`).
set -euo pipefail

DIR=${1:-.dev/auth}
ISSUER=${AUTH_ISSUER:-vote-platform-dev}
AUDIENCE=${AUTH_AUDIENCE:-vote-platform}
KID=dev-es256

b64url() { basenc --base64url -w0 | tr -d '='; }

mkdir -p "$DIR"
chmod 700 "$DIR"
if [ ! -s "$DIR/signing-key.pem" ]; then
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/signing-key.pem" 2>/dev/null)
  printf 'dev-auth-keys: made a development signing key in %s\n' "$DIR/signing-key.pem" >&2
fi
# The DER public key ends with the uncompressed point: 0x04, x (32 bytes), y (32 bytes).
point=$(mktemp)
trap 'rm -f "$point"' EXIT
openssl pkey -in "$DIR/signing-key.pem" -pubout -outform DER 2>/dev/null | tail -c 64 >"$point"
x=$(head -c 32 "$point" | b64url)
y=$(tail -c 32 "$point" | b64url)
cat >"$DIR/jwks.json" <<EOF
{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"$KID","x":"$x","y":"$y"}]}
EOF
abs=$(cd "$DIR" && pwd)
cat >"$DIR/env" <<EOF
export AUTH_JWKS_FILE=$abs/jwks.json
export AUTH_ISSUER=$ISSUER
export AUTH_AUDIENCE=$AUDIENCE
export AUTH_SIGNING_KEY_FILE=$abs/signing-key.pem
export AUTH_SIGNING_KEY_ID=$KID
EOF
printf 'dev-auth-keys: %s/jwks.json ready; `source %s/env` sets AUTH_* for the services and loadgen token\n' "$abs" "$abs" >&2
