"""`lakehouse infra provision` against moto's S3 server, and the lake on S3 against a local one.

Every setting the command reports is read back here with a boto3 client of the test's own, so
the command's own read-back is not what the test trusts.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pytest

from flows.settings import load_settings
from flows.warehouse.build import run_dbt
from infra.provision import BucketPlan, Request, provision
from tests.cli import Workspace
from tests.conftest import S3Endpoint
from tests.test_failures import free_port, one_error_line
from tests.test_ingest import START, sandbox

FOUR_FLAGS = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
MARTS = (
    "daily_kpis",
    "monthly_kpis",
    "category_daily",
    "product_performance",
    "customer_lifetime_value",
    "funnel_daily",
    "funnel_hourly",
    "segment_daily",
    "executive_kpis",
)


def unique(name: str) -> str:
    """A bucket name no other test on the session's S3 servers uses."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


def provision_command(workspace: Workspace, *arguments: str, **extra: str):
    return workspace.run("infra", "provision", *arguments, timeout=120, **extra)


def statuses(result: subprocess.CompletedProcess) -> dict[tuple[str, str], str]:
    """(bucket, setting) → status, from the command's lines (columns two spaces apart)."""
    found = {}
    for line in result.stdout.splitlines()[:-1]:
        bucket, setting, status = [part.strip() for part in line.split("  ") if part.strip()][:3]
        found[(bucket, setting)] = status
    return found


def configuration(client, bucket: str) -> dict[str, object]:
    """Everything provisioning sets on a bucket, as S3 answers it."""
    answers = {
        "location": client.get_bucket_location(Bucket=bucket),
        "versioning": client.get_bucket_versioning(Bucket=bucket),
        "encryption": client.get_bucket_encryption(Bucket=bucket),
        "public access block": client.get_public_access_block(Bucket=bucket),
        "lifecycle": client.get_bucket_lifecycle_configuration(Bucket=bucket),
    }
    for answer in answers.values():
        answer.pop("ResponseMetadata", None)
    return answers


def rules_by_id(client, bucket: str) -> dict[str, dict]:
    rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    return {rule["ID"]: rule for rule in rules}


def test_provision_applies_every_setting_and_a_second_run_changes_nothing(
    moto_s3: S3Endpoint, tmp_path: Path
) -> None:
    """On moto: every setting AWS implements (public access blocks, storage-class transitions,
    abort-incomplete-upload rules), which SeaweedFS does not (the next test)."""
    s3 = moto_s3
    lake, landing, extra = unique("lake"), unique("landing"), unique("extra")
    client = s3.client()
    # an existing bucket with versioning suspended and a lifecycle rule that is not ours
    client.create_bucket(Bucket=extra)
    client.put_bucket_versioning(Bucket=extra, VersioningConfiguration={"Status": "Suspended"})
    theirs = {
        "ID": "their-logs",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 400},
    }
    client.put_bucket_lifecycle_configuration(
        Bucket=extra, LifecycleConfiguration={"Rules": [theirs]}
    )
    workspace = Workspace.create(
        tmp_path,
        None,
        **s3.environment,
        LAKEHOUSE_LAKE_ROOT=f"s3://{lake}/lake",
        LAKEHOUSE_LANDING_ROOT=f"s3://{landing}/landing",
    )

    first = provision_command(workspace, "--bucket", extra)

    assert first.returncode == 0, first.stdout + first.stderr
    done = statuses(first)
    assert len(first.stdout.splitlines()) == 7 + 6 + 6 + 1
    assert {done[(bucket, "bucket")] for bucket in (lake, landing)} == {"created"}
    assert done[(extra, "bucket")] == "already set"
    assert done[(extra, "versioning")] == "changed"
    assert all(status == "created" for (bucket, _), status in done.items() if bucket != extra)
    assert "provisioned and read back" in first.stdout.splitlines()[-1]
    for bucket in (lake, landing, extra):
        assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        encryption = client.get_bucket_encryption(Bucket=bucket)
        (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        block = client.get_public_access_block(Bucket=bucket)
        assert block["PublicAccessBlockConfiguration"] == FOUR_FLAGS
        rules = rules_by_id(client, bucket)
        versions = rules["lakehouse-noncurrent-versions"]
        assert versions["Status"] == "Enabled" and versions["Filter"] == {"Prefix": ""}
        assert versions["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
        assert versions["Expiration"] == {"ExpiredObjectDeleteMarker": True}
        uploads = rules["lakehouse-incomplete-uploads"]
        assert uploads["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
        assert uploads["Filter"] == {"Prefix": ""}
    lake_rules = rules_by_id(client, lake)
    tiering = lake_rules["lakehouse-raw-tiering"]
    assert tiering["Filter"] == {
        "Prefix": "lake/raw/"
    }  # the lake's raw zone (flows/lake/partitions.py)
    assert tiering["Transitions"] == [
        {"Days": 30, "StorageClass": "STANDARD_IA"},
        {"Days": 90, "StorageClass": "GLACIER_IR"},
    ]
    assert "lakehouse-quarantine-expiry" not in lake_rules  # kept unless asked (decision 014)
    # the zone rules only where the lake is; someone else's rule kept
    assert set(rules_by_id(client, landing)) == {
        "lakehouse-noncurrent-versions",
        "lakehouse-incomplete-uploads",
    }
    assert rules_by_id(client, extra)["their-logs"] == theirs
    before = {bucket: configuration(client, bucket) for bucket in (lake, landing, extra)}

    second = provision_command(workspace, "--bucket", extra)

    assert second.returncode == 0, second.stdout + second.stderr
    assert set(statuses(second).values()) == {"already set"}
    assert len(statuses(second)) == len(done)
    assert second.stdout.splitlines()[-1].startswith("nothing changed: 3 buckets")
    assert {bucket: configuration(client, bucket) for bucket in (lake, landing, extra)} == before


def test_a_kms_key_another_region_and_an_archive_class(moto_s3: S3Endpoint, tmp_path: Path) -> None:
    """On moto: KMS keys, bucket regions and archive classes are AWS's."""
    s3 = moto_s3
    lake = unique("lake-eu")
    workspace = Workspace.create(
        tmp_path,
        None,
        **{**s3.environment, "LAKEHOUSE_S3_REGION": "eu-west-1"},
        LAKEHOUSE_LAKE_ROOT=f"s3://{lake}",  # the lake at the bucket's root
    )

    result = provision_command(
        workspace,
        "--kms-key-id",
        "alias/lakehouse",
        "--archive-class",
        "GLACIER",
        "--quarantine-expiry-days",
        "45",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(result)[(lake, "bucket")] == "created"
    client = s3.client()
    assert client.get_bucket_location(Bucket=lake)["LocationConstraint"] == "eu-west-1"
    (rule,) = client.get_bucket_encryption(Bucket=lake)["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": "alias/lakehouse",
    }
    assert rule["BucketKeyEnabled"] is True
    tiering = rules_by_id(client, lake)["lakehouse-raw-tiering"]
    assert tiering["Filter"] == {"Prefix": "raw/"}
    assert tiering["Transitions"][-1] == {"Days": 90, "StorageClass": "GLACIER"}
    quarantine = rules_by_id(client, lake)["lakehouse-quarantine-expiry"]
    assert quarantine["Filter"] == {"Prefix": "quarantine/"}
    assert quarantine["Expiration"] == {"Days": 45}

    # back to SSE-S3: the one setting that differs is changed, the rest left alone
    again = provision_command(
        workspace, "--archive-class", "GLACIER", "--quarantine-expiry-days", "45"
    )
    done = statuses(again)
    assert done.pop((lake, "encryption")) == "changed"
    assert set(done.values()) == {"already set"}
    assert "aws:kms key alias/lakehouse, bucket key → AES256" in again.stdout

    # the bucket is in eu-west-1: a run configured for another region stops before any change
    wrong = provision_command(workspace, LAKEHOUSE_S3_REGION="us-east-1")
    line = one_error_line(wrong)
    assert f"bucket {lake} is in eu-west-1" in line and "LAKEHOUSE_S3_REGION" in line
    assert wrong.returncode == 1 and wrong.stdout == ""


def test_nothing_to_provision_is_one_line(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path, None)  # lake and landing zone are local folders

    result = provision_command(workspace)

    line = one_error_line(result)
    assert result.returncode == 2 and result.stdout == ""
    assert line.startswith("error: nothing to provision: LAKEHOUSE_LAKE_ROOT")
    assert "--bucket" in line


def test_an_unreachable_endpoint_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    workspace = Workspace.create(
        tmp_path,
        None,
        LAKEHOUSE_S3_ENDPOINT_URL=url,
        LAKEHOUSE_S3_ACCESS_KEY_ID="testing",
        LAKEHOUSE_S3_SECRET_ACCESS_KEY="testing",
        LAKEHOUSE_LAKE_ROOT="s3://nowhere-lake/lake",
    )

    result = provision_command(workspace)

    line = one_error_line(result)
    assert result.returncode == 1 and result.stdout == ""
    assert f"cannot reach the S3 endpoint {url}" in line and "LAKEHOUSE_S3_ENDPOINT_URL" in line
    assert "testing" not in result.stderr  # the secret key is never printed
    assert "Traceback" in workspace.log.read_text()  # the whole trace is kept, in the file
    written = {path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file()}
    assert written == {workspace.log.relative_to(tmp_path)}


class MinioLike:
    """moto's client answering as MinIO does where it implements less than AWS.

    MinIO's own error codes (cmd/api-errors.go): the public access block is NotImplemented
    (HTTP 501); a transition to a storage class without a configured tier is
    TransitionStorageClassNotFoundError; the AbortIncompleteMultipartUpload action is dropped
    (minio/minio#19115), and a rule left without an action is refused as InvalidArgument.
    """

    def __init__(self, client) -> None:
        self.client = client

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    @staticmethod
    def _refuse(code: str, status: int, operation: str):
        from botocore.exceptions import ClientError

        answer = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {}}
        answer["ResponseMetadata"]["HTTPStatusCode"] = status
        return ClientError(answer, operation)

    def get_public_access_block(self, **_: object):
        raise self._refuse("NotImplemented", 501, "GetPublicAccessBlock")

    def put_public_access_block(self, **_: object):
        raise self._refuse("NotImplemented", 501, "PutPublicAccessBlock")

    def put_bucket_lifecycle_configuration(self, Bucket: str, LifecycleConfiguration: dict):
        kept = []
        for rule in LifecycleConfiguration["Rules"]:
            if rule.get("Transitions"):
                raise self._refuse("TransitionStorageClassNotFoundError", 404, "PutLifecycle")
            rule = {k: v for k, v in rule.items() if k != "AbortIncompleteMultipartUpload"}
            if not {"Expiration", "NoncurrentVersionExpiration"} & set(rule):
                raise self._refuse("InvalidArgument", 400, "PutBucketLifecycleConfiguration")
            kept.append(rule)
        return self.client.put_bucket_lifecycle_configuration(
            Bucket=Bucket, LifecycleConfiguration={"Rules": kept}
        )


def test_what_an_endpoint_does_not_implement_is_reported_not_failed(moto_s3: S3Endpoint) -> None:
    """MinIO's refusals replayed over moto (MinIO cannot be installed here); SeaweedFS's own,
    real ones: the next test."""
    s3 = moto_s3
    bucket = unique("minio-like")
    with mock.patch.dict(os.environ, {**s3.environment, "LAKEHOUSE_LAKE_ROOT": f"s3://{bucket}"}):
        settings = load_settings()
    client = MinioLike(s3.client())
    plans = [BucketPlan(bucket, "")]

    request = Request(quarantine_expiry_days=30)
    first = {o.setting: o for o in provision(settings, plans, request, client=client)}
    second = {o.setting: o for o in provision(settings, plans, request, client=client)}

    assert {setting: outcome.status for setting, outcome in first.items()} == {
        "bucket": "created",
        "versioning": "created",
        "encryption": "created",
        "public access block": "not supported",
        "lifecycle raw tiering": "not supported",
        "lifecycle quarantine expiry": "created",
        "lifecycle noncurrent versions": "created",
        "lifecycle incomplete uploads": "not supported",
    }
    assert first["public access block"].detail == "by this endpoint (NotImplemented)"
    assert "TransitionStorageClassNotFoundError" in first["lifecycle raw tiering"].detail
    assert "InvalidArgument" in first["lifecycle incomplete uploads"].detail
    # a second run: what was set is already set, what is not supported still says so
    assert {setting: outcome.status for setting, outcome in second.items()} == {
        setting: "not supported" if outcome.status == "not supported" else "already set"
        for setting, outcome in first.items()
    }
    assert set(rules_by_id(s3.client(), bucket)) == {
        "lakehouse-quarantine-expiry",
        "lakehouse-noncurrent-versions",
    }


def test_provision_on_seaweedfs_sets_what_it_implements_and_names_the_rest(
    s3: S3Endpoint, tmp_path: Path
) -> None:
    """`lakehouse infra provision` against a real S3 server (SeaweedFS): versioning,
    encryption and the lifecycle rules set and read back; the public access block and the
    storage-class transition named as not supported, not failed; a second run changes nothing."""
    lake, landing = unique("lake"), unique("landing")
    workspace = Workspace.create(
        tmp_path,
        None,
        **s3.environment,
        LAKEHOUSE_LAKE_ROOT=f"s3://{lake}/lake",
        LAKEHOUSE_LANDING_ROOT=f"s3://{landing}/landing",
    )

    first = provision_command(workspace)
    assert first.returncode == 0, first.stdout + first.stderr
    done = statuses(first)
    not_supported = {key for key, status in done.items() if status == "not supported"}
    assert not_supported == {
        (lake, "public access block"),
        (landing, "public access block"),
        (lake, "lifecycle raw tiering"),
    }
    assert {status for key, status in done.items() if key not in not_supported} == {"created"}
    created = len(done) - len(not_supported)
    assert first.stdout.splitlines()[-1] == (
        f"2 buckets on {s3.url} provisioned and read back ({created} created, 3 not supported)"
    )
    client = s3.client()
    assert client.get_bucket_versioning(Bucket=lake)["Status"] == "Enabled"
    assert set(rules_by_id(client, lake)) == {  # quarantine kept: no expiry asked for
        "lakehouse-noncurrent-versions",
        "lakehouse-incomplete-uploads",
    }

    second = provision_command(workspace)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.splitlines()[-1].startswith("nothing changed: 2 buckets")
    assert {
        key: status for key, status in statuses(second).items() if key not in not_supported
    } == {key: "already set" for key in done if key not in not_supported}


@pytest.mark.e2e
def test_the_lake_on_s3_builds_the_same_warehouse_as_a_local_lake(
    tmp_path: Path, prefect_server: None, s3: S3Endpoint
) -> None:
    """Same seed, same window: every table of the build equal row for row, marts included.

    The S3 side's bucket is provisioned first, so the pipeline also runs on what the command
    leaves: versioning on (every replaced partition keeps an old version), encryption, rules.
    """
    window = {"LAKEHOUSE_SCALE_FACTOR": "1", "LAKEHOUSE_DAYS": "7"}
    local = sandbox(tmp_path / "local", **window)
    remote = sandbox(tmp_path / "s3", s3, **window)
    settings = remote.settings
    bucket = settings.storage.lake_uri.removeprefix("s3://").split("/")[0]
    outcomes = list(provision(settings, [BucketPlan(bucket, "lake")]))
    assert {outcome.setting: outcome.status for outcome in outcomes}["versioning"] == "created"

    contents = {}
    for name, sources in (("local", local), ("s3", remote)):
        reports = sources.ingest(START, START + timedelta(days=6))
        assert reports["shop"].landed["order_items"] > 100
        with mock.patch.dict(os.environ, sources.environment):
            result = run_dbt(load_settings(), "run", "--quiet", "--full-refresh")
        assert result.success, f"{name}: {result.exception}"
        with duckdb.connect(str(sources.settings.storage.build_path), read_only=True) as warehouse:
            tables = warehouse.sql(
                "select table_name from information_schema.tables"
                " where table_type = 'BASE TABLE' order by all"
            ).fetchall()
            contents[name] = {
                table: warehouse.sql(f"select * from {table} order by all").fetchall()
                for (table,) in tables
            }
    assert s3.client().get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert set(contents["s3"]) == set(contents["local"]) >= {*MARTS, "fact_orders", "fact_events"}
    for table, rows in contents["local"].items():
        assert rows, f"{table} is empty: the comparison would prove nothing"
        assert contents["s3"][table] == rows, table
    assert len(contents["local"]["daily_kpis"]) == 7
