# Shared by the project's scripts (sourced, not run): messages, root, Debian packages, the Rust
# toolchain check. A script sets SCRIPT (its name in messages) before sourcing this file.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '%s: %s\n' "${SCRIPT:-setup}" "$*" >&2; }
die() { log "$*"; exit 1; }

# Stops at once, saying what for, unless this script can act as root: as root itself, or through
# sudo (which may prompt on a terminal). Then "${SUDO[@]}" prefixes a command run as root.
need_root() {
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && { [ -t 0 ] || sudo -n true 2>/dev/null; }; then
    SUDO=(sudo)
  else
    die "root is needed to $1; run this script as root or as a user with sudo"
  fi
}

# Runs "$@" as root, for the reason `why` (the first argument).
as_root() {
  need_root "$1"
  shift
  "${SUDO[@]}" "$@"
}

# Runs "$@" quietly; when it fails, prints what it said and stops, naming the step.
quietly() {
  local what=$1 out
  shift
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" | tail -n 20 >&2
    die "could not $what (the output above is the command's own)"
  fi
}

apt_install() {
  need_root "install $* from Debian packages"
  log "installing $* from Debian packages"
  quietly "update the package lists" "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  quietly "install $*" "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# The Rust the workspace declares (`rust-version` in Cargo.toml): checked before any build,
# because an older cargo fails on the manifest with a message that does not say why.
require_rust() {
  local need have
  need=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml")
  have=$(cargo --version 2>/dev/null | awk '{print $2}')
  if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
    die "Rust >= $need is needed (found: ${have:-no cargo}); install it with rustup (https://rustup.rs): Debian's cargo is too old"
  fi
}

# The standard validators the tests run on the platform's API descriptions
# (satellites/kit/src/contract.rs): openapi-spec-validator from PyPI for each service's OpenAPI
# document, the official AsyncAPI parser from npm for docs/asyncapi.yaml; both into .dev/tools.
OPENAPI_VALIDATOR_VERSION=0.7.1
ASYNCAPI_PARSER_VERSION=3.6.6
install_contract_validators() {
  local tools="$ROOT/.dev/tools"
  if ! { [ -x "$tools/bin/openapi-spec-validator" ] &&
    "$tools/bin/pip" show openapi-spec-validator 2>/dev/null | grep -qx "Version: $OPENAPI_VALIDATOR_VERSION"; }; then
    command -v python3 >/dev/null || apt_install python3 python3-venv
    log "installing openapi-spec-validator $OPENAPI_VALIDATOR_VERSION into .dev/tools"
    quietly "make a Python environment in .dev/tools" python3 -m venv "$tools"
    quietly "install openapi-spec-validator" "$tools/bin/pip" install -q "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
  fi
  local parser="$tools/asyncapi/node_modules/@asyncapi/parser/package.json"
  if ! grep -q "\"version\": \"$ASYNCAPI_PARSER_VERSION\"" "$parser" 2>/dev/null; then
    command -v npm >/dev/null || apt_install nodejs npm
    log "installing @asyncapi/parser $ASYNCAPI_PARSER_VERSION into .dev/tools/asyncapi"
    mkdir -p "$tools/asyncapi"
    quietly "install @asyncapi/parser" npm install --silent --no-audit --no-fund --prefix "$tools/asyncapi" \
      "@asyncapi/parser@$ASYNCAPI_PARSER_VERSION"
  fi
}
