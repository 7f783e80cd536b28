#!/bin/sh
# Creates, once, the certificate authority and the TLS certificates of the log stack
# (Elasticsearch, Logstash, Kibana, Filebeat) with elasticsearch-certutil. Runs in the
# Elasticsearch image as root (the Compose service `certs`); existing files are kept.
#
# Environment:
#   CERTS_DIR    where to write them (default /usr/share/elasticsearch/config/certs):
#                ca/ca.crt, ca/ca.key, <name>/<name>.crt, <name>/<name>.key, and
#                logstash/logstash.pkcs8.key (the beats input wants PKCS#8)
#   CA_ONLY_DIR  optional: a directory that receives only ca.crt (for Grafana)
#   CERT_DAYS    validity of the service certificates (default 825)
set -eu

ES_HOME=${ES_HOME:-/usr/share/elasticsearch}
CERTS_DIR=${CERTS_DIR:-$ES_HOME/config/certs}
CA_ONLY_DIR=${CA_ONLY_DIR:-}
CERT_DAYS=${CERT_DAYS:-825}
certutil="$ES_HOME/bin/elasticsearch-certutil"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '[setup-certs] %s\n' "$*" >&2; }

mkdir -p "$CERTS_DIR"
cd "$CERTS_DIR"

if [ ! -f ca/ca.crt ]; then
  say "creating the certificate authority"
  "$certutil" ca --silent --pem --days 3650 --out "$work/ca.zip"
  unzip -oq "$work/ca.zip" -d .
fi

if [ ! -f elasticsearch/elasticsearch.crt ]; then
  say "creating the service certificates"
  cat >"$work/instances.yml" <<'YAML'
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
  - name: logstash
    dns: [logstash, localhost]
  - name: kibana
    dns: [kibana, localhost]
  - name: filebeat
    dns: [filebeat]
YAML
  "$certutil" cert --silent --pem --days "$CERT_DAYS" --in "$work/instances.yml" \
    --ca-cert ca/ca.crt --ca-key ca/ca.key --out "$work/certs.zip"
  unzip -oq "$work/certs.zip" -d .
fi

if [ ! -f logstash/logstash.pkcs8.key ]; then
  command -v openssl >/dev/null 2>&1 || { say "openssl is needed to convert the Logstash key"; exit 1; }
  openssl pkcs8 -topk8 -nocrypt -in logstash/logstash.key -out logstash/logstash.pkcs8.key
fi

# The Elastic images run as uid 1000 (group 0); Filebeat runs as root.
chown -R 1000:0 .
find . -type d -exec chmod 750 {} +
find . -type f -exec chmod 640 {} +
chmod 600 ca/ca.key

if [ -n "$CA_ONLY_DIR" ]; then
  mkdir -p "$CA_ONLY_DIR"
  cp ca/ca.crt "$CA_ONLY_DIR/ca.crt"
  chmod 644 "$CA_ONLY_DIR/ca.crt"
fi
say "certificates in $CERTS_DIR"
