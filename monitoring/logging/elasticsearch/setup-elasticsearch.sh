#!/bin/sh
# Prepares Elasticsearch for The Hero Foundry's logs, idempotently (safe to run again):
#   1. waits until the cluster answers (at most ES_WAIT_SECONDS, default 300);
#   2. installs the lifecycle policy `hero-foundry-logs` (ilm-policy.json) and the composable
#      index template `hero-foundry-logs` (index-template.json, for hero-foundry-logs-*);
#   3. optionally sets the kibana_system password, and creates the users Logstash writes with
#      (role logstash_writer) and Grafana reads with (role logs_reader), each from a file.
#
# Environment:
#   ES_URL                          default https://elasticsearch:9200
#   ES_CA                           CA certificate to verify ES_URL with (optional)
#   ELASTIC_PASSWORD_FILE           the `elastic` superuser's password (or ELASTIC_PASSWORD)
#   KIBANA_SYSTEM_PASSWORD_FILE     optional: set the built-in kibana_system user's password
#   LOGSTASH_WRITER_PASSWORD_FILE   optional: create/update the user logstash_writer
#   LOGS_READER_PASSWORD_FILE       optional: create/update the user logs_reader
#
# Passwords never appear on a command line: curl reads the credentials from standard input.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
ES_URL=${ES_URL:-https://elasticsearch:9200}
ES_CA=${ES_CA:-}
ES_WAIT_SECONDS=${ES_WAIT_SECONDS:-300}
POLICY=hero-foundry-logs
TEMPLATE=hero-foundry-logs
INDEX_PATTERN='hero-foundry-logs-*'

say() { printf '[setup-elasticsearch] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

read_secret() {  # read_secret FILE: its content without the trailing newline
  [ -r "$1" ] || die "cannot read $1"
  # shellcheck disable=SC2005 # strips the trailing newline on purpose
  printf '%s' "$(cat "$1")"
}

if [ -n "${ELASTIC_PASSWORD_FILE:-}" ]; then
  ELASTIC_PASSWORD=$(read_secret "$ELASTIC_PASSWORD_FILE")
fi
[ -n "${ELASTIC_PASSWORD:-}" ] || die "set ELASTIC_PASSWORD_FILE (or ELASTIC_PASSWORD)"

json_string() {  # json_string TEXT: TEXT as a JSON string literal
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

curl_config() {  # credentials for curl -K -, quoted for its config syntax
  printf 'user = "elastic:%s"\n' "$(printf '%s' "$ELASTIC_PASSWORD" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

response=$(mktemp)
trap 'rm -f "$response" "$response.body"' EXIT

es() {  # es METHOD PATH [BODY_FILE]: fails unless the answer is 2xx
  method=$1 path=$2 body=${3:-}
  set -- --silent --show-error --max-time 30 --output "$response" --write-out '%{http_code}' \
    --request "$method" --config -
  [ -z "$ES_CA" ] || set -- "$@" --cacert "$ES_CA"
  [ -z "$body" ] || set -- "$@" --header 'Content-Type: application/json' --data-binary "@$body"
  code=$(curl_config | curl "$@" "$ES_URL$path") || return 1
  case $code in
    2??) return 0 ;;
    *) say "$method $path: HTTP $code: $(cat "$response")"; return 1 ;;
  esac
}

es_json() {  # es_json METHOD PATH JSON
  printf '%s' "$3" >"$response.body"
  es "$1" "$2" "$response.body"
}

say "waiting for $ES_URL"
waited=0
until es GET '/_cluster/health?wait_for_status=yellow&timeout=5s' 2>/dev/null; do
  waited=$((waited + 5))
  [ "$waited" -lt "$ES_WAIT_SECONDS" ] || die "$ES_URL did not answer within $ES_WAIT_SECONDS s"
  sleep 5
done

say "lifecycle policy $POLICY"
es PUT "/_ilm/policy/$POLICY" "$here/ilm-policy.json" || die "could not install the policy"
say "index template $TEMPLATE ($INDEX_PATTERN)"
es PUT "/_index_template/$TEMPLATE" "$here/index-template.json" || die "could not install the template"

if [ -n "${KIBANA_SYSTEM_PASSWORD_FILE:-}" ]; then
  say "kibana_system password"
  es_json POST /_security/user/kibana_system/_password \
    "{\"password\":$(json_string "$(read_secret "$KIBANA_SYSTEM_PASSWORD_FILE")")}" ||
    die "could not set the kibana_system password"
fi

if [ -n "${LOGSTASH_WRITER_PASSWORD_FILE:-}" ]; then
  say "role and user logstash_writer"
  es_json PUT /_security/role/logstash_writer \
    "{\"cluster\":[\"monitor\"],\"indices\":[{\"names\":[\"$INDEX_PATTERN\"],\"privileges\":[\"create_index\",\"create_doc\",\"index\"]}]}" ||
    die "could not create the role logstash_writer"
  es_json PUT /_security/user/logstash_writer \
    "{\"password\":$(json_string "$(read_secret "$LOGSTASH_WRITER_PASSWORD_FILE")"),\"roles\":[\"logstash_writer\"],\"full_name\":\"Logstash (The Hero Foundry's log pipeline)\"}" ||
    die "could not create the user logstash_writer"
fi

if [ -n "${LOGS_READER_PASSWORD_FILE:-}" ]; then
  say "role and user logs_reader"
  es_json PUT /_security/role/logs_reader \
    "{\"cluster\":[\"monitor\"],\"indices\":[{\"names\":[\"$INDEX_PATTERN\"],\"privileges\":[\"read\",\"view_index_metadata\"]}]}" ||
    die "could not create the role logs_reader"
  es_json PUT /_security/user/logs_reader \
    "{\"password\":$(json_string "$(read_secret "$LOGS_READER_PASSWORD_FILE")"),\"roles\":[\"logs_reader\"],\"full_name\":\"Grafana (reads The Hero Foundry's logs)\"}" ||
    die "could not create the user logs_reader"
fi

say "done"
