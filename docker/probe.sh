#!/usr/bin/env bash
# Health probe baked into the images, which carry no curl: `probe PORT [PATH]` exits 0 when
# GET http://127.0.0.1:PORT/PATH (default /healthz) answers 200 within 5 s, 1 otherwise.
# It uses bash's /dev/tcp, so it needs nothing beyond the base image.
set -euo pipefail
port="${1:?usage: probe PORT [PATH]}"
path="${2:-/healthz}"
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
IFS=' ' read -r -t 5 _version status _reason <&3
[ "$status" = "200" ]
